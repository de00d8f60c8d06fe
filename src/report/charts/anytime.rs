//! Anytime curves: the best result found after each configuration of a search, one line per
//! search method (its mean over search seeds), with a band from the best to the worst seed.

use super::*;

pub(super) struct AnytimePlot<'a> {
    pub title: &'a str,
    pub curves: &'a [Curve],
    pub x: AnytimeAxis,
}

impl Paint for AnytimePlot<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let s = scale((w, h), (800.0, 500.0));
        let m = (14.0 * s).round() as i32;
        let top = draw_title(root, self.title, (18.0 * s).round(), m)?;
        let finite = |y: f64| y.is_finite() && y > 0.0;
        let xs = self.curves.iter().flat_map(|c| c.mean.iter().map(|p| p.0));
        let ys = self.curves.iter().flat_map(|c| {
            c.mean
                .iter()
                .map(|p| p.1)
                .chain(c.band.iter().flat_map(|b| [b.1, b.2]))
        });
        let ys: Vec<f64> = ys.filter(|&y| finite(y)).collect();
        let area = root.margin(top as u32, m as u32, m as u32, m as u32);
        if ys.is_empty() {
            draw_no_data(root, s)?;
            return Ok(());
        }
        let x1 = xs.fold(1.0, f64::max);
        let y0 = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let y1 = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((y1 - y0) * 0.05).max(0.01);
        // Enough decimals that the labels of a narrow range differ.
        let decimals = if y1 - y0 + 2.0 * pad < 0.2 { 3 } else { 2 };
        let label = font((12.0 * s).round(), false);
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size((36.0 * s) as u32)
            .y_label_area_size((52.0 * s) as u32)
            .build_cartesian_2d(
                match self.x {
                    AnytimeAxis::Seconds => 0.0..x1 * 1.02,
                    AnytimeAxis::Configurations => 0.5..x1 + 0.5,
                },
                (y0 - pad)..(y1 + pad),
            )?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .x_labels(10)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.decimals$}"))
            .label_style(label.clone())
            .axis_desc_style(label.clone())
            .x_desc(match self.x {
                AnytimeAxis::Seconds => "seconds since the sweep started",
                AnytimeAxis::Configurations => "configurations tried",
            })
            .y_desc("best held-out perplexity so far")
            .draw()?;
        for (i, curve) in self.curves.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let band: Vec<(f64, f64, f64)> = curve
                .band
                .iter()
                .copied()
                .filter(|b| finite(b.1) && finite(b.2))
                .collect();
            if !band.is_empty() {
                let outline: Vec<(f64, f64)> = band
                    .iter()
                    .map(|b| (b.0, b.1))
                    .chain(band.iter().rev().map(|b| (b.0, b.2)))
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(outline, colour.mix(0.12))))?;
            }
            let line: Vec<(f64, f64)> =
                curve.mean.iter().copied().filter(|p| finite(p.1)).collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    line,
                    colour.stroke_width((2.0 * s).round() as u32),
                )))?
                .label(curve.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(GRID)
            .label_font(label)
            .draw()?;
        Ok(())
    }
}
