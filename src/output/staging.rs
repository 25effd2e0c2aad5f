//! Output directories: every command writes into a staging directory beside its
//! destination and renames it into place at the end, so an interrupted or failed command
//! leaves nothing half-written (a command that writes one file stages it likewise, as
//! `StagedFile`, and `--force` replaces only a file of its own kind). `--force` replaces only a directory that tradesim itself
//! wrote (it holds the `MARKER` file), and never the current directory, one of its
//! parents, a directory holding an input of the command, a file or a symbolic link.
//!
//! Staging and set-aside directories carry the writing process's id in their names
//! (`.NAME.tradesim-PID.tmp`, `.NAME.tradesim-PID.old`): two runs never collide on them,
//! and a later run removes those whose process is gone (killed with `kill -9`, say).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::Error;

/// The file that marks a directory as tradesim's output, so `--force` may replace it.
pub const MARKER: &str = ".tradesim-output";
const MARKER_TEXT: &str = "This directory was written by tradesim; `--force` may replace it.\n";
/// A run directory written before the marker existed is recognised by its manifest.
const LEGACY_MANIFEST: &str = "manifest.json";

/// A temporary directory beside the destination, renamed into place on success and
/// removed on failure (including a panic or an early return).
pub struct Staging {
    pub tmp: PathBuf,
    dest: PathBuf,
    force: bool,
    inputs: Vec<PathBuf>,
    committed: bool,
}

impl Staging {
    /// Checks that `dest` may be written (or, with `force`, replaced) and creates the
    /// staging directory. `inputs` are the files the command reads: a destination that
    /// holds one of them is never replaced.
    pub fn new(dest: &Path, force: bool, inputs: &[&Path]) -> Result<Staging, Error> {
        let name = dest_name(dest)?;
        let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
        check_replaceable(dest, force, &inputs)?;
        let parent = parent_of(dest);
        fs::create_dir_all(&parent).map_err(Error::io(format!("creating {}", parent.display())))?;
        remove_stale(&parent);
        let tmp = parent.join(format!(".{name}.tradesim-{}.tmp", std::process::id()));
        create_marked(&tmp)?;
        Ok(Staging {
            tmp,
            dest: dest.to_path_buf(),
            force,
            inputs,
            committed: false,
        })
    }

    /// Checks, before long work, that `dest` may be written (or, with `force`, replaced):
    /// what `new` checks, with nothing created.
    pub fn check(dest: &Path, force: bool, inputs: &[&Path]) -> Result<(), Error> {
        dest_name(dest)?;
        let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
        check_replaceable(dest, force, &inputs)
    }

    /// A scratch directory in `dir`, removed when dropped; it is never committed.
    pub fn scratch(dir: &Path) -> Result<Staging, Error> {
        let tmp = dir.join(format!(".scratch.tradesim-{}.tmp", std::process::id()));
        create_marked(&tmp)?;
        // Never committed, so no destination is checked; a stale one is removed as any is.
        Ok(Staging {
            dest: dir.join(".scratch"),
            tmp,
            force: false,
            inputs: Vec::new(),
            committed: false,
        })
    }

    /// Moves the staged directory to its destination. An old directory is set aside
    /// first and put back if the staged one cannot take its place. When another run
    /// takes the place in between (two `--force` runs into one directory), the later
    /// rename wins, as if the runs had finished one after the other.
    pub fn commit(mut self) -> Result<(), Error> {
        let old = self.tmp.with_extension("old");
        for _ in 0..COMMIT_ATTEMPTS {
            // Checked again: something may have appeared at the destination meanwhile.
            check_replaceable(&self.dest, self.force, &self.inputs)?;
            let set_aside = match fs::rename(&self.dest, &old) {
                Ok(()) => true,
                Err(e) if e.kind() == ErrorKind::NotFound => false,
                Err(e) => {
                    return Err(Error::Io {
                        context: format!("moving {} aside", self.dest.display()),
                        source: e,
                    });
                }
            };
            match fs::rename(&self.tmp, &self.dest) {
                Ok(()) => {
                    self.committed = true;
                    if set_aside {
                        // The new output is in place; an old one that cannot be removed
                        // now is removed by a later run once this process has ended.
                        let _ = fs::remove_dir_all(&old);
                    }
                    return Ok(());
                }
                // Another run's output arrived in between: it replaced ours-to-replace,
                // so set it aside in turn (if --force allows) and try again.
                Err(_) if set_aside && fs::symlink_metadata(&self.dest).is_ok() => {
                    let _ = fs::remove_dir_all(&old);
                }
                Err(_) if !set_aside && fs::symlink_metadata(&self.dest).is_ok() => {}
                Err(e) => {
                    if set_aside {
                        // Best effort: if this fails too, the old run is still whole at `old`.
                        let _ = fs::rename(&old, &self.dest);
                    }
                    return Err(Error::Io {
                        context: format!("renaming into {}", self.dest.display()),
                        source: e,
                    });
                }
            }
        }
        Err(Error::Usage(format!(
            "--out {}: other runs kept writing there; try again",
            self.dest.display()
        )))
    }
}

