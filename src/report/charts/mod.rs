//! Chart rendering: draws perplexity line charts (`lines`), result heatmaps (`heat`) and
//! scatter plots of a result against a parameter (`scatter`), the trade-off front of two
//! objectives (`front`) as
//! PNG and SVG files with `plotters`, using an embedded DejaVu Sans font (`text`) so that no
//! system font is needed; axis ticks in `ticks`. This module holds the public entry points
//! and the file plumbing (both formats, written through temporary files).

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

mod anytime;
mod front;
mod heat;
mod lines;
mod scatter;
mod text;
mod ticks;

use anytime::*;
use front::*;
use heat::*;
use lines::*;
use scatter::*;
use text::*;
use ticks::*;

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
    labelled_line_chart(stem, title, &LineLabels::PERPLEXITY, series, size)
}

/// What a line chart's y axis, lines and markers are called.
#[derive(Debug, Clone, Copy)]
pub struct LineLabels<'a> {
    /// The y axis' description.
    pub y: &'a str,
    /// What the lines show (`train`).
    pub line: &'a str,
    /// What the markers show (`held-out`).
    pub markers: &'a str,
}

impl LineLabels<'static> {
    /// The built-in model's perplexity curves.
    pub const PERPLEXITY: LineLabels<'static> = LineLabels {
        y: "perplexity (log scale)",
        line: "train",
        markers: "held-out",
    };
}

/// [`line_chart`] with other names for its axis, lines and markers (a program's metrics): the
/// y axis is still logarithmic, so values ≤ 0 are not drawn.
pub fn labelled_line_chart(
    stem: &Path,
    title: &str,
    labels: &LineLabels,
    series: &[Series],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    render_both(
        stem,
        size,
        &LinePlot {
            title,
            series,
            labels,
        },
    )
}

/// One line of an anytime chart: a search method's best result after each configuration.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend text, e.g. "TPE + successive halving".
    pub label: String,
    /// (configurations tried, mean best held-out perplexity over search seeds).
    pub mean: Vec<(f64, f64)>,
    /// (configurations tried, best seed, worst seed), drawn as a light band. May be empty.
    pub band: Vec<(f64, f64, f64)>,
}

/// What an anytime chart's x axis counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnytimeAxis {
    /// Configurations tried, in order.
    Configurations,
    /// Seconds since the sweep started.
    Seconds,
}

/// Writes `<stem>.png` and `<stem>.svg` (extensions appended to `stem`): anytime curves, the
/// best held-out perplexity found after each configuration (or by each second), one colour per
/// curve with its band, a legend in the lower left (the first configurations are rarely the
/// best). Non-finite points are skipped. Errors as for [`line_chart`].
pub fn anytime(
    stem: &Path,
    title: &str,
    x: AnytimeAxis,
    curves: &[Curve],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    render_both(stem, size, &AnytimePlot { title, curves, x })
}

/// Writes `<stem>.png` and `<stem>.svg` (extensions appended to `stem`): held-out perplexity
/// (log y) against the values of the parameter `x_name` (log x when `log_x`), one point per
/// configuration, the lowest ringed in red. Points that cannot be drawn are skipped; none
/// gives a chart with a "no data" note. Errors as for [`line_chart`].
pub fn scatter(
    stem: &Path,
    title: &str,
    x_name: &str,
    log_x: bool,
    points: &[(f64, f64)],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    labelled_scatter(
        stem,
        title,
        (x_name, "held-out perplexity"),
        log_x,
        false,
        points,
        size,
    )
}

/// [`scatter`] of another result: `names` are the x and y axes' names; the best point is the
/// highest when `higher_is_better`.
pub fn labelled_scatter(
    stem: &Path,
    title: &str,
    names: (&str, &str),
    log_x: bool,
    higher_is_better: bool,
    points: &[(f64, f64)],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    render_both(
        stem,
        size,
        &ScatterPlot {
            title,
            x_name: names.0,
            y_name: names.1,
            log_x,
            higher_is_better,
            points,
        },
    )
}

