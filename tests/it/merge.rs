//! Issue 20: `run --shard K/N` and `compare --shard K/N`, merged, are the files one
//! machine writes (each replication's `manifest.json` may differ only in `threads`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{data, fails, ok, outputs, tmp};

/// Every file under `dir` by its path there (the marker aside), manifests with their
/// `threads` line taken out.
fn files_but_threads(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (name, bytes) in outputs(dir) {
        files.insert(name, bytes);
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let sub = path.file_name().unwrap().to_string_lossy().into_owned();
            for (name, bytes) in files_but_threads(&path) {
                files.insert(format!("{sub}/{name}"), bytes);
            }
        } else if path.file_name().is_some_and(|n| n == "manifest.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("\"threads\""))
                .collect();
            files.insert("manifest.json".to_string(), kept.join("\n").into_bytes());
        }
    }
    files
}

/// The command `base` run on one machine into `dir/one`, and in `n` shards merged into
/// `dir/merged`.
fn one_machine_and_merged(dir: &Path, base: &[String], n: u32) -> (PathBuf, PathBuf) {
    let one = dir.join("one");
    let mut args = base.to_vec();
    args.extend(["--out".to_string(), one.display().to_string()]);
    ok(&args);
    (one, shards_then_merge(dir, base, n))
}

fn shards_then_merge(dir: &Path, base: &[String], n: u32) -> PathBuf {
    let mut merge = vec!["merge".to_string()];
    // Shards in reverse order: merge takes them in any order.
    for k in (1..=n).rev() {
        let out = dir.join(format!("shard-{k}"));
        let mut args = base.to_vec();
        args.extend([
            "--shard".to_string(),
            format!("{k}/{n}"),
            "--threads".to_string(),
            "1".to_string(),
            "--out".to_string(),
            out.display().to_string(),
        ]);
        ok(&args);
        merge.push(out.display().to_string());
    }
    let merged = dir.join("merged");
    merge.extend(["--out".to_string(), merged.display().to_string()]);
    ok(&merge);
    merged
}

#[test]
fn run_shards_merge_into_the_replications_one_machine_writes() {
    let dir = tmp();
    let base: Vec<String> = [
        "run",
        &data("uncertain.toml").display().to_string(),
        "--replications",
        "5",
        "--uncertain",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (one, merged) = one_machine_and_merged(dir.path(), &base, 3);
    let expected = files_but_threads(&one);
    assert!(expected.contains_key("rep-004/events.csv"));
    assert_eq!(files_but_threads(&merged), expected);
    // Each shard holds only its replications: 1/3 has 0 and 3.
    let shard1: Vec<String> = std::fs::read_dir(dir.path().join("shard-1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("rep-"))
        .collect();
    let mut shard1 = shard1;
    shard1.sort();
    assert_eq!(shard1, ["rep-000", "rep-003"]);

    // A shard of another run (no --uncertain) is refused, naming what differs.
    let other = dir.path().join("other");
    ok(&[
        "run",
        &data("uncertain.toml").display().to_string(),
        "--replications",
        "5",
        "-q",
        "--shard",
        "1/3",
        "--out",
        &other.display().to_string(),
    ]);
    let e = fails(
        2,
        &[
            "merge",
            &other.display().to_string(),
            &dir.path().join("shard-2").display().to_string(),
            &dir.path().join("shard-3").display().to_string(),
            "--out",
            &dir.path().join("never").display().to_string(),
        ],
    );
    assert!(
        e.contains("different studies") && e.contains("uncertain"),
        "{e}"
    );
    assert!(!dir.path().join("never").exists());
    let e = fails(
        2,
        &[
            "run",
            &data("tiny.toml").display().to_string(),
            "--shard",
            "1/2",
            "--out",
            &dir.path().join("never").display().to_string(),
        ],
    );
    assert!(e.contains("--replications 2 or more"), "{e}");
}

#[test]
fn compare_shards_merge_into_the_comparison_one_machine_writes() {
    let dir = tmp();
    let base: Vec<String> = [
        "compare",
        &data("small.toml").display().to_string(),
        "--variant",
        "noop",
        "--variant",
        "low-threshold",
        "--replications",
        "4",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (one, merged) = one_machine_and_merged(dir.path(), &base, 2);
    let expected = files_but_threads(&one);
    for name in [
        "compare.csv",
        "replications.csv",
        "compare_daily.csv",
        "compare.svg",
    ] {
        assert!(expected.contains_key(name), "{name}");
        assert!(
            !dir.path().join("shard-1").join(name).exists(),
            "a shard holds replications, not the comparison"
        );
    }
    assert_eq!(files_but_threads(&merged), expected);
}
