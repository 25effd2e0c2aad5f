//! The report's figures, as SVG to put inside the HTML: daily lines (through the shared
//! `chart::line_panel`), lead-time percentiles, payment outcomes and the forest plot of a
//! comparison. Each element that draws a number also carries it in `data-` attributes.

use std::fmt::Write as _;

use super::tables::{Daily, Difference, LeadTime, Payment};
use crate::commands::chart::{self, Frame, Line, Scale, Style, xml};
use crate::commands::format::fixed;

const WIDTH: f64 = 960.0;
const RIGHT: f64 = 44.0;
const TEXT: &str = "#1d2330";
const MUTED: &str = "#5b6473";
const GRID: &str = "#e3e6eb";

/// A number for a `data-` attribute: the shortest text that reads back as the same
/// number, empty for none.
fn data(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// Panels of daily lines, one per `(title, series)`, under one legend of the series'
/// names (which every panel shares, in order), styled by `style`.
pub fn daily_panels(
    title: &str,
    panels: &[(&str, &Daily)],
    style: &dyn Fn(usize) -> Style,
) -> String {
    const LEFT: f64 = 80.0;
    const PANEL: f64 = 240.0;
    const GAP: f64 = 80.0;
    let Some((_, first)) = panels.first() else {
        return String::new();
    };
    let items: Vec<(&str, Style)> = first
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), style(i)))
        .collect();
    let mut body = String::new();
    let legend_end = chart::legend(&mut body, LEFT, 18.0, WIDTH - RIGHT, &items);
    let top = legend_end + 44.0;
    for (p, (panel_title, daily)) in panels.iter().enumerate() {
        let frame = Frame {
            left: LEFT,
            top: top + p as f64 * (PANEL + GAP),
            width: WIDTH - LEFT - RIGHT,
            height: PANEL,
        };
        let lines: Vec<Line> = daily
            .names
            .iter()
            .zip(&daily.values)
            .enumerate()
            .map(|(i, (name, values))| Line {
                name,
                style: style(i),
                values: values.clone(),
            })
            .collect();
        chart::line_panel(&mut body, &frame, panel_title, &daily.dates, &lines, true);
    }
    let height = top + panels.len() as f64 * (PANEL + GAP) - GAP + 36.0;
    let mut s = String::new();
    chart::svg_open(&mut s, WIDTH, height, title, false);
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

/// The ticks of a value axis from `min` to `scale.max` in `scale.step`s, labelled.
fn ticks(scale: &Scale, min: f64, label: &dyn Fn(f64) -> String) -> Vec<(f64, String)> {
    let n = ((scale.max - min) / scale.step).round() as usize;
    (0..=n)
        .map(|i| {
            let v = min + scale.step * i as f64;
            // A zero that rounding made -0.0000001 is still the zero line.
            let v = if v.abs() < scale.step * 1e-9 { 0.0 } else { v };
            (v, label(v))
        })
        .collect()
}

/// A horizontal value axis: a grid line from `top` to `bottom` at each tick (black at
/// zero), its label under it, and `unit` under the last.
fn x_axis(
    s: &mut String,
    ticks: &[(f64, String)],
    x_of: &dyn Fn(f64) -> f64,
    (top, bottom): (f64, f64),
    unit: &str,
) {
    for (v, label) in ticks {
        let x = x_of(*v);
        let colour = if *v == 0.0 { "#000000" } else { GRID };
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{colour}\" stroke-width=\"1\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{TEXT}\">{}</text>",
            bottom + 16.0,
            xml(label)
        );
    }
    let right = ticks.last().map_or(0.0, |(v, _)| x_of(*v));
    let _ = writeln!(
        s,
        "<text x=\"{right:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>",
        bottom + 32.0,
        xml(unit)
    );
}

