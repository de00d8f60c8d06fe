//! The perplexity line chart: series preparation (bucketing long curves), ranges, the legend
//! placed where it hides no data, and drawing.

use super::*;

// ---------------------------------------------------------------------------------------------
// Line chart.

/// Twelve clearly distinct colours (Tableau 10, then black and dark teal).
pub(super) const PALETTE: [RGBColor; 12] = [
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

pub(super) struct LinePlot<'a> {
    pub(super) title: &'a str,
    pub(super) series: &'a [Series],
    pub(super) labels: &'a super::LineLabels<'a>,
}

/// A series' drawable points: finite, positive, sorted by step, averaged down to `max` points.
pub(super) struct Prepared {
    pub(super) train: Vec<[f64; 2]>,
    pub(super) band: Vec<[f64; 3]>,
    pub(super) heldout: Vec<[f64; 2]>,
}

pub(super) fn drawable(p: &[f64]) -> bool {
    p[0].is_finite() && p[1..].iter().all(|v| v.is_finite() && *v > 0.0)
}

/// Averages consecutive points into at most `max` points (step linearly, values geometrically,
/// as they are drawn on a log axis), keeping the first and last point exact.
pub(super) fn bucket<const N: usize>(mut pts: Vec<[f64; N]>, max: usize) -> Vec<[f64; N]> {
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

pub(super) fn prepare(s: &Series, max: usize) -> Prepared {
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
pub(super) fn data_ranges(prepared: &[Prepared]) -> Option<((f64, f64), (f64, f64))> {
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
pub(super) enum Glyph {
    Line(RGBColor),
    Markers,
    Band,
}

/// Legend geometry: entries (already fitted to the available width) and box size in pixels.
pub(super) struct Legend {
    pub(super) entries: Vec<(String, Glyph)>,
    pub(super) font_size: f64,
    pub(super) row_h: i32,
    pub(super) pad: i32,
    pub(super) glyph_w: i32,
    pub(super) w: i32,
    pub(super) h: i32,
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
pub(super) fn x_ticks_for<DB: DrawingBackend>(
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
            if prepared.iter().any(|p| !p.train.is_empty()) {
                entries.push((format!("{} (line)", self.labels.line), Glyph::Line(MUTED)));
            }
            if prepared.iter().any(|p| !p.heldout.is_empty()) {
                entries.push((format!("{} (markers)", self.labels.markers), Glyph::Markers));
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
            .y_desc(self.labels.y)
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
