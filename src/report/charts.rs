//! Chart rendering: draws perplexity line charts and result heatmaps as PNG and SVG files with
//! `plotters`, using an embedded DejaVu Sans font so that no system font is needed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont};
use anyhow::Context as _;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontDesc, FontFamily, FontStyle, FontTransform};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

/// One line of a line chart: a configuration's mean curve over seeds.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text, e.g. "hidden=200 batch_size=32".
    pub label: String,
    /// (step, mean training perplexity) points, step ascending. May be long (thousands of
    /// points): for drawing, runs of points are averaged down to about one per pixel column.
    pub train: Vec<(f64, f64)>,
    /// Optional band: (step, low, high), e.g. min/max over seeds, drawn as a light translucent
    /// area in the series colour. May be empty.
    pub band: Vec<(f64, f64, f64)>,
    /// (step, mean held-out perplexity) points, drawn as circles joined by a thin dashed line in
    /// the series colour.
    pub heldout: Vec<(f64, f64)>,
}

/// Writes `<stem>.png` and `<stem>.svg` (the extensions are appended, so dots in `stem` are
/// kept): perplexity on a log-scaled y axis against step, one colour per series (12 distinct
/// colours, then they repeat), the title on top. The legend (series labels, then a key for
/// line / markers / shading) goes in the plot corner that hides no data, upper right first, or
/// beside the plot when no corner is free.
///
/// Points that cannot be drawn on a log axis (non-finite, or perplexity <= 0) are skipped. An
/// empty `series`, or one with nothing drawable, still gives a chart with the title, axes and a
/// "no data" note. Files are written through a temporary file and renamed into place. The
/// embedded font is registered on first use. Errors (unwritable path or missing folder, size
/// under 200×150 or over 10000×10000) name the file.
pub fn line_chart(
    stem: &Path,
    title: &str,
    series: &[Series],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    render_both(stem, size, &LinePlot { title, series })
}

/// Writes `<stem>.png` and `<stem>.svg` (extensions appended to `stem`): a heatmap of
/// `values[r][c]`, rows labelled with `row_values` top to bottom (axis title `row_name`), columns
/// with `col_values` left to right (axis title `col_name`).
///
/// Each cell is coloured on a sequential yellow–green scale where lower is better and darker
/// green (log-scaled when all values are positive), annotated with its value to 2 decimals;
/// the minimum is outlined in red, `None` is a grey cell with "–", and non-finite values are grey
/// cells annotated "NaN"/"∞". A colour bar and a caption line explain the scale. No rows or no
/// columns give a chart with the title and a "no data" note. Errors when `values` does not have
/// `row_values.len()` rows of `col_values.len()` entries, and as for [`line_chart`].
#[allow(clippy::too_many_arguments)]
pub fn heatmap(
    stem: &Path,
    title: &str,
    row_name: &str,
    row_values: &[String],
    col_name: &str,
    col_values: &[String],
    values: &[Vec<Option<f64>>],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    let png = with_suffix(stem, "png");
    anyhow::ensure!(
        values.len() == row_values.len(),
        "heatmap {}: values has {} rows but there are {} row labels",
        png.display(),
        values.len(),
        row_values.len()
    );
    if let Some((r, row)) = values
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != col_values.len())
    {
        anyhow::bail!(
            "heatmap {}: row {r} of values has {} entries but there are {} column labels",
            png.display(),
            row.len(),
            col_values.len()
        );
    }
    let plot = HeatPlot {
        title,
        row_name,
        row_values,
        col_name,
        col_values,
        values,
    };
    render_both(stem, size, &plot)
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing: fonts, files, text helpers.

type DResult<T, DB> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that draws itself on any plotters backend (so one code path gives PNG and SVG).
trait Paint {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB>;
}

const MIN_SIZE: (u32, u32) = (200, 150);
const MAX_SIDE: u32 = 10_000;

const INK: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(100, 100, 100);
const GRID: RGBColor = RGBColor(228, 228, 228);
const AXIS: RGBColor = RGBColor(90, 90, 90);

/// DejaVu Sans regular and bold, parsed once.
fn fonts() -> anyhow::Result<&'static (FontRef<'static>, FontRef<'static>)> {
    static FONTS: OnceLock<Option<(FontRef<'static>, FontRef<'static>)>> = OnceLock::new();
    let fonts = FONTS.get_or_init(|| {
        let regular = dejavu::sans::regular();
        let bold = dejavu::sans::bold();
        // plotters measures text with the font registered as "sans-serif".
        let registered = register_font("sans-serif", FontStyle::Normal, regular).is_ok()
            && register_font("sans-serif", FontStyle::Bold, bold).is_ok();
        let parsed = (
            FontRef::try_from_slice(regular),
            FontRef::try_from_slice(bold),
        );
        match parsed {
            (Ok(r), Ok(b)) if registered => Some((r, b)),
            _ => None,
        }
    });
    fonts
        .as_ref()
        .context("could not load the embedded DejaVu Sans font")
}

/// A bitmap backend whose text is rasterised here: plotters 0.3.7's ab_glyph path drops each
/// glyph's side bearing, so letters collide ("rn" reads as "m"). Everything else is delegated.
struct CrispText<B> {
    inner: B,
    regular: FontRef<'static>,
    bold: FontRef<'static>,
}

type BResult<E> = Result<(), DrawingErrorKind<E>>;

impl<B: DrawingBackend> DrawingBackend for CrispText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> BResult<B::ErrorType> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> BResult<B::ErrorType> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> BResult<B::ErrorType> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> BResult<B::ErrorType> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> BResult<B::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> BResult<B::ErrorType> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> BResult<B::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> BResult<B::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> BResult<B::ErrorType> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// Lays text out in the box plotters measures (advance widths plus kerning wide,
    /// size / 1.24 high) with capitals centred vertically, then anchors and rotates it like
    /// plotters' default implementation.
    fn draw_text<TStyle: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> BResult<B::ErrorType> {
        let colour = style.color();
        if colour.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let font = match style.style() {
            FontStyle::Bold => &self.bold,
            _ => &self.regular,
        };
        let size = style.size() as f32;
        let scaled = font.as_scaled(size);
        let mut caret = 0f32;
        let mut prev = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(scaled.scale(), ab_glyph::point(caret, 0.0)));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        let width = caret as i32;
        let height = (f64::from(size) / 1.24) as i32;
        let cap = scaled
            .outline_glyph(scaled.scaled_glyph('H'))
            .map_or(size * 0.63, |o| o.px_bounds().height());
        let baseline = ((height as f32 + cap) / 2.0).round() as i32;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let (w, h) = self.get_size();
        let mut pixels = Vec::new();
        for glyph in glyphs {
            if let Some(outline) = scaled.outline_glyph(glyph) {
                let b = outline.px_bounds();
                let (x0, y0) = (b.min.x as i32, b.min.y as i32 + baseline);
                outline.draw(|x, y, c| {
                    if c > 0.0 {
                        pixels.push((x0 + x as i32 + dx, y0 + y as i32 + dy, c.min(1.0)));
                    }
                });
            }
        }
        for (x, y, c) in pixels {
            let (x, y) = transform.transform(x, y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && x < w as i32 && y < h as i32 {
                let color = BackendColor {
                    alpha: colour.alpha * f64::from(c),
                    rgb: colour.rgb,
                };
                self.inner.draw_pixel((x, y), color)?;
            }
        }
        Ok(())
    }
}

fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// A sibling temporary path that keeps `path`'s extension (the bitmap encoder picks the format
/// from it).
fn temp_sibling(path: &Path, ext: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp.{ext}", std::process::id()))
}

fn move_into_place(tmp: &Path, dest: &Path) -> anyhow::Result<()> {
    std::fs::rename(tmp, dest).with_context(|| format!("writing chart {}", dest.display()))
}

fn render_both<P: Paint>(stem: &Path, size: (u32, u32), plot: &P) -> anyhow::Result<[PathBuf; 2]> {
    let png = with_suffix(stem, "png");
    let svg = with_suffix(stem, "svg");
    anyhow::ensure!(
        size.0 >= MIN_SIZE.0 && size.1 >= MIN_SIZE.1 && size.0 <= MAX_SIDE && size.1 <= MAX_SIDE,
        "chart {}: size {}×{} is outside {}×{} ..= {MAX_SIDE}×{MAX_SIDE}",
        png.display(),
        size.0,
        size.1,
        MIN_SIZE.0,
        MIN_SIZE.1
    );
    let (regular, bold) = fonts()?.clone();

    let tmp = temp_sibling(&png, "png");
    let drawn = {
        let root = CrispText {
            inner: BitMapBackend::new(&tmp, size),
            regular,
            bold,
        }
        .into_drawing_area();
        plot.paint(&root).and_then(|()| root.present())
    };
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("writing chart {}: {e}", png.display());
    }
    move_into_place(&tmp, &png)?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        plot.paint(&root)
            .and_then(|()| root.present())
            .map_err(|e| anyhow::anyhow!("writing chart {}: {e}", svg.display()))?;
    }
    let tmp = temp_sibling(&svg, "svg");
    if let Err(e) = std::fs::write(&tmp, text.as_bytes()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing chart {}", svg.display()));
    }
    move_into_place(&tmp, &svg)?;
    Ok([png, svg])
}

fn font(size: f64, bold: bool) -> TextStyle<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, style)).color(&INK)
}

fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
) -> DResult<i32, DB> {
    if text.is_empty() {
        return Ok(0);
    }
    Ok(area.estimate_text_size(text, style)?.0 as i32)
}

/// Shrinks `style` (down to `min_size`) and then truncates `text` with "…" so it fits `max_w`.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: f64,
    min_size: f64,
    bold: bool,
    max_w: i32,
) -> DResult<(String, f64), DB> {
    let max_w = max_w.max(1);
    let w = text_width(area, text, &font(size, bold))?;
    if w <= max_w {
        return Ok((text.to_string(), size));
    }
    let size = (size * f64::from(max_w) / f64::from(w)).max(min_size);
    let style = font(size, bold);
    let mut chars: Vec<char> = text.chars().collect();
    let mut out = text.to_string();
    while !chars.is_empty() && text_width(area, &out, &style)? > max_w {
        chars.pop();
        out = chars.iter().collect::<String>() + "…";
    }
    Ok((out, size))
}

/// Font scale factor relative to a reference canvas; the square root keeps small charts legible.
fn scale((w, h): (u32, u32), reference: (f64, f64)) -> f64 {
    (f64::from(w) / reference.0)
        .min(f64::from(h) / reference.1)
        .sqrt()
        .clamp(0.7, 2.0)
}

/// Draws `title` centred at the top; returns the height used.
fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    size: f64,
    top: i32,
) -> DResult<i32, DB> {
    let (w, _) = root.dim_in_pixel();
    let (text, size) = fit_text(root, title, size, 10.0, true, w as i32 - 2 * top)?;
    let style = font(size, true).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(text, (w as i32 / 2, top), style))?;
    Ok(top + (size * 1.25).ceil() as i32)
}

/// Shortest decimal rendering of a tick value (at most 6 decimals).
fn fmt_tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    if v.abs() >= 1e7 || v.abs() < 1e-4 {
        return format!("{v:.2e}");
    }
    for d in 0..=6 {
        let s = format!("{v:.d$}");
        if let Ok(back) = s.parse::<f64>() {
            if (back - v).abs() <= 1e-9 * v.abs() {
                return s;
            }
        }
    }
    format!("{v:.6}")
}

/// "Nice" linear ticks (steps of 1, 2, 2.5 or 5 × 10^k) inside `lo..=hi`, about `target` many.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return if lo.is_finite() { vec![lo] } else { vec![] };
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    if !(first.is_finite() && last.is_finite()) || last < first {
        return vec![];
    }
    let n = (last - first).min(200.0) as usize;
    (0..=n).map(|i| (first + i as f64) * step).collect()
}

/// Nice ticks for a log axis over `lo..hi` (both > 0), at least `min_gap` apart in ln units:
/// powers of ten first, then 2 and 5, then 1.5, 3, 4, 6 and 8; linear ticks when the range is
/// too narrow for two of those.
fn log_ticks(lo: f64, hi: f64, min_gap: f64) -> Vec<f64> {
    let fits = |chosen: &[f64], v: f64| chosen.iter().all(|c| (v / c).ln().abs() >= min_gap);
    let e0 = lo.log10().floor() as i32 - 1;
    let e1 = hi.log10().ceil() as i32 + 1;
    let tiers: [&[f64]; 3] = [&[1.0], &[2.0, 5.0], &[1.5, 3.0, 4.0, 6.0, 8.0]];
    let mut chosen: Vec<f64> = Vec::new();
    for tier in tiers {
        for e in e0..=e1.min(e0 + 400) {
            for m in tier {
                let v = m * 10f64.powi(e);
                if v >= lo && v <= hi && fits(&chosen, v) {
                    chosen.push(v);
                }
            }
        }
    }
    if chosen.len() < 3 {
        let mut linear = Vec::new();
        for v in linear_ticks(lo, hi, 6) {
            if v > 0.0 && fits(&linear, v) {
                linear.push(v);
            }
        }
        if linear.len() > chosen.len() {
            chosen = linear;
        }
    }
    chosen.sort_by(f64::total_cmp);
    chosen
}

