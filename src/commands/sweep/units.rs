//! Running a sweep's work units into a work directory that outlives an interrupted run.
//!
//! The work directory sits beside the destination (`.NAME.sweep-work`) with the study's
//! `study.json` and one file per finished unit, each written under a temporary name and
//! renamed, so a file that exists is whole. Run the same command again and the finished
//! units are kept; a different study there is refused (or, with `--force`, discarded).
//! A `lock` file holding the process id keeps two sweeps out of one work directory.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use super::{Config, Design, STUDY_JSON, Study, SweepShard, unit_file, units_dir};
use crate::Error;
use crate::commands::progress::Counter;
use crate::engine::RunParams;
use crate::output::run;
use crate::output::shard::{SHARD_JSON, Shard, link_or_copy_tree, read_json, write_json};
use crate::output::staging::{Staging, process_alive};
use crate::scenario::{Document, Override};

/// What the units of one sweep (or shard) run with.
pub struct Job<'a, 'd> {
    pub document: &'a Document<'d>,
    pub study: &'a Study,
    pub design: &'a Design,
    /// `baseline`, then each variant.
    pub arms: Vec<String>,
    pub sets: &'a [Override],
    pub file: &'a Path,
    pub shard: Option<Shard>,
}

/// The work directory once every unit of the job is in it.
pub struct Done {
    pub dir: PathBuf,
    /// Units run now, and found finished from an earlier run.
    pub ran: u64,
    pub resumed: u64,
    /// Held until the output is written from the units.
    _lock: Lock,
}