/// Lead-time percentiles per market and route: a bar whose shades reach the days by
/// which 50 %, 90 % and 99 % of the parcels were delivered, a tick at the 95th
/// percentile, a dot at the mean and a ring at the longest.
pub fn lead_times(rows: &[LeadTime], markets: &[String]) -> String {
    const LEFT: f64 = 170.0;
    const LABELS: f64 = 250.0;
    const ROW: f64 = 34.0;
    const TOP: f64 = 58.0;
    let plot_w = WIDTH - LEFT - RIGHT - LABELS;
    let longest = rows
        .iter()
        .filter_map(|r| r.figures[6])
        .fold(0.0f64, f64::max);
    let scale = Scale::up_to(longest, 8.0);
    let x_of = |v: f64| LEFT + plot_w * v / scale.max;
    let bottom = TOP + ROW * rows.len() as f64 + 6.0;
    let height = bottom + 44.0;

    let mut s = String::new();
    chart::svg_open(
        &mut s,
        WIDTH,
        height,
        "Lead time from placement to delivery",
        false,
    );
    // Legend: what the shades and marks mean.
    let swatch = |s: &mut String, x: f64, opacity: f64, label: &str| {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"10\" width=\"18\" height=\"12\" fill=\"#4a5568\" fill-opacity=\"{opacity}\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{TEXT}\">{label}</text>",
            x + 24.0
        );
    };
    swatch(&mut s, LEFT, 0.85, "half delivered");
    swatch(&mut s, LEFT + 130.0, 0.5, "90 %");
    swatch(&mut s, LEFT + 200.0, 0.2, "99 %");
    let _ = writeln!(
        s,
        "<line x1=\"{0}\" y1=\"8\" x2=\"{0}\" y2=\"24\" stroke=\"#000000\" stroke-width=\"2\"/>",
        LEFT + 275.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{TEXT}\">95th percentile</text>",
        LEFT + 282.0
    );
    let _ = writeln!(
        s,
        "<circle cx=\"{}\" cy=\"16\" r=\"4.5\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"1.5\"/>",
        LEFT + 400.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{TEXT}\">mean</text>",
        LEFT + 410.0
    );
    let _ = writeln!(
        s,
        "<circle cx=\"{}\" cy=\"16\" r=\"3\" fill=\"none\" stroke=\"{MUTED}\" stroke-width=\"1\"/>",
        LEFT + 465.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{TEXT}\">longest</text>",
        LEFT + 474.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"bold\" fill=\"{MUTED}\" text-anchor=\"end\">p50 · p95 · mean</text>",
        WIDTH - RIGHT,
        TOP - 10.0
    );

    let labels = ticks(&scale, 0.0, &|v| chart::tick_label(v, scale.step));
    x_axis(&mut s, &labels, &x_of, (TOP - 4.0, bottom), "days");
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let colour = market_colour(markets, &row.market);
        let [delivered, mean, p50, p90, p95, p99, max] = row.figures;
        let _ = write!(
            s,
            "<g data-market=\"{}\" data-route=\"{}\"",
            xml(&row.market),
            xml(&row.route)
        );
        for (name, v) in super::tables::LEAD_TIME_COLUMNS.iter().zip(row.figures) {
            let _ = write!(s, " data-{}=\"{}\"", name.replace('_', "-"), data(v));
        }
        let _ = writeln!(s, ">");
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{TEXT}\"><tspan font-weight=\"bold\">{}</tspan> {}</text>",
            LEFT - 10.0,
            y + 19.0,
            xml(&row.market),
            xml(&row.route)
        );
        let (Some(p50), Some(p90), Some(p99)) = (p50, p90, p99) else {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{MUTED}\">no parcel delivered</text></g>",
                LEFT + 6.0,
                y + 19.0
            );
            continue;
        };
        for (from, to, opacity) in [(p90, p99, 0.2), (p50, p90, 0.5), (0.0, p50, 0.85)] {
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" fill=\"{colour}\" fill-opacity=\"{opacity}\"/>",
                x_of(from),
                y + 6.0,
                (x_of(to) - x_of(from)).max(0.0)
            );
        }
        if let Some(p95) = p95 {
            let x = x_of(p95);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#000000\" stroke-width=\"2\"/>",
                y + 3.0,
                y + 27.0
            );
        }
        if let Some(mean) = mean {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"1.5\"/>",
                x_of(mean),
                y + 15.0
            );
        }
        if let Some(max) = max {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"none\" stroke=\"{MUTED}\" stroke-width=\"1\"/>",
                x_of(max),
                y + 15.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{TEXT}\">{} · {} · {} d <tspan fill=\"{MUTED}\">({} parcels)</tspan></text>",
            WIDTH - RIGHT,
            y + 19.0,
            fixed(Some(p50), 1),
            fixed(p95, 1),
            fixed(mean, 1),
            crate::commands::format::thousands(delivered.unwrap_or(0.0))
        );
        let _ = writeln!(s, "</g>");
    }
    s.push_str("</svg>\n");
    s
}

