//! `tradesim sweep --emit-slurm DIR --shards N`: the sweep as a Slurm job array of N
//! shards and a merge job that waits for them, written as scripts and submitted by none
//! of tradesim's code (the user runs `DIR/submit.sh`, or submits the scripts as they
//! like). Rendering is pure text, so a test can run the scripts with stand-ins.
//!
//! Every word taken from the user (paths, the sweep's arguments) is single-quoted in the
//! scripts, so paths with spaces, quotes or `$` reach tradesim as they were. No user
//! text goes into an `#SBATCH` line: Slurm reads those itself, and expands `%` patterns
//! in an output file's whole path (the working directory of a relative one included),
//! so a folder named `50%a` would send the logs elsewhere, or fail the job. Slurm's own
//! output goes to /dev/null and each script sends its output to its log itself.

use std::fs;
use std::path::{Path, PathBuf};

use crate::Error;

/// A sweep to be run as a Slurm job array.
pub struct SlurmJob<'a> {
    /// Absolute path of the tradesim binary to run.
    pub exe: &'a Path,
    /// Absolute directory the jobs change into: relative paths in `args` resolve there.
    pub workdir: &'a Path,
    /// The sweep's own arguments, the scenario first, without `--shard`, `--out`,
    /// `--emit-slurm`, `--shards` and `--force`.
    pub args: &'a [String],
    /// How many shards (array tasks), at least 1.
    pub shards: u32,
    /// The merged result's directory (absolute).
    pub out: &'a Path,
    /// Where the scripts go (absolute); shard K is written to `dir/shards/shard-K`, the
    /// jobs' logs to `dir/logs`.
    pub dir: &'a Path,
}

pub const ARRAY_SCRIPT: &str = "array.sbatch";
pub const MERGE_SCRIPT: &str = "merge.sbatch";
pub const SUBMIT_SCRIPT: &str = "submit.sh";

/// The scripts, as (file name, text): `array.sbatch` (one array task per shard),
/// `merge.sbatch` (the shards merged into `out`) and `submit.sh` (the array, then the
/// merge once every shard has succeeded; prints "ARRAY_ID MERGE_ID"). The text depends
/// on nothing but `job`.
pub fn render(job: &SlurmJob) -> Vec<(&'static str, String)> {
    debug_assert!(job.shards >= 1, "a job array of no shards");
    vec![
        (ARRAY_SCRIPT, array_script(job)),
        (MERGE_SCRIPT, merge_script(job)),
        (SUBMIT_SCRIPT, submit_script(job)),
    ]
}

