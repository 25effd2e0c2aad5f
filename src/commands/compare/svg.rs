//! `compare.svg`: the daily headline series of every arm, as one self-contained chart.

use super::*;
use crate::commands::chart::{self, Frame, Line, Style};

/// The chart: one panel per series, one line per arm (the baseline in black), dates
/// along the x axis.
pub(crate) fn render_svg(
    title: &str,
    start: Date,
    means: &[(String, Vec<[Option<f64>; 3]>)],
) -> String {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 90.0;
    const RIGHT: f64 = 50.0;
    const TOP: f64 = 84.0;
    const PANEL: f64 = 200.0;
    const GAP: f64 = 76.0;
    let height = TOP + SERIES.len() as f64 * (PANEL + GAP);
    let plot_w = WIDTH - LEFT - RIGHT;
    let days = means.first().map_or(0, |(_, m)| m.len());
    let dates: Vec<String> = (0..days)
        .map(|d| start.add_days(d as i64).to_string())
        .collect();
    let styles: Vec<Style> = (0..means.len()).map(arm_style).collect();

    let mut s = String::new();
    chart::svg_open(&mut s, WIDTH, height, title, true);
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        chart::xml(title)
    );
    let items: Vec<(&str, Style)> = means
        .iter()
        .zip(&styles)
        .map(|((name, _), style)| (name.as_str(), *style))
        .collect();
    chart::legend(&mut s, LEFT, 50.0, WIDTH - RIGHT, &items);
    for (p, (_, panel_title)) in SERIES.iter().enumerate() {
        let frame = Frame {
            left: LEFT,
            top: TOP + p as f64 * (PANEL + GAP) + 24.0,
            width: plot_w,
            height: PANEL,
        };
        let lines: Vec<Line> = means
            .iter()
            .zip(&styles)
            .map(|((name, series), style)| Line {
                name,
                style: *style,
                values: series.iter().map(|x| x[p]).collect(),
            })
            .collect();
        chart::line_panel(&mut s, &frame, panel_title, &dates, &lines, false);
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">date</text>",
        LEFT + plot_w / 2.0,
        height - 16.0
    );
    s.push_str("</svg>\n");
    s
}

/// Arm `k`'s line: the baseline (arm 0) black, the variants in the palette's colours.
pub(crate) fn arm_style(k: usize) -> Style {
    if k == 0 {
        Style::REFERENCE
    } else {
        Style::nth(k - 1)
    }
}
