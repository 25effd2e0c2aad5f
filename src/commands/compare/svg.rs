//! `compare.svg`: the daily headline series of every arm, as one self-contained chart.

use super::*;

/// Line colours: black for the baseline, then the Okabe-Ito palette (safe for colour
/// blindness), repeated with dashes when there are more variants than colours.
pub(super) const COLOURS: [&str; 7] = [
    "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
];

pub(super) fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 times a power of ten giving at most about `ticks` intervals.
pub(super) fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = max / ticks;
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// A tick label: grouped integers for steps of 1 and more, else enough decimals.
pub(super) fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        grouped(v, 0)
    } else {
        let decimals = (-step.log10()).ceil() as usize;
        fixed(Some(v), decimals)
    }
}

/// The chart: one panel per series, one line per arm, dates along the x axis.
pub(super) fn render_svg(
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
    let x_of = |d: usize| -> f64 {
        if days <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * d as f64 / (days - 1) as f64
        }
    };
    let style = |k: usize| -> (String, f64, &'static str) {
        if k == 0 {
            ("#000000".to_string(), 2.5, "")
        } else {
            let i = k - 1;
            let dash = if (i / COLOURS.len()) % 2 == 1 {
                " stroke-dasharray=\"6 3\""
            } else {
                ""
            };
            (COLOURS[i % COLOURS.len()].to_string(), 1.5, dash)
        }
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"Helvetica, Arial, sans-serif\">"
    );
    let _ = writeln!(s, "<title>{}</title>", xml(title));
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        xml(title)
    );

    // Legend.
    let mut x = LEFT;
    for (k, (name, _)) in means.iter().enumerate() {
        let (colour, width, dash) = style(k);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"50\" x2=\"{:.1}\" y2=\"50\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash}/>",
            x + 24.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"54\" font-size=\"12\">{}</text>",
            x + 30.0,
            xml(name)
        );
        x += 30.0 + 7.0 * name.chars().count() as f64 + 24.0;
    }

    // Date ticks: every 1, 2, 7, 14, 28, ... days, at most about ten.
    let date_step = [1usize, 2, 7, 14, 28, 56, 91, 182, 364]
        .into_iter()
        .find(|step| days.div_ceil(*step) <= 10)
        .unwrap_or(days.max(1).div_ceil(10));

    for (p, (_, panel_title)) in SERIES.iter().enumerate() {
        let top = TOP + p as f64 * (PANEL + GAP) + 24.0;
        let bottom = top + PANEL;
        let max = means
            .iter()
            .flat_map(|(_, m)| m.iter().filter_map(|x| x[p]))
            .fold(0.0f64, f64::max);
        let step = if max > 0.0 { nice_step(max, 5.0) } else { 1.0 };
        let y_max = if max > 0.0 {
            (max / step).ceil() * step
        } else {
            5.0
        };
        let y_of = |v: f64| bottom - PANEL * v / y_max;

        let _ = writeln!(s, "<g>");
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            top - 8.0,
            xml(panel_title)
        );
        // Horizontal grid and value ticks.
        let ticks = (y_max / step).round() as usize;
        for i in 0..=ticks {
            let v = step * i as f64;
            let y = y_of(v);
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>",
                LEFT + plot_w
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + 4.0,
                tick_label(v, step)
            );
        }
        // Date ticks.
        for d in (0..days).step_by(date_step) {
            let x = x_of(d);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{bottom:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#000000\" stroke-width=\"1\"/>",
                bottom + 5.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                bottom + 18.0,
                start.add_days(d as i64)
            );
        }
        // Axes.
        let _ = writeln!(
            s,
            "<path d=\"M{LEFT},{top:.1} V{bottom:.1} H{:.1}\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>",
            LEFT + plot_w
        );
        // One line per arm, broken where a day has no value; the baseline first, so
        // that a variant identical to it is drawn on top and both stay visible.
        for (k, (_, series)) in means.iter().enumerate() {
            let (colour, width, dash) = style(k);
            let mut path = String::new();
            let mut pen_down = false;
            for (d, x) in series.iter().enumerate() {
                match x[p] {
                    Some(v) => {
                        let _ = write!(
                            path,
                            "{}{:.1},{:.1} ",
                            if pen_down { "L" } else { "M" },
                            x_of(d),
                            y_of(v)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" stroke-linejoin=\"round\"{dash}/>",
                    path.trim_end()
                );
            }
        }
        let _ = writeln!(s, "</g>");
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
