//! The page around the figures: one HTML file with its style inline, no script, and
//! nothing fetched from anywhere; tables whose cells carry their numbers in `data-value`.

use std::fmt::Write as _;

use crate::commands::chart::xml;

/// The first line after the doctype: how `--force` knows a file is a report it may replace.
pub const SIGNATURE: &str = "<!-- written by tradesim report; --force may replace it -->";

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f7; color: #1d2330;
  font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; }
header { background: #1d2f4f; color: #ffffff; padding: 26px 0 22px; }
header .inner, main { max-width: 1060px; margin: 0 auto; padding: 0 28px; }
header .kind { font-size: 12px; letter-spacing: .08em; text-transform: uppercase; color: #9fb3d6; }
h1 { font-size: 26px; margin: 4px 0 10px; font-weight: 600; }
header dl { display: flex; flex-wrap: wrap; gap: 4px 26px; margin: 0; font-size: 13px; }
header dl div { display: flex; gap: 6px; }
header dt { color: #9fb3d6; }
header dd { margin: 0; font-variant-numeric: tabular-nums; }
main { padding-top: 8px; padding-bottom: 40px; }
section { background: #ffffff; border: 1px solid #dde1e7; border-radius: 8px;
  padding: 18px 22px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 4px; font-weight: 600; }
p.note { color: #5b6473; margin: 0 0 14px; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px;
  margin-bottom: 8px; }
.card { border: 1px solid #dde1e7; border-left: 4px solid #0072B2; border-radius: 6px;
  padding: 10px 12px; background: #fafbfc; }
.card .label { font-size: 11px; color: #5b6473; text-transform: uppercase; letter-spacing: .05em; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { font-size: 12px; color: #5b6473; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 12px; }
th, td { padding: 5px 7px; border-bottom: 1px solid #e6e9ee; text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
th { background: #f0f2f5; font-weight: 600; color: #3a4354; white-space: normal;
  vertical-align: bottom; font-size: 12px; }
th.text, td.text { text-align: left; }
tr.all td { font-weight: 600; border-top: 2px solid #c9ced6; }
tr.significant td:first-child { border-left: 3px solid #0072B2; }
svg { display: block; width: 100%; height: auto; margin-top: 6px; }
details { margin-top: 10px; }
summary { cursor: pointer; color: #0072B2; font-size: 13px; }
footer { color: #5b6473; font-size: 12px; text-align: center; margin: 18px 0 0; }
"#;

/// A whole page: the header (`kind` above the title, then `facts` as term: value), the
/// sections, and a footer.
pub fn page(
    kind: &str,
    title: &str,
    facts: &[(&str, String)],
    sections: &[String],
    footer: &str,
) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n");
    s.push_str(SIGNATURE);
    s.push('\n');
    let _ = writeln!(
        s,
        "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        xml(title)
    );
    let _ = writeln!(
        s,
        "<header><div class=\"inner\">\n<div class=\"kind\">{}</div>\n<h1>{}</h1>\n<dl>",
        xml(kind),
        xml(title)
    );
    for (term, value) in facts {
        let _ = writeln!(
            s,
            "<div><dt>{}</dt><dd>{}</dd></div>",
            xml(term),
            xml(value)
        );
    }
    s.push_str("</dl>\n</div></header>\n<main>\n");
    for section in sections {
        s.push_str(section);
    }
    let _ = writeln!(
        s,
        "<footer>{}</footer>\n</main>\n</body>\n</html>",
        xml(footer)
    );
    s
}

/// A section with a heading, a note under it, and its content.
pub fn section(id: &str, heading: &str, note: &str, content: &str) -> String {
    let mut s = format!("<section id=\"{}\">\n<h2>{}</h2>\n", xml(id), xml(heading));
    if !note.is_empty() {
        let _ = writeln!(s, "<p class=\"note\">{}</p>", xml(note));
    }
    s.push_str(content);
    s.push_str("</section>\n");
    s
}

/// A headline number in a card: its label, the figure for people, a line under it, and
/// the number itself in `data-value` beside its entity and metric.
pub fn card(
    entity: &str,
    metric: &str,
    label: &str,
    value: Option<f64>,
    shown: &str,
    sub: &str,
) -> String {
    format!(
        "<div class=\"card\" data-entity=\"{}\" data-metric=\"{}\" data-value=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"sub\">{}</div></div>\n",
        xml(entity),
        xml(metric),
        value.map_or(String::new(), |v| v.to_string()),
        xml(label),
        xml(shown),
        xml(sub)
    )
}

/// One cell of a table.
pub enum Cell {
    /// Text, aligned left.
    Text(String),
    /// A number: the figure for people, and the number in `data-value` under the name
    /// of the column (`data-column`) it came from.
    Number {
        column: String,
        value: Option<f64>,
        shown: String,
    },
}

impl Cell {
    pub fn number(column: &str, value: Option<f64>, shown: String) -> Cell {
        Cell::Number {
            column: column.to_string(),
            value,
            shown,
        }
    }
}

/// A table: `head` (text columns first, flagged in `text`), rows with a class and the
/// attributes that name them (`data-market="RU"`, ...).
pub fn table(head: &[&str], rows: &[(String, String, Vec<Cell>)]) -> String {
    let mut s = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for (i, h) in head.iter().enumerate() {
        let class = match rows.first().and_then(|r| r.2.get(i)) {
            Some(Cell::Text(_)) => " class=\"text\"",
            _ => "",
        };
        let _ = write!(s, "<th{class}>{}</th>", xml(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (class, attributes, cells) in rows {
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        let _ = write!(s, "<tr{class}{attributes}>");
        for cell in cells {
            match cell {
                Cell::Text(t) => {
                    let _ = write!(s, "<td class=\"text\">{}</td>", xml(t));
                }
                Cell::Number {
                    column,
                    value,
                    shown,
                } => {
                    let _ = write!(
                        s,
                        "<td data-column=\"{}\" data-value=\"{}\">{}</td>",
                        xml(column),
                        value.map_or(String::new(), |v| v.to_string()),
                        xml(shown)
                    );
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table></div>\n");
    s
}

/// ` data-NAME="VALUE"` for each pair, escaped.
pub fn attributes(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!(" data-{k}=\"{}\"", xml(v)))
        .collect()
}

/// Content shown on request: a figure's numbers as a table, say.
pub fn details(summary: &str, content: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n{content}</details>\n",
        xml(summary)
    )
}
