//! Issue 16: no input, flag or signal destroys a user's files, crashes tradesim or
//! exhausts memory. Every mistake gets exit 2 and a one-line reason, and nothing is lost.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs tradesim with `cwd` as its working directory.
fn tradesim_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tradesim"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("tradesim runs")
}

fn fails_in(cwd: &Path, args: &[&str]) -> String {
    let o = tradesim_in(cwd, args);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// tiny.toml with a variant, as text.
fn tiny_text() -> String {
    read(&data("tiny.toml"))
        + "\n[[variant]]\nname = \"double-hub\"\nset = { \"hub.HUB.lines\" = 2 }\n"
}

/// `tiny_text` with `from` replaced by `to` (which must occur), written into `dir`.
fn tiny_with(dir: &Path, from: &str, to: &str) -> std::path::PathBuf {
    let text = tiny_text();
    assert!(text.contains(from), "{from}");
    let path = dir.join("s.toml");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn issue_16_force_never_replaces_the_cwd_its_parents_an_input_a_file_or_a_stranger() {
    let t = tmp();
    let work = t.path().join("work");
    let inner = work.join("inner");
    fs::create_dir_all(&inner).unwrap();
    let scenario = inner.join("s.toml");
    fs::write(&scenario, tiny_text()).unwrap();
    fs::write(work.join("precious.txt"), "keep me").unwrap();
    let run = [
        "run",
        "s.toml",
        "--no-event-log",
        "--quiet",
        "--force",
        "--out",
    ];
    fn with<'a>(run: &[&'a str], out: &'a str) -> Vec<&'a str> {
        run.iter().copied().chain([out]).collect()
    }

    let err = fails_in(&inner, &with(&run, &s(&inner)));
    assert!(err.contains("current directory"), "{err}");
    let err = fails_in(&inner, &with(&run, ".."));
    assert!(err.contains("not a usable output directory"), "{err}");
    let err = fails_in(&inner, &with(&run, &s(&work)));
    assert!(
        err.contains("current directory or one of its parents"),
        "{err}"
    );
    // The folder holding the scenario, seen from elsewhere.
    let err = fails_in(
        t.path(),
        &["run", &s(&scenario), "--force", "--out", &s(&inner)],
    );
    assert!(err.contains("an input of this command"), "{err}");
    // A regular file is never replaced, nor renamed aside.
    let err = fails_in(&inner, &with(&run, "s.toml"));
    assert!(err.contains("is a file"), "{err}");
    // A directory tradesim did not write.
    let stranger = t.path().join("stranger");
    fs::create_dir(&stranger).unwrap();
    fs::write(stranger.join("notes.txt"), "mine").unwrap();
    let err = fails_in(
        t.path(),
        &["run", &s(&scenario), "--force", "--out", &s(&stranger)],
    );
    assert!(err.contains("not written by tradesim"), "{err}");
    assert_eq!(read(&stranger.join("notes.txt")), "mine");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&work, t.path().join("link")).unwrap();
        let link = s(&t.path().join("link"));
        let err = fails_in(t.path(), &["run", &s(&scenario), "--force", "--out", &link]);
        assert!(err.contains("symbolic link"), "{err}");
    }
    assert_eq!(read(&work.join("precious.txt")), "keep me");
    assert_eq!(read(&scenario), tiny_text());
    assert_eq!(names(&inner), ["s.toml"], "nothing beside the scenario");
    assert_eq!(names(&work), ["inner", "precious.txt"]);

    // compare and replay share the rule.
    let err = fails_in(
        &inner,
        &[
            "compare",
            "s.toml",
            "--variant",
            "double-hub",
            "--force",
            "--out",
            ".",
        ],
    );
    assert!(err.contains("not a usable output directory"), "{err}");
    let err = fails_in(
        &inner,
        &[
            "compare",
            "s.toml",
            "--variant",
            "double-hub",
            "--force",
            "--out",
            &s(&work),
        ],
    );
    assert!(
        err.contains("current directory or one of its parents"),
        "{err}"
    );
    let err = fails_in(
        &inner,
        &[
            "replay",
            &s(&data("tiny_run")),
            "--force",
            "--out",
            &s(&work),
        ],
    );
    assert!(
        err.contains("current directory or one of its parents"),
        "{err}"
    );
    assert_eq!(names(&work), ["inner", "precious.txt"]);
}

