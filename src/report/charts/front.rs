//! The trade-off chart: the first two objectives of every configuration, the front's points
//! joined in order and drawn strong, the dominated ones faded, the infeasible ones hollow red.

use super::*;

pub(super) struct FrontPlot<'a> {
    pub title: &'a str,
    pub x_name: &'a str,
    pub y_name: &'a str,
    /// Each configuration: its two values and where it stands.
    pub points: &'a [(f64, f64, Standing)],
}

impl Paint for FrontPlot<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DResult<(), DB> {
        root.fill(&WHITE)?;
        let (w, h) = root.dim_in_pixel();
        let s = scale((w, h), (700.0, 450.0));
        let m = (14.0 * s).round() as i32;
        let top = draw_title(root, self.title, (18.0 * s).round(), m)?;
        let points: Vec<(f64, f64, Standing)> = self
            .points
            .iter()
            .copied()
            .filter(|&(x, y, _)| x.is_finite() && y.is_finite())
            .collect();
        let area = root.margin(top as u32, m as u32, m as u32, m as u32);
        if points.is_empty() {
            draw_no_data(root, s)?;
            return Ok(());
        }
        let (x0, x1) = padded_range(points.iter().map(|p| p.0), false);
        let (y0, y1) = padded_range(points.iter().map(|p| p.1), false);
        let label = font((12.0 * s).round(), false);
        let radius = (4.0 * s).round() as i32;
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size((36.0 * s) as u32)
            .y_label_area_size((60.0 * s) as u32)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| crate::report::numbers::significant(Some(*v)))
            .y_label_formatter(&|v| crate::report::numbers::significant(Some(*v)))
            .label_style(label.clone())
            .axis_desc_style(label.clone())
            .x_desc(self.x_name)
            .y_desc(self.y_name)
            .draw()?;
        chart.draw_series(
            points
                .iter()
                .filter(|p| p.2 == Standing::Dominated)
                .map(|&(x, y, _)| Circle::new((x, y), radius, MUTED.mix(0.45).filled())),
        )?;
        chart.draw_series(points.iter().filter(|p| p.2 == Standing::Infeasible).map(
            |&(x, y, _)| Circle::new((x, y), radius, RGBColor(192, 57, 43).stroke_width(2)),
        ))?;
        let mut front: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.2 == Standing::Front)
            .map(|&(x, y, _)| (x, y))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        chart.draw_series(std::iter::once(PathElement::new(
            front.clone(),
            PALETTE[0].stroke_width((2.0 * s).round() as u32),
        )))?;
        chart.draw_series(
            front
                .iter()
                .map(|&p| Circle::new(p, radius + 1, PALETTE[0].filled())),
        )?;
        Ok(())
    }
}