/// A linear f64 axis with given tick positions (plotters' `with_key_points` on a plain f64
/// range loses the label formatter).
struct TickedLinear {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for TickedLinear {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        (f64::from(limit.0) + f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

// ---------------------------------------------------------------------------------------------
// Line chart.

/// Twelve clearly distinct colours (Tableau 10, then black and dark teal).
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(0, 90, 80),
];

struct LinePlot<'a> {
    title: &'a str,
    series: &'a [Series],
}

/// A series' drawable points: finite, positive, sorted by step, averaged down to `max` points.
struct Prepared {
    train: Vec<[f64; 2]>,
    band: Vec<[f64; 3]>,
    heldout: Vec<[f64; 2]>,
}

fn drawable(p: &[f64]) -> bool {
    p[0].is_finite() && p[1..].iter().all(|v| v.is_finite() && *v > 0.0)
}

/// Averages consecutive points into at most `max` points (step linearly, values geometrically,
/// as they are drawn on a log axis), keeping the first and last point exact.
fn bucket<const N: usize>(mut pts: Vec<[f64; N]>, max: usize) -> Vec<[f64; N]> {
    pts.retain(|p| drawable(p));
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let max = max.max(3);
    if pts.len() <= max {
        return pts;
    }
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    let inner = &pts[1..pts.len() - 1];
    let chunk = inner.len().div_ceil(max - 2);
    let mut out = vec![first];
    for c in inner.chunks(chunk) {
        let n = c.len() as f64;
        let mut m = [0.0; N];
        m[0] = c.iter().map(|p| p[0]).sum::<f64>() / n;
        for (k, slot) in m.iter_mut().enumerate().skip(1) {
            *slot = (c.iter().map(|p| p[k].ln()).sum::<f64>() / n).exp();
        }
        out.push(m);
    }
    out.push(last);
    out
}

fn prepare(s: &Series, max: usize) -> Prepared {
    let train = s.train.iter().map(|&(x, y)| [x, y]).collect();
    let band = s
        .band
        .iter()
        .map(|&(x, a, b)| [x, a.min(b), a.max(b)])
        .collect();
    let heldout = s.heldout.iter().map(|&(x, y)| [x, y]).collect();
    Prepared {
        train: bucket(train, max),
        band: bucket(band, max),
        heldout: bucket(heldout, max.min(400)),
    }
}

/// Padded (x, y) ranges covering every drawn value; `None` when nothing is drawable.
fn data_ranges(prepared: &[Prepared]) -> Option<((f64, f64), (f64, f64))> {
    let mut xs = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ys = (f64::INFINITY, f64::NEG_INFINITY);
    let mut take = |p: &[f64]| {
        xs = (xs.0.min(p[0]), xs.1.max(p[0]));
        for &y in &p[1..] {
            ys = (ys.0.min(y), ys.1.max(y));
        }
    };
    for p in prepared {
        p.train.iter().for_each(|q| take(q));
        p.band.iter().for_each(|q| take(q));
        p.heldout.iter().for_each(|q| take(q));
    }
    if !(xs.0 <= xs.1 && ys.0 <= ys.1) {
        return None;
    }
    let x = if xs.1 > xs.0 {
        let pad = (xs.1 - xs.0) * 0.015;
        (xs.0 - pad, xs.1 + pad)
    } else {
        let pad = (xs.0.abs() * 0.05).max(1.0);
        (xs.0 - pad, xs.1 + pad)
    };
    let ratio = ys.1 / ys.0;
    let factor = if ratio.is_finite() && ratio > 1.0 {
        ratio.powf(0.05).max(1.05)
    } else {
        1.5
    };
    let mut y = (ys.0 / factor, ys.1 * factor);
    if !(y.0 > 0.0 && y.1.is_finite()) {
        // Extreme magnitudes: padding would leave f64's range.
        y = ys;
    }
    let ok = x.0.is_finite() && x.1.is_finite() && y.0 > 0.0 && y.1.is_finite() && y.0 < y.1;
    ok.then_some((x, y))
}

/// What a legend entry's sample looks like.
#[derive(Clone, Copy)]
enum Glyph {
    Line(RGBColor),
    Markers,
    Band,
}

/// Legend geometry: entries (already fitted to the available width) and box size in pixels.
struct Legend {
    entries: Vec<(String, Glyph)>,
    font_size: f64,
    row_h: i32,
    pad: i32,
    glyph_w: i32,
    w: i32,
    h: i32,
}

impl Legend {
    /// Lays out the entries with at most `max_w` × `max_h` pixels.
    fn layout<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        entries: Vec<(String, Glyph)>,
        size: f64,
        s: f64,
        (max_w, max_h): (i32, i32),
    ) -> DResult<Self, DB> {
        let pad = (8.0 * s).round() as i32;
        let glyph_w = (26.0 * s).round() as i32;
        let n = entries.len().max(1) as f64;
        let font_size = size.min(f64::from(max_h - 2 * pad) / (n * 1.45)).max(7.0);
        let row_h = (font_size * 1.45).round() as i32;
        let text_max = max_w - 2 * pad - glyph_w - pad;
        let mut fitted = Vec::with_capacity(entries.len());
        let mut text_w = 0;
        for (label, glyph) in entries {
            let (label, _) = fit_text(root, &label, font_size, font_size, false, text_max)?;
            text_w = text_w.max(text_width(root, &label, &font(font_size, false))?);
            fitted.push((label, glyph));
        }
        let w = 2 * pad + glyph_w + pad + text_w;
        let h = 2 * pad + row_h * fitted.len() as i32 - (row_h - font_size as i32);
        Ok(Self {
            entries: fitted,
            font_size,
            row_h,
            pad,
            glyph_w,
            w,
            h,
        })
    }