/// A file written beside its destination under a temporary name and renamed into place
/// by `commit`; removed if dropped before (a failure, an early return, Ctrl-C).
pub struct StagedFile {
    pub tmp: PathBuf,
    dest: PathBuf,
    force: bool,
    inputs: Vec<PathBuf>,
    ours: fn(&Path) -> bool,
    committed: bool,
}

impl StagedFile {
    /// Checks that `dest` may be written (or, with `force`, replaced: a file that `ours`
    /// recognises as tradesim's, and no input of the command) and creates the temporary
    /// file, returned open for writing.
    pub fn new(
        dest: &Path,
        force: bool,
        inputs: &[&Path],
        ours: fn(&Path) -> bool,
    ) -> Result<(StagedFile, fs::File), Error> {
        let name = dest_name(dest)?;
        let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
        check_file_replaceable(dest, force, &inputs, ours)?;
        let parent = parent_of(dest);
        fs::create_dir_all(&parent).map_err(Error::io(format!("creating {}", parent.display())))?;
        remove_stale(&parent);
        let tmp = parent.join(format!(".{name}.tradesim-{}.tmp", std::process::id()));
        let file =
            fs::File::create(&tmp).map_err(Error::io(format!("creating {}", tmp.display())))?;
        let staged = StagedFile {
            tmp,
            dest: dest.to_path_buf(),
            force,
            inputs,
            ours,
            committed: false,
        };
        Ok((staged, file))
    }

