//! SVG charts shared by the commands that draw (`compare.svg`, `tradesim report`): colours,
//! escaping, value scales and their tick labels, legends, and a panel of daily lines.
//! Self-contained SVG text: no scripts, no fonts or images from anywhere.

use std::fmt::Write as _;

use super::format::{fixed, grouped};

/// Line colours: the Okabe-Ito palette (safe for colour blindness), repeated with dashes
/// when there are more series than colours.
pub const COLOURS: [&str; 7] = [
    "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
];

/// The fonts every chart names: installed ones only, never a download.
pub const FONTS: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

/// How one series is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: &'static str,
    pub width: f64,
    pub dashed: bool,
}

impl Style {
    /// The reference line (a comparison's baseline): black and thicker.
    pub const REFERENCE: Style = Style {
        colour: "#000000",
        width: 2.5,
        dashed: false,
    };

    /// Series `i` among others: the palette in order, dashed on every second round.
    pub fn nth(i: usize) -> Style {
        Style {
            colour: COLOURS[i % COLOURS.len()],
            width: 1.5,
            dashed: (i / COLOURS.len()) % 2 == 1,
        }
    }

    fn dash(self) -> &'static str {
        if self.dashed {
            " stroke-dasharray=\"6 3\""
        } else {
            ""
        }
    }
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 times a power of ten giving at most about `ticks` intervals.
pub fn nice_step(max: f64, ticks: f64) -> f64 {
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
pub fn tick_label(v: f64, step: f64) -> String {
    if step >= 1.0 {
        grouped(v, 0)
    } else {
        let decimals = (-step.log10()).ceil() as usize;
        fixed(Some(v), decimals)
    }
}

/// A value axis from 0 to a round number at or above the largest value, in round steps
/// (0 to 5 in steps of 1 when there is nothing above 0).
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub step: f64,
    pub max: f64,
}

impl Scale {
    pub fn up_to(max: f64, ticks: f64) -> Scale {
        if max > 0.0 && max.is_finite() {
            let step = nice_step(max, ticks);
            Scale {
                step,
                max: (max / step).ceil() * step,
            }
        } else {
            Scale {
                step: 1.0,
                max: 5.0,
            }
        }
    }

    /// The tick values, 0 first.
    pub fn ticks(self) -> impl Iterator<Item = f64> {
        let n = (self.max / self.step).round() as usize;
        (0..=n).map(move |i| self.step * i as f64)
    }
}

/// Opens an `<svg>` element with a title and a white background. A `standalone` file
/// names the SVG namespace; SVG inside HTML needs none (and so holds no address at all).
pub fn svg_open(s: &mut String, width: f64, height: f64, title: &str, standalone: bool) {
    let namespace = if standalone {
        " xmlns=\"http://www.w3.org/2000/svg\""
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "<svg{namespace} width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FONTS}\">"
    );
    let _ = writeln!(s, "<title>{}</title>", xml(title));
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
}

/// A legend from `left` at baseline `y`, wrapped before `right`; returns the last row's y.
pub fn legend(s: &mut String, left: f64, y: f64, right: f64, items: &[(&str, Style)]) -> f64 {
    let (mut x, mut y) = (left, y);
    for (name, style) in items {
        let width = 30.0 + 7.0 * name.chars().count() as f64 + 24.0;
        if x > left && x + width - 24.0 > right {
            x = left;
            y += 20.0;
        }
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\" stroke=\"{}\" stroke-width=\"{}\"{}/>",
            x + 24.0,
            style.colour,
            style.width,
            style.dash()
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 30.0,
            y + 4.0,
            xml(name)
        );
        x += width;
    }
    y
}

/// The plot area of a panel.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// One daily series: a value (or none) per date.
pub struct Line<'a> {
    pub name: &'a str,
    pub style: Style,
    pub values: Vec<Option<f64>>,
}

