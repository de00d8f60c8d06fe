//! Text on charts: the embedded DejaVu Sans fonts, a backend wrapper that rasterises text
//! with correct spacing (`CrispText`), and fitting, measuring and title helpers.

use super::*;

pub(super) fn fonts() -> anyhow::Result<&'static (FontRef<'static>, FontRef<'static>)> {
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
pub(super) struct CrispText<B> {
    pub(super) inner: B,
    pub(super) regular: FontRef<'static>,
    pub(super) bold: FontRef<'static>,
}

pub(super) type BResult<E> = Result<(), DrawingErrorKind<E>>;

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

pub(super) fn font(size: f64, bold: bool) -> TextStyle<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, style)).color(&INK)
}

pub(super) fn text_width<DB: DrawingBackend>(
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
pub(super) fn fit_text<DB: DrawingBackend>(
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
pub(super) fn scale((w, h): (u32, u32), reference: (f64, f64)) -> f64 {
    (f64::from(w) / reference.0)
        .min(f64::from(h) / reference.1)
        .sqrt()
        .clamp(0.7, 2.0)
}

/// Draws `title` centred at the top; returns the height used.
pub(super) fn draw_title<DB: DrawingBackend>(
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

/// Writes "no data" in the middle of `root` (a chart with nothing to draw); `s` is the chart's
/// scale.
pub(super) fn draw_no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, h) = root.dim_in_pixel();
    let style = font((14.0 * s).round(), false)
        .color(&MUTED)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new("no data", (w as i32 / 2, h as i32 / 2), style))
}