    /// Renames the written file into place (checked again: something may have appeared
    /// at the destination meanwhile).
    pub fn commit(mut self) -> Result<(), Error> {
        check_file_replaceable(&self.dest, self.force, &self.inputs, self.ours)?;
        fs::rename(&self.tmp, &self.dest)
            .map_err(Error::io(format!("renaming into {}", self.dest.display())))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Whether the file `dest` may be written: it does not exist, or `force` is given and it
/// is a file of tradesim's (`ours`) that is no input of the command.
fn check_file_replaceable(
    dest: &Path,
    force: bool,
    inputs: &[PathBuf],
    ours: fn(&Path) -> bool,
) -> Result<(), Error> {
    let refuse = |why: &str| Err(Error::Usage(format!("{}: {why}", dest.display())));
    let Some(meta) = existing(dest)? else {
        return Ok(());
    };
    if meta.is_dir() {
        return refuse("is a directory; name a file");
    }
    if !force {
        return refuse("already exists; choose another --out or pass --force to replace it");
    }
    let canonical = dest
        .canonicalize()
        .map_err(Error::io(format!("checking {}", dest.display())))?;
    if inputs
        .iter()
        .any(|input| input.canonicalize().is_ok_and(|i| i == canonical))
    {
        return refuse("is an input of this command; --force will not replace it");
    }
    if !ours(dest) {
        return refuse(
            "was not written by tradesim; --force replaces only tradesim's own file: \
             remove it yourself or choose another --out",
        );
    }
    Ok(())
}

/// Writes the file `dest` whole through a `StagedFile`, so that it is never half-written
/// and a failure leaves nothing.
pub fn write_file(
    dest: &Path,
    bytes: &[u8],
    force: bool,
    ours: fn(&Path) -> bool,
) -> Result<(), Error> {
    let (staged, mut file) = StagedFile::new(dest, force, &[], ours)?;
    std::io::Write::write_all(&mut file, bytes)
        .map_err(Error::io(format!("writing {}", staged.tmp.display())))?;
    drop(file);
    staged.commit()
}

/// Tries to take a destination that other runs keep taking, before giving up.
const COMMIT_ATTEMPTS: usize = 20;

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Creates a staging directory holding the marker. Only a process with our id can have
/// made one of this name before, and that process is gone, so an old one is removed.
fn create_marked(tmp: &Path) -> Result<(), Error> {
    if fs::symlink_metadata(tmp).is_ok() {
        fs::remove_dir_all(tmp).map_err(Error::io(format!("removing {}", tmp.display())))?;
    }
    fs::create_dir(tmp).map_err(Error::io(format!("creating {}", tmp.display())))?;
    let marker = tmp.join(MARKER);
    fs::write(&marker, MARKER_TEXT).map_err(Error::io(format!("writing {}", marker.display())))
}

/// The destination's last component, which names the staging directory.
fn dest_name(dest: &Path) -> Result<String, Error> {
    match dest.components().next_back() {
        Some(std::path::Component::Normal(name)) => Ok(name.to_string_lossy().to_string()),
        _ => Err(Error::Usage(format!(
            "--out {}: not a usable output directory (name a new directory, not `.`, `..` or `/`)",
            dest.display()
        ))),
    }
}

fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `dest` may be written: it does not exist, or `force` is given and it is a
/// directory tradesim wrote that is neither where the user stands nor holds an input.
fn check_replaceable(dest: &Path, force: bool, inputs: &[PathBuf]) -> Result<(), Error> {
    let refuse = |why: String| Err(Error::Usage(format!("--out {}: {why}", dest.display())));
    let Some(meta) = existing(dest).map_err(|e| match e {
        Error::Usage(m) => Error::Usage(format!("--out {m}")),
        e => e,
    })?
    else {
        return Ok(());
    };
    if !meta.is_dir() {
        return refuse("is a file; tradesim never replaces a file".to_string());
    }
    if !force {
        return refuse(
            "already exists; choose another --out or pass --force to replace it".to_string(),
        );
    }
    let canonical = dest
        .canonicalize()
        .map_err(Error::io(format!("checking {}", dest.display())))?;
    if let Ok(cwd) = std::env::current_dir().and_then(|d| d.canonicalize())
        && cwd.starts_with(&canonical)
    {
        return refuse(
            "is the current directory or one of its parents; --force will not replace it"
                .to_string(),
        );
    }
    for input in inputs {
        if let Ok(input) = input.canonicalize()
            && input.starts_with(&canonical)
        {
            return refuse(format!(
                "holds {}, an input of this command; --force will not replace it",
                input.display()
            ));
        }
    }
    if !is_tradesim_output(dest) {
        return refuse(format!(
            "was not written by tradesim (it has no {MARKER} file); --force replaces only \
             tradesim's own output: remove it yourself or choose another --out"
        ));
    }
    Ok(())
}

fn is_tradesim_output(dir: &Path) -> bool {
    let is_file = |p: PathBuf| fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    is_file(dir.join(MARKER))
        || crate::output::manifest::read_manifest(&dir.join(LEGACY_MANIFEST)).is_ok()
        || crate::output::manifest::read_manifest(&dir.join("rep-000").join(LEGACY_MANIFEST))
            .is_ok()
}

/// Removes staging and set-aside directories in `parent` whose process has ended, and
/// staged files (`StagedFile`) left by a process killed outright.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(staging_pid) else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        // Ours only: a staging directory holds the marker from its first moment but one.
        let ours = is_tradesim_output(&entry.path())
            || fs::read_dir(entry.path()).is_ok_and(|mut d| d.next().is_none());
        if is_dir && ours && !process_alive(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && name.to_str().is_some_and(|n| n.ends_with(".tmp")) && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The process id in a staging or set-aside directory's name.
fn staging_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let rest = rest
        .strip_suffix(".tmp")
        .or_else(|| rest.strip_suffix(".old"))?;
    let pid = rest.rsplit_once(".tradesim-")?.1;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this id exists. Where that cannot be told, it is taken to be
/// alive, so nothing of a running process is ever removed.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// What is at `dest`, if anything: never a symbolic link, which tradesim does not replace.
fn existing(dest: &Path) -> Result<Option<fs::Metadata>, Error> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::Usage(format!(
            "{}: is a symbolic link; tradesim never replaces one",
            dest.display()
        ))),
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            context: format!("checking {}", dest.display()),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_carry_the_pid() {
        assert_eq!(staging_pid(".run.tradesim-123.tmp"), Some(123));
        assert_eq!(staging_pid(".a.b.tradesim-7.old"), Some(7));
        assert_eq!(staging_pid(".run.tmp-99"), None);
        assert_eq!(staging_pid("run.tradesim-1.tmp"), None);
        assert_eq!(staging_pid(".run.tradesim-x.tmp"), None);
        assert_eq!(staging_pid(".config"), None);
        assert_eq!(staging_pid(".run.tradesim-.tmp"), None);
    }
}
