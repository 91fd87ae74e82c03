//! Turning a [`Command`] into a running child, with precise errors.
//!
//! Spawning stays on std's `posix_spawn` path: no `pre_exec` hook (which
//! makes std fall back to `fork`, 54× slower from a parent holding 1 GiB),
//! except from a thread that blocks signals (see below). Process groups use
//! `CommandExt::process_group`, which `posix_spawn` supports. std resets
//! SIGPIPE in the child but passes on the spawning thread's signal mask. Stray
//! inheritable descriptors are handled in the parent (see
//! `sys::cloexec_from_3`), and a PATH changed for the child is resolved
//! here so that std need not fork to search it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::process::Process;
use crate::redirect::Slot;
use crate::{reaper, sys};

/// What one standard stream of the child is connected to.
#[derive(Debug)]
pub(crate) enum ChildIo {
    Inherit,
    Null,
    Pipe,
    File(Arc<File>),
    /// A descriptor we hand over (a pipeline's inner pipe end).
    Fd(OwnedFd),
    /// The other output stream's target.
    Merge,
}

impl From<Slot> for ChildIo {
    fn from(slot: Slot) -> ChildIo {
        match slot {
            Slot::Inherit => ChildIo::Inherit,
            Slot::Null => ChildIo::Null,
            Slot::Pipe => ChildIo::Pipe,
            Slot::File(f) => ChildIo::File(f),
            Slot::Merge => ChildIo::Merge,
        }
    }
}

/// Which process group the child goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// Ours.
    Inherit,
    /// A new group led by the child.
    New,
    /// An existing group (a pipeline's first stage's).
    Join(u32),
}

/// A freshly spawned child and our ends of its pipes.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) process: Process,
    pub(crate) stdin: Option<os_pipe::PipeWriter>,
    pub(crate) stdout: Option<os_pipe::PipeReader>,
    pub(crate) stderr: Option<os_pipe::PipeReader>,
}

/// Readies our process for spawning: marks stray descriptors close-on-exec
/// (see `sys::cloexec_from_3`) and reaps adopted children that exited.
/// Call it before [`spawn`], once per batch: a pipeline calls it once for
/// all its stages, whose own pipes are created close-on-exec anyway.
pub(crate) fn prepare() {
    sys::cloexec_from_3();
    reaper::sweep();
}

