//! Issue 20: a sweep split into shards as a Slurm job array, then merged by a dependent
//! job, gives the files one machine writes. These tests need a running Slurm whose
//! clients see it (`eval "$(.ci/slurm.sh start)"`, which `.ci/run` does under CI before
//! setting `TRADESIM_SLURM`); they are skipped elsewhere, and fail under CI without it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tradesim::commands::sweep::slurm::{SlurmJob, write};

use crate::support::*;

/// Long enough for a loaded 2-core machine to queue and run every job of a test.
const JOBS_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether a Slurm cluster is there to use; under CI it must be.
fn slurm() -> bool {
    if std::env::var_os("TRADESIM_SLURM").is_some_and(|v| !v.is_empty()) {
        return true;
    }
    // An empty CI (`CI= cargo test ...`) is no CI.
    assert!(
        std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
        "TRADESIM_SLURM is not set: under CI the Slurm tests must run (.ci/run starts a \
         single-node cluster with .ci/slurm.sh and sets it)"
    );
    eprintln!(
        "skipped: TRADESIM_SLURM is not set; start a cluster with \
         `eval \"$(.ci/slurm.sh start)\"` and set TRADESIM_SLURM=1 (as root; see .ci/slurm.sh)"
    );
    false
}

/// Slurm jobs, cancelled if the test fails before they are done.
struct Jobs {
    array: String,
    merge: String,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("scancel")
                .args([&self.array, &self.merge])
                .output();
        }
    }
}