    /// Draws the legend with its top-left corner at `(x, y)` (root pixels).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        s: f64,
    ) -> DResult<(), DB> {
        let rect = [(x, y), (x + self.w, y + self.h)];
        root.draw(&Rectangle::new(rect, WHITE.mix(0.85).filled()))?;
        root.draw(&Rectangle::new(
            rect,
            RGBColor(190, 190, 190).stroke_width(1),
        ))?;
        let line_w = (2.0 * s).round().max(1.0) as u32;
        let radius = (3.2 * s).round() as i32;
        let style = font(self.font_size, false).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, (label, glyph)) in self.entries.iter().enumerate() {
            let cy = y + self.pad + self.row_h * i as i32 + (self.font_size / 2.0) as i32;
            let (gx0, gx1) = (x + self.pad, x + self.pad + self.glyph_w);
            match glyph {
                Glyph::Line(c) => {
                    root.draw(&PathElement::new(
                        vec![(gx0, cy), (gx1, cy)],
                        c.stroke_width(line_w),
                    ))?;
                }
                Glyph::Markers => {
                    root.draw(&DashedPathElement::new(
                        vec![(gx0, cy), (gx1, cy)],
                        (5.0 * s) as i32,
                        (4.0 * s) as i32,
                        MUTED.stroke_width(1),
                    ))?;
                    root.draw(&Circle::new(((gx0 + gx1) / 2, cy), radius, MUTED.filled()))?;
                }
                Glyph::Band => {
                    root.draw(&Rectangle::new(
                        [(gx0, cy - radius - 1), (gx1, cy + radius + 1)],
                        MUTED.mix(0.25).filled(),
                    ))?;
                }
            }
            root.draw(&Text::new(
                label.clone(),
                (gx1 + self.pad, cy),
                style.clone(),
            ))?;
        }
        Ok(())
    }
}

/// Picks x ticks whose labels do not crowd a plot `plot_w` pixels wide; returns them with the
/// widest label's width.
fn x_ticks_for<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, x1): (f64, f64),
    plot_w: i32,
    style: &TextStyle,
    gap: i32,
) -> DResult<(Vec<f64>, i32), DB> {
    let mut best = (Vec::new(), 0);
    for target in (2..=10).rev() {
        let ticks = linear_ticks(x0, x1, target);
        let mut widest = 0;
        for t in &ticks {
            widest = widest.max(text_width(root, &fmt_tick(*t), style)?);
        }
        let fits = (ticks.len() as i32) * (widest + gap) <= plot_w;
        best = (ticks, widest);
        if fits {
            break;
        }
    }
    Ok(best)
}

