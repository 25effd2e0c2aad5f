//! Running the `tradesim` binary and reading what it wrote.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under tests/data.
pub fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

/// A shipped scenario under scenarios/.
pub fn shipped(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Runs `tradesim ARGS` from the repository root.
pub fn tradesim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradesim"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("tradesim runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and asserts success, returning stdout.
pub fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let o = tradesim(args);
    assert!(
        o.status.success(),
        "tradesim failed ({:?}):\n{}",
        o.status,
        stderr(&o)
    );
    stdout(&o)
}

/// Runs and asserts the exit code, returning stderr.
pub fn fails<S: AsRef<std::ffi::OsStr>>(code: i32, args: &[S]) -> String {
    let o = tradesim(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

/// Every file of a run directory except the manifest (which records the thread count)
/// and the marker that says tradesim wrote it.
pub fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("run directory") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_file() && name != "manifest.json" && name != tradesim::output::staging::MARKER {
            files.insert(name, std::fs::read(&path).expect("readable"));
        }
    }
    files
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CSV file as (header, rows of fields).
pub fn csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = read(path);
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// `summary.csv` as a map from `ENTITY.METRIC` (`RU.orders`, `HUB.arrived`, `all.events`)
/// to the value. Two entity kinds that share an id and a metric would share a key: that
/// panics, so no test reads the wrong row.
pub fn summary(dir: &Path) -> BTreeMap<String, String> {
    let (header, rows) = csv(&dir.join("summary.csv"));
    assert_eq!(header, ["entity", "entity_kind", "metric", "value"]);
    let mut map = BTreeMap::new();
    for r in rows {
        let key = format!("{}.{}", r[0], r[2]);
        let kind = &r[1];
        assert!(
            map.insert(key.clone(), r[3].clone()).is_none(),
            "{key} ({kind}) is ambiguous"
        );
    }
    map
}

pub fn summary_f64(dir: &Path, metric: &str) -> f64 {
    summary(dir)[metric]
        .parse()
        .unwrap_or_else(|_| panic!("{metric} is a number"))
}

/// Runs the small test scenario into `out` with extra arguments.
pub fn run_small(out: &Path, extra: &[&str]) {
    let mut args = vec!["run".to_string(), data("small.toml").display().to_string()];
    args.extend([
        "--out".to_string(),
        out.display().to_string(),
        "--quiet".to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    ok(&args);
}

/// The Python that has the clients (`TRADESIM_PYTHON`, which `.ci/run` sets), or `None`
/// after saying why the test is skipped; under CI a missing one is a failure.
pub fn python() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRADESIM_PYTHON") {
        return Some(PathBuf::from(path));
    }
    // An empty CI (`CI= cargo test ...`) is no CI.
    assert!(
        std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
        "TRADESIM_PYTHON is not set: under CI the Python clients' tests must run (.ci/run \
         sets it to target/pyenv/bin/python)"
    );
    eprintln!(
        "skipped: TRADESIM_PYTHON is not set; `.ci/run` builds target/pyenv and sets it \
         (see README, Development)"
    );
    None
}

/// Runs tests/python/SCRIPT with ARGS and asserts that it succeeds, showing its output
/// when it does not; returns its standard output.
pub fn run_script(python: &Path, script: &str, args: &[&std::ffi::OsStr]) -> String {
    let path = repo().join("tests/python").join(script);
    let o = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} cannot be run: {e}", python.display()));
    assert!(
        o.status.success(),
        "{script} failed ({:?}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