/// Runs `DIR/submit.sh`, which prints "ARRAY_ID MERGE_ID".
fn submit(dir: &Path) -> Jobs {
    let o = Command::new(dir.join("submit.sh"))
        .output()
        .expect("submit.sh runs (is Slurm's sbatch on the PATH?)");
    assert!(
        o.status.success(),
        "submit.sh failed ({:?}):\n{}",
        o.status,
        stderr(&o)
    );
    let out = stdout(&o);
    let ids: Vec<&str> = out.split_whitespace().collect();
    assert!(
        ids.len() == 2 && ids.iter().all(|id| id.parse::<u64>().is_ok()),
        "submit.sh printed {out:?}, not two job ids"
    );
    Jobs {
        array: ids[0].to_string(),
        merge: ids[1].to_string(),
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot be run: {e}"));
    stdout(&o)
}

/// Waits until neither job is queued or running any more; then every task's state, as
/// `scontrol` (Slurm without accounting keeps finished jobs there for minutes) says.
fn wait(jobs: &Jobs, dir: &Path) -> (Vec<String>, Vec<String>) {
    let start = Instant::now();
    for id in [&jobs.array, &jobs.merge] {
        while !run("squeue", &["-h", "-j", id]).trim().is_empty() {
            assert!(
                start.elapsed() < JOBS_TIMEOUT,
                "job {id} still queued after {JOBS_TIMEOUT:?}\n{}",
                diagnosis(jobs, dir)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let states = |id: &str| -> Vec<String> {
        run("scontrol", &["-o", "show", "job", id])
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .find_map(|f| f.strip_prefix("JobState="))
            })
            .map(str::to_string)
            .collect()
    };
    (states(&jobs.array), states(&jobs.merge))
}

/// What Slurm says about the jobs and what they wrote to their logs.
fn diagnosis(jobs: &Jobs, dir: &Path) -> String {
    let mut text = run("scontrol", &["show", "job", &jobs.array]);
    text += &run("scontrol", &["show", "job", &jobs.merge]);
    let mut logs: Vec<PathBuf> = fs::read_dir(dir.join("logs"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    logs.sort();
    for log in logs {
        let log_text = fs::read_to_string(&log).unwrap_or_default();
        text += &format!("===== {}\n{log_text}", log.display());
    }
    text
}

/// Every file under `dir` but the manifests (which record the machine's threads and
/// time), by path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().unwrap() != "manifest.json" {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    files
}

const DESIGN: [&str; 8] = [
    "--design",
    "lhs",
    "--points",
    "6",
    "--replications",
    "2",
    "--sample",
    "1",
];

#[test]
fn a_sweep_sharded_on_slurm_merges_into_the_files_one_machine_writes() {
    if !slurm() {
        return;
    }
    let tmp = tmp();
    let (dir, merged, local) = (
        tmp.path().join("slurm"),
        tmp.path().join("merged"),
        tmp.path().join("local"),
    );
    // The scenario relative to the repository, where the jobs must change into.
    let mut emit: Vec<String> = ["sweep", "tests/data/sweep.toml"]
        .iter()
        .chain(&DESIGN)
        .map(|s| s.to_string())
        .collect();
    emit.extend(["--emit-slurm".into(), dir.display().to_string()]);
    emit.extend(["--shards".into(), "3".into()]);
    emit.extend(["--out".into(), merged.display().to_string()]);
    ok(&emit);
    assert!(
        dir.join("submit.sh").is_file(),
        "--emit-slurm writes the scripts"
    );
    assert!(!merged.exists(), "--emit-slurm runs and submits nothing");

    let jobs = submit(&dir);
    let (array, merge) = wait(&jobs, &dir);
    assert!(
        array == ["COMPLETED"; 3] && merge == ["COMPLETED"],
        "array {array:?}, merge {merge:?}\n{}",
        diagnosis(&jobs, &dir)
    );

    let mut one_machine: Vec<String> = ["sweep", "tests/data/sweep.toml"]
        .iter()
        .chain(&DESIGN)
        .map(|s| s.to_string())
        .collect();
    one_machine.extend([
        "--out".into(),
        local.display().to_string(),
        "--quiet".into(),
    ]);
    ok(&one_machine);
    let (local, merged) = (tree(&local), tree(&merged));
    assert!(
        local.keys().any(|name| name.ends_with(".csv")),
        "the sweep wrote no table: {:?}",
        local.keys()
    );
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>(),
        "the merged shards hold other files than one machine's sweep"
    );
    for (name, bytes) in &local {
        assert!(
            merged[name] == *bytes,
            "{name} differs between the merged shards and one machine's sweep"
        );
    }
}

/// A stand-in for tradesim: `sweep ... --out DIR ...` writes its working directory, its
/// command and its arguments, each ended by a NUL, to DIR/args, and fails if one of them
/// is `fail-shard=K/N` and it is shard K/N; `merge DIR... --out OUT --force` writes its
/// working directory and then every DIR/args, in order, to OUT/merged.
const STAND_IN: &str = r#"#!/bin/sh
set -eu
value_of() { # OPTION ARGS...: the argument after OPTION
    option=$1; shift; previous=
    for a in "$@"; do
        if [ "$previous" = "$option" ]; then printf '%s' "$a"; return 0; fi
        previous=$a
    done
    exit 2
}
command=$1; shift
out=$(value_of --out "$@")
if [ "$command" = sweep ]; then
    shard=$(value_of --shard "$@")
    for a in "$@"; do [ "$a" != "fail-shard=$shard" ] || exit 3; done
    mkdir -p "$out"
    printf '%s\0' "$PWD" "$command" "$@" > "$out/args"
else
    mkdir -p "$out"
    printf '%s\0' "$PWD" > "$out/merged"
    for a in "$@"; do
        [ "$a" != --out ] || break
        cat "$a/args" >> "$out/merged"
    done
fi
"#;

/// Scripts that `write` renders, run with the stand-in under paths that need quoting (a
/// space, both quotes, `$`, `;`, and `%a`, a pattern in Slurm's own file names).
struct StandIn {
    _tmp: tempfile::TempDir,
    exe: PathBuf,
    workdir: PathBuf,
    out: PathBuf,
    dir: PathBuf,
}

impl StandIn {
    fn new(args: &[&str]) -> StandIn {
        let tmp = tmp();
        let root = tmp.path().join("it's a \"$dir\" %a");
        let s = StandIn {
            exe: root.join("trade sim"),
            workdir: root.join("work; dir"),
            out: root.join("merged out"),
            dir: root.join("slurm dir"),
            _tmp: tmp,
        };
        fs::create_dir_all(&s.workdir).unwrap();
        fs::write(&s.exe, STAND_IN).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&s.exe, fs::Permissions::from_mode(0o755)).unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let job = SlurmJob {
            exe: &s.exe,
            workdir: &s.workdir,
            args: &args,
            shards: 3,
            out: &s.out,
            dir: &s.dir,
        };
        write(&job).expect("scripts written");
        s
    }
}

/// Words as the stand-in writes them, each ended by a NUL.
fn nul_ended<S: AsRef<str>>(words: &[S]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for w in words {
        bytes.extend_from_slice(w.as_ref().as_bytes());
        bytes.push(0);
    }
    bytes
}

#[test]
fn the_rendered_scripts_run_every_shard_then_the_merge_on_slurm() {
    if !slurm() {
        return;
    }
    let args = ["a scenario's.toml", "--set", "x=$HOME `id` \"q\""];
    let s = StandIn::new(&args);
    let jobs = submit(&s.dir);
    let (array, merge) = wait(&jobs, &s.dir);
    assert!(
        array == ["COMPLETED"; 3] && merge == ["COMPLETED"],
        "array {array:?}, merge {merge:?}\n{}",
        diagnosis(&jobs, &s.dir)
    );
    let workdir = s.workdir.to_str().unwrap();
    let mut expected = nul_ended(&[workdir]);
    for k in 1..=3 {
        let shard = s.dir.join(format!("shards/shard-{k}"));
        let mut words = vec![workdir, "sweep"];
        words.extend(args);
        let shard_of = format!("{k}/3");
        words.extend(["--shard", &shard_of, "--out", shard.to_str().unwrap()]);
        words.extend(["--force", "--quiet"]);
        expected.extend(nul_ended(&words));
    }
    let merged = fs::read(s.out.join("merged")).expect("the merge ran");
    assert!(
        merged == expected,
        "merged:\n{}\nexpected:\n{}",
        String::from_utf8_lossy(&merged),
        String::from_utf8_lossy(&expected)
    );
    for log in ["shard-1.out", "shard-2.out", "shard-3.out", "merge.out"] {
        assert!(s.dir.join("logs").join(log).is_file(), "no logs/{log}");
    }
}

#[test]
fn a_failed_shard_cancels_the_merge_on_slurm() {
    if !slurm() {
        return;
    }
    let s = StandIn::new(&["scenario.toml", "fail-shard=2/3"]);
    let jobs = submit(&s.dir);
    let (mut array, merge) = wait(&jobs, &s.dir);
    array.sort();
    assert!(
        array == ["COMPLETED", "COMPLETED", "FAILED"] && merge == ["CANCELLED"],
        "array {array:?}, merge {merge:?}\n{}",
        diagnosis(&jobs, &s.dir)
    );
    assert!(!s.out.exists(), "the merge ran");
    assert!(s.dir.join("shards/shard-3/args").is_file());
    assert!(!s.dir.join("shards/shard-2").exists());
}
