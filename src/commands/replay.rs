//! `tradesim replay` and `tradesim reproduce`: proving a run from its log and from its
//! manifest. (`tradesim explain` is in `explain`.)
//!
//! `replay` streams `events.csv` through the same `Tables` folds that `run` uses (and,
//! if asked, the `Orders` fold of `orders.csv`), one event at a time, so the tables it
//! writes are the run's own, byte for byte, whatever the size of the log. `reproduce`
//! re-runs what a manifest records beside the run and compares every file's SHA-256
//! three ways: the re-run's, the manifest's and the file's on disk, so it tells a run
//! that does not reproduce from a file changed after the run.

use std::fs;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::progress::Progress;
use crate::Error;
use crate::engine::RunParams;
use crate::log::AnyLogReader;
use crate::output::manifest::{self, MANIFEST};
use crate::output::run::{self, EVENTS, EVENTS_DIR};
use crate::output::staging::Staging;
use crate::projection::{ORDERS_CSV, Orders, Tables};
use crate::scenario::{self, sha256_hex};

/// Events between two looks at the Ctrl-C flag.
const STOP_EVERY: u64 = 1 << 16;

/// The log a command was pointed at: a run directory, an `events.csv` file or a Parquet
/// log's `events/` directory.
pub struct LogLocation {
    pub log: PathBuf,
    /// The directory holding the log (and the run's own tables).
    pub dir: PathBuf,
}

/// Finds the event log of `input`, explaining what is there when it is not.
pub fn locate_log(input: &Path) -> Result<LogLocation, Error> {
    if input.is_file() && input.extension().is_some_and(|e| e == "parquet") {
        return Err(Error::BadInput(format!(
            "{}: a Parquet log is read whole: name its {EVENTS_DIR}/ directory or the run \
             directory, not one day's file",
            input.display()
        )));
    }
    let parent = |p: &Path| match p.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if input.is_dir() && is_parquet_log(input) {
        return Ok(LogLocation {
            log: input.to_path_buf(),
            dir: parent(input),
        });
    }
    if input.is_file() {
        return Ok(LogLocation {
            log: input.to_path_buf(),
            dir: parent(input),
        });
    }
    if !input.is_dir() {
        return Err(Error::BadInput(format!(
            "{}: no such run directory or event log",
            input.display()
        )));
    }
    let log = input.join(EVENTS);
    let parquet = input.join(EVENTS_DIR);
    if log.is_file() || parquet.is_dir() {
        return Ok(LogLocation {
            log: if log.is_file() { log } else { parquet },
            dir: input.to_path_buf(),
        });
    }
    let manifest = input.join(MANIFEST);
    if manifest.is_file()
        && let Ok(m) = manifest::read_manifest(&manifest)
        && !m.event_log
    {
        return Err(Error::BadInput(format!(
            "{} has no {EVENTS}: the run was made with --no-event-log, so there is no log to read; \
             run it again without --no-event-log",
            input.display()
        )));
    }
    let mut reps: Vec<String> = fs::read_dir(input)
        .map_err(Error::io(format!("reading {}", input.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(EVENTS).is_file() || e.path().join(EVENTS_DIR).is_dir())
        .map(|e| e.path().display().to_string())
        .collect();
    reps.sort();
    if !reps.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has no {EVENTS} or {EVENTS_DIR}/ of its own; it holds replications, name one of: {}",
            input.display(),
            reps.join(", ")
        )));
    }
    Err(Error::BadInput(format!(
        "{} has no {EVENTS} or {EVENTS_DIR}/: not a run directory with an event log",
        input.display()
    )))
}

/// Whether directory `dir` is a Parquet log: it holds a day's `date=...` directory.
fn is_parquet_log(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("date=")))
    })
}

/// Opens a log for streaming, in either format (`events.csv`, or a Parquet log's
/// directory).
pub fn open_log(path: &Path) -> Result<AnyLogReader, Error> {
    AnyLogReader::open(path)
}

/// Folds a whole log into tables, and into the orders' rows if asked, one event at a
/// time.
pub fn replay_log(
    path: &Path,
    orders: bool,
    stop: &AtomicBool,
) -> Result<(Tables, Option<Orders>), Error> {
    let mut reader = open_log(path)?;
    let mut tables = Tables::new(&reader.context);
    let mut orders = orders.then(|| Orders::new(&reader.context));
    while let Some(event) = reader.next_event()? {
        tables.observe(&event);
        if let Some(orders) = &mut orders {
            orders.observe(&event);
        }
        if tables.events() % STOP_EVERY == 0 && stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
    }
    if let Some(orders) = &orders {
        orders.check()?;
    }
    Ok((tables, orders))
}