impl Done {
    /// Removes the work directory (its units are in the output now).
    pub fn remove(&self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

const LOCK: &str = "lock";

/// The work directory of a sweep into `dest`.
fn work_dir(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".to_string());
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.join(format!(".{name}.sweep-work"))
}

/// Runs every unit of `job` not already finished in the work directory of `dest`.
pub fn run_units(
    job: &Job<'_, '_>,
    dest: &Path,
    args: &Config,
    stop: &AtomicBool,
) -> Result<Done, Error> {
    Staging::check(dest, args.force, &[&args.scenario])?;
    let dir = work_dir(dest);
    let recorded = recorded_study(job, &dir, args.force)?;
    fs::create_dir_all(units_dir(&dir))
        .map_err(Error::io(format!("creating {}", dir.display())))?;
    let lock = Lock::take(&dir)?;
    if !recorded {
        write_json(&dir.join(STUDY_JSON), &shard_info(job))?;
    }
    let study = job.study;
    let mine: Vec<u64> = (0..study.units())
        .filter(|&k| job.shard.is_none_or(|s| s.owns(k)))
        .collect();
    // A unit file is kept only if it is whole (a crash can leave one empty or cut short
    // however it was written): any other is run again.
    let pending: Vec<u64> = mine
        .iter()
        .copied()
        .filter(|&k| !unit_is_whole(&unit_file(&dir, k)))
        .collect();
    let resumed = (mine.len() - pending.len()) as u64;
    let pool = run::thread_pool(args.threads)?;
    let counter = Counter::new(args.quiet, mine.len() as u64, resumed, "runs");
    let finished = AtomicU64::new(0);
    let result = pool.install(|| {
        pending.par_iter().try_for_each(|&k| {
            let text = run_unit(job, k, stop)?;
            write_unit(&dir, k, &text)?;
            finished.fetch_add(1, Ordering::Relaxed);
            counter.tick(job.arms.len() as u64);
            Ok(())
        })
    });
    counter.finish();
    if let Err(e) = result {
        let done = resumed + finished.load(Ordering::Relaxed);
        eprintln!(
            "tradesim: {done} of {} units are finished in {}; run the same command again to go on from there",
            mine.len(),
            dir.display()
        );
        return Err(e);
    }
    Ok(Done {
        dir,
        ran: pending.len() as u64,
        resumed,
        _lock: lock,
    })
}

/// Whether a unit file exists with every line ended: what `write_unit` leaves.
fn unit_is_whole(path: &Path) -> bool {
    fs::read(path).is_ok_and(|bytes| bytes.ends_with(b"\n"))
}

/// Whether the work directory already holds this study. A different study there is an
/// error, unless `force` discards it.
fn recorded_study(job: &Job<'_, '_>, dir: &Path, force: bool) -> Result<bool, Error> {
    if !dir.exists() {
        return Ok(false);
    }
    let path = dir.join(STUDY_JSON);
    let found: Option<SweepShard> = read_json(&path, "a sweep's study.json").ok();
    if found.as_ref() == Some(&shard_info(job)) {
        return Ok(true);
    }
    if !force {
        return Err(Error::Usage(format!(
            "{} holds an unfinished sweep with other settings (another design, seed, scenario \
             file or version); run that sweep's command to finish it, or pass --force to \
             discard its work",
            dir.display()
        )));
    }
    let _lock = Lock::take(dir)?;
    fs::remove_dir_all(dir).map_err(Error::io(format!("removing {}", dir.display())))?;
    Ok(false)
}

fn shard_info(job: &Job<'_, '_>) -> SweepShard {
    SweepShard {
        command: "sweep".to_string(),
        shard: job.shard.map_or("1/1".to_string(), |s| s.to_string()),
        units: job.study.units(),
        study: job.study.clone(),
    }
}

/// Unit k's summary rows, `arm,entity,entity_kind,metric,value`, every arm in order.
fn run_unit(job: &Job<'_, '_>, k: u64, stop: &AtomicBool) -> Result<String, Error> {
    let reps = u64::from(job.study.replications);
    let (point, replication) = ((k / reps) as usize, (k % reps) as u32);
    let coords = &job.design.points[point];
    let params = RunParams {
        seed: job.study.seed,
        replication,
        sample: job.study.sample,
    };
    let sha = &job.study.scenario_sha256;
    let mut text = String::new();
    for arm in &job.arms {
        let variant = (arm != super::BASELINE).then_some(arm.as_str());
        let loaded = job
            .document
            .loaded_at(job.file, sha, variant, job.sets, coords)?;
        let (_, tables) = run::simulate_tables(&loaded.scenario, params, &|_, _| {}, stop)?;
        for (key, value) in tables.summary().iter() {
            let _ = writeln!(
                text,
                "{},{},{},{},{value}",
                super::tables::csv_field(arm),
                key.entity,
                key.kind.name(),
                key.metric
            );
        }
    }
    Ok(text)
}

fn write_unit(dir: &Path, k: u64, text: &str) -> Result<(), Error> {
    use std::io::Write;
    let path = unit_file(dir, k);
    let tmp = path.with_extension("tmp");
    let writing = || Error::io(format!("writing {}", tmp.display()));
    let mut file = fs::File::create(&tmp).map_err(writing())?;
    // On disk before the name says it is finished.
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(writing())?;
    fs::rename(&tmp, &path).map_err(Error::io(format!("writing {}", path.display())))
}

/// Moves a shard's finished units into `dest` with its `shard.json`.
pub fn finish_shard(
    done: &Done,
    study: &Study,
    shard: Shard,
    dest: &Path,
    force: bool,
) -> Result<(), Error> {
    let staging = Staging::new(dest, force, &[])?;
    // Linked, not moved: if the shard cannot be written, its units stay for a rerun.
    link_or_copy_tree(&units_dir(&done.dir), &units_dir(&staging.tmp))?;
    let info = SweepShard {
        command: "sweep".to_string(),
        shard: shard.to_string(),
        units: study.units(),
        study: study.clone(),
    };
    write_json(&staging.tmp.join(SHARD_JSON), &info)?;
    staging.commit()?;
    let _ = fs::remove_dir_all(&done.dir);
    Ok(())
}

/// A work directory held by this process: `lock` holds `HOST:PID`, put in place whole
/// (written under another name, then hard-linked, which fails if a lock exists).
struct Lock(PathBuf);

impl Lock {
    fn take(dir: &Path) -> Result<Lock, Error> {
        let path = dir.join(LOCK);
        let me = format!("{}:{}", host(), std::process::id());
        let mine = dir.join(format!("{LOCK}.{}", std::process::id()));
        fs::write(&mine, &me).map_err(Error::io(format!("writing {}", mine.display())))?;
        let taken = (0..2).find_map(|_| match fs::hard_link(&mine, &path) {
            Ok(()) => Some(Ok(())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                match holder.trim().rsplit_once(':') {
                    Some((h, pid)) if h == host() => match pid.parse::<u32>() {
                        // Its process is gone here: the lock is stale.
                        Ok(pid) if !process_alive(pid) => {
                            let _ = fs::remove_file(&path);
                            None
                        }
                        _ => Some(Err(format!(
                            "another tradesim (process {pid}) is running it"
                        ))),
                    },
                    Some((h, pid)) => Some(Err(format!(
                        "a tradesim on host {h} (process {pid}) holds it; if none runs there \
                         any more, remove {}",
                        path.display()
                    ))),
                    None => Some(Err(format!(
                        "{} is not a lock tradesim wrote; remove it if no sweep runs here",
                        path.display()
                    ))),
                }
            }
            Err(e) => Some(Err(format!("cannot create {}: {e}", path.display()))),
        });
        let _ = fs::remove_file(&mine);
        match taken {
            Some(Ok(())) => Ok(Lock(path)),
            Some(Err(why)) => Err(Error::Usage(format!("{}: {why}", dir.display()))),
            None => Err(Error::Usage(format!(
                "{}: cannot take the sweep's lock",
                dir.display()
            ))),
        }
    }
}

/// This machine's name, so a lock on a shared file system tells machines apart.
fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
