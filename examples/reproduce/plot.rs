//! softmax.svg: elements per nanosecond against n (log scale), one line per algorithm and ISA,
//! the caches marked where they fill with floats.

use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use twopass::{Algorithm, Isa};

use crate::analysis::size_label;
use crate::measure::{Op, Results};

fn colour(a: Algorithm) -> RGBColor {
    match a {
        Algorithm::Auto => RGBColor(0, 0, 0),
        Algorithm::TwoPass => RGBColor(214, 39, 40),
        Algorithm::ThreePassReload => RGBColor(31, 119, 180),
        Algorithm::ThreePassRecompute => RGBColor(44, 160, 44),
        Algorithm::Blocked => RGBColor(148, 103, 189),
        _ => RGBColor(255, 127, 14),
    }
}

/// Dash length and gap in pixels of an ISA's lines (`None`: solid).
fn dashes(isa: Isa) -> Option<(u32, u32)> {
    match isa {
        Isa::Avx512 => None,
        Isa::Avx2 => Some((8, 5)),
        _ => Some((2, 4)),
    }
}

/// Draws the plot into `path`: the chart on the left, the legend on the right.
pub fn softmax_svg(r: &Results, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let softmax: Vec<_> = r.rows.iter().filter(|x| x.op == Op::Softmax).collect();
    let lo = r.sizes[0] as f64;
    let hi = (*r.sizes.last().unwrap_or(&1024) as f64).max(2.0 * lo);
    let top = softmax
        .iter()
        .map(|x| r.figures(x).elem_per_ns)
        .fold(1.0, f64::max)
        * 1.1;
    let ticks: Vec<f64> = (0..)
        .map(|i| lo * 4f64.powi(i))
        .take_while(|&n| n <= hi)
        .collect();

    let root = SVGBackend::new(path, (1150, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, legend) = root.split_horizontally(880);
    let mut chart = ChartBuilder::on(&left)
        .caption(
            format!("twopass softmax on {}, one thread", r.machine.cpu),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d((lo..hi).log_scale().with_key_points(ticks), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("n (floats per row, log scale)")
        .y_desc("elements per ns (higher is better)")
        .x_label_formatter(&|v| size_label(v.round() as usize))
        .draw()?;

    let grey = RGBColor(110, 110, 110);
    for (i, c) in r.machine.caches.iter().enumerate() {
        let floats = (c.bytes / 4) as f64;
        if floats < lo || floats > hi {
            continue;
        }
        chart.draw_series(DashedLineSeries::new(
            [(floats, 0.0), (floats, top)],
            6,
            4,
            grey.stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{} = {} floats", c.label(), size_label(c.bytes / 4)),
            (floats * 1.04, top * (0.98 - 0.04 * i as f64)),
            ("sans-serif", 13).into_font().color(&grey),
        )))?;
    }

    let mut entries = Vec::new();
    for isa in r.isas() {
        for &a in &r.options.algorithms {
            let points: Vec<(f64, f64)> = softmax
                .iter()
                .filter(|x| x.isa == isa && x.algorithm == a)
                .map(|x| (x.n as f64, r.figures(x).elem_per_ns))
                .collect();
            if points.is_empty() {
                continue;
            }
            let style = colour(a).stroke_width(if isa == Isa::Avx512 { 3 } else { 2 });
            match dashes(isa) {
                None => chart.draw_series(LineSeries::new(points, style))?,
                Some((on, off)) => {
                    chart.draw_series(DashedLineSeries::new(points, on, off, style))?
                }
            };
            entries.push((format!("{} {}", isa.name(), a.name()), isa, style));
        }
    }

    let font = ("sans-serif", 14).into_font();
    legend.draw(&Text::new("ISA: line style", (10, 50), font.clone()))?;
    legend.draw(&Text::new("algorithm: colour", (10, 70), font.clone()))?;
    for (i, (label, isa, style)) in entries.into_iter().enumerate() {
        let y = 105 + 22 * i as i32;
        let line = [(10, y), (50, y)];
        match dashes(isa) {
            None => legend.draw(&PathElement::new(line, style))?,
            Some((on, off)) => legend.draw(&DashedPathElement::new(line, on, off, style))?,
        }
        legend.draw(&Text::new(label, (58, y - 7), font.clone()))?;
    }
    root.present()?;
    Ok(())
}