/// Writes the scripts into `job.dir` (created if need be, existing scripts replaced),
/// each executable; returns their paths in `render`'s order.
pub fn write(job: &SlurmJob) -> Result<Vec<PathBuf>, Error> {
    if job.shards == 0 {
        return Err(Error::Usage("--shards must be at least 1".to_string()));
    }
    // A script holds text: a path that is not UTF-8 could not be written into it as is.
    for path in [job.exe, job.workdir, job.out, job.dir] {
        if path.to_str().is_none() {
            return Err(Error::Usage(format!(
                "{}: a path that is not UTF-8 cannot be written into a Slurm script",
                path.display()
            )));
        }
    }
    fs::create_dir_all(job.dir).map_err(Error::io(format!("creating {}", job.dir.display())))?;
    let mut written = Vec::new();
    for (name, text) in render(job) {
        let path = job.dir.join(name);
        fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        make_executable(&path)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(Error::io(format!("making {} executable", path.display())))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// `word` as one word of a POSIX shell: in single quotes, inside which only `'` itself is
/// special (closed, escaped and reopened: `'\''`).
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn quote_path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

/// `DIR/FOLDER/PREFIX` then the array task's number, then `suffix`, as one shell word.
fn per_task(job: &SlurmJob, folder: &str, prefix: &str, suffix: &str) -> String {
    let start = quote_path(&job.dir.join(folder).join(prefix));
    let end = if suffix.is_empty() {
        String::new()
    } else {
        quote(suffix)
    };
    format!("{start}\"${{SLURM_ARRAY_TASK_ID}}\"{end}")
}

fn shard_dir(job: &SlurmJob, k: u32) -> PathBuf {
    job.dir.join("shards").join(format!("shard-{k}"))
}

/// The scenario file's stem, in the characters a job name may safely hold, so that
/// `squeue` tells one sweep's jobs from another's.
fn job_name(job: &SlurmJob, what: &str) -> String {
    let stem = job
        .args
        .first()
        .and_then(|scenario| Path::new(scenario).file_stem())
        .map(|stem| stem.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        format!("tradesim-{what}")
    } else {
        format!("tradesim-{what}-{stem}")
    }
}

fn array_script(job: &SlurmJob) -> String {
    let n = job.shards;
    let args: Vec<String> = job.args.iter().map(|a| quote(a)).collect();
    format!(
        r#"#!/usr/bin/env bash
# One shard of a tradesim sweep, as task K (1..{n}) of a Slurm job array; written by
# `tradesim sweep --emit-slurm`. submit.sh submits it, and the merge after it.
#SBATCH --job-name={name}
#SBATCH --array=1-{n}
# Task K writes its output to logs/shard-K.out itself, below.
#SBATCH --output=/dev/null
# A shard runs on every CPU it is given, and Slurm gives one unless asked: to ask for
# more, remove one '#' below and set the count.
##SBATCH --cpus-per-task=4
set -euo pipefail
: "${{SLURM_ARRAY_TASK_ID:?is set by Slurm; to run shard K here, set it to K}}"
mkdir -p {logs}
exec >{log} 2>&1
cd {workdir}
# exec: scancel's SIGTERM then reaches tradesim, which leaves no half-written shard.
exec {exe} sweep {args} --shard "${{SLURM_ARRAY_TASK_ID}}/{n}" --out {shard} --force --quiet
"#,
        name = job_name(job, "sweep"),
        logs = quote_path(&job.dir.join("logs")),
        log = per_task(job, "logs", "shard-", ".out"),
        workdir = quote_path(job.workdir),
        exe = quote_path(job.exe),
        args = args.join(" "),
        shard = per_task(job, "shards", "shard-", ""),
    )
}

fn merge_script(job: &SlurmJob) -> String {
    let shards: Vec<String> = (1..=job.shards)
        .map(|k| quote_path(&shard_dir(job, k)))
        .collect();
    format!(
        r#"#!/usr/bin/env bash
# The sweep's {n} shards merged into one result, the files one machine would have
# written; written by `tradesim sweep --emit-slurm`, queued by submit.sh to run once
# every shard has succeeded.
#SBATCH --job-name={name}
# The merge writes its output to logs/merge.out itself, below.
#SBATCH --output=/dev/null
set -euo pipefail
mkdir -p {logs}
exec >{log} 2>&1
cd {workdir}
exec {exe} merge \
    {shards} \
    --out {out} --force
"#,
        n = job.shards,
        name = job_name(job, "merge"),
        logs = quote_path(&job.dir.join("logs")),
        log = quote_path(&job.dir.join("logs").join("merge.out")),
        workdir = quote_path(job.workdir),
        exe = quote_path(job.exe),
        // One shard a line: there may be thousands.
        shards = shards.join(" \\\n    "),
        out = quote_path(job.out),
    )
}

fn submit_script(job: &SlurmJob) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Submits the sweep: its {n} shards as one Slurm job array, then the merge, which runs
# once every shard has succeeded and is cancelled if one fails. Prints "ARRAY_ID MERGE_ID".
# Arguments go to both sbatch calls (for example --partition=short --account=me).
set -euo pipefail
# The jobs' working directory, before they change into the sweep's.
cd {dir}
jid=$(sbatch --parsable "$@" {array})
jid=${{jid%%;*}}   # "ID;CLUSTER" on a site with several clusters
mid=$(sbatch --parsable "$@" --dependency=afterok:$jid --kill-on-invalid-dep=yes {merge})
mid=${{mid%%;*}}
echo "$jid $mid"
"#,
        n = job.shards,
        dir = quote_path(job.dir),
        array = ARRAY_SCRIPT,
        merge = MERGE_SCRIPT,
    )
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Words that a shell would split, expand or end on if they were not quoted.
    const AWKWARD: &[&str] = &[
        "plain",
        "with space",
        "it's",
        "''",
        "\"double\"",
        "$HOME ${X:-y} $(echo no) `echo no`",
        "back\\slash",
        "glob * ? [a]",
        "semi; colon & pipe | > redirect",
        "new\nline",
        "tab\there",
        "",
        "-n",
        "ünïcode",
    ];

    /// Runs `SHELL -c SCRIPT`, asserting success; returns what it printed.
    fn run_shell(shell: &str, script: &str, envs: &[(&str, &str)]) -> Vec<u8> {
        let o = Command::new(shell)
            .arg("-c")
            .arg(script)
            .envs(envs.iter().copied())
            .output()
            .expect("the shell runs");
        assert!(
            o.status.success(),
            "{script}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    /// Words each ended by a NUL (a word may hold a newline).
    fn nul_ended_words(bytes: Vec<u8>) -> Vec<String> {
        let text = String::from_utf8(bytes).unwrap();
        let mut words: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(words.pop().as_deref(), Some(""), "ends with a NUL");
        words
    }

    #[test]
    fn quoted_words_come_back_from_the_shell_as_they_were() {
        let quoted: Vec<String> = AWKWARD.iter().map(|w| quote(w)).collect();
        let script = format!("printf '%s\\0' {}", quoted.join(" "));
        // The plain POSIX shell: the quoting needs nothing of bash's.
        assert_eq!(nul_ended_words(run_shell("sh", &script, &[])), AWKWARD);
    }

    /// A job whose every path and argument needs quoting.
    struct Fixture {
        _tmp: tempfile::TempDir,
        exe: PathBuf,
        workdir: PathBuf,
        out: PathBuf,
        dir: PathBuf,
        args: Vec<String>,
    }

    impl Fixture {
        /// `exe` is a stand-in that prints its working directory and its arguments.
        fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("it's a $dir");
            let workdir = root.join("work dir");
            fs::create_dir_all(&workdir).unwrap();
            let exe = root.join("trade sim");
            fs::write(&exe, "#!/bin/sh\nprintf '%s\\0' \"$PWD\" \"$@\"\n").unwrap();
            make_executable(&exe).unwrap();
            Fixture {
                exe,
                out: root.join("merged \"out\""),
                dir: root.join("slurm; dir"),
                workdir,
                args: ["my scenario's.toml", "--points", "6", "--set", "a.b=$x"]
                    .map(str::to_string)
                    .to_vec(),
                _tmp: tmp,
            }
        }

        fn job(&self, shards: u32) -> SlurmJob<'_> {
            SlurmJob {
                exe: &self.exe,
                workdir: &self.workdir,
                args: &self.args,
                shards,
                out: &self.out,
                dir: &self.dir,
            }
        }
    }

    fn script<'a>(files: &'a [(&'static str, String)], name: &str) -> &'a str {
        &files.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn text(path: &Path) -> String {
        path.to_str().unwrap().to_string()
    }

    #[test]
    fn an_array_task_runs_its_shard_with_every_argument_intact() {
        let f = Fixture::new();
        let files = render(&f.job(3));
        let task = [("SLURM_ARRAY_TASK_ID", "2")];
        let printed = run_shell("bash", script(&files, ARRAY_SCRIPT), &task);
        assert!(printed.is_empty(), "the task's output goes to its log");
        let words = nul_ended_words(fs::read(f.dir.join("logs/shard-2.out")).unwrap());
        let mut expected = vec![text(&f.workdir), "sweep".to_string()];
        expected.extend(f.args.iter().cloned());
        expected.extend([
            "--shard".to_string(),
            "2/3".to_string(),
            "--out".to_string(),
            text(&f.dir.join("shards/shard-2")),
            "--force".to_string(),
            "--quiet".to_string(),
        ]);
        assert_eq!(words, expected);
    }

    #[test]
    fn an_array_task_outside_slurm_refuses_to_run() {
        let f = Fixture::new();
        let files = render(&f.job(3));
        let o = Command::new("bash")
            .arg("-c")
            .arg(script(&files, ARRAY_SCRIPT))
            .env_remove("SLURM_ARRAY_TASK_ID")
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("SLURM_ARRAY_TASK_ID"));
        assert!(!f.dir.join("logs").exists(), "tradesim was not run");
    }

    #[test]
    fn the_merge_reads_every_shard_into_the_output() {
        let f = Fixture::new();
        let files = render(&f.job(4));
        assert!(run_shell("bash", script(&files, MERGE_SCRIPT), &[]).is_empty());
        let words = nul_ended_words(fs::read(f.dir.join("logs/merge.out")).unwrap());
        let mut expected = vec![text(&f.workdir), "merge".to_string()];
        expected.extend((1..=4).map(|k| text(&f.dir.join(format!("shards/shard-{k}")))));
        expected.extend(["--out".to_string(), text(&f.out), "--force".to_string()]);
        assert_eq!(words, expected);
    }

    #[test]
    fn the_array_has_one_task_per_shard_numbered_from_one() {
        let f = Fixture::new();
        for n in [1, 3, 100] {
            let files = render(&f.job(n));
            let array = script(&files, ARRAY_SCRIPT);
            let ranges: Vec<&str> = array
                .lines()
                .filter_map(|l| l.strip_prefix("#SBATCH --array="))
                .collect();
            assert_eq!(ranges, [format!("1-{n}")]);
            assert!(array.contains(&format!("--shard \"${{SLURM_ARRAY_TASK_ID}}/{n}\"")));
            let merge = script(&files, MERGE_SCRIPT);
            assert_eq!(merge.matches("/shards/shard-").count(), n as usize);
        }
    }

    #[test]
    fn sbatch_lines_hold_no_user_text_and_come_before_any_command() {
        let f = Fixture::new();
        for (name, text) in render(&f.job(3)) {
            let lines: Vec<&str> = text.lines().collect();
            // sbatch reads directives only up to the first command.
            let first_command = lines
                .iter()
                .position(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap();
            for (i, line) in lines.iter().enumerate() {
                if let Some(option) = line.strip_prefix("#SBATCH ") {
                    assert!(i < first_command, "{name}: {line} after a command");
                    assert!(!option.contains(['\'', '"', '$', ' ']), "{name}: {line}");
                }
            }
        }
        let files = render(&f.job(3));
        let array = script(&files, ARRAY_SCRIPT);
        assert!(array.contains("#SBATCH --job-name=tradesim-sweep-my_scenario_s\n"));
    }

    /// `submit.sh` run against a stand-in `sbatch` that records its arguments and answers
    /// job ids as `sbatch --parsable` does on a site with several clusters.
    #[test]
    fn submit_queues_the_merge_after_the_whole_array_and_prints_both_ids() {
        let f = Fixture::new();
        let paths = write(&f.job(3)).unwrap();
        let bin = f.dir.join("fake bin");
        fs::create_dir_all(&bin).unwrap();
        let calls = f.dir.join("calls");
        let sbatch = bin.join("sbatch");
        fs::write(
            &sbatch,
            format!(
                "#!/bin/sh\nn=$(( $(cat {calls} 2>/dev/null | wc -l) + 1 ))\n\
                 echo \"$PWD|$*\" >> {calls}\necho \"10$n;cluster\"\n",
                calls = quote(calls.to_str().unwrap())
            ),
        )
        .unwrap();
        make_executable(&sbatch).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let o = Command::new(&paths[2])
            .args(["--partition=short", "--account=a b"])
            .current_dir(&f.workdir)
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "101 102\n");
        let dir = text(&f.dir);
        assert_eq!(
            fs::read_to_string(&calls).unwrap(),
            format!(
                "{dir}|--parsable --partition=short --account=a b array.sbatch\n\
                 {dir}|--parsable --partition=short --account=a b \
                 --dependency=afterok:101 --kill-on-invalid-dep=yes merge.sbatch\n"
            )
        );
    }

    #[test]
    fn write_makes_the_folder_and_executable_scripts_of_the_rendered_text() {
        let f = Fixture::new();
        let paths = write(&f.job(2)).unwrap();
        let files = render(&f.job(2));
        assert_eq!(paths.len(), files.len());
        for (path, (name, text)) in paths.iter().zip(&files) {
            assert_eq!(path, &f.dir.join(name));
            assert_eq!(&fs::read_to_string(path).unwrap(), text);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs::metadata(path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o755, "{name}");
            }
        }
    }

    #[test]
    fn write_refuses_no_shards_and_paths_a_script_cannot_hold() {
        let f = Fixture::new();
        assert!(matches!(write(&f.job(0)), Err(Error::Usage(_))));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let bad = f.dir.join(std::ffi::OsStr::from_bytes(b"\xff"));
            let job = SlurmJob {
                dir: &bad,
                ..f.job(2)
            };
            assert!(matches!(write(&job), Err(Error::Usage(_))));
            assert!(!bad.exists());
        }
    }
}
