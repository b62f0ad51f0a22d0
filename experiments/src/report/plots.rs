//! The report's charts, drawn with plotters as SVG (for the page) and PNG (for anything that
//! shows images only): lines with 95% interval bars over a log or linear axis, bars with
//! interval whiskers, and labelled points (quality against speed) with interval bars.

use super::stats::Estimate;
use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const SIZE: (u32, u32) = (720, 440);
const FONT: &str = "sans-serif";
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

/// One line of a chart: a label and (x, estimate) points in increasing x.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, Estimate)>,
}

/// One labelled point: x and y as estimates over seeds.
#[derive(Debug, Clone)]
pub struct Point {
    pub label: String,
    pub x: Estimate,
    pub y: Estimate,
}

/// How x values are placed and labelled.
#[derive(Debug, Clone, Copy)]
pub enum XAxis {
    /// Parameters: log10 spacing, labelled like 131k or 1.2M.
    LogParams,
    /// A rate (users per second): log10 spacing, labelled with about two significant digits.
    LogRate,
    /// Best-of-N: log2 spacing, labelled 1, 2, 4, ...
    Log2,
    /// Training steps: linear.
    Steps,
}

impl XAxis {
    fn place(self, x: f64) -> f64 {
        match self {
            XAxis::LogParams => x.max(1.0).log10(),
            // A large teacher on a CPU may serve well under one user per second.
            XAxis::LogRate => x.max(1e-3).log10(),
            XAxis::Log2 => x.max(1.0).log2(),
            XAxis::Steps => x,
        }
    }

    /// How many ticks to ask for over a placed span: one per doubling of N, about six
    /// otherwise.
    fn ticks(self, span: f64) -> usize {
        match self {
            XAxis::Log2 => (span.round() as usize + 1).clamp(2, 12),
            _ => 6,
        }
    }

    fn label(self, placed: f64) -> String {
        match self {
            XAxis::LogParams => human(10f64.powf(placed)),
            XAxis::LogRate => rate(10f64.powf(placed)),
            XAxis::Log2 => format!("{}", 2f64.powf(placed).round()),
            XAxis::Steps => format!("{placed:.0}"),
        }
    }
}

/// A chart's title and axis labels (with units).
pub struct Labels<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

/// What to draw.
pub enum Chart<'a> {
    /// One line per series, 95% interval bars at each point.
    Lines(XAxis, &'a [Series]),
    /// One bar per label, with 95% interval whiskers.
    Bars(&'a [(String, Estimate)]),
    /// One marker per point, told apart by colour in a legend, 95% interval bars on y.
    Points(XAxis, &'a [Point]),
}

/// Writes `<stem>.svg` and `<stem>.png`, each atomically.
pub fn render(stem: &Path, labels: &Labels, chart: &Chart) -> Result<()> {
    register_font();
    let mut svg = String::new();
    draw(
        SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
        labels,
        chart,
    )?;
    quill::io::write_atomic(&stem.with_extension("svg"), svg.as_bytes())?;
    // plotters encodes PNG only into a file: draw into a temporary one, then rename it.
    let png = stem.with_extension("png");
    // The image encoder picks the format from the extension, so the partial name ends in .png.
    let partial = stem.with_extension("partial.png");
    {
        let root = BitMapBackend::new(&partial, SIZE).into_drawing_area();
        draw(root, labels, chart)?;
    }
    std::fs::rename(&partial, &png).with_context(|| format!("writing {}", png.display()))?;
    Ok(())
}

/// Plotters draws text in bitmaps only with a registered font; a fresh machine may have none.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font = epaint_default_fonts::UBUNTU_LIGHT;
        // The bundled font always parses; if it ever did not, the SVGs would still have text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, font);
    });
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    labels: &Labels,
    chart: &Chart,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_error)?;
    match chart {
        Chart::Lines(x_axis, series) => draw_lines(&root, labels, *x_axis, series)?,
        Chart::Bars(bars) => draw_bars(&root, labels, bars)?,
        Chart::Points(x_axis, points) => draw_points(&root, labels, *x_axis, points)?,
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &Labels,
    x_axis: XAxis,
    series: &[Series],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|(x, _)| x_axis.place(*x)))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|(_, e)| [e.low(), e.high()]))
        .collect();
    let (x0, x1) = padded(&xs, 0.06);
    let (y0, y1) = padded(&ys, 0.1);
    let mut ctx = xy_chart(root, labels, x_axis, (x0, x1), (y0, y1))?;
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|(x, e)| (x_axis.place(*x), e.mean))
            .collect();
        ctx.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(plot_error)?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        if pts.len() <= 24 {
            ctx.draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(plot_error)?;
        }
        ctx.draw_series(
            s.points
                .iter()
                .filter(|(_, e)| e.half_width > 0.0)
                .map(|(x, e)| {
                    let x = x_axis.place(*x);
                    PathElement::new(vec![(x, e.low()), (x, e.high())], colour.stroke_width(1))
                }),
        )
        .map_err(plot_error)?;
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        // Rising curves (best-of-N, size) leave the lower right free; reward curves, drawn on
        // one [0, 1] axis, are apart most in its middle.
        .position(match x_axis {
            XAxis::Steps => SeriesLabelPosition::MiddleRight,
            _ => SeriesLabelPosition::LowerRight,
        })
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// Axes, caption and mesh of a chart of estimates against a placed x axis.
fn xy_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    labels: &Labels,
    x_axis: XAxis,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>>
