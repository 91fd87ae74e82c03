//! What goes wrong: [`Error`] and its [`ErrorKind`].
//!
//! Every error names the command (shell-quoted, rendered once) and carries
//! what a user needs to act: the status, the captured output, the path or
//! directory at fault, the timeout that expired.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use crate::status::{Completed, describe_status};

/// How many trailing lines of output an error's message shows.
const TAIL_LINES: usize = 10;
/// At most this many trailing bytes of output in an error's message.
const TAIL_BYTES: usize = 4096;

/// The category of an [`Error`], for matching.
///
/// ```
/// use pipe_run::{Command, ErrorKind};
/// let err = Command::new("no-such-program-xyz").call().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NotFound);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The program does not exist (or a path to it does not).
    NotFound,
    /// The program exists but we may not execute it.
    PermissionDenied,
    /// The program exists but is not a format the OS can execute (a script
    /// without a `#!` line, a binary for another machine).
    ExecFormat,
    /// The working directory does not exist or is not a directory.
    WorkingDirectory,
    /// The command ran and failed: non-zero exit or killed by a signal.
    CalledProcess,
    /// A deadline expired; the error carries the output collected so far.
    Timeout,
    /// A shell-style command line could not be parsed.
    Parse,
    /// The request itself is invalid (a NUL byte in an argument, an empty
    /// program, conflicting settings), found before anything was spawned.
    InvalidInput,
    /// A pooled job was cancelled: before it ran, or killed while running
    /// because the pool stopped (fail-fast, `Pool::terminate`).
    Cancelled,
    /// Any other I/O failure while spawning or talking to the child.
    Io,
}

/// The error type of pipe-run.
///
/// Its `Display` reads like ``command `cc -c 'my file.c'` exited with code 1``
/// followed by the last lines of the command's stderr.
///
/// ```
/// use pipe_run::{Command, ErrorKind};
/// let err = Command::shell("echo 'bad things' >&2; exit 2").check_call().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::CalledProcess);
/// assert_eq!(err.status().unwrap().code(), Some(2));
/// assert!(err.to_string().starts_with("command `/bin/sh -c 'echo '\\''bad things'\\'' >&2; exit 2'` exited with code 2"));
/// ```
#[derive(thiserror::Error)]
#[error("{}", .inner.render())]
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    what: What,
    command: Option<Arc<str>>,
    status: Option<ExitStatus>,
    statuses: Vec<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    path: Option<PathBuf>,
    timeout: Option<Duration>,
}

/// The sentence after the command: what went wrong.
#[derive(Debug, thiserror::Error)]
enum What {
    #[error("program `{program}` not found (searched PATH: {searched})")]
    ProgramNotFound { program: String, searched: String },
    #[error("`{0}` does not exist")]
    PathNotFound(String),
    #[error("`{0}` exists but its interpreter (the `#!` line) was not found")]
    InterpreterNotFound(String),
    #[error("working directory `{0}` does not exist")]
    NoSuchDirectory(String),
    #[error("working directory `{0}` is not a directory")]
    NotADirectory(String),
    #[error("permission denied executing `{0}`")]
    PermissionDenied(String),
    #[error("cannot execute `{0}`: not a format the OS can run (a script without a `#!` line?)")]
    ExecFormat(String),
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {after:?}{}", if *.killed { "; it was killed" } else { "; it is still running" })]
    Timeout { after: Duration, killed: bool },
    #[error("cannot parse `{input}`: {reason} (at byte {position})")]
    Parse {
        input: String,
        reason: String,
        position: usize,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("was cancelled before it started")]
    Cancelled,
    #[error("was killed while running: {0}")]
    Stopped(String),
    #[error("{unfinished} (of {total}) jobs unfinished after {after:?}")]
    Unfinished {
        unfinished: usize,
        total: usize,
        after: Duration,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Inner {
    fn new(kind: ErrorKind, what: What, command: Option<Arc<str>>) -> Inner {
        Inner {
            kind,
            what,
            command,
            status: None,
            statuses: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            path: None,
            timeout: None,
        }
    }

    fn render(&self) -> String {
        let mut out = match (&self.command, &self.what) {
            (
                Some(cmd),
                What::Failed(_) | What::Timeout { .. } | What::Cancelled | What::Stopped(_),
            ) => {
                format!("command `{cmd}` {}", self.what)
            }
            (Some(cmd), _) => format!("command `{cmd}`: {}", self.what),
            (None, _) => self.what.to_string(),
        };
        if matches!(self.kind, ErrorKind::CalledProcess | ErrorKind::Timeout) {
            let (name, data) = if self.stderr.is_empty() {
                ("stdout", &self.stdout)
            } else {
                ("stderr", &self.stderr)
            };
            if let Some(tail) = tail(data) {
                out.push_str(&format!("\n--- {name} (last lines) ---\n{tail}"));
            }
        }
        out
    }
}

/// The last few lines of `data`, trimmed to a bounded size, or `None` if
/// there is nothing to show.
fn tail(data: &[u8]) -> Option<String> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    if data.is_empty() {
        return None;
    }
    let mut start = data.len().saturating_sub(TAIL_BYTES);
    let mut lines = 0;
    for (i, &b) in data.iter().enumerate().rev() {
        if i < start {
            break;
        }
        if b == b'\n' {
            lines += 1;
            if lines == TAIL_LINES {
                start = i + 1;
                break;
            }
        }
    }
    Some(String::from_utf8_lossy(&data[start..]).into_owned())
}

impl Error {
    fn from_inner(inner: Inner) -> Error {
        Error {
            inner: Box::new(inner),
        }
    }

