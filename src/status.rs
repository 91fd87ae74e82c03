//! How a command ended: [`Completed`] and the words for an exit status.

use std::process::ExitStatus;
use std::sync::Arc;

use crate::error::Error;

/// The result of running a command (or pipeline) to completion with
/// [`Command::run`](crate::Command::run): its status and whatever was
/// captured.
///
/// A non-zero exit is not an error here; call [`Completed::check`] to make
/// it one.
///
/// ```
/// use pipe_run::Command;
/// let done = Command::shell("echo out; echo err >&2; exit 3").run()?;
/// assert_eq!(done.status.code(), Some(3));
/// assert_eq!(done.stdout, b"out\n");
/// assert_eq!(done.stderr, b"err\n");
/// assert_eq!(done.check().unwrap_err().status().unwrap().code(), Some(3));
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completed {
    /// The overall status: the command's own, or for a pipeline the
    /// rightmost failing stage's (see [`Completed::statuses`]).
    pub status: ExitStatus,
    /// Captured standard output (empty when it was not captured).
    pub stdout: Vec<u8>,
    /// Captured standard error (empty when it was not captured).
    pub stderr: Vec<u8>,
    statuses: Vec<ExitStatus>,
    command: Arc<str>,
    /// Bytes of stdout and stderr read but not kept (output limits).
    dropped: [u64; 2],
}

impl Completed {
    pub(crate) fn new(
        command: Arc<str>,
        status: ExitStatus,
        statuses: Vec<ExitStatus>,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    ) -> Completed {
        Completed {
            status,
            stdout,
            stderr,
            statuses,
            command,
            dropped: [0; 2],
        }
    }

    /// Records how many bytes of stdout and stderr an output limit dropped.
    pub(crate) fn with_dropped(mut self, stdout: u64, stderr: u64) -> Completed {
        self.dropped = [stdout, stderr];
        self
    }

    /// How many bytes of stdout were read but not kept because of a
    /// [`stdout_limit`](crate::Command::stdout_limit); 0 without one.
    ///
    /// ```
    /// use pipe_run::{Command, OutputLimit};
    /// let done = Command::new("seq").arg("3").stdout_limit(OutputLimit::head(2)).run()?;
    /// assert_eq!((&done.stdout[..], done.stdout_dropped()), (&b"1\n"[..], 4));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout_dropped(&self) -> u64 {
        self.dropped[0]
    }

    /// How many bytes of stderr were read but not kept because of a
    /// [`stderr_limit`](crate::Command::stderr_limit); 0 without one.
    ///
    /// ```
    /// use pipe_run::{Command, OutputLimit};
    /// let done = Command::shell("seq 3 >&2").stderr_limit(OutputLimit::tail(2)).run()?;
    /// assert_eq!((&done.stderr[..], done.stderr_dropped()), (&b"3\n"[..], 4));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stderr_dropped(&self) -> u64 {
        self.dropped[1]
    }

    /// Turns a failed run into an error of kind
    /// [`ErrorKind::CalledProcess`](crate::ErrorKind::CalledProcess) that
    /// carries the command, the status and the captured output.
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind};
    /// let err = Command::shell("echo boom >&2; exit 1").run()?.check().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::CalledProcess);
    /// assert_eq!(err.stderr(), b"boom\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// When the status is not success.
    pub fn check(self) -> Result<Completed, Error> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(Error::called_process(self))
        }
    }

    /// Whether the command succeeded (exit code 0).
    ///
    /// ```
    /// assert!(pipe_run::Command::new("true").run()?.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// One status per stage, left to right; a single command has one.
    ///
    /// ```
    /// let done = pipe_run::Command::new("true").run()?;
    /// assert_eq!(done.statuses().len(), 1);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn statuses(&self) -> &[ExitStatus] {
        &self.statuses
    }

    /// The command line that ran, shell-quoted.
    ///
    /// ```
    /// let done = pipe_run::Command::new("echo").arg("a b").run()?;
    /// assert_eq!(done.command(), "echo 'a b'");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Standard output as text, with invalid UTF-8 replaced.
    ///
    /// ```
    /// let done = pipe_run::Command::new("echo").arg("hi").run()?;
    /// assert_eq!(done.stdout_text(), "hi\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text, with invalid UTF-8 replaced.
    ///
    /// ```
    /// let done = pipe_run::Command::shell("echo oops >&2").run()?;
    /// assert_eq!(done.stderr_text(), "oops\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub(crate) fn command_arc(&self) -> &Arc<str> {
        &self.command
    }
}