/// What `replay` was asked to do.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// A run directory or an events.csv file.
    pub input: PathBuf,
    /// Default: `<run dir>/replay`; with `check`, nowhere.
    pub out: Option<PathBuf>,
    pub check: bool,
    /// Also rebuild `orders.csv`.
    pub orders: bool,
    pub force: bool,
}

pub fn replay_command(
    args: ReplayConfig,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let loc = locate_log(&args.input)?;
    // `--check` alone verifies and writes nothing; with `--out` it does both.
    let dest = match (&args.out, args.check) {
        (Some(dir), _) => Some(dir.clone()),
        (None, false) => Some(loc.dir.join("replay")),
        (None, true) => None,
    };
    // Staged before reading, so that a taken destination fails at once and a damaged
    // log leaves nothing behind.
    let staging = dest
        .as_deref()
        .map(|d| Staging::new(d, args.force, &[&loc.log]))
        .transpose()?;
    // `--check` compares the run's orders.csv whenever it has one.
    let run_orders = loc.dir.join(ORDERS_CSV);
    let fold_orders = args.orders || (args.check && run_orders.is_file());
    let (tables, orders) = replay_log(&loc.log, fold_orders, stop)?;
    if let (Some(staging), Some(dest)) = (staging, &dest) {
        run::write_tables(&tables, &staging.tmp)?;
        if let Some(orders) = orders.as_ref().filter(|_| args.orders) {
            run::write_orders(orders, &staging.tmp)?;
        }
        staging.commit()?;
        writeln!(
            out,
            "replayed {} events from {} -> {}",
            tables.events(),
            loc.log.display(),
            dest.display()
        )
        .map_err(Error::stdout)?;
    } else {
        writeln!(
            out,
            "replayed {} events from {}",
            tables.events(),
            loc.log.display()
        )
        .map_err(Error::stdout)?;
    }
    if args.check {
        check_tables(&tables, orders.as_ref(), &loc.dir, out)?;
    }
    Ok(())
}

/// Compares each rebuilt table (and `orders.csv`, if rebuilt) with the file of the same
/// name in `dir`.
fn check_tables(
    tables: &Tables,
    orders: Option<&Orders>,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut differ = Vec::new();
    let mut checked = 0;
    let mut check = |name: &'static str, write: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let path = dir.join(name);
        let difference = match fs::File::open(&path) {
            Ok(file) => {
                let mut theirs = SameAs::new(BufReader::new(file));
                write(&mut theirs)
                    .and_then(|()| theirs.finish())
                    .map_err(Error::io(format!("reading {}", path.display())))?
                    .map(|line| format!("from line {line}"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("the run has no {name}"))
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()))(e)),
        };
        checked += 1;
        let verdict = match difference {
            None => "same".to_string(),
            Some(why) => {
                differ.push(name);
                format!("differs ({why})")
            }
        };
        writeln!(out, "{name:<20} {verdict}").map_err(Error::stdout)
    };
    for (name, text) in tables.render() {
        check(name, &|w| w.write_all(text.as_bytes()))?;
    }
    if let Some(orders) = orders {
        check(ORDERS_CSV, &|w| orders.write_csv(w))?;
    }
    if differ.is_empty() {
        return Ok(());
    }
    Err(Error::CheckFailed(format!(
        "{} of {checked} tables rebuilt from the log differ from those in {}: {}",
        differ.len(),
        dir.display(),
        differ.join(", ")
    )))
}

/// A writer that compares what is written with a file as it goes, holding neither
/// whole (`orders.csv` holds a row per order).
struct SameAs<R> {
    theirs: R,
    buf: Vec<u8>,
    /// Line breaks in what has matched so far.
    lines: usize,
    /// The 1-based line of the first difference.
    differs: Option<usize>,
}

impl<R: Read> SameAs<R> {
    fn new(theirs: R) -> SameAs<R> {
        SameAs {
            theirs,
            buf: Vec::new(),
            lines: 0,
            differs: None,
        }
    }