    pub(crate) fn program_not_found(command: Arc<str>, program: &str, searched: &str) -> Error {
        let what = What::ProgramNotFound {
            program: program.to_owned(),
            searched: searched.to_owned(),
        };
        let mut inner = Inner::new(ErrorKind::NotFound, what, Some(command));
        inner.path = Some(PathBuf::from(program));
        Error::from_inner(inner)
    }

    pub(crate) fn path_not_found(command: Arc<str>, path: &Path, interpreter: bool) -> Error {
        let shown = path.display().to_string();
        let what = if interpreter {
            What::InterpreterNotFound(shown)
        } else {
            What::PathNotFound(shown)
        };
        let mut inner = Inner::new(ErrorKind::NotFound, what, Some(command));
        inner.path = Some(path.to_owned());
        Error::from_inner(inner)
    }

    pub(crate) fn bad_cwd(command: Arc<str>, dir: &Path, exists: bool) -> Error {
        let shown = dir.display().to_string();
        let what = if exists {
            What::NotADirectory(shown)
        } else {
            What::NoSuchDirectory(shown)
        };
        let mut inner = Inner::new(ErrorKind::WorkingDirectory, what, Some(command));
        inner.path = Some(dir.to_owned());
        Error::from_inner(inner)
    }

    pub(crate) fn permission_denied(command: Arc<str>, path: &Path) -> Error {
        let what = What::PermissionDenied(path.display().to_string());
        let mut inner = Inner::new(ErrorKind::PermissionDenied, what, Some(command));
        inner.path = Some(path.to_owned());
        Error::from_inner(inner)
    }

    pub(crate) fn exec_format(command: Arc<str>, path: &Path) -> Error {
        let what = What::ExecFormat(path.display().to_string());
        let mut inner = Inner::new(ErrorKind::ExecFormat, what, Some(command));
        inner.path = Some(path.to_owned());
        Error::from_inner(inner)
    }

    pub(crate) fn called_process(done: Completed) -> Error {
        let mut said = describe_status(&done.status);
        let stages = done.statuses().len();
        // For a pipeline, say which stage speaks for it (pipefail: the
        // rightmost failure, which is the one with the overall status).
        if stages > 1 {
            let mut statuses = done.statuses().iter();
            if let Some(i) = statuses.rposition(|s| *s == done.status && !s.success()) {
                said.push_str(&format!(" (stage {} of {stages})", i + 1));
            }
        }
        let what = What::Failed(said);
        let mut inner = Inner::new(
            ErrorKind::CalledProcess,
            what,
            Some(done.command_arc().clone()),
        );
        inner.status = Some(done.status);
        inner.statuses = done.statuses().to_vec();
        inner.stdout = done.stdout;
        inner.stderr = done.stderr;
        Error::from_inner(inner)
    }

    pub(crate) fn timed_out(
        command: Arc<str>,
        timeout: Duration,
        killed: bool,
        statuses: Vec<ExitStatus>,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    ) -> Error {
        let what = What::Timeout {
            after: timeout,
            killed,
        };
        let mut inner = Inner::new(ErrorKind::Timeout, what, Some(command));
        inner.status = crate::status::overall_status(&statuses, false);
        inner.statuses = statuses;
        inner.stdout = stdout;
        inner.stderr = stderr;
        inner.timeout = Some(timeout);
        Error::from_inner(inner)
    }

    pub(crate) fn parse(input: &str, reason: &str, position: usize) -> Error {
        let what = What::Parse {
            input: input.to_owned(),
            reason: reason.to_owned(),
            position,
        };
        Error::from_inner(Inner::new(ErrorKind::Parse, what, None))
    }

    pub(crate) fn invalid(command: Option<Arc<str>>, message: impl Into<String>) -> Error {
        Error::from_inner(Inner::new(
            ErrorKind::InvalidInput,
            What::Invalid(message.into()),
            command,
        ))
    }

