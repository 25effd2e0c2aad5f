//! The published record: `record/record.csv` beside the scenario files, one row per
//! published figure (what it counts, its period, its value and its source). Targets name
//! their row (`record = "ru-post-items-2016"`); `validate` checks that the row exists and
//! that the target's `value` is the row's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;

/// The columns every record table has, in order.
pub const COLUMNS: [&str; 13] = [
    "id",
    "country",
    "measure",
    "scope",
    "unit",
    "from",
    "to",
    "value",
    "publisher",
    "title",
    "published",
    "url",
    "read",
];

/// One published figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub measure: String,
    pub scope: String,
    pub from: String,
    pub to: String,
    pub value: f64,
    pub publisher: String,
    pub published: String,
    pub url: String,
    pub read: String,
}

/// Where the record table of a scenario file lives.
pub fn path_for(scenario_file: &Path) -> PathBuf {
    scenario_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("record")
        .join("record.csv")
}

/// Reads a record table, checking its header and every row: an id, a number, a period,
/// a publisher and either an address or the reason there is none (in `read`).
pub fn read(path: &Path) -> Result<BTreeMap<String, Figure>, Error> {
    let bad = |line: u64, what: String| {
        Error::BadInput(format!("{}: line {line}: {what}", path.display()))
    };
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?;
    let header = reader
        .headers()
        .map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?
        .clone();
    if header.iter().collect::<Vec<_>>() != COLUMNS {
        return Err(bad(
            1,
            format!("expected the columns {}", COLUMNS.join(",")),
        ));
    }
    let mut figures = BTreeMap::new();
    for row in reader.records() {
        let row = row.map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?;
        let line = row.position().map_or(0, |p| p.line());
        let field = |name: &str| {
            row[COLUMNS.iter().position(|c| *c == name).expect("a column")]
                .trim()
                .to_string()
        };
        let id = field("id");
        let value: f64 = field("value")
            .parse()
            .map_err(|_| bad(line, format!("value `{}` is not a number", field("value"))))?;
        for name in [
            "id",
            "measure",
            "from",
            "to",
            "publisher",
            "published",
            "read",
        ] {
            if field(name).is_empty() {
                return Err(bad(line, format!("`{name}` is empty")));
            }
        }
        if field("url").is_empty() && !field("read").contains("address") {
            return Err(bad(
                line,
                format!("{id}: no url, and `read` does not say why"),
            ));
        }
        let figure = Figure {
            measure: field("measure"),
            scope: field("scope"),
            from: field("from"),
            to: field("to"),
            value,
            publisher: field("publisher"),
            published: field("published"),
            url: field("url"),
            read: field("read"),
        };
        if figures.insert(id.clone(), figure).is_some() {
            return Err(bad(line, format!("id {id} appears twice")));
        }
    }
    Ok(figures)
}