/// Describes a status the way a person says it: "exited with code 1",
/// "was killed by signal 9 (SIGKILL)".
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use std::process::ExitStatus;
/// assert_eq!(pipe_run::describe_status(&ExitStatus::from_raw(1 << 8)), "exited with code 1");
/// assert_eq!(pipe_run::describe_status(&ExitStatus::from_raw(9)), "was killed by signal 9 (SIGKILL)");
/// ```
pub fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let core = if status.core_dumped() {
                " (core dumped)"
            } else {
                ""
            };
            return match crate::sys::signal_name(sig) {
                Some(name) => format!("was killed by signal {sig} ({name}){core}"),
                None => format!("was killed by signal {sig}{core}"),
            };
        }
    }
    format!("ended with {status}")
}

/// The exit code a POSIX shell reports for `status`: the code itself, or
/// 128 + N for a process killed by signal N.
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use std::process::ExitStatus;
/// assert_eq!(pipe_run::shell_exit_code(&ExitStatus::from_raw(3 << 8)), 3);
/// assert_eq!(pipe_run::shell_exit_code(&ExitStatus::from_raw(15)), 143);
/// ```
pub fn shell_exit_code(status: &ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    255
}

/// The exit code a shell (or `timeout(1)`) reports for a command that
/// failed with `err`: the status for a failed run (128 + N for signal N),
/// 124 for a timeout, 127 for a program not found, 126 for one that exists
/// but cannot be run (or a bad working directory), 2 for a command line
/// that cannot be parsed, and 255 for anything else (the runner itself
/// failed).
///
/// ```
/// use std::time::Duration;
/// use pipe_run::{Command, error_exit_code};
/// let err = Command::new("no-such-program-xyz").call().unwrap_err();
/// assert_eq!(error_exit_code(&err), 127);
/// let err = Command::new("sleep").arg("5").timeout(Duration::from_millis(10)).call().unwrap_err();
/// assert_eq!(error_exit_code(&err), 124);
/// let err = Command::shell("exit 3").check_call().unwrap_err();
/// assert_eq!(error_exit_code(&err), 3);
/// ```
pub fn error_exit_code(err: &Error) -> i32 {
    use crate::error::ErrorKind;
    match err.kind() {
        ErrorKind::Timeout => 124,
        ErrorKind::NotFound => 127,
        ErrorKind::PermissionDenied | ErrorKind::ExecFormat | ErrorKind::WorkingDirectory => 126,
        ErrorKind::Parse | ErrorKind::InvalidInput => 2,
        _ => err.status().map_or(255, |s| shell_exit_code(&s)),
    }
}

/// The signal that killed the process, if one did.
pub(crate) fn signal_of(status: &ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal()
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

/// The status that speaks for a pipeline, following `pipefail`: the
/// rightmost stage that failed, or the last stage when all succeeded.
///
/// A stage other than the last that died of SIGPIPE is not counted as a
/// failure unless `strict_sigpipe`: it only means a later stage stopped
/// reading early (`yes | head -n 1`), which is how pipelines are meant to
/// end.
pub(crate) fn overall_status(statuses: &[ExitStatus], strict_sigpipe: bool) -> Option<ExitStatus> {
    let last = statuses.len().checked_sub(1)?;
    let failed = |(i, s): &(usize, &ExitStatus)| {
        !s.success() && (strict_sigpipe || *i == last || signal_of(s) != Some(crate::sys::SIGPIPE))
    };
    let rightmost_failure = statuses.iter().enumerate().rev().find(failed);
    Some(*rightmost_failure.map_or(&statuses[last], |(_, s)| s))
}
