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

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped record parses, every row has a source (an address, or the reason for
    /// none), and it holds what the shipped targets cite.
    #[test]
    fn the_shipped_record_parses_and_every_row_has_a_source() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/record/record.csv");
        let record = read(&path).unwrap();
        assert!(record.len() >= 25, "{} rows", record.len());
        for (id, f) in &record {
            assert!(!f.publisher.is_empty() && !f.published.is_empty(), "{id}");
            assert!(
                f.url.starts_with("http") || f.read.contains("address"),
                "{id}"
            );
            assert!(f.value > 0.0 && f.from <= f.to, "{id}");
        }
        assert_eq!(record["ru-post-items-2016"].value, 225_000_000.0);
    }

    /// A row without an address must say why; a duplicate id is refused.
    #[test]
    fn a_row_without_a_source_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.csv");
        let header = COLUMNS.join(",");
        let row = "x,RU,items,all,items,2016-01-01,2016-12-31,5,Pub,Title,2017-01-01";
        std::fs::write(&path, format!("{header}\n{row},,read in the source\n")).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("no url"), "{err}");
        std::fs::write(
            &path,
            format!("{header}\n{row},https://a.example,read\n{row},https://a.example,read\n"),
        )
        .unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("twice"), "{err}");
    }
}