    /// The line of the first difference, if any (the file going on counts).
    fn finish(mut self) -> std::io::Result<Option<usize>> {
        if self.differs.is_none() && self.theirs.read(&mut [0])? > 0 {
            self.differs = Some(self.lines + 1);
        }
        Ok(self.differs)
    }
}

impl<R: Read> Write for SameAs<R> {
    fn write(&mut self, ours: &[u8]) -> std::io::Result<usize> {
        if self.differs.is_some() {
            return Ok(ours.len());
        }
        self.buf.clear();
        (&mut self.theirs)
            .take(ours.len() as u64)
            .read_to_end(&mut self.buf)?;
        let same = first_difference(&self.buf, ours);
        self.lines += self.buf[..same].iter().filter(|&&c| c == b'\n').count();
        if same < ours.len() {
            self.differs = Some(self.lines + 1);
        }
        Ok(ours.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of the common start of `a` and `b`.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// What `reproduce` was asked to do.
#[derive(Debug, Clone)]
pub struct ReproduceConfig {
    /// A run's manifest.json, or the run directory holding it.
    pub manifest: PathBuf,
    pub threads: usize,
    pub quiet: bool,
}

pub fn reproduce_command(
    args: ReproduceConfig,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let manifest_path = if args.manifest.is_dir() {
        args.manifest.join(MANIFEST)
    } else {
        args.manifest.clone()
    };
    if !manifest_path.is_file() {
        return Err(Error::BadInput(format!(
            "{}: no such manifest",
            manifest_path.display()
        )));
    }
    let manifest = manifest::read_manifest(&manifest_path)?;
    let run_dir = match manifest_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let named = |m: String| format!("{}: {m}", manifest_path.display());

    // The scenario first: a changed file is reported, never silently used.
    let scenario_path = PathBuf::from(&manifest.scenario_file);
    let bytes = fs::read(&scenario_path).map_err(|e| {
        let cwd =
            std::env::current_dir().map_or_else(|_| "?".to_string(), |d| d.display().to_string());
        Error::BadInput(named(format!(
            "cannot read the scenario file `{}` it records ({e}); a relative path is read from the \
             directory the run was started in, and this is {cwd}",
            scenario_path.display()
        )))
    })?;
    let changed = |now: &str| {
        Error::CheckFailed(named(format!(
            "the scenario file `{}` has changed since the run: the manifest records sha256 {}, the \
             file now has {now}; nothing was re-run",
            scenario_path.display(),
            manifest.scenario_sha256
        )))
    };
    let sha = sha256_hex(&bytes);
    if sha != manifest.scenario_sha256 {
        return Err(changed(&sha));
    }
    let sets = manifest
        .overrides
        .iter()
        .map(|s| scenario::parse_set(s).map_err(|e| Error::BadInput(named(e.to_string()))))
        .collect::<Result<Vec<_>, _>>()?;
    let drawn = manifest
        .uncertain
        .iter()
        .map(|s| scenario::parse_set(s).map_err(|e| Error::BadInput(named(e.to_string()))))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = scenario::load_drawn(&scenario_path, &drawn, manifest.variant.as_deref(), &sets)?;
    if loaded.sha256 != manifest.scenario_sha256 {
        return Err(changed(&loaded.sha256));
    }
    if loaded.scenario.name != manifest.scenario {
        return Err(Error::BadInput(named(format!(
            "the manifest names scenario `{}` but `{}` is scenario `{}`",
            manifest.scenario,
            scenario_path.display(),
            loaded.scenario.name
        ))));
    }
    run::check_sample(manifest.sample)?;
    let version = env!("CARGO_PKG_VERSION");
    if manifest.tradesim_version != version && !args.quiet {
        writeln!(
            out,
            "note: the run was made by tradesim {}, this is {version}; outputs are only promised \
             to match within one version",
            manifest.tradesim_version
        )
        .map_err(Error::stdout)?;
    }

    // Re-run inside the run directory (its file system has room for the log); the
    // staging directory is never committed, so it is removed however this returns.
    let staging = Staging::scratch(&run_dir)?;
    let params = RunParams {
        seed: manifest.seed,
        replication: manifest.replication,
        sample: manifest.sample,
    };
    if manifest.orders_csv {
        crate::model::cost::check_with_order_rows(&loaded.scenario, manifest.sample)?;
    }
    let progress = Progress::new(args.quiet, loaded.scenario.simulated_days(), 1);
    let simulated = run::thread_pool(args.threads)?.install(|| {
        run::simulate_into(
            &loaded.scenario,
            params,
            &staging.tmp,
            manifest.event_log.then_some(manifest.log_format),
            manifest.orders_csv,
            &|d, e| progress.update(0, d, e),
            stop,
        )
    });
    progress.finish();
    let simulated = simulated?;
    drop(staging);

    let mut names: Vec<&String> = manifest
        .files
        .keys()
        .chain(simulated.files.keys())
        .collect();
    names.sort();
    names.dedup();
    let mut differ = Vec::new();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    for name in &names {
        let recorded = manifest.files.get(*name);
        let rerun = simulated.files.get(*name);
        let path = run_dir.join(name);
        let on_disk = if path.is_file() {
            Some(manifest::hash_file(&path)?)
        } else {
            None
        };
        let problem = match (recorded, rerun) {
            (None, _) => {
                Some("the re-run writes it but the manifest does not record it".to_string())
            }
            (_, None) => {
                Some("the manifest records it but the re-run does not write it".to_string())
            }
            (Some(m), Some(r)) if m != r => Some(format!(
                "not reproduced: the re-run gives sha256 {}, the manifest records {}",
                short(r),
                short(m)
            )),
            (Some(m), Some(_)) => match &on_disk {
                None => Some(format!("missing from {}", run_dir.display())),
                Some(d) if d != m => Some(format!(
                    "the file in the run directory has changed since the run: sha256 {}, the \
                     manifest and the re-run give {}",
                    short(d),
                    short(m)
                )),
                Some(_) => None,
            },
        };
        match problem {
            None if !args.quiet => writeln!(out, "ok       {name}").map_err(Error::stdout)?,
            None => {}
            Some(p) => {
                differ.push(name.as_str());
                writeln!(out, "DIFFERS  {name:<width$}  {p}").map_err(Error::stdout)?;
            }
        }
    }
    let mut counts = Vec::new();
    if simulated.stats.events != manifest.events {
        counts.push(format!(
            "the re-run made {} events, the manifest records {}",
            simulated.stats.events, manifest.events
        ));
    }
    if simulated.stats.orders != manifest.orders {
        counts.push(format!(
            "the re-run placed {} orders, the manifest records {}",
            simulated.stats.orders, manifest.orders
        ));
    }
    for c in &counts {
        writeln!(out, "DIFFERS  {c}").map_err(Error::stdout)?;
    }
    if differ.is_empty() && counts.is_empty() {
        if !args.quiet {
            writeln!(
                out,
                "reproduced: all {} files match (scenario {}, seed {}, replication {}, sample {})",
                names.len(),
                manifest.scenario,
                manifest.seed,
                manifest.replication,
                manifest.sample
            )
            .map_err(Error::stdout)?;
        }
        return Ok(());
    }
    let mut what = Vec::new();
    if !differ.is_empty() {
        what.push(format!(
            "{} of {} files differ: {}",
            differ.len(),
            names.len(),
            differ.join(", ")
        ));
    }
    what.extend(counts);
    Err(Error::CheckFailed(format!(
        "{} is not reproduced: {}",
        run_dir.display(),
        what.join("; ")
    )))
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of the first difference between `theirs` and `ours` written in pieces
    /// of `piece` bytes.
    fn differs(theirs: &[u8], ours: &[u8], piece: usize) -> Option<usize> {
        let mut same = SameAs::new(theirs);
        for chunk in ours.chunks(piece) {
            same.write_all(chunk).unwrap();
        }
        same.finish().unwrap()
    }

    #[test]
    fn the_first_difference_is_counted_in_lines_whatever_the_pieces() {
        for piece in [1, 2, 3, 64] {
            assert_eq!(differs(b"a\nb\nc\n", b"a\nb\nx\n", piece), Some(3));
            assert_eq!(differs(b"a\n", b"b\n", piece), Some(1));
            assert_eq!(differs(b"a\nb\n", b"a\nb\nc\n", piece), Some(3));
            assert_eq!(differs(b"a\nb\nc\n", b"a\nb\n", piece), Some(3));
            assert_eq!(differs(b"a\nb\n", b"a\nb\n", piece), None);
        }
    }
}