impl Paint for LinePlot<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let s = scale((w, h), (1100.0, 700.0));
        let tick_size = (14.0 * s).round();
        let desc_size = (15.0 * s).round();
        let tick_style = font(tick_size, false).color(&MUTED);
        let desc_style = font(desc_size, false);
        let m = (14.0 * s).round() as i32;
        let w = w as i32;

        let title_h = draw_title(root, self.title, (22.0 * s).round(), m)?;
        let (_, body) = root.split_vertically(title_h);
        let (_, body_h) = body.dim_in_pixel();

        let prepared: Vec<Prepared> = self
            .series
            .iter()
            .map(|x| prepare(x, (w as usize).max(100)))
            .collect();
        let ranges = data_ranges(&prepared);
        let ((x0, x1), (y0, y1)) = ranges.unwrap_or(((0.0, 1.0), (1.0, 10.0)));

        // Layout is computed up front so that tick density and legend placement can follow the
        // plot's pixel size.
        let (margin_top, margin_bottom) = (m / 2, m);
        let x_area = (tick_size * 1.2 + desc_size * 1.3 + 14.0 * s).round() as i32;
        let plot_h = (body_h as i32 - margin_top - margin_bottom - x_area).max(10);
        let min_gap = (y1 / y0).ln() * (tick_size * 2.2) / f64::from(plot_h);
        let y_ticks = log_ticks(y0, y1, min_gap);
        let mut y_label_w = 0;
        for t in &y_ticks {
            y_label_w = y_label_w.max(text_width(root, &fmt_tick(*t), &tick_style)?);
        }
        let y_area = y_label_w + (desc_size * 1.3 + 22.0 * s).round() as i32;
        let tick_gap = (tick_size * 2.5) as i32;
        let plot_left = m + y_area;
        let plot_top = title_h + margin_top;

        let colour = |i: usize| PALETTE[i % PALETTE.len()];
        let mut entries: Vec<(String, Glyph)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let label = match x.label.trim() {
                    "" => format!("series {}", i + 1),
                    l => l.to_string(),
                };
                (label, Glyph::Line(colour(i)))
            })
            .collect();
        if !entries.is_empty() {
            entries.push(("train (line)".into(), Glyph::Line(MUTED)));
            if prepared.iter().any(|p| !p.heldout.is_empty()) {
                entries.push(("held-out (markers)".into(), Glyph::Markers));
            }
            if prepared.iter().any(|p| p.band.len() >= 2) {
                entries.push(("spread over seeds (shaded)".into(), Glyph::Band));
            }
        }
        let legend_size = (13.0 * s).round();
        let inset = (8.0 * s).round() as i32;

        // First choice: the legend inside the plot, in the corner that hides the fewest points.
        let (x_ticks, widest) =
            x_ticks_for(root, (x0, x1), w - 2 * m - y_area, &tick_style, tick_gap)?;
        let mut margin_right = m.max(widest / 2 + 4);
        let mut plot_w = w - plot_left - margin_right;
        let mut x_ticks = x_ticks;
        let mut legend = None;
        let mut legend_pos = None;
        if !entries.is_empty() {
            let inside = Legend::layout(
                root,
                entries.clone(),
                legend_size,
                s,
                (plot_w * 2 / 3, plot_h - 2 * inset),
            )?;
            let (lw, lh) = (inside.w, inside.h);
            let fits = lw + 2 * inset < plot_w * 2 / 3 && lh + 2 * inset < plot_h * 2 / 3;
            let to_px = |x: f64, y: f64| {
                let px = f64::from(plot_w) * (x - x0) / (x1 - x0);
                let py = f64::from(plot_h) * (1.0 - (y / y0).ln() / (y1 / y0).ln());
                (px, py)
            };
            // Top-left corners inside the plot: upper right first, then upper left, lower left,
            // lower right.
            let corners = [
                (plot_w - inset - lw, inset),
                (inset, inset),
                (inset, plot_h - inset - lh),
                (plot_w - inset - lw, plot_h - inset - lh),
            ];
            let mut covered = [0usize; 4];
            let mut total = 0usize;
            let mut count = |x: f64, y: f64| {
                total += 1;
                let (px, py) = to_px(x, y);
                for (k, &(cx, cy)) in corners.iter().enumerate() {
                    let (cx, cy) = (f64::from(cx) - 4.0, f64::from(cy) - 4.0);
                    let (cw, ch) = (f64::from(lw) + 8.0, f64::from(lh) + 8.0);
                    if px >= cx && px <= cx + cw && py >= cy && py <= cy + ch {
                        covered[k] += 1;
                    }
                }
            };
            for p in &prepared {
                p.train.iter().for_each(|q| count(q[0], q[1]));
                p.heldout.iter().for_each(|q| count(q[0], q[1]));
                p.band.iter().for_each(|q| {
                    count(q[0], q[1]);
                    count(q[0], q[2]);
                });
            }
            let (k, least) = covered
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| **c)
                .map_or((0, 0), |(k, c)| (k, *c));
            if fits && least * 200 <= total {
                let (cx, cy) = corners[k];
                legend_pos = Some((plot_left + cx, plot_top + cy));
                legend = Some(inside);
            } else {
                // Otherwise beside the plot, on the right.
                let outside = Legend::layout(
                    root,
                    entries,
                    legend_size,
                    s,
                    ((w as f64 * 0.4) as i32, body_h as i32 - margin_top - m),
                )?;
                margin_right = outside.w + 2 * m;
                plot_w = w - plot_left - margin_right;
                let (ticks, widest) = x_ticks_for(root, (x0, x1), plot_w, &tick_style, tick_gap)?;
                x_ticks = ticks;
                // The last tick label may overhang the plot's right edge.
                margin_right = margin_right.max(m + widest / 2 + 4);
                legend_pos = Some((w - m - outside.w, plot_top));
                legend = Some(outside);
            }
        }

        let mut chart = ChartBuilder::on(&body)
            .margin_top(margin_top)
            .margin_bottom(margin_bottom)
            .margin_left(m)
            .margin_right(margin_right)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(
                TickedLinear {
                    lo: x0,
                    hi: x1,
                    ticks: x_ticks,
                },
                (y0..y1).log_scale().with_key_points(y_ticks),
            )?;
        let fmt = |v: &f64| fmt_tick(*v);
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("perplexity (log scale)")
            .label_style(tick_style.clone())
            .axis_desc_style(desc_style.clone())
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(AXIS)
            .set_all_tick_mark_size((4.0 * s) as i32)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .draw()?;

        if ranges.is_none() {
            let style = font(desc_size, false)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                "no data",
                ((x0 + x1) / 2.0, (y0 * y1).sqrt()),
                style,
            )))?;
        }

        let line_w = (2.0 * s).round().max(1.0) as u32;
        let radius = (3.2 * s).round() as i32;
        for (i, p) in prepared.iter().enumerate() {
            if p.band.len() >= 2 {
                let mut poly: Vec<(f64, f64)> = p.band.iter().map(|b| (b[0], b[1])).collect();
                poly.extend(p.band.iter().rev().map(|b| (b[0], b[2])));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    colour(i).mix(0.16).filled(),
                )))?;
            }
        }
        for (i, p) in prepared.iter().enumerate() {
            let c = colour(i);
            chart.draw_series(LineSeries::new(
                p.train.iter().map(|q| (q[0], q[1])),
                c.stroke_width(line_w),
            ))?;
            if p.train.len() == 1 {
                let q = p.train[0];
                chart.draw_series(std::iter::once(Circle::new(
                    (q[0], q[1]),
                    radius,
                    c.filled(),
                )))?;
            }
        }
        for (i, p) in prepared.iter().enumerate() {
            let c = colour(i);
            if p.heldout.len() >= 2 {
                chart.draw_series(DashedLineSeries::new(
                    p.heldout.iter().map(|q| (q[0], q[1])),
                    (5.0 * s) as i32,
                    (4.0 * s) as i32,
                    c.stroke_width(1),
                ))?;
            }
            chart.draw_series(p.heldout.iter().map(|q| {
                EmptyElement::at((q[0], q[1]))
                    + Circle::new((0, 0), radius + 1, WHITE.filled())
                    + Circle::new((0, 0), radius, c.filled())
            }))?;
        }

        if let (Some(legend), Some(pos)) = (legend, legend_pos) {
            legend.draw(root, pos, s)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Heatmap.

struct HeatPlot<'a> {
    title: &'a str,
    row_name: &'a str,
    row_values: &'a [String],
    col_name: &'a str,
    col_values: &'a [String],
    values: &'a [Vec<Option<f64>>],
}

/// ColorBrewer YlGn, palest first.
const YLGN: [(f64, f64, f64); 9] = [
    (255.0, 255.0, 229.0),
    (247.0, 252.0, 185.0),
    (217.0, 240.0, 163.0),
    (173.0, 221.0, 142.0),
    (120.0, 198.0, 121.0),
    (65.0, 171.0, 93.0),
    (35.0, 132.0, 67.0),
    (0.0, 104.0, 55.0),
    (0.0, 69.0, 41.0),
];

const MISSING: RGBColor = RGBColor(205, 205, 205);
const BEST: RGBColor = RGBColor(215, 25, 28);