    pub(crate) fn cancelled(command: Arc<str>) -> Error {
        Error::from_inner(Inner::new(
            ErrorKind::Cancelled,
            What::Cancelled,
            Some(command),
        ))
    }

    /// A pooled job killed while it ran (fail-fast, `Pool::terminate`):
    /// kind [`ErrorKind::Cancelled`], with whatever it printed.
    pub(crate) fn stopped(
        command: Arc<str>,
        reason: impl Into<String>,
        statuses: Vec<ExitStatus>,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    ) -> Error {
        let mut inner = Inner::new(
            ErrorKind::Cancelled,
            What::Stopped(reason.into()),
            Some(command),
        );
        inner.status = crate::status::overall_status(&statuses, false);
        inner.statuses = statuses;
        inner.stdout = stdout;
        inner.stderr = stderr;
        Error::from_inner(inner)
    }

    /// Waiting for a set of jobs timed out with some still unfinished.
    pub(crate) fn unfinished(unfinished: usize, total: usize, after: Duration) -> Error {
        let what = What::Unfinished {
            unfinished,
            total,
            after,
        };
        let mut inner = Inner::new(ErrorKind::Timeout, what, None);
        inner.timeout = Some(after);
        Error::from_inner(inner)
    }

    pub(crate) fn io(
        command: Option<Arc<str>>,
        context: impl Into<String>,
        source: io::Error,
    ) -> Error {
        let what = What::Io {
            context: context.into(),
            source,
        };
        Error::from_inner(Inner::new(ErrorKind::Io, what, command))
    }

    /// Adds output collected before an I/O failure, so none is lost.
    pub(crate) fn with_output(mut self, stdout: Vec<u8>, stderr: Vec<u8>) -> Error {
        self.inner.stdout = stdout;
        self.inner.stderr = stderr;
        self
    }

    /// The category of this error.
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind};
    /// assert_eq!(Command::parse("echo 'oops").unwrap_err().kind(), ErrorKind::Parse);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The command line, shell-quoted, when the error concerns a command.
    ///
    /// ```
    /// let err = pipe_run::Command::new("false").check_call().unwrap_err();
    /// assert_eq!(err.command(), Some("false"));
    /// ```
    pub fn command(&self) -> Option<&str> {
        self.inner.command.as_deref()
    }

    /// The exit status, for a command that ran: the failing status of
    /// [`ErrorKind::CalledProcess`], or the status of a command killed at a
    /// [`ErrorKind::Timeout`] once it was reaped.
    ///
    /// ```
    /// let err = pipe_run::Command::new("false").check_call().unwrap_err();
    /// assert_eq!(err.status().unwrap().code(), Some(1));
    /// ```
    pub fn status(&self) -> Option<ExitStatus> {
        self.inner.status
    }

    /// Every stage's status for a pipeline (one entry for a single
    /// command); empty when nothing ran.
    ///
    /// ```
    /// let err = pipe_run::Command::new("false").check_call().unwrap_err();
    /// assert_eq!(err.statuses().len(), 1);
    /// ```
    pub fn statuses(&self) -> &[ExitStatus] {
        &self.inner.statuses
    }

    /// Standard output captured before the failure (all of it; the message
    /// shows only a tail).
    ///
    /// ```
    /// let err = pipe_run::Command::shell("echo partial; exit 1").check_output().unwrap_err();
    /// assert_eq!(err.stdout(), b"partial\n");
    /// ```
    pub fn stdout(&self) -> &[u8] {
        &self.inner.stdout
    }