#[test]
fn issue_16_force_replaces_a_run_tradesim_wrote_and_leaves_no_staging_behind() {
    let t = tmp();
    let out = t.path().join("run");
    let tiny = s(&data("tiny.toml"));
    ok(&["run", &tiny, "--no-event-log", "--quiet", "--out", &s(&out)]);
    fs::write(out.join("stale.txt"), "from before").unwrap();
    let err = fails(2, &["run", &tiny, "--quiet", "--out", &s(&out)]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    ok(&["run", &tiny, "--quiet", "--force", "--out", &s(&out)]);
    assert!(!out.join("stale.txt").exists() && out.join("events.csv").is_file());
    assert_eq!(
        names(t.path()),
        ["run"],
        "no staging or set-aside directory"
    );
}

#[test]
fn issue_16_names_used_in_paths_cannot_leave_runs() {
    let t = tmp();
    for (name, bad) in [
        ("../../escaped", "../../escaped"),
        ("/tmp/absolute", "/tmp/absolute"),
        (".", "\".\""),
        (".hidden", ".hidden"),
    ] {
        let path = tiny_with(t.path(), "name = \"tiny\"", &format!("name = \"{name}\""));
        let err = fails_in(t.path(), &["run", "s.toml", "--no-event-log", "--quiet"]);
        assert!(
            err.contains("s.toml:15:1: scenario.name") && err.contains(bad),
            "{name}: {err}"
        );
        fs::remove_file(path).unwrap();
    }
    tiny_with(
        t.path(),
        "name = \"double-hub\"",
        "name = \"../../../evil\"",
    );
    let err = fails_in(
        t.path(),
        &["run", "s.toml", "--variant", "../../../evil", "--quiet"],
    );
    assert!(
        err.contains("variant[") && err.contains("names an output directory"),
        "{err}"
    );
    assert_eq!(names(t.path()), ["s.toml"], "nothing written anywhere");
}

#[test]
fn issue_16_overflowing_products_are_located_errors_not_panics() {
    let tiny = s(&data("tiny.toml"));
    for set in [
        "market.RU.active_buyers=1e308",
        "market.RU.orders_per_buyer_day=1e18",
        "market.RU.weekly=[1e308, 1, 1, 1, 1, 1, 1]",
        "peak[0].multiplier=1e308",
    ] {
        for command in ["run", "validate"] {
            let t = tmp();
            let out = s(&t.path().join("out"));
            let mut args = vec![command, &tiny, "--set", set];
            if command == "run" {
                args.extend(["--out", &out, "--quiet"]);
            }
            let err = fails(2, &args);
            assert!(
                err.contains("overflow") || err.contains("events expected"),
                "{set}: {err}"
            );
            assert!(!err.contains("panicked"), "{set}: {err}");
            assert!(names(t.path()).is_empty(), "{set}: nothing written");
        }
    }
    let err = fails(2, &["validate", &tiny, "--set", "peak[0].multiplier=1e308"]);
    assert!(
        err.contains("market.RU: expected orders on 2016-11-11 overflow")
            && err.contains("peaks 1.00e308"),
        "{err}"
    );
}

#[test]
fn issue_16_runs_that_cannot_fit_are_refused_with_their_estimate() {
    let t = tmp();
    let tiny = s(&tiny_with(t.path(), "seed = 7", "seed = 7"));
    let set = "market.RU.active_buyers=1e18";
    let err = fails(2, &["validate", &tiny, "--set", set]);
    assert!(
        err.contains("events expected") && err.contains("a --sample of at most"),
        "{err}"
    );
    let out = s(&t.path().join("out"));
    fails(2, &["run", &tiny, "--set", set, "--out", &out]);
    fails(
        2,
        &[
            "compare",
            &tiny,
            "--set",
            set,
            "--variant",
            "double-hub",
            "--out",
            &out,
        ],
    );
    assert_eq!(names(t.path()), ["s.toml"]);
    // A volume that fits at a small sample runs at that sample.
    let said = ok(&[
        "validate",
        &tiny,
        "--set",
        "market.RU.active_buyers=2.5e6",
        "--sample",
        "0.001",
    ]);
    assert!(said.contains("cost at --sample 0.001"), "{said}");
    let err = fails(2, &["run", &tiny, "--threads", "100000", "--out", &out]);
    assert!(err.contains("--threads must be at most"), "{err}");
}

#[test]
fn issue_16_oversized_files_and_lists_are_refused_before_they_are_built() {
    let t = tmp();
    let big = t.path().join("big.toml");
    let mut text = read(&data("tiny.toml"));
    text.push('#');
    text.push_str(&"x".repeat(5 << 20));
    fs::write(&big, text).unwrap();
    let err = fails(2, &["validate", &s(&big)]);
    assert!(err.contains("scenario files may be at most"), "{err}");

    let mut text = read(&data("tiny.toml"));
    for i in 0..300 {
        text.push_str(&format!("\n[[market]]\nid = \"M{i}\"\n"));
    }
    let many = t.path().join("many.toml");
    fs::write(&many, text).unwrap();
    let err = fails(2, &["validate", &s(&many)]);
    assert!(
        err.contains("at most 250 [[market]] entries are supported, found 302"),
        "{err}"
    );
}

#[test]
fn issue_16_inconsistent_inputs_are_refused_alike() {
    let t = tmp();
    let dir = t.path();
    let cases = [
        (
            "{ name = \"top\", share = 0.1 }, { name = \"rest\", share = 0.9 }",
            "{ name = \"top\", share = 0.5 }, { name = \"top\", share = 0.5 }",
            "duplicate size tier \"top\"",
        ),
        (
            "{ name = \"top\", share = 0.1 }, { name = \"rest\", share = 0.9 }",
            "{ name = \"top\", share = 0.1 }, { name = \"all\", share = 0.9 }",
            "\"all\" is reserved",
        ),
        ("id = \"IN\"", "id = \"all\"", "\"all\" is reserved"),
        (
            "start_date = \"2016-11-09\"",
            "start_date = \"9999-12-29\"",
            "dates must stay within the years 1 to 9999",
        ),
    ];
    for (from, to, expected) in cases {
        let path = tiny_with(dir, from, to);
        let err = fails(2, &["validate", &s(&path)]);
        assert!(err.contains(expected), "{to}: {err}");
    }
}

#[test]
fn issue_16_replay_refuses_a_context_the_scenario_language_would_refuse() {
    let log = read(&data("tiny_run/events.csv"));
    // The sidecar as one line of JSON (keys sorted), so that one replacement edits it.
    let sidecar: serde_json::Value =
        serde_json::from_str(&read(&data("tiny_run/events.meta.json"))).unwrap();
    let sidecar = sidecar.to_string();
    for (from, to, expected) in [
        (
            "[[\"top\",0.1],[\"rest\",0.9]]",
            "[[\"top\",1e308],[\"rest\",0.9]]",
            "not a probability",
        ),
        (
            "\"id\":\"IN\",\"methods\"",
            "\"id\":\"RU\",\"methods\"",
            "\"RU\" is listed twice",
        ),
        (
            "\"start_date\":\"2016-11-09\"",
            "\"start_date\":\"9999-12-29\"",
            "9999",
        ),
    ] {
        assert!(sidecar.contains(from), "{from}");
        let t = tmp();
        let run = t.path().join("run");
        fs::create_dir(&run).unwrap();
        fs::write(run.join("events.csv"), &log).unwrap();
        fs::write(run.join("events.meta.json"), sidecar.replacen(from, to, 1)).unwrap();
        let err = fails(2, &["replay", &s(&run)]);
        assert!(
            err.contains("the sidecar's context is inconsistent") && err.contains(expected),
            "{to}: {err}"
        );
        assert_eq!(
            names(&run),
            ["events.csv", "events.meta.json"],
            "nothing written"
        );
    }
}

#[test]
fn issue_16_messages_name_the_key_in_the_users_terms() {
    let t = tmp();
    // An unquoted TOML date is a date: the run is the quoted one's, byte for byte.
    let bare = tiny_with(
        t.path(),
        "start_date = \"2016-11-09\"",
        "start_date = 2016-11-09",
    );
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    ok(&[
        "run",
        &s(&bare),
        "--no-event-log",
        "--quiet",
        "--out",
        &s(&a),
    ]);
    let tiny = s(&data("tiny.toml"));
    ok(&["run", &tiny, "--no-event-log", "--quiet", "--out", &s(&b)]);
    assert_eq!(outputs(&a), outputs(&b));
    let timed = tiny_with(
        t.path(),
        "start_date = \"2016-11-09\"",
        "start_date = 2016-11-09T10:00:00",
    );
    let err = fails(2, &["validate", &s(&timed)]);
    assert!(
        err.contains("s.toml:18:14: expected a date such as \"2016-11-09\""),
        "{err}"
    );

    for (set, expected) in [
        ("scenario=1", "`scenario` is a whole section"),
        ("market.RU=1", "`market.RU` is a whole entry"),
    ] {
        let err = fails(2, &["validate", &tiny, "--set", set]);
        assert!(
            err.contains(expected) && !err.contains("Raw"),
            "{set}: {err}"
        );
    }
    let err = fails(2, &["validate", &tiny, "--set", "market.RU.customs=1"]);
    assert!(
        err.contains("expected a customs table") && !err.contains("Raw"),
        "{err}"
    );
}

/// Sends `signal` to a run once its staging directory exists; the run stops with exit 1
/// and leaves nothing behind.
fn interrupted_by(signal: &str) {
    let t = tmp();
    let child = Command::new(env!("CARGO_BIN_EXE_tradesim"))
        .args([
            "run",
            &s(&shipped("dftz_baseline.toml")),
            "--sample",
            "0.5",
            "--quiet",
        ])
        .args(["--out", &s(&t.path().join("run"))])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while fs::read_dir(t.path()).unwrap().count() == 0 {
        assert!(started.elapsed().as_secs() < 60, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sent = Command::new("sh")
        .args(["-c", &format!("kill -{signal} {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{signal}: {err}");
    assert!(err.contains("interrupted"), "{signal}: {err}");
    assert!(
        names(t.path()).is_empty(),
        "{signal} left {:?}",
        names(t.path())
    );
}

#[test]
fn issue_16_sigterm_and_sighup_stop_a_run_as_ctrl_c_does() {
    interrupted_by("TERM");
    interrupted_by("HUP");
}

#[test]
fn issue_16_a_killed_runs_staging_is_removed_by_the_next_run() {
    let t = tmp();
    // What `kill -9` leaves: a staging directory of a process that is gone.
    let dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    let mut dead = dead;
    dead.wait().unwrap();
    let stale = t.path().join(format!(".old-run.tradesim-{pid}.tmp"));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join(tradesim::output::staging::MARKER), "").unwrap();
    fs::write(stale.join("events.csv"), "half").unwrap();
    // Look-alikes that are not tradesim's staging stay.
    let foreign = t.path().join(format!(".notes.tradesim-{pid}.tmp"));
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("mine.txt"), "keep").unwrap();
    let out = t.path().join("run");
    ok(&[
        "run",
        &s(&data("tiny.toml")),
        "--no-event-log",
        "--quiet",
        "--out",
        &s(&out),
    ]);
    assert_eq!(
        names(t.path()),
        [format!(".notes.tradesim-{pid}.tmp"), "run".to_string()]
    );
}

#[test]
fn issue_16_concurrent_forced_runs_into_one_place_do_not_collide() {
    let t = tmp();
    let out = s(&t.path().join("run"));
    let tiny = s(&data("tiny.toml"));
    ok(&["run", &tiny, "--no-event-log", "--quiet", "--out", &out]);
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_tradesim"))
                .args([
                    "run",
                    &tiny,
                    "--no-event-log",
                    "--quiet",
                    "--force",
                    "--out",
                    &out,
                ])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        names(t.path()),
        ["run"],
        "no staging or set-aside directory left"
    );
    let fresh = t.path().join("fresh");
    ok(&[
        "run",
        &tiny,
        "--no-event-log",
        "--quiet",
        "--out",
        &s(&fresh),
    ]);
    assert_eq!(outputs(&t.path().join("run")), outputs(&fresh));
}