where
    DB::ErrorType: 'static,
{
    let mut ctx = ChartBuilder::on(root)
        .caption(labels.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_error)?;
    ctx.configure_mesh()
        .x_desc(labels.x)
        .y_desc(labels.y)
        .x_labels(x_axis.ticks(x1 - x0))
        .x_label_formatter(&|v| x_axis.label(*v))
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    Ok(ctx)
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &Labels,
    bars: &[(String, Estimate)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let highs: Vec<f64> = bars.iter().map(|(_, e)| e.high()).chain([0.0]).collect();
    let (_, y1) = padded(&highs, 0.12);
    let n = bars.len().max(1) as f64;
    let names: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
    let mut ctx = ChartBuilder::on(root)
        .caption(labels.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..y1)
        .map_err(plot_error)?;
    ctx.configure_mesh()
        .x_desc(labels.x)
        .y_desc(labels.y)
        .x_labels(bars.len().max(1))
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format!("{v:.3}"))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 15))
        .max_light_lines(1)
        .disable_x_mesh()
        .draw()
        .map_err(plot_error)?;
    for (i, (_, e)) in bars.iter().enumerate() {
        let x = i as f64;
        let colour = COLOURS[i % COLOURS.len()];
        ctx.draw_series([Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, e.mean)],
            colour.mix(0.75).filled(),
        )])
        .map_err(plot_error)?;
        if e.half_width > 0.0 {
            let whisker = vec![(x, e.low().max(0.0)), (x, e.high())];
            ctx.draw_series([PathElement::new(whisker, BLACK.stroke_width(2))])
                .map_err(plot_error)?;
        }
    }
    Ok(())
}

fn draw_points<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    labels: &Labels,
    x_axis: XAxis,
    points: &[Point],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let xs = dodge(
        &points
            .iter()
            .map(|p| x_axis.place(p.x.mean))
            .collect::<Vec<_>>(),
    );
    let ys: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.y.low(), p.y.high()])
        .collect();
    let (x0, x1) = padded(&xs, 0.12);
    // Extra room below: the legend sits in the lower left, where a slow and weak policy
    // would be, and none of the compared ones is both.
    let (y0, y1) = padded(&ys, 0.1);
    let y0 = y0 - 0.25 * (y1 - y0);
    let mut ctx = xy_chart(root, labels, x_axis, (x0, x1), (y0, y1))?;
    for (i, (p, x)) in points.iter().zip(xs).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if p.y.half_width > 0.0 {
            ctx.draw_series([PathElement::new(
                vec![(x, p.y.low()), (x, p.y.high())],
                colour.stroke_width(2),
            )])
            .map_err(plot_error)?;
        }
        ctx.draw_series([Circle::new((x, p.y.mean), 6, colour.filled())])
            .map_err(plot_error)?
            .label(p.label.as_str())
            .legend(move |(x, y)| Circle::new((x + 9, y), 5, colour.filled()));
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// Placed x values with points that nearly coincide spread apart: students of one preset serve
/// at about the same speed, and their interval bars would hide one another. Each run of points
/// closer than `NEAR` of the whole span is centred on its mean and spaced `NEAR` apart, a shift
/// far smaller than the differences in speed the chart is read for.
fn dodge(xs: &[f64]) -> Vec<f64> {
    const NEAR: f64 = 0.025;
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // With every point at one speed the span is the padding `padded` gives a flat range.
    let span = (hi - lo).max(hi.abs() * 0.02).max(1e-6);
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|a, b| xs[*a].total_cmp(&xs[*b]));
    let mut out = xs.to_vec();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && xs[order[end]] - xs[order[end - 1]] < NEAR * span {
            end += 1;
        }
        let run = &order[start..end];
        let centre = run.iter().map(|i| xs[*i]).sum::<f64>() / run.len() as f64;
        // Within a run, the table's order (not the speed order) keeps the legend's order left
        // to right.
        let mut by_row = run.to_vec();
        by_row.sort();
        for (j, i) in by_row.iter().enumerate() {
            out[*i] = centre + (j as f64 - (run.len() - 1) as f64 / 2.0) * NEAR * span;
        }
        start = end;
    }
    out
}

/// The range of `values` widened by `pad` of its span on each side (a flat range gets ±1%).
fn padded(values: &[f64], pad: f64) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad * span, hi + pad * span)
}

/// 2.5 → 2.5, 67.4 → 67, 1500 → 2k: a rate with the digits a log axis can tell apart.
pub fn rate(x: f64) -> String {
    if x >= 1e3 {
        human(x)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// 131072 → 131k, 1_250_000 → 1.2M.
pub fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    e: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearly_equal_speeds_are_spread_apart_in_row_order_and_others_stay() {
        // 1.0 alone; 2.0, 2.01 and 2.0 together (span 1.01, spacing 0.02525 about 2.00333).
        let out = dodge(&[1.0, 2.0, 2.01, 2.0]);
        assert_eq!(out[0], 1.0);
        let step = 0.025 * 1.01;
        let centre = (2.0 + 2.01 + 2.0) / 3.0;
        for (i, j) in [(1, -1.0), (2, 0.0), (3, 1.0)] {
            assert!((out[i] - (centre + j * step)).abs() < 1e-12, "{out:?}");
        }
    }
}