/// A market's colour: its place among the markets in the palette.
pub fn market_colour(markets: &[String], market: &str) -> &'static str {
    let i = markets.iter().position(|m| m == market).unwrap_or(0);
    Style::nth(i).colour
}

/// The three payment outcomes drawn, with their colours and `payments.csv` columns.
pub const OUTCOMES: [(&str, &str, &str); 3] = [
    ("payment attempts that succeeded", "#009E73", "success_rate"),
    ("orders cancelled", "#D55E00", "cancel_rate"),
    ("orders refused at the door", "#CC79A7", "refusal_rate"),
];

/// Payment outcomes per market and method: three bars, in percent.
pub fn payments(rows: &[Payment]) -> String {
    const LEFT: f64 = 170.0;
    const BAR: f64 = 13.0;
    const GROUP: f64 = 3.0 * BAR + 16.0;
    const TOP: f64 = 44.0;
    let plot_w = WIDTH - LEFT - RIGHT - 60.0;
    let scale = Scale {
        step: 0.2,
        max: 1.0,
    };
    let x_of = |v: f64| LEFT + plot_w * v;
    let bottom = TOP + GROUP * rows.len() as f64;
    let height = bottom + 44.0;
    let column = |name: &str| {
        super::tables::PAYMENT_COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("a payments.csv column the report reads")
    };

    let mut s = String::new();
    chart::svg_open(&mut s, WIDTH, height, "Payment outcomes", false);
    let mut x = LEFT;
    for (label, colour, _) in OUTCOMES {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"10\" width=\"18\" height=\"12\" fill=\"{colour}\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"20\" font-size=\"12\" fill=\"{TEXT}\">{label}</text>",
            x + 24.0
        );
        x += 24.0 + 7.0 * label.len() as f64 + 24.0;
    }
    let labels = ticks(&scale, 0.0, &|v| format!("{:.0} %", v * 100.0));
    x_axis(&mut s, &labels, &x_of, (TOP - 6.0, bottom), "per cent");
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + GROUP * i as f64;
        let _ = write!(
            s,
            "<g data-market=\"{}\" data-method=\"{}\"",
            xml(&row.market),
            xml(&row.method)
        );
        for (_, _, name) in OUTCOMES {
            let _ = write!(
                s,
                " data-{}=\"{}\"",
                name.replace('_', "-"),
                data(row.figures[column(name)])
            );
        }
        let _ = writeln!(s, ">");
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{TEXT}\"><tspan font-weight=\"bold\">{}</tspan> {}</text>",
            LEFT - 10.0,
            y + 1.5 * BAR + 4.0,
            xml(&row.market),
            xml(&row.method)
        );
        for (k, (_, colour, name)) in OUTCOMES.iter().enumerate() {
            let by = y + BAR * k as f64;
            match row.figures[column(name)] {
                Some(v) => {
                    let _ = writeln!(
                        s,
                        "<rect x=\"{LEFT}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                        (x_of(v.clamp(0.0, 1.0)) - LEFT).max(0.5),
                        BAR - 2.0
                    );
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{TEXT}\">{} %</text>",
                        x_of(v.clamp(0.0, 1.0)) + 4.0,
                        by + BAR - 3.5,
                        fixed(Some(v * 100.0), 1)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"{MUTED}\">no orders</text>",
                        LEFT + 4.0,
                        by + BAR - 3.5
                    );
                }
            }
        }
        let _ = writeln!(s, "</g>");
    }
    s.push_str("</svg>\n");
    s
}

