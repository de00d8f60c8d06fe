//! The heatmap: a sequential colour scale, cell annotations, the best cell outlined, and a
//! colour bar.

use super::*;

// ---------------------------------------------------------------------------------------------
// Heatmap.
pub(super) struct HeatPlot<'a> {
    pub(super) title: &'a str,
    pub(super) row_name: &'a str,
    pub(super) row_values: &'a [String],
    pub(super) col_name: &'a str,
    pub(super) col_values: &'a [String],
    pub(super) values: &'a [Vec<Option<f64>>],
    pub(super) scale: HeatScale,
}

/// ColorBrewer YlGn, palest first.
pub(super) const YLGN: [(f64, f64, f64); 9] = [
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

pub(super) const MISSING: RGBColor = RGBColor(205, 205, 205);
pub(super) const BEST: RGBColor = RGBColor(215, 25, 28);

/// Colour for `t` in 0..=1, 0 = best (dark green), 1 = worst (pale yellow, not quite white).
pub(super) fn scale_colour(t: f64) -> RGBColor {
    let u = 0.5 + (1.0 - t.clamp(0.0, 1.0)) * 7.5;
    let i = (u.floor() as usize).min(YLGN.len() - 2);
    let f = u - i as f64;
    let (a, b) = (YLGN[i], YLGN[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

pub(super) fn is_dark(c: RGBColor) -> bool {
    0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2) < 140.0
}

/// Maps finite values to 0..=1 (log scale when all are positive).
pub(super) struct ColourScale {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) higher_is_better: bool,
}

impl ColourScale {
    fn new(values: &[f64], higher_is_better: bool) -> Option<Self> {
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo <= hi).then_some(Self {
            lo,
            hi,
            log: lo > 0.0,
            higher_is_better,
        })
    }

    /// 0 for the best value, 1 for the worst.
    fn t(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.ln() } else { x };
        let span = f(self.hi) - f(self.lo);
        let t = if span > 0.0 && span.is_finite() {
            ((f(v) - f(self.lo)) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        if self.higher_is_better {
            1.0 - t
        } else {
            t
        }
    }

    fn best(&self) -> f64 {
        if self.higher_is_better {
            self.hi
        } else {
            self.lo
        }
    }
}

pub(super) fn cell_text(v: Option<f64>, decimals: usize) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.is_nan() => "NaN".into(),
        Some(v) if v.is_infinite() => if v > 0.0 { "∞" } else { "−∞" }.into(),
        Some(v) => format!("{v:.decimals$}"),
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
        let colours = ColourScale::new(&finite, self.scale.higher_is_better);
        let best = colours.as_ref().map(ColourScale::best);
        let d = self.scale.decimals;

        let caption = match &colours {
            Some(c) => {
                let better = if c.higher_is_better {
                    "higher"
                } else {
                    "lower"
                };
                let log = if c.log { " (log colour scale)" } else { "" };
                format!("darker green = {better} = better{log} · red outline = best")
            }
            None => "no values".into(),
        };
        let (caption, cs) = fit_text(root, &caption, caption_size, 8.0, false, w - 2 * m)?;
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
                    (c.lo, format!("{:.d$}", c.lo)),
                    (c.hi, format!("{:.d$}", c.hi)),
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
            Some(c) => vec![(c.lo, format!("{:.d$}", c.lo))],
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
            .map(|row| row.iter().map(|v| cell_text(*v, d)).collect())
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
