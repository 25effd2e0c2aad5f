//! `tradesim report`: one self-contained HTML file from a run's or a comparison's tables,
//! to send on. Style inline, figures as inline SVG, no script and nothing fetched: it
//! reads the same anywhere, offline. Every figure's numbers are also in the page, in
//! `data-` attributes and tables, so a test (or a reader) can check them against the CSVs.
//!
//! The report reads only the tables (`tables` reads each by column name), never the
//! event log, so it works as well on a run made with `--no-event-log` and on the
//! replications of a comparison. It is written beside them as `report.html`, a file the
//! manifest does not record: `reproduce` checks the files the manifest records (and those
//! the re-run writes) and `replay --check` the tables, so neither sees it.

mod figures;
mod html;
mod pages;
mod tables;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::output::manifest::MANIFEST;
use crate::output::staging;

/// The report's default name, inside the directory it reports on.
pub const REPORT: &str = "report.html";

/// What a run directory holds that a report reads.
const RUN_FILES: [&str; 7] = [
    MANIFEST,
    "summary.csv",
    "daily_markets.csv",
    "daily_facilities.csv",
    "lead_times.csv",
    "payments.csv",
    "sellers.csv",
];

/// What a comparison's directory holds that a report reads.
const COMPARE_FILES: [&str; 3] = [
    "compare.csv",
    "compare_daily.csv",
    "baseline/rep-000/manifest.json",
];

/// What `report` was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// A run directory or a comparison's directory.
    pub dir: PathBuf,
    /// Default: `DIR/report.html`.
    pub out: Option<PathBuf>,
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    Compare,
}

pub fn command(args: Config, out: &mut dyn Write) -> Result<(), Error> {
    let kind = kind_of(&args.dir)?;
    let page = match kind {
        Kind::Run => pages::run_page(&args.dir)?,
        Kind::Compare => pages::compare_page(&args.dir)?,
    };
    let dest = args.out.unwrap_or_else(|| args.dir.join(REPORT));
    staging::write_file(&dest, page.as_bytes(), args.force, is_report)?;
    writeln!(
        out,
        "{} report of {} -> {}",
        match kind {
            Kind::Run => "run",
            Kind::Compare => "comparison",
        },
        args.dir.display(),
        dest.display()
    )
    .map_err(Error::stdout)
}

/// Whether `dir` is a run's or a comparison's directory, with an error that names what
/// is missing when it is neither (or only partly one).
fn kind_of(dir: &Path) -> Result<Kind, Error> {
    if !dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{}: no such directory (name a run directory or a comparison's directory)",
            dir.display()
        )));
    }
    let missing = |files: &[&str]| -> Vec<String> {
        files
            .iter()
            .filter(|f| !dir.join(f).is_file())
            .map(|f| f.to_string())
            .collect()
    };
    let (run_missing, compare_missing) = (missing(&RUN_FILES), missing(&COMPARE_FILES));
    if compare_missing.is_empty() {
        return Ok(Kind::Compare);
    }
    if run_missing.is_empty() {
        return Ok(Kind::Run);
    }
    if compare_missing.len() < COMPARE_FILES.len() {
        return Err(Error::BadInput(format!(
            "{}: a comparison's directory, but it lacks {}",
            dir.display(),
            compare_missing.join(", ")
        )));
    }
    if run_missing.len() < RUN_FILES.len() {
        return Err(Error::BadInput(format!(
            "{}: a run directory, but it lacks {}",
            dir.display(),
            run_missing.join(", ")
        )));
    }
    let mut reps: Vec<String> = std::fs::read_dir(dir)
        .map_err(Error::io(format!("reading {}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(MANIFEST).is_file())
        .map(|e| e.path().display().to_string())
        .collect();
    reps.sort();
    if !reps.is_empty() {
        return Err(Error::BadInput(format!(
            "{} holds replications, not a run of its own; name one of: {}",
            dir.display(),
            reps.join(", ")
        )));
    }
    Err(Error::BadInput(format!(
        "{}: neither a run directory (it has none of {}) nor a comparison's directory (none of {})",
        dir.display(),
        RUN_FILES.join(", "),
        COMPARE_FILES.join(", ")
    )))
}

/// Whether the file at `path` is a report (so `--force` may replace it).
fn is_report(path: &Path) -> bool {
    use std::io::Read;
    let mut start = Vec::new();
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // The signature is the second line; a file that is not a report may be large.
    let _ = file.take(200).read_to_end(&mut start);
    String::from_utf8_lossy(&start).contains(html::SIGNATURE)
}
