//! `sensitivity.svg`: per charted metric (and per variant's paired difference, when the
//! sweep has variants), one panel of horizontal bars, parameters sorted by their effect,
//! largest on top (a tornado): Sobol' total and first-order indices with their 95 %
//! intervals, or Morris mu* with sigma.

use std::fmt::Write as _;

use super::tables::IndexRow;
use super::{BASELINE, Study};
use crate::commands::chart::{COLOURS, Scale, svg_open, tick_label, xml};
use crate::model::uncertain::Uncertain;

const WIDTH: f64 = 760.0;
const LEFT: f64 = 230.0;
const RIGHT: f64 = 40.0;
const BAR: f64 = 18.0;
/// A parameter's two bars and the gap below them.
const ROW: f64 = 2.0 * BAR + 8.0;
/// The left edge of the titles, and where the first panel starts.
const MARGIN: f64 = 20.0;
const TOP: f64 = 76.0;
/// At most this many panels: the table has the rest.
const MAX_PANELS: usize = 12;

pub fn render(study: &Study, params: &[Uncertain], rows: &[IndexRow]) -> String {
    let sobol = study.design == "sobol";
    let (long, short) = if sobol {
        ("total", "first")
    } else {
        ("mu_star", "sigma")
    };
    let arms: Vec<&str> = std::iter::once(BASELINE)
        .chain(study.variants.iter().map(String::as_str))
        .collect();
    let mut panels = Vec::new();
    for metric in &study.metrics {
        for &arm in &arms {
            let of = |index: &str, param: &str| {
                rows.iter().find(|r| {
                    r.variant == arm
                        && r.index == index
                        && r.parameter == param
                        && &r.dotted() == metric
                })
            };
            let mut bars: Vec<(&str, Option<&IndexRow>, Option<&IndexRow>)> = params
                .iter()
                .map(|p| (p.name.as_str(), of(long, &p.name), of(short, &p.name)))
                .collect();
            let key = |r: Option<&IndexRow>| r.and_then(|r| r.estimate).unwrap_or(f64::MIN);
            bars.sort_by(|a, b| key(b.1).total_cmp(&key(a.1)));
            let defined = |r: Option<&IndexRow>| r.and_then(|r| r.estimate).is_some();
            if !bars.iter().any(|(_, a, b)| defined(*a) || defined(*b)) {
                bars.clear();
            }
            let title = if arm == BASELINE {
                metric.clone()
            } else {
                format!("{metric}: {arm} minus baseline")
            };
            panels.push((title, bars));
        }
    }
    panels.truncate(MAX_PANELS);

    // Per panel: its title, the bars, the tick labels and a gap.
    let panel_height = |n: usize| 28.0 + n.max(1) as f64 * ROW + 46.0;
    let height = TOP
        + panels
            .iter()
            .map(|(_, b)| panel_height(b.len()))
            .sum::<f64>();
    let mut s = String::new();
    let title = format!("{}: {} sensitivity", study.scenario, study.design);
    let subtitle = format!(
        "{} points x {} replications, sample {}, seed {}",
        study.design_points, study.replications, study.sample, study.seed
    );
    svg_open(
        &mut s,
        WIDTH,
        height,
        &format!("{title} ({subtitle})"),
        true,
    );
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n<text x=\"{MARGIN}\" y=\"40\" font-size=\"12\">{}</text>",
        xml(&title),
        xml(&subtitle)
    );
    let legend = if sobol {
        format!(
            "dark: first-order index, light: total index; whiskers: 95 % bootstrap intervals ({} resamples)",
            study.bootstrap
        )
    } else {
        "dark: mu* (mean absolute elementary effect), light: sigma (their spread: interactions)"
            .to_string()
    };
    let _ = writeln!(
        s,
        "<text x=\"{MARGIN}\" y=\"58\" font-size=\"12\">{}</text>",
        xml(&legend)
    );
    let mut top = TOP;
    for (title, bars) in &panels {
        let max = bars
            .iter()
            .flat_map(|(_, a, b)| [a, b])
            .filter_map(|r| r.map(|r| r.ci95.map_or(r.estimate.unwrap_or(0.0), |c| c.1)))
            .fold(0.0_f64, f64::max);
        let scale = Scale::up_to(if sobol { max.max(1.0) } else { max }, 5.0);
        let plot = WIDTH - LEFT - RIGHT;
        let x = |v: f64| LEFT + plot * (v.clamp(0.0, scale.max) / scale.max);
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
            top + 14.0,
            xml(title)
        );
        let y0 = top + 28.0;
        let bottom = y0 + bars.len().max(1) as f64 * ROW;
        if bars.is_empty() {
            let _ = writeln!(
                s,
                "<text x=\"{LEFT}\" y=\"{}\" font-size=\"12\" fill=\"#555555\">no index: the metric does not move, or lacks a value, at some point</text>",
                y0 + 16.0
            );
            top += panel_height(bars.len());
            continue;
        }
        for v in scale.ticks() {
            let _ = writeln!(
                s,
                "<line x1=\"{0:.1}\" y1=\"{y0}\" x2=\"{0:.1}\" y2=\"{bottom}\" stroke=\"#dddddd\"/>\n<text x=\"{0:.1}\" y=\"{1}\" font-size=\"11\" text-anchor=\"middle\">{2}</text>",
                x(v),
                bottom + 14.0,
                tick_label(v, scale.step)
            );
        }
        for (i, (name, a, b)) in bars.iter().enumerate() {
            let y = y0 + i as f64 * ROW;
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
                LEFT - 8.0,
                y + BAR + 4.0,
                xml(name)
            );
            // Sobol': total light behind, first dark in front; Morris: mu* dark, sigma light.
            let (dark, light) = if sobol { (*b, *a) } else { (*a, *b) };
            for (row, dy, colour, opacity) in [
                (light, 0.0, COLOURS[5], "0.6"),
                (dark, BAR, COLOURS[1], "1"),
            ] {
                let Some(row) = row else { continue };
                let Some(v) = row.estimate else { continue };
                let _ = writeln!(
                    s,
                    "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\" fill-opacity=\"{opacity}\" data-parameter=\"{}\" data-index=\"{}\" data-value=\"{v}\"/>",
                    y + dy,
                    x(v) - LEFT,
                    BAR - 2.0,
                    xml(name),
                    row.index
                );
                if let Some((lo, hi)) = row.ci95 {
                    let cy = y + dy + BAR / 2.0 - 1.0;
                    let _ = writeln!(
                        s,
                        "<line x1=\"{:.1}\" y1=\"{cy:.1}\" x2=\"{:.1}\" y2=\"{cy:.1}\" stroke=\"#000000\" stroke-width=\"1.5\"/>",
                        x(lo),
                        x(hi)
                    );
                }
            }
        }
        top += panel_height(bars.len());
    }
    s.push_str("</svg>\n");
    s
}