    /// Standard error captured before the failure.
    ///
    /// ```
    /// let err = pipe_run::Command::shell("echo why >&2; exit 1").run()?.check().unwrap_err();
    /// assert_eq!(err.stderr(), b"why\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stderr(&self) -> &[u8] {
        &self.inner.stderr
    }

    /// Takes the captured stdout and stderr out of the error.
    ///
    /// ```
    /// let err = pipe_run::Command::shell("echo a; echo b >&2; exit 1").run()?.check().unwrap_err();
    /// assert_eq!(err.into_output(), (b"a\n".to_vec(), b"b\n".to_vec()));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn into_output(self) -> (Vec<u8>, Vec<u8>) {
        let inner = *self.inner;
        (inner.stdout, inner.stderr)
    }

    /// The file or directory at fault: the program that was not found or
    /// could not be executed, or the bad working directory.
    ///
    /// ```
    /// let err = pipe_run::Command::new("ls").cwd("/no/such/dir").call().unwrap_err();
    /// assert_eq!(err.path(), Some(std::path::Path::new("/no/such/dir")));
    /// ```
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The timeout that expired, for [`ErrorKind::Timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = pipe_run::Command::new("sleep").arg("5")
    ///     .timeout(Duration::from_millis(50)).call().unwrap_err();
    /// assert_eq!(err.timeout(), Some(Duration::from_millis(50)));
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// The underlying I/O error, for [`ErrorKind::Io`].
    ///
    /// ```
    /// let err = pipe_run::Command::new("false").check_call().unwrap_err();
    /// assert!(err.io_error().is_none());
    /// ```
    pub fn io_error(&self) -> Option<&io::Error> {
        match &self.inner.what {
            What::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Clone for What {
    fn clone(&self) -> What {
        match self {
            What::ProgramNotFound { program, searched } => What::ProgramNotFound {
                program: program.clone(),
                searched: searched.clone(),
            },
            What::PathNotFound(s) => What::PathNotFound(s.clone()),
            What::InterpreterNotFound(s) => What::InterpreterNotFound(s.clone()),
            What::NoSuchDirectory(s) => What::NoSuchDirectory(s.clone()),
            What::NotADirectory(s) => What::NotADirectory(s.clone()),
            What::PermissionDenied(s) => What::PermissionDenied(s.clone()),
            What::ExecFormat(s) => What::ExecFormat(s.clone()),
            What::Failed(s) => What::Failed(s.clone()),
            What::Timeout { after, killed } => What::Timeout {
                after: *after,
                killed: *killed,
            },
            What::Parse {
                input,
                reason,
                position,
            } => What::Parse {
                input: input.clone(),
                reason: reason.clone(),
                position: *position,
            },
            What::Invalid(s) => What::Invalid(s.clone()),
            What::Cancelled => What::Cancelled,
            What::Stopped(s) => What::Stopped(s.clone()),
            What::Unfinished {
                unfinished,
                total,
                after,
            } => What::Unfinished {
                unfinished: *unfinished,
                total: *total,
                after: *after,
            },
            // io::Error is not Clone: keep its kind, OS code and message.
            What::Io { context, source } => What::Io {
                context: context.clone(),
                source: match source.raw_os_error() {
                    Some(code) => io::Error::from_raw_os_error(code),
                    None => io::Error::new(source.kind(), source.to_string()),
                },
            },
        }
    }
}

impl Clone for Error {
    /// A copy with the same kind, message, status and output. An underlying
    /// [`io::Error`] is rebuilt from its OS code (or kind and message), as
    /// `io::Error` itself is not `Clone`. The pool hands each waiter on a
    /// [`Job`](crate::Job) its own copy.
    ///
    /// ```
    /// let err = pipe_run::Command::new("false").check_call().unwrap_err();
    /// let copy = err.clone();
    /// assert_eq!(copy.to_string(), err.to_string());
    /// assert_eq!(copy.kind(), err.kind());
    /// ```
    fn clone(&self) -> Error {
        let i = &self.inner;
        Error::from_inner(Inner {
            kind: i.kind,
            what: i.what.clone(),
            command: i.command.clone(),
            status: i.status,
            statuses: i.statuses.clone(),
            stdout: i.stdout.clone(),
            stderr: i.stderr.clone(),
            path: i.path.clone(),
            timeout: i.timeout,
        })
    }
}

impl fmt::Debug for Error {
    /// Debug shows the same sentence as Display plus the kind, so a failed
    /// `unwrap()` in a test prints the command and its stderr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}): {}", self.inner.kind, self.inner.render())
    }
}

impl From<Error> for io::Error {
    /// Maps the error onto the nearest [`io::ErrorKind`], keeping the message.
    fn from(err: Error) -> io::Error {
        let kind = match err.kind() {
            ErrorKind::NotFound | ErrorKind::WorkingDirectory => io::ErrorKind::NotFound,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::Timeout => io::ErrorKind::TimedOut,
            ErrorKind::Parse | ErrorKind::InvalidInput => io::ErrorKind::InvalidInput,
            ErrorKind::Io => match err.io_error() {
                Some(e) => e.kind(),
                None => io::ErrorKind::Other,
            },
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// A `Result` whose error is pipe-run's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_keeps_the_last_ten_lines() {
        let text: String = (1..=15).map(|i| format!("line {i}\n")).collect();
        let t = tail(text.as_bytes()).unwrap();
        assert!(t.starts_with("line 6\n"), "{t}");
        assert!(t.ends_with("line 15"), "{t}");
    }

    #[test]
    fn tail_is_bounded_in_bytes() {
        let text = vec![b'x'; 100_000];
        assert_eq!(tail(&text).unwrap().len(), 4096);
    }

    #[test]
    fn tail_of_nothing_is_none() {
        assert!(tail(b"").is_none());
        assert!(tail(b"\n").is_none());
    }
}