/// The relative difference of each metric for one variant with its 95 % interval, both
/// divided by the baseline mean: filled where the interval excludes 0.
pub fn forest(variant: &str, colour: &str, rows: &[&Difference]) -> String {
    const LEFT: f64 = 300.0;
    const LABELS: f64 = 210.0;
    const ROW: f64 = 20.0;
    const TOP: f64 = 40.0;
    let plot_w = WIDTH - LEFT - RIGHT - LABELS;
    let rel = |d: &Difference| -> Option<(f64, Option<(f64, f64)>)> {
        let b = d.baseline_mean.filter(|b| *b != 0.0)?;
        let interval = d
            .ci95
            .map(|(l, h)| ((l / b).min(h / b), (l / b).max(h / b)));
        Some((d.rel_diff?, interval))
    };
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (r, interval) in rows.iter().filter_map(|d| rel(d)) {
        let (l, h) = interval.unwrap_or((r, r));
        lo = lo.min(l.min(r));
        hi = hi.max(h.max(r));
    }
    let span = Scale::up_to(hi - lo, 6.0);
    let min = (lo / span.step).floor() * span.step;
    let scale = Scale {
        step: span.step,
        max: ((hi / span.step).ceil() * span.step).max(min + span.step),
    };
    let x_of = |v: f64| LEFT + plot_w * (v - min) / (scale.max - min);
    let bottom = TOP + ROW * rows.len() as f64 + 4.0;
    let height = bottom + 44.0;
    let percent = |v: f64| {
        format!(
            "{}{} %",
            if v > 0.0 { "+" } else { "" },
            fixed(Some(v * 100.0), 1)
        )
    };

    let mut s = String::new();
    chart::svg_open(
        &mut s,
        WIDTH,
        height,
        &format!("{variant} against the baseline"),
        false,
    );
    let _ = writeln!(
        s,
        "<rect x=\"{LEFT}\" y=\"10\" width=\"10\" height=\"10\" fill=\"{colour}\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"19\" font-size=\"12\" fill=\"{TEXT}\">interval excludes 0</text>",
        LEFT + 16.0
    );
    let _ = writeln!(
        s,
        "<rect x=\"{}\" y=\"10\" width=\"10\" height=\"10\" fill=\"#ffffff\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
        LEFT + 150.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"19\" font-size=\"12\" fill=\"{TEXT}\">interval includes 0</text>",
        LEFT + 166.0
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"19\" font-size=\"11\" font-weight=\"bold\" fill=\"{MUTED}\" text-anchor=\"end\">change [95 % interval]</text>",
        WIDTH - RIGHT
    );
    let tick = |v: f64| {
        let label = chart::tick_label(v * 100.0, scale.step * 100.0);
        format!("{}{label} %", if v > 0.0 { "+" } else { "" })
    };
    let labels = ticks(&scale, min, &tick);
    x_axis(
        &mut s,
        &labels,
        &x_of,
        (TOP - 4.0, bottom),
        "relative to the baseline mean",
    );
    for (i, d) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        if i % 2 == 1 {
            let _ = writeln!(
                s,
                "<rect x=\"10\" y=\"{:.1}\" width=\"{:.1}\" height=\"{ROW}\" fill=\"#f3f4f7\" fill-opacity=\"0.7\"/>",
                y - ROW / 2.0,
                WIDTH - 10.0 - RIGHT + 20.0
            );
        }
        let found = rel(d);
        let _ = writeln!(
            s,
            "<g data-variant=\"{}\" data-metric=\"{}\" data-rel-diff=\"{}\" data-rel-low=\"{}\" data-rel-high=\"{}\">",
            xml(&d.variant),
            xml(&d.name()),
            data(found.map(|f| f.0)),
            data(found.and_then(|f| f.1).map(|i| i.0)),
            data(found.and_then(|f| f.1).map(|i| i.1)),
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"{TEXT}\">{}</text>",
            LEFT - 12.0,
            y + 4.0,
            xml(&d.name())
        );
        match found {
            Some((r, interval)) => {
                if let Some((l, h)) = interval {
                    let _ = writeln!(
                        s,
                        "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                        x_of(l),
                        x_of(h)
                    );
                }
                let fill = if d.significant == Some(true) {
                    colour
                } else {
                    "#ffffff"
                };
                let _ = writeln!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"{fill}\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
                    x_of(r) - 4.5,
                    y - 4.5
                );
                let text = match interval {
                    Some((l, h)) => format!("{} [{}, {}]", percent(r), percent(l), percent(h)),
                    None => percent(r),
                };
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{TEXT}\">{text}</text>",
                    WIDTH - RIGHT,
                    y + 4.0
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"{MUTED}\">baseline mean 0 or empty</text>",
                    WIDTH - RIGHT,
                    y + 4.0
                );
            }
        }
        let _ = writeln!(s, "</g>");
    }
    s.push_str("</svg>\n");
    s
}