/// Where a configuration stands on a trade-off chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// On the front.
    Front,
    /// Another configuration dominates it.
    Dominated,
    /// It breaks a constraint.
    Infeasible,
}

/// Writes `<stem>.png` and `<stem>.svg`: the first two objectives (`names`, x then y) of each
/// configuration; the front's points joined and drawn strong, dominated ones faded, infeasible
/// ones hollow red. Errors as for [`line_chart`].
pub fn front(
    stem: &Path,
    title: &str,
    names: (&str, &str),
    points: &[(f64, f64, Standing)],
    size: (u32, u32),
) -> anyhow::Result<[PathBuf; 2]> {
    render_both(
        stem,
        size,
        &FrontPlot {
            title,
            x_name: names.0,
            y_name: names.1,
            points,
        },
    )
}

/// Which end of a heatmap's values is better, and how many decimals its cells show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeatScale {
    /// The highest value is the best (an accuracy); otherwise the lowest (a loss).
    pub higher_is_better: bool,
    /// Decimals of the cell annotations and the colour bar.
    pub decimals: usize,
}

impl HeatScale {
    /// Lower is better, two decimals: a perplexity.
    pub const PERPLEXITY: HeatScale = HeatScale {
        higher_is_better: false,
        decimals: 2,
    };
}

/// Writes `<stem>.png` and `<stem>.svg` (extensions appended to `stem`): a heatmap of
/// `values[r][c]`, rows labelled with `row_values` top to bottom (axis title `row_name`), columns
/// with `col_values` left to right (axis title `col_name`).
///
/// Each cell is coloured on a sequential yellow–green scale where better is darker green
/// (log-scaled when all values are positive), annotated with its value to `scale.decimals`
/// decimals; the best (lowest, or highest when `scale.higher_is_better`) is outlined in red, `None` is a grey cell with "–", and non-finite values are grey
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
    scale: HeatScale,
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
        scale,
    };
    render_both(stem, size, &plot)
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing: fonts, files, text helpers.

type DResult<T, DB> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The smallest and largest of `values` (finite), widened so that no point sits on the frame:
/// by 5% of the range on each side (10% of the value, at least 0.1, when all are equal), or on a
/// log axis by 5% of the ratio (20% when all are equal).
fn padded_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if log {
        let f = if hi > lo { (hi / lo).powf(0.05) } else { 1.2 };
        return (lo / f, hi * f);
    }
    let d = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - d, hi + d)
}

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
            HeatScale::PERPLEXITY,
            (700, 500),
        )
        .unwrap();
        check_files(&paths, (700, 500), "Best held-out perplexity", true);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("4.32") && svg.contains("–"));
    }

    #[test]
    fn scatter_renders_png_and_svg_on_a_log_axis() {
        let dir = tempfile::tempdir().unwrap();
        let points = [(0.001, 9.5), (0.004868, 6.1), (0.02, 6.4), (0.09, 8.0)];
        let paths = scatter(
            &dir.path().join("lr"),
            "Held-out perplexity by lr",
            "lr",
            true,
            &points,
            (700, 450),
        )
        .unwrap();
        check_files(&paths, (700, 450), "Held-out perplexity by lr", false);
        let svg = std::fs::read_to_string(&paths[1])
            .unwrap()
            .replace('\n', " ");
        assert!(
            svg.contains("> 0.01 <") && svg.contains("> 0.1 <"),
            "log ticks: {svg}"
        );
        // Nothing drawable still gives a chart.
        let empty = scatter(
            &dir.path().join("e"),
            "t",
            "lr",
            true,
            &[(-1.0, 5.0)],
            (700, 450),
        );
        assert!(empty.is_ok());
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
                HeatScale::PERPLEXITY,
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
            let paths = heatmap(
                &stem,
                "big",
                "r",
                &long(30),
                "c",
                &long(30),
                &big,
                HeatScale::PERPLEXITY,
                size,
            )
            .unwrap();
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
            HeatScale::PERPLEXITY,
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
            HeatScale::PERPLEXITY,
            (700, 500),
        )
        .unwrap();
    }
}