/// Spawns `cmd` with the given stdio, in the given process group. Call
/// [`prepare`] first.
pub(crate) fn spawn(
    cmd: &Command,
    line: &Arc<str>,
    stdin: ChildIo,
    stdout: ChildIo,
    stderr: ChildIo,
    group: Group,
) -> Result<Spawned> {
    validate(cmd, line)?;
    let program = resolve_program(cmd, line)?;
    let io_err = |context: &str, e: io::Error| Error::io(Some(line.clone()), context, e);

    let mut std_cmd = std::process::Command::new(&program);
    std_cmd.args(cmd.get_args());
    if cmd.env_cleared() {
        std_cmd.env_clear();
    }
    for (key, value) in cmd.env_changes() {
        match value {
            Some(v) => std_cmd.env(key, v),
            None => std_cmd.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_cwd() {
        std_cmd.current_dir(dir);
    }
    match group {
        Group::Inherit => {}
        Group::New => {
            std_cmd.process_group(0);
        }
        Group::Join(pgid) => {
            std_cmd.process_group(pgid as i32);
        }
    }

    let (child_in, parent_in) = stdin_end(stdin).map_err(|e| io_err("cannot set up stdin", e))?;
    let outs = output_ends(stdout, stderr, line)?;
    std_cmd.stdin(child_in);
    std_cmd.stdout(outs.child_out);
    std_cmd.stderr(outs.child_err);

    // The child would inherit this thread's blocked signals (a program that
    // blocks SIGTERM to `sigwait` for it would spawn children deaf to it).
    if sys::thread_blocks_signals() {
        sys::unblock_signals_in_child(&mut std_cmd);
    }
    let spawned = spawn_retrying_busy(&mut std_cmd);
    // Close our copies of the child's ends now, so that end-of-file reaches
    // readers as soon as the child (and its descendants) are done.
    drop(std_cmd);
    let child = spawned.map_err(|e| spawn_error(cmd, line, &program, e))?;
    let pgid = match group {
        Group::Inherit => None,
        Group::New => Some(child.id()),
        Group::Join(pgid) => Some(pgid),
    };
    Ok(Spawned {
        process: Process::new(child, pgid),
        stdin: parent_in,
        stdout: outs.parent_out,
        stderr: outs.parent_err,
    })
}

/// How often a spawn refused with `ETXTBSY` is tried again, waiting 1, 2,
/// 4 ... ms in between (63 ms in all).
const BUSY_RETRIES: u32 = 6;

/// Spawns, trying again for a moment while the kernel says the program
/// file is busy (`ETXTBSY`: open for writing somewhere).
///
/// Most often that is fleeting and nobody's fault: a build tool writes a
/// script, closes it and runs it, while another thread of the same process
/// spawns a child that got a copy of the script's descriptor and keeps it
/// until its own `exec` a moment later. Go and Cargo's test suites know the
/// race well. A file that stays open for writing still fails, after 63 ms.
fn spawn_retrying_busy(cmd: &mut std::process::Command) -> io::Result<Child> {
    let mut delay = Duration::from_millis(1);
    for _ in 0..BUSY_RETRIES {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            other => return other,
        }
    }
    cmd.spawn()
}

/// Refuses what std would refuse with a vaguer message, before any work.
fn validate(cmd: &Command, line: &Arc<str>) -> Result<()> {
    let invalid = |msg: String| Err(Error::invalid(Some(line.clone()), msg));
    let program = cmd.get_program();
    if program.is_empty() {
        return invalid("the program name is empty".into());
    }
    if has_nul(program) {
        return invalid("the program name contains a NUL byte".into());
    }
    for (i, arg) in cmd.get_args().iter().enumerate() {
        if has_nul(arg) {
            return invalid(format!("argument {} contains a NUL byte", i + 1));
        }
    }
    for (key, value) in cmd.env_changes() {
        let shown = key.to_string_lossy();
        if key.is_empty() || key.as_bytes().contains(&b'=') || has_nul(key) {
            return invalid(format!(
                "environment variable name `{shown}` is empty or contains `=` or NUL"
            ));
        }
        if value.as_deref().is_some_and(has_nul) {
            return invalid(format!(
                "environment variable `{shown}` contains a NUL byte"
            ));
        }
    }
    if cmd.get_cwd().is_some_and(|d| has_nul(d.as_os_str())) {
        return invalid("the working directory contains a NUL byte".into());
    }
    Ok(())
}

fn has_nul(s: &OsStr) -> bool {
    s.as_bytes().contains(&0)
}

/// The PATH the child will search: its own if we change it, else ours.
fn child_path(cmd: &Command) -> Option<OsString> {
    if let Some((_, value)) = cmd.env_changes().iter().find(|(k, _)| k == "PATH") {
        return value.clone();
    }
    if cmd.env_cleared() {
        return None;
    }
    std::env::var_os("PATH")
}

/// std forks instead of using `posix_spawn` when the child's PATH differs
/// from ours and the program is a bare name (it must search the child's
/// PATH). Searching it here keeps the fast path and gives a precise error.
fn resolve_program(cmd: &Command, line: &Arc<str>) -> Result<PathBuf> {
    let program = Path::new(cmd.get_program());
    let path_changed = cmd.env_cleared() || cmd.env_changes().iter().any(|(k, _)| k == "PATH");
    if !path_changed || program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_owned());
    }
    let path = child_path(cmd);
    match search_path(program.as_os_str(), path.as_deref(), cmd.get_cwd()) {
        Some(found) => Ok(found),
        None => Err(Error::program_not_found(
            line.clone(),
            &program.to_string_lossy(),
            &shown_path(path.as_deref()),
        )),
    }
}

fn shown_path(path: Option<&OsStr>) -> String {
    match path {
        Some(p) if !p.is_empty() => p.to_string_lossy().into_owned(),
        _ => "(PATH is not set)".to_owned(),
    }
}

/// Finds `name` in `path` as `execvp` would: the first executable regular
/// file (or, failing that, the first existing file, to report it).
fn search_path(name: &OsStr, path: Option<&OsStr>, cwd: Option<&Path>) -> Option<PathBuf> {
    let path = path?;
    let mut first_existing = None;
    for dir in std::env::split_paths(path) {
        let mut candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        candidate.push(name);
        let checked = match (cwd, candidate.is_relative()) {
            (Some(cwd), true) => cwd.join(&candidate),
            _ => candidate.clone(),
        };
        if let Ok(meta) = checked.metadata() {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Some(candidate);
            }
            first_existing.get_or_insert(candidate);
        }
    }
    first_existing
}