/// A panel of daily lines: its title above, value grid and ticks, dates along the bottom,
/// one line per series broken where a day has no value, drawn in order (so a later
/// series identical to an earlier one is drawn on top and both stay visible). With
/// `data`, each line also carries its series' name and values (`data-series`,
/// `data-values`: the values separated by `;`, empty where none) for a reader to check.
pub fn line_panel(
    s: &mut String,
    frame: &Frame,
    title: &str,
    dates: &[String],
    lines: &[Line],
    data: bool,
) {
    let Frame {
        left,
        top,
        width,
        height,
    } = *frame;
    let bottom = top + height;
    let days = dates.len();
    let x_of = |d: usize| -> f64 {
        if days <= 1 {
            left + width / 2.0
        } else {
            left + width * d as f64 / (days - 1) as f64
        }
    };
    let max = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let scale = Scale::up_to(max, 5.0);
    let y_of = |v: f64| bottom - height * v / scale.max;

    let _ = writeln!(s, "<g>");
    let _ = writeln!(
        s,
        "<text x=\"{left}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        top - 8.0,
        xml(title)
    );
    for v in scale.ticks() {
        let y = y_of(v);
        let _ = writeln!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>",
            left + width
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            tick_label(v, scale.step)
        );
    }
    for d in (0..days).step_by(date_step(days)) {
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
            xml(&dates[d])
        );
    }
    let _ = writeln!(
        s,
        "<path d=\"M{left},{top:.1} V{bottom:.1} H{:.1}\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>",
        left + width
    );
    for line in lines {
        let mut path = String::new();
        let mut pen_down = false;
        for (d, v) in line.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x_of(d),
                        y_of(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let attributes = if data {
            let values: Vec<String> = line
                .values
                .iter()
                .map(|v| v.map_or(String::new(), |v| v.to_string()))
                .collect();
            format!(
                " data-series=\"{}\" data-values=\"{}\"",
                xml(line.name),
                values.join(";")
            )
        } else {
            String::new()
        };
        if !path.is_empty() {
            let _ = writeln!(
                s,
                "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"{}{attributes}/>",
                path.trim_end(),
                line.style.colour,
                line.style.width,
                line.style.dash()
            );
        } else if data {
            // A series with no value at all still names itself for the reader.
            let _ = writeln!(s, "<g{attributes}/>");
        }
    }
    let _ = writeln!(s, "</g>");
}

/// Days between date ticks: 1, 2, 7, 14, 28, ... days, at most about ten ticks.
pub fn date_step(days: usize) -> usize {
    [1usize, 2, 7, 14, 28, 56, 91, 182, 364]
        .into_iter()
        .find(|step| days.div_ceil(*step) <= 10)
        .unwrap_or(days.max(1).div_ceil(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_a_round_number_above_the_data() {
        let s = Scale::up_to(158.0, 5.0);
        assert_eq!((s.step, s.max), (50.0, 200.0));
        assert_eq!(
            s.ticks().collect::<Vec<_>>(),
            [0.0, 50.0, 100.0, 150.0, 200.0]
        );
        let s = Scale::up_to(0.37, 5.0);
        assert_eq!(s.step, 0.1);
        assert!((s.max - 0.4).abs() < 1e-12);
        assert_eq!(tick_label(0.30000000000000004, s.step), "0.3");
        assert_eq!(tick_label(12_000.0, 2000.0), "12,000");
        let empty = Scale::up_to(0.0, 5.0);
        assert_eq!((empty.step, empty.max), (1.0, 5.0));
    }

    #[test]
    fn a_long_legend_wraps() {
        let mut s = String::new();
        let names = ["first-market", "second-market", "third-market"];
        let items: Vec<(&str, Style)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, Style::nth(i)))
            .collect();
        assert_eq!(legend(&mut s, 0.0, 20.0, 1000.0, &items), 20.0);
        assert_eq!(legend(&mut s, 0.0, 20.0, 200.0, &items), 60.0);
        assert_eq!(s.matches("<text").count(), 6);
    }
}
