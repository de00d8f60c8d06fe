//! Scatter plots: a result (held-out perplexity, or a program's metric) against one
//! parameter's value (log x for a log range), one point per configuration, the best one ringed.

use super::*;

pub(super) struct ScatterPlot<'a> {
    pub title: &'a str,
    pub x_name: &'a str,
    pub y_name: &'a str,
    pub log_x: bool,
    /// Whether the best point is the highest (a maximised metric) rather than the lowest.
    pub higher_is_better: bool,
    pub points: &'a [(f64, f64)],
}

impl Paint for ScatterPlot<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let s = scale((w, h), (700.0, 450.0));
        let m = (14.0 * s).round() as i32;
        let top = draw_title(root, self.title, (18.0 * s).round(), m)?;
        let points: Vec<(f64, f64)> = self
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0))
            .collect();
        let area = root.margin(top as u32, m as u32, m as u32, m as u32);
        if points.is_empty() {
            draw_no_data(root, s)?;
            return Ok(());
        }
        let (x0, x1) = padded_range(points.iter().map(|p| p.0), self.log_x);
        let (y0, y1) = padded_range(points.iter().map(|p| p.1), false);
        let label = font((12.0 * s).round(), false);
        let best = points
            .iter()
            .copied()
            .min_by(|a, b| {
                let order = a.1.total_cmp(&b.1);
                if self.higher_is_better {
                    order.reverse()
                } else {
                    order
                }
            })
            .expect("not empty");
        let radius = (4.0 * s).round() as i32;
        macro_rules! draw {
            ($x:expr) => {{
                let mut chart = ChartBuilder::on(&area)
                    .x_label_area_size((36.0 * s) as u32)
                    .y_label_area_size((52.0 * s) as u32)
                    .build_cartesian_2d($x, y0..y1)?;
                chart
                    .configure_mesh()
                    .light_line_style(WHITE)
                    .bold_line_style(GRID)
                    .axis_style(AXIS)
                    .x_labels(6)
                    .y_labels(6)
                    .x_label_formatter(&|v| short(*v))
                    .y_label_formatter(&|v| format!("{v:.2}"))
                    .label_style(label.clone())
                    .axis_desc_style(label.clone())
                    .x_desc(self.x_name)
                    .y_desc(self.y_name)
                    .draw()?;
                chart.draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, radius, PALETTE[0].mix(0.8).filled())),
                )?;
                chart.draw_series(std::iter::once(Circle::new(
                    best,
                    radius * 2,
                    RGBColor(200, 30, 30).stroke_width(2),
                )))?;
            }};
        }
        if self.log_x {
            draw!((x0..x1).log_scale());
        } else {
            draw!(x0..x1);
        }
        Ok(())
    }
}

/// A tick label: 3 significant digits, without trailing zeros.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        return format!("{v:.2e}");
    }
    let digits = (3 - v.abs().log10().floor() as i32 - 1).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