/// Turns a failed spawn into an error that says which thing is wrong.
fn spawn_error(cmd: &Command, line: &Arc<str>, program: &Path, err: io::Error) -> Error {
    let cwd = cmd.get_cwd();
    if let Some(dir) = cwd {
        if !dir.is_dir()
            && matches!(
                err.raw_os_error(),
                Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES)
            )
        {
            return Error::bad_cwd(line.clone(), dir, dir.exists());
        }
    }
    let bare = !program.as_os_str().as_bytes().contains(&b'/');
    let located = if bare {
        search_path(program.as_os_str(), child_path(cmd).as_deref(), cwd)
    } else {
        Some(program.to_owned())
    };
    let on_disk = |p: &Path| match (cwd, p.is_relative()) {
        (Some(cwd), true) => cwd.join(p),
        _ => p.to_owned(),
    };
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => match located {
            Some(found) if on_disk(&found).exists() => {
                Error::path_not_found(line.clone(), &found, true)
            }
            Some(found) => Error::path_not_found(line.clone(), &found, false),
            None => Error::program_not_found(
                line.clone(),
                &program.to_string_lossy(),
                &shown_path(child_path(cmd).as_deref()),
            ),
        },
        Some(libc::EACCES) => {
            Error::permission_denied(line.clone(), &located.unwrap_or_else(|| program.to_owned()))
        }
        Some(libc::ENOEXEC) => {
            Error::exec_format(line.clone(), &located.unwrap_or_else(|| program.to_owned()))
        }
        Some(libc::ETXTBSY) => {
            let shown = located.unwrap_or_else(|| program.to_owned());
            let context = format!(
                "cannot execute {}: the file is open for writing (still after {} tries)",
                shown.display(),
                BUSY_RETRIES + 1
            );
            Error::io(Some(line.clone()), context, err)
        }
        _ => Error::io(Some(line.clone()), "cannot spawn", err),
    }
}

fn stdin_end(io: ChildIo) -> io::Result<(Stdio, Option<os_pipe::PipeWriter>)> {
    Ok(match io {
        ChildIo::Inherit | ChildIo::Merge => (Stdio::inherit(), None),
        ChildIo::Null => (Stdio::null(), None),
        ChildIo::Pipe => {
            let (r, w) = os_pipe::pipe()?;
            (Stdio::from(r), Some(w))
        }
        ChildIo::File(f) => (Stdio::from(f.try_clone()?), None),
        ChildIo::Fd(fd) => (Stdio::from(fd), None),
    })
}

struct OutputEnds {
    child_out: Stdio,
    child_err: Stdio,
    parent_out: Option<os_pipe::PipeReader>,
    parent_err: Option<os_pipe::PipeReader>,
}

/// A resolved output target: `None` for inherit.
type Target = (Option<OwnedFd>, Option<os_pipe::PipeReader>);

fn output_ends(stdout: ChildIo, stderr: ChildIo, line: &Arc<str>) -> Result<OutputEnds> {
    let io_err = |e: io::Error| Error::io(Some(line.clone()), "cannot set up stdout/stderr", e);
    let (out, err) = match (stdout, stderr) {
        (ChildIo::Merge, ChildIo::Merge) => {
            return Err(Error::invalid(
                Some(line.clone()),
                "stdout and stderr cannot both be Redirect::Merge",
            ));
        }
        (ChildIo::Merge, err) => {
            let err = target(err).map_err(io_err)?;
            (dup_target(&err, 2).map_err(io_err)?, err)
        }
        (out, ChildIo::Merge) => {
            let out = target(out).map_err(io_err)?;
            let err = dup_target(&out, 1).map_err(io_err)?;
            (out, err)
        }
        (out, err) => (target(out).map_err(io_err)?, target(err).map_err(io_err)?),
    };
    let stdio = |fd: Option<OwnedFd>| fd.map_or_else(Stdio::inherit, Stdio::from);
    Ok(OutputEnds {
        child_out: stdio(out.0),
        child_err: stdio(err.0),
        parent_out: out.1,
        parent_err: err.1,
    })
}

fn target(io: ChildIo) -> io::Result<Target> {
    Ok(match io {
        ChildIo::Inherit | ChildIo::Merge => (None, None),
        ChildIo::Null => (
            Some(File::options().write(true).open("/dev/null")?.into()),
            None,
        ),
        ChildIo::Pipe => {
            let (r, w) = os_pipe::pipe()?;
            (Some(w.into()), Some(r))
        }
        ChildIo::File(f) => (Some(f.try_clone()?.into()), None),
        ChildIo::Fd(fd) => (Some(fd), None),
    })
}

/// The same target again for the merged stream; `ours` is the descriptor
/// of ours that an inherited target stands for.
fn dup_target(t: &Target, ours: i32) -> io::Result<Target> {
    let fd = match &t.0 {
        Some(fd) => fd.try_clone()?,
        None if ours == 1 => io::stdout().as_fd().try_clone_to_owned()?,
        None => io::stderr().as_fd().try_clone_to_owned()?,
    };
    Ok((Some(fd), None))
}