/// Colour for `t` in 0..=1, 0 = best (dark green), 1 = worst (pale yellow, not quite white).
fn scale_colour(t: f64) -> RGBColor {
    let u = 0.5 + (1.0 - t.clamp(0.0, 1.0)) * 7.5;
    let i = (u.floor() as usize).min(YLGN.len() - 2);
    let f = u - i as f64;
    let (a, b) = (YLGN[i], YLGN[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn is_dark(c: RGBColor) -> bool {
    0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2) < 140.0
}

/// Maps finite values to 0..=1 (log scale when all are positive).
struct ColourScale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl ColourScale {
    fn new(values: &[f64]) -> Option<Self> {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some(Self {
            lo,
            hi,
            log: lo > 0.0,
        })
    }

    fn t(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.ln() } else { x };
        let span = f(self.hi) - f(self.lo);
        if span > 0.0 && span.is_finite() {
            ((f(v) - f(self.lo)) / span).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

fn cell_text(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) if v.is_infinite() => if v > 0.0 { "∞" } else { "−∞" }.into(),
        Some(v) => format!("{v:.2}"),
    }
}

impl Paint for HeatPlot<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        let s = scale((w as u32, h as u32), (700.0, 500.0));
        let m = (14.0 * s).round() as i32;
        let label_size = (13.0 * s).round();
        let desc_size = (14.0 * s).round();
        let caption_size = (12.0 * s).round();

        let mut top = draw_title(root, self.title, (20.0 * s).round(), m)?;
        let (nr, nc) = (self.row_values.len(), self.col_values.len());
        if nr == 0 || nc == 0 {
            let style = font(desc_size, false)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new("no data", (w / 2, (top + h) / 2), style))?;
            return Ok(());
        }

        let finite: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .filter_map(|v| v.filter(|x| x.is_finite()))
            .collect();
        let colours = ColourScale::new(&finite);
        let best = colours.as_ref().map(|c| c.lo);

        let caption = match &colours {
            Some(c) if c.log => {
                "darker green = lower = better (log colour scale) · red outline = best"
            }
            Some(_) => "darker green = lower = better · red outline = best",
            None => "no values",
        };
        let (caption, cs) = fit_text(root, caption, caption_size, 8.0, false, w - 2 * m)?;
        let style = font(cs, false)
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(caption, (w / 2, top), style))?;
        top += (cs * 1.3) as i32 + (10.0 * s) as i32;

        // Colour bar on the right: bar, then tick labels.
        let bar_w = (16.0 * s).round() as i32;
        let tick_style = font(label_size * 0.9, false).color(&MUTED);
        let bar_labels: Vec<(f64, String)> = match &colours {
            Some(c) if c.hi > c.lo => {
                let mut ticks = vec![
                    (c.lo, format!("{:.2}", c.lo)),
                    (c.hi, format!("{:.2}", c.hi)),
                ];
                let inner = if c.log {
                    log_ticks(c.lo, c.hi, (c.hi / c.lo).ln() / 6.0)
                } else {
                    linear_ticks(c.lo, c.hi, 4)
                };
                for t in inner {
                    let far = (c.t(t) - 0.0).abs() > 0.12 && (c.t(t) - 1.0).abs() > 0.12;
                    if far {
                        ticks.push((t, fmt_tick(t)));
                    }
                }
                ticks
            }
            Some(c) => vec![(c.lo, format!("{:.2}", c.lo))],
            None => vec![],
        };
        let mut bar_label_w = 0;
        for (_, l) in &bar_labels {
            bar_label_w = bar_label_w.max(text_width(root, l, &tick_style)?);
        }
        let bar_region = if colours.is_some() {
            (14.0 * s) as i32 + bar_w + 4 + (5.0 * s) as i32 + bar_label_w
        } else {
            0
        };

        // Left: rotated row axis title, then row labels; bottom: column labels, then title.
        let label_style = font(label_size, false);
        let mut row_label_w = 0;
        for r in self.row_values {
            row_label_w = row_label_w.max(text_width(root, r, &label_style)?);
        }
        let row_label_w = row_label_w.min(w / 3);
        let gx0 = m + (desc_size * 1.4) as i32 + row_label_w + (8.0 * s) as i32;
        let gx1 = w - m - bar_region;
        let gy0 = top;
        let gy1 = h - m - (desc_size * 1.4) as i32 - (label_size * 1.4) as i32 - (8.0 * s) as i32;
        if gx1 - gx0 < nc as i32 || gy1 - gy0 < nr as i32 {
            let style = font(desc_size, false)
                .color(&MUTED)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                "too many cells for this size",
                (w / 2, (top + h) / 2),
                style,
            ))?;
            return Ok(());
        }
        let xs: Vec<i32> = (0..=nc)
            .map(|c| gx0 + ((gx1 - gx0) as i64 * c as i64 / nc as i64) as i32)
            .collect();
        let ys: Vec<i32> = (0..=nr)
            .map(|r| gy0 + ((gy1 - gy0) as i64 * r as i64 / nr as i64) as i32)
            .collect();
        let (cell_w, cell_h) = ((gx1 - gx0) / nc as i32, (gy1 - gy0) / nr as i32);

        // Cell annotations share one font size that fits the widest of them.
        let texts: Vec<Vec<String>> = self
            .values
            .iter()
            .map(|row| row.iter().map(|v| cell_text(*v)).collect())
            .collect();
        let mut value_size = (15.0 * s).round().min(f64::from(cell_h) * 0.45);
        let mut widest = 0;
        for t in texts.iter().flatten() {
            widest = widest.max(text_width(root, t, &font(value_size, true))?);
        }
        if widest > 0 && f64::from(widest) > f64::from(cell_w) * 0.85 {
            value_size *= f64::from(cell_w) * 0.85 / f64::from(widest);
        }
        // Below this the numbers are unreadable: the colours alone carry the values.
        let annotate = value_size >= 7.0;

        for (r, row) in self.values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let fill = match (v, &colours) {
                    (Some(x), Some(sc)) if x.is_finite() => scale_colour(sc.t(*x)),
                    _ => MISSING,
                };
                let rect = [(xs[c], ys[r]), (xs[c + 1], ys[r + 1])];
                root.draw(&Rectangle::new(rect, fill.filled()))?;
                root.draw(&Rectangle::new(rect, WHITE.stroke_width(1)))?;
                let is_best = matches!((v, best), (Some(x), Some(b)) if *x == b);
                let ink = if fill == MISSING {
                    &MUTED
                } else if is_dark(fill) {
                    &WHITE
                } else {
                    &INK
                };
                let style = font(value_size, is_best)
                    .color(ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let centre = ((xs[c] + xs[c + 1]) / 2, (ys[r] + ys[r + 1]) / 2);
                if annotate {
                    root.draw(&Text::new(texts[r][c].clone(), centre, style))?;
                }
            }
        }
        // Best cells last, so neighbours do not paint over the outline.
        let bw = (3.0 * s).round().max(2.0) as i32;
        for (r, row) in self.values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if matches!((v, best), (Some(x), Some(b)) if *x == b) {
                    // Four filled bars: the SVG backend ignores rectangle stroke widths.
                    let (x0, y0, x1, y1) = (xs[c] + 1, ys[r] + 1, xs[c + 1], ys[r + 1]);
                    for bar in [
                        [(x0, y0), (x1, y0 + bw)],
                        [(x0, y1 - bw), (x1, y1)],
                        [(x0, y0), (x0 + bw, y1)],
                        [(x1 - bw, y0), (x1, y1)],
                    ] {
                        root.draw(&Rectangle::new(bar, BEST.filled()))?;
                    }
                }
            }
        }

        // Row labels (right-aligned) and the rotated row axis title.
        let max_row_w = row_label_w;
        for (r, label) in self.row_values.iter().enumerate() {
            let row_size = label_size.min(f64::from(cell_h) * 0.85).max(6.0);
            let (text, size) = fit_text(root, label, row_size, 6.0, false, max_row_w)?;
            let style = font(size, false).pos(Pos::new(HPos::Right, VPos::Center));
            let y = (ys[r] + ys[r + 1]) / 2;
            root.draw(&Text::new(text, (gx0 - (8.0 * s) as i32, y), style))?;
        }
        let (text, size) = fit_text(root, self.row_name, desc_size, 8.0, false, gy1 - gy0)?;
        let style = font(size, false)
            .pos(Pos::new(HPos::Center, VPos::Center))
            .transform(FontTransform::Rotate270);
        root.draw(&Text::new(
            text,
            (m + (desc_size * 0.6) as i32, (gy0 + gy1) / 2),
            style,
        ))?;

        // Column labels: one shared font size so that the widest fits its cell.
        let mut col_size = label_size;
        let mut widest = 0;
        for c in self.col_values {
            widest = widest.max(text_width(root, c, &font(col_size, false))?);
        }
        if f64::from(widest) > f64::from(cell_w) * 0.95 {
            col_size = (col_size * f64::from(cell_w) * 0.95 / f64::from(widest)).max(8.0);
        }
        for (c, label) in self.col_values.iter().enumerate() {
            let (text, size) = fit_text(root, label, col_size, 8.0, false, cell_w - 2)?;
            let style = font(size, false).pos(Pos::new(HPos::Center, VPos::Top));
            let x = (xs[c] + xs[c + 1]) / 2;
            root.draw(&Text::new(text, (x, gy1 + (6.0 * s) as i32), style))?;
        }
        let (text, size) = fit_text(root, self.col_name, desc_size, 8.0, false, gx1 - gx0)?;
        let style = font(size, false).pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(text, ((gx0 + gx1) / 2, h - m), style))?;

        // Colour bar: best (dark) at the bottom.
        if let Some(sc) = &colours {
            let bx0 = gx1 + (14.0 * s) as i32;
            let bx1 = bx0 + bar_w;
            let span = (gy1 - gy0).max(1);
            for y in gy0..gy1 {
                let t = f64::from(gy1 - 1 - y) / f64::from((span - 1).max(1));
                root.draw(&Rectangle::new(
                    [(bx0, y), (bx1, y + 1)],
                    scale_colour(t).filled(),
                ))?;
            }
            root.draw(&Rectangle::new(
                [(bx0, gy0), (bx1, gy1)],
                AXIS.stroke_width(1),
            ))?;
            for (v, label) in &bar_labels {
                let y = gy1 - (sc.t(*v) * f64::from(span)).round() as i32;
                root.draw(&PathElement::new(
                    vec![(bx1, y), (bx1 + 4, y)],
                    AXIS.stroke_width(1),
                ))?;
                let style = tick_style.clone().pos(Pos::new(HPos::Left, VPos::Center));
                root.draw(&Text::new(
                    label.clone(),
                    (bx1 + 4 + (5.0 * s) as i32, y),
                    style,
                ))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(n_series: usize, n: usize) -> Vec<Series> {
        (0..n_series)
            .map(|k| {
                let rate = 0.002 * (k + 1) as f64;
                let curve = |step: f64| 3.0 + 60.0 * (-rate * step).exp();
                let noise =
                    |i: usize| 1.0 + 0.04 * ((i as f64 * 12.9898).sin() * 43758.5453).fract();
                let train = (0..n)
                    .map(|i| (i as f64, curve(i as f64) * noise(i)))
                    .collect();
                let band = (0..n)
                    .step_by(10)
                    .map(|i| (i as f64, curve(i as f64) * 0.92, curve(i as f64) * 1.08))
                    .collect();
                let heldout = (0..=n)
                    .step_by(n / 10)
                    .map(|i| (i as f64, curve(i as f64) * 1.1))
                    .collect();
                Series {
                    label: format!("hidden={} batch_size=32", 100 * (k + 1)),
                    train,
                    band,
                    heldout,
                }
            })
            .collect()
    }

    fn grid() -> (Vec<String>, Vec<String>, Vec<Vec<Option<f64>>>) {
        let rows = vec!["0.001".into(), "0.003".into(), "0.01".into()];
        let cols = vec!["64".into(), "128".into(), "256".into()];
        let values = vec![
            vec![Some(6.12), Some(5.43), Some(5.01)],
            vec![Some(4.87), None, Some(4.32)],
            vec![Some(7.9), Some(9.25), Some(12.5)],
        ];
        (rows, cols, values)
    }

    /// Checks both files and returns the decoded PNG.
    fn check_files(paths: &[PathBuf; 2], size: (u32, u32), title: &str, rich: bool) {
        assert!(paths[0].ends_with(paths[0].file_name().unwrap()));
        assert_eq!(paths[0].extension().unwrap(), "png");
        assert_eq!(paths[1].extension().unwrap(), "svg");
        let img = image::open(&paths[0]).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), size);
        let mut colours = std::collections::HashSet::new();
        let mut non_white = 0usize;
        for p in img.pixels() {
            colours.insert(p.0);
            if p.0 != [255, 255, 255] {
                non_white += 1;
            }
        }
        // Even an empty chart has an antialiased title.
        assert!(colours.len() > 5, "only {} colours", colours.len());
        if rich {
            assert!(colours.len() > 20, "only {} colours", colours.len());
            let share = non_white as f64 / f64::from(size.0 * size.1);
            assert!(share > 0.05, "only {share} non-white");
        }
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("<svg"));
        assert!(svg.contains(title), "title missing from SVG");
    }

    #[test]
    fn line_chart_renders_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("curves.lr=0.01");
        let paths = line_chart(
            &stem,
            "Perplexity by hidden size",
            &synthetic(3, 2000),
            (1100, 700),
        )
        .unwrap();
        assert_eq!(paths[0], dir.path().join("curves.lr=0.01.png"));
        assert_eq!(paths[1], dir.path().join("curves.lr=0.01.svg"));
        check_files(&paths, (1100, 700), "Perplexity by hidden size", true);
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn crowded_line_chart_puts_legend_beside_plot() {
        let dir = tempfile::tempdir().unwrap();
        let mut series = synthetic(12, 800);
        for (i, s) in series.iter_mut().enumerate() {
            s.label = format!("hidden={} lr=0.00{i} batch_size=64 dropout=0.1", 100 * i);
        }
        for size in [(700, 450), (200, 150)] {
            let stem = dir.path().join(format!("crowded{}", size.0));
            let paths = line_chart(&stem, "lr sweep", &series, size).unwrap();
            check_files(&paths, size, "lr sweep", size.0 > 200);
        }
    }

    #[test]
    fn heatmap_renders_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, cols, values) = grid();
        let paths = heatmap(
            &dir.path().join("heat"),
            "Best held-out perplexity",
            "learning rate",
            &rows,
            "hidden",
            &cols,
            &values,
            (700, 500),
        )
        .unwrap();
        check_files(&paths, (700, 500), "Best held-out perplexity", true);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("4.32") && svg.contains("–"));
    }

    #[test]
    fn odd_line_input_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let nan = f64::NAN;
        let cases: Vec<Vec<Series>> = vec![
            vec![],
            vec![Series {
                label: "single".into(),
                train: vec![(5.0, 10.0)],
                band: vec![],
                heldout: vec![],
            }],
            vec![Series {
                label: String::new(),
                train: vec![
                    (nan, 1.0),
                    (1.0, nan),
                    (2.0, f64::INFINITY),
                    (3.0, -1.0),
                    (4.0, 0.0),
                ],
                band: vec![(nan, nan, nan), (1.0, 5.0, 2.0)],
                heldout: vec![(nan, nan)],
            }],
            vec![Series {
                label: "flat".into(),
                train: vec![(0.0, 7.0), (1.0, 7.0), (2.0, 7.0)],
                band: vec![(0.0, 7.0, 7.0), (2.0, 7.0, 7.0)],
                heldout: vec![(2.0, 7.0)],
            }],
            vec![Series {
                label: "narrow".into(),
                train: vec![(0.0, 10.0), (1.0, 10.001)],
                band: vec![],
                heldout: vec![(1.0, 1e-300), (2.0, 1e300)],
            }],
        ];
        for (i, series) in cases.iter().enumerate() {
            let stem = dir.path().join(format!("odd{i}"));
            let paths = line_chart(&stem, "odd", series, (700, 450)).unwrap();
            check_files(&paths, (700, 450), "odd", false);
        }
        let err = line_chart(&dir.path().join("tiny"), "t", &[], (10, 10)).unwrap_err();
        assert!(err.to_string().contains("tiny.png"), "{err}");
        let missing = dir.path().join("no/such/dir/x");
        let err = line_chart(&missing, "t", &[], (700, 450)).unwrap_err();
        assert!(format!("{err:#}").contains("x.png"), "{err:#}");
    }

    #[test]
    fn odd_heatmap_input_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let nan = f64::NAN;
        let labels = |n: usize| (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>();
        type Grid = Vec<Vec<Option<f64>>>;
        let cases: Vec<(usize, usize, Grid)> = vec![
            (0, 0, vec![]),
            (1, 1, vec![vec![None]]),
            (1, 2, vec![vec![Some(nan), Some(f64::INFINITY)]]),
            (
                2,
                2,
                vec![vec![Some(3.0), Some(3.0)], vec![Some(3.0), None]],
            ),
            (1, 3, vec![vec![Some(-2.0), Some(0.0), Some(1e12)]]),
        ];
        for (i, (nr, nc, values)) in cases.iter().enumerate() {
            let stem = dir.path().join(format!("odd{i}"));
            let paths = heatmap(
                &stem,
                "odd",
                "r",
                &labels(*nr),
                "c",
                &labels(*nc),
                values,
                (700, 500),
            )
            .unwrap();
            check_files(&paths, (700, 500), "odd", false);
        }
        let big: Vec<Vec<Option<f64>>> = (0..30)
            .map(|r| (0..30).map(|c| Some((r * c) as f64 + 1.5)).collect())
            .collect();
        let long = |n: usize| {
            (0..n)
                .map(|i| format!("a rather long label number {i}"))
                .collect::<Vec<_>>()
        };
        for size in [(200, 150), (700, 500)] {
            let stem = dir.path().join(format!("big{}", size.0));
            let paths = heatmap(&stem, "big", "r", &long(30), "c", &long(30), &big, size).unwrap();
            check_files(&paths, size, "big", false);
        }
        let err = heatmap(
            &dir.path().join("shape"),
            "t",
            "r",
            &labels(2),
            "c",
            &labels(2),
            &[vec![Some(1.0), Some(2.0)], vec![Some(1.0)]],
            (700, 500),
        )
        .unwrap_err();
        assert!(err.to_string().contains("shape.png"), "{err}");
    }

    #[test]
    fn ticks_are_nice_and_inside() {
        let t = log_ticks(2.5, 30.0, 0.1);
        assert!(
            t.contains(&10.0) && t.contains(&5.0) && t.iter().all(|v| (2.5..=30.0).contains(v))
        );
        assert!(log_ticks(10.0, 10.5, 0.001).len() >= 2);
        assert_eq!(fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(fmt_tick(2000.0), "2000");
        assert_eq!(
            linear_ticks(0.0, 1000.0, 5),
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
        );
    }

    /// Renders sample charts into /tmp/charts_preview for a visual check:
    /// `cargo test --release --lib report::charts -- --ignored`.
    #[test]
    #[ignore]
    fn preview() {
        let dir = Path::new("/tmp/charts_preview");
        std::fs::create_dir_all(dir).unwrap();
        line_chart(
            &dir.join("main"),
            "Training perplexity by configuration (mean over 3 seeds)",
            &synthetic(12, 3000),
            (1100, 700),
        )
        .unwrap();
        line_chart(
            &dir.join("small"),
            "hidden = 200",
            &synthetic(3, 1500),
            (700, 450),
        )
        .unwrap();
        line_chart(&dir.join("empty"), "nothing yet", &[], (700, 450)).unwrap();
        let (rows, cols, values) = grid();
        heatmap(
            &dir.join("heat"),
            "Best held-out perplexity",
            "learning rate",
            &rows,
            "hidden",
            &cols,
            &values,
            (700, 500),
        )
        .unwrap();
    }
}
