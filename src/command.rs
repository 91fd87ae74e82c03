//! Configuring a command: [`Command`], an owned, cloneable builder, and the
//! Python-style ways to run it.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use crate::capture::Capture;
use crate::error::{Error, Result};
use crate::parse;
use crate::popen::Popen;
use crate::redirect::{Redirect, Slot};
use crate::spawn::{ChildIo, Group};
use crate::status::Completed;

/// A command to run: a program, its arguments, and how to run it.
///
/// Built by value (`Command::new("ls").arg("-l")`), `Clone`, and run by
/// reference, so one `Command` can be run many times. Arguments reach the
/// program verbatim: no shell is involved unless you ask for one with
/// [`Command::shell`].
///
/// | method | stdout / stderr by default | non-zero exit |
/// |---|---|---|
/// | [`call`](Command::call) | inherited | `Ok(status)` |
/// | [`check_call`](Command::check_call) | inherited | error |
/// | [`check_output`](Command::check_output) | captured / inherited | error |
/// | [`run`](Command::run) | captured / captured | `Ok(Completed)` |
/// | [`spawn`](Command::spawn) | inherited | (a running [`Popen`]) |
///
/// ```
/// use pipe_run::Command;
/// let out = Command::new("printf").args(["%s|", "a b", "$HOME", ";"]).check_output()?;
/// assert_eq!(out, b"a b|$HOME|;|");
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a Command does nothing until it is run"]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env_clear: bool,
    /// Changes to the inherited environment, one entry per variable;
    /// `None` removes it.
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Slot>,
    stdout: Option<Slot>,
    stderr: Option<Slot>,
    input: Option<Arc<[u8]>>,
    timeout: Option<Duration>,
    new_process_group: Option<bool>,
    kill_on_drop: bool,
    /// Callbacks and limits for stdout (0) and stderr (1); see `capture.rs`.
    capture: [Capture; 2],
}

impl Command {
    /// A command that runs `program` (searched in PATH unless it contains a
    /// `/`) with no arguments.
    ///
    /// ```
    /// let status = pipe_run::Command::new("true").call()?;
    /// assert!(status.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            cwd: None,
            env_clear: false,
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            input: None,
            timeout: None,
            new_process_group: None,
            kill_on_drop: false,
            capture: Default::default(),
        }
    }

    /// Splits a shell-style line into words (POSIX quoting, no expansion,
    /// no shell) and makes a command of them.
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind};
    /// let cmd = Command::parse("grep -n 'a b' f.txt")?;
    /// assert_eq!(cmd.get_args(), ["-n", "a b", "f.txt"]);
    /// assert_eq!(Command::parse("echo 'oops").unwrap_err().kind(), ErrorKind::Parse);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse), naming the input and
    /// the byte position, for an unbalanced quote, an empty line, or shell
    /// syntax (`|`, `&&`, `;`, redirections, `$(…)`) that needs
    /// [`Command::shell`] or [`Pipeline::parse`](crate::Pipeline::parse).
    pub fn parse(line: &str) -> Result<Command> {
        let mut words = parse::split_command(line)?.into_iter();
        let program = words.next().unwrap_or_default();
        Ok(Command::new(program).args(words))
    }

    /// A shell script run by `/bin/sh -c`, for when you want the shell:
    /// pipes, globs, `$VARS`, redirections.
    ///
    /// ```
    /// let out = pipe_run::Command::shell("echo $((6 * 7)) | tr 4 X").check_output()?;
    /// assert_eq!(out, b"X2\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Platform-specific behavior
    /// On Debian `/bin/sh` is dash, which does not `exec` its last command:
    /// `sh -c 'sleep 9'` keeps `sleep` as a grandchild. Timeouts kill the
    /// whole process group, so they still end it.
    pub fn shell(script: impl AsRef<OsStr>) -> Command {
        Command::new("/bin/sh").arg("-c").arg(script)
    }

    /// Appends one argument, verbatim.
    ///
    /// ```
    /// let out = pipe_run::Command::new("echo").arg("a  b").check_output()?;
    /// assert_eq!(out, b"a  b\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments, verbatim.
    ///
    /// ```
    /// let out = pipe_run::Command::new("echo").args(["a", "b"]).check_output()?;
    /// assert_eq!(out, b"a b\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs the child in directory `dir` (relative program paths are then
    /// relative to it, as with std).
    ///
    /// ```
    /// let out = pipe_run::Command::new("pwd").cwd("/").check_output()?;
    /// assert_eq!(out, b"/\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for the child.
    ///
    /// ```
    /// let out = pipe_run::Command::shell("echo $GREETING").env("GREETING", "hi").check_output()?;
    /// assert_eq!(out, b"hi\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.set_env(key.as_ref(), Some(value.as_ref()));
        self
    }

    /// Sets several environment variables for the child.
    ///
    /// ```
    /// let out = pipe_run::Command::shell("echo $A$B").envs([("A", "1"), ("B", "2")]).check_output()?;
    /// assert_eq!(out, b"12\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn envs<I, K, V>(mut self, vars: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.set_env(k.as_ref(), Some(v.as_ref()));
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    ///
    /// ```
    /// let out = pipe_run::Command::shell("echo ${HOME-unset}").env_remove("HOME").check_output()?;
    /// assert_eq!(out, b"unset\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.set_env(key.as_ref(), None);
        self
    }

    /// Starts the child with an empty environment (plus what
    /// [`env`](Command::env) adds afterwards).
    ///
    /// ```
    /// let out = pipe_run::Command::new("/usr/bin/env").env_clear().env("ONLY", "me").check_output()?;
    /// assert_eq!(out, b"ONLY=me\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn env_clear(mut self) -> Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    fn set_env(&mut self, key: &OsStr, value: Option<&OsStr>) {
        set_env(&mut self.env, key, value);
    }

    /// Connects the child's stdin. [`Redirect::Merge`] is invalid here.
    ///
    /// ```
    /// use pipe_run::{Command, Redirect};
    /// let out = Command::new("cat").stdin(Redirect::Null).check_output()?;
    /// assert!(out.is_empty());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdin(mut self, redirect: Redirect) -> Command {
        self.stdin = Some(redirect.into());
        self
    }

    /// Connects the child's stdout, overriding the running method's default.
    ///
    /// ```
    /// use pipe_run::{Command, Redirect};
    /// let done = Command::new("echo").arg("gone").stdout(Redirect::Null).run()?;
    /// assert!(done.stdout.is_empty());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout(mut self, redirect: Redirect) -> Command {
        self.stdout = Some(redirect.into());
        self
    }

    /// Connects the child's stderr, overriding the running method's default.
    /// [`Redirect::Merge`] sends it wherever stdout goes (`2>&1`).
    ///
    /// ```
    /// use pipe_run::{Command, Redirect};
    /// let err = Command::shell("echo why >&2; exit 1")
    ///     .stderr(Redirect::Pipe)
    ///     .check_output()
    ///     .unwrap_err();
    /// assert_eq!(err.stderr(), b"why\n");
    /// ```
    pub fn stderr(mut self, redirect: Redirect) -> Command {
        self.stderr = Some(redirect.into());
        self
    }

    /// Bytes to write to the child's stdin (which becomes a pipe). They are
    /// written while the output is read, so any size is safe; a child that
    /// exits without reading them is not an error.
    ///
    /// ```
    /// let out = pipe_run::Command::new("sort").input("b\na\n").check_output()?;
    /// assert_eq!(out, b"a\nb\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn input(mut self, bytes: impl AsRef<[u8]>) -> Command {
        self.input = Some(Arc::from(bytes.as_ref()));
        self
    }

    /// A time limit for [`call`](Command::call), [`check_call`](Command::check_call),
    /// [`check_output`](Command::check_output) and [`run`](Command::run),
    /// counted from the spawn. On expiry the command's whole process group
    /// is killed and an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
    /// error returns the output captured so far. Setting a timeout puts the
    /// child in a process group of its own unless
    /// [`new_process_group(false)`](Command::new_process_group) says not to
    /// (then only the child itself is killed). [`spawn`](Command::spawn)
    /// does not apply it: a [`Popen`] has `wait_timeout` and `communicate`
    /// with a timeout instead.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipe_run::{Command, ErrorKind};
    /// let err = Command::shell("echo started; sleep 10")
    ///     .timeout(Duration::from_millis(200))
    ///     .check_output()
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert_eq!(err.stdout(), b"started\n");
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Command {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the child leads a new process group (so signalling the
    /// group reaches all its descendants, and a Ctrl-C at the terminal does
    /// not reach it directly). Default: only when a timeout is set.
    ///
    /// ```
    /// let p = pipe_run::Command::new("true").new_process_group(true).spawn()?;
    /// p.wait()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn new_process_group(mut self, yes: bool) -> Command {
        self.new_process_group = Some(yes);
        self
    }

    /// Whether dropping the [`Popen`] of a still-running child kills it
    /// (its process group, if it has one). Default `false`: dropping only
    /// lets go, and the child is reaped in the background when it exits.
    ///
    /// ```
    /// let p = pipe_run::Command::new("sleep").arg("10").kill_on_drop(true).spawn()?;
    /// drop(p); // sleep is killed (and reaped in the background)
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn kill_on_drop(mut self, yes: bool) -> Command {
        self.kill_on_drop = yes;
        self
    }

    /// The program, as given.
    ///
    /// ```
    /// assert_eq!(pipe_run::Command::new("ls").get_program(), "ls");
    /// ```
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, as given (without the program).
    ///
    /// ```
    /// assert_eq!(pipe_run::Command::new("ls").arg("-l").get_args(), ["-l"]);
    /// ```
    pub fn get_args(&self) -> &[OsString] {
        &self.args
    }

    /// The working directory, if one was set.
    ///
    /// ```
    /// assert_eq!(pipe_run::Command::new("ls").cwd("/tmp").get_cwd(), Some(std::path::Path::new("/tmp")));
    /// ```
    pub fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// The timeout, if one was set.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(pipe_run::Command::new("ls").timeout(Duration::from_secs(1)).get_timeout(), Some(Duration::from_secs(1)));
    /// ```
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The command line, shell-quoted, as errors show it.
    ///
    /// ```
    /// let cmd = pipe_run::Command::new("cc").args(["-c", "my file.c"]);
    /// assert_eq!(cmd.command_line(), "cc -c 'my file.c'");
    /// ```
    pub fn command_line(&self) -> String {
        let words = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|w| w.to_string_lossy());
        parse::render(words)
    }

    pub(crate) fn env_cleared(&self) -> bool {
        self.env_clear
    }

    pub(crate) fn env_changes(&self) -> &[(OsString, Option<OsString>)] {
        &self.env
    }

    pub(crate) fn get_input(&self) -> Option<&Arc<[u8]>> {
        self.input.as_ref()
    }

    pub(crate) fn stdin_slot(&self) -> Option<&Slot> {
        self.stdin.as_ref()
    }

    pub(crate) fn stdout_slot(&self) -> Option<&Slot> {
        self.stdout.as_ref()
    }

    pub(crate) fn stderr_slot(&self) -> Option<&Slot> {
        self.stderr.as_ref()
    }

    pub(crate) fn kills_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    pub(crate) fn captures(&self) -> &[Capture; 2] {
        &self.capture
    }

    pub(crate) fn capture_mut(&mut self, stream: usize) -> &mut Capture {
        &mut self.capture[stream]
    }

    /// This command with a pipeline's working directory and environment
    /// filled in where it sets none of its own (per variable).
    pub(crate) fn with_defaults(
        &self,
        cwd: Option<&Path>,
        env: &[(OsString, Option<OsString>)],
    ) -> std::borrow::Cow<'_, Command> {
        let adds_cwd = self.cwd.is_none() && cwd.is_some();
        let mut missing = env
            .iter()
            .filter(|(k, _)| self.env.iter().all(|(own, _)| own != k));
        if !adds_cwd && missing.clone().next().is_none() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut cmd = self.clone();
        if adds_cwd {
            cmd.cwd = cwd.map(Path::to_owned);
        }
        cmd.env.extend(missing.by_ref().cloned());
        std::borrow::Cow::Owned(cmd)
    }

    /// The process group a run-style method puts the child in.
    pub(crate) fn group(&self, timed: bool) -> Group {
        match self.new_process_group {
            Some(true) => Group::New,
            Some(false) => Group::Inherit,
            None if timed => Group::New,
            None => Group::Inherit,
        }
    }

    /// Runs the command with stdio inherited unless redirected, and returns
    /// its exit status. A non-zero exit is not an error (like Python's
    /// `subprocess.call`).
    ///
    /// ```
    /// let status = pipe_run::Command::new("false").call()?;
    /// assert_eq!(status.code(), Some(1));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures ([`ErrorKind::NotFound`](crate::ErrorKind::NotFound),
    /// [`PermissionDenied`](crate::ErrorKind::PermissionDenied),
    /// [`WorkingDirectory`](crate::ErrorKind::WorkingDirectory), …) and
    /// [`Timeout`](crate::ErrorKind::Timeout).
    pub fn call(&self) -> Result<ExitStatus> {
        self.execute(Slot::Inherit, Slot::Inherit)
            .map(|done| done.status)
    }

    /// Like [`call`](Command::call), but a non-zero exit or a death by
    /// signal is an error.
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind};
    /// Command::new("true").check_call()?;
    /// let err = Command::new("false").check_call().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::CalledProcess);
    /// assert_eq!(err.to_string(), "command `false` exited with code 1");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Command::call), plus
    /// [`ErrorKind::CalledProcess`](crate::ErrorKind::CalledProcess) with the
    /// status (and any output captured through redirects).
    pub fn check_call(&self) -> Result<()> {
        self.execute(Slot::Inherit, Slot::Inherit)?
            .check()
            .map(drop)
    }

    /// Runs the command and returns its stdout. stderr is inherited unless
    /// set to [`Redirect::Pipe`] (then captured into the error) or
    /// [`Redirect::Merge`] (then part of the output).
    ///
    /// ```
    /// let out = pipe_run::Command::new("echo").arg("hello").check_output()?;
    /// assert_eq!(out, b"hello\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`check_call`](Command::check_call); the error carries all the
    /// output captured before the failure.
    pub fn check_output(&self) -> Result<Vec<u8>> {
        self.execute(Slot::Pipe, Slot::Inherit)?
            .check()
            .map(|done| done.stdout)
    }

    /// Runs the command, capturing stdout and stderr unless redirected. A
    /// non-zero exit is not an error; see [`Completed::check`].
    ///
    /// ```
    /// let done = pipe_run::Command::shell("echo out; echo err >&2; exit 4").run()?;
    /// assert_eq!((done.status.code(), &done.stdout[..], &done.stderr[..]), (Some(4), &b"out\n"[..], &b"err\n"[..]));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures and [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub fn run(&self) -> Result<Completed> {
        self.execute(Slot::Pipe, Slot::Pipe)
    }

    /// Starts the command and returns a handle to it, with stdio as
    /// configured (inherited by default; set [`Redirect::Pipe`] to talk to
    /// it). Input given with [`input`](Command::input) is written by the
    /// first [`Popen::communicate`].
    ///
    /// ```
    /// use pipe_run::{Command, Redirect};
    /// let mut p = Command::new("cat").stdin(Redirect::Pipe).stdout(Redirect::Pipe).spawn()?;
    /// let (out, _) = p.communicate(Some(b"ping"), None)?;
    /// assert_eq!(out, b"ping");
    /// assert!(p.wait()?.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures, each naming what is wrong; nothing is left running.
    pub fn spawn(&self) -> Result<Popen> {
        let group = self.group(false);
        self.spawn_with(Slot::Inherit, Slot::Inherit, group)
    }

    /// Spawns with the given defaults for unset outputs.
    pub(crate) fn spawn_with(&self, out: Slot, err: Slot, group: Group) -> Result<Popen> {
        let line: Arc<str> = Arc::from(self.command_line());
        let stdin = self.stdin_io(&line)?;
        let [cap_out, cap_err] = &self.capture;
        cap_out.check_slot(self.stdout.as_ref(), "stdout", &line)?;
        cap_err.check_slot(self.stderr.as_ref(), "stderr", &line)?;
        let out = cap_out.default_slot(out);
        let err = cap_err.default_slot(err);
        let stdout = ChildIo::from(self.stdout.clone().unwrap_or(out));
        let stderr = ChildIo::from(self.stderr.clone().unwrap_or(err));
        Popen::spawn(self, line, stdin, stdout, stderr, group)
    }

    fn stdin_io(&self, line: &Arc<str>) -> Result<ChildIo> {
        match (&self.stdin, &self.input) {
            (Some(Slot::Merge), _) => Err(Error::invalid(
                Some(line.clone()),
                "Redirect::Merge is for stdout or stderr, not stdin",
            )),
            (None, Some(_)) | (Some(Slot::Pipe), _) => Ok(ChildIo::Pipe),
            (Some(_), Some(_)) => Err(Error::invalid(
                Some(line.clone()),
                "input() was given but stdin is redirected elsewhere",
            )),
            (Some(slot), None) => Ok(ChildIo::from(slot.clone())),
            (None, None) => Ok(ChildIo::Inherit),
        }
    }

    /// The engine of the run-style methods: spawn, serve the pipes, wait,
    /// enforce the timeout.
    fn execute(&self, out: Slot, err: Slot) -> Result<Completed> {
        let group = self.group(self.timeout.is_some());
        let mut popen = self.spawn_with(out, err, group)?;
        popen.finish(self.timeout)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Command");
        d.field("line", &self.command_line());
        if let Some(cwd) = &self.cwd {
            d.field("cwd", cwd);
        }
        if self.env_clear || !self.env.is_empty() {
            d.field("env_clear", &self.env_clear)
                .field("env", &self.env);
        }
        for (name, slot) in [
            ("stdin", &self.stdin),
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
        ] {
            if let Some(slot) = slot {
                d.field(name, slot);
            }
        }
        if let Some(input) = &self.input {
            d.field("input_len", &input.len());
        }
        if let Some(t) = self.timeout {
            d.field("timeout", &t);
        }
        d.finish_non_exhaustive()
    }
}

/// Records one change to a child's environment, replacing an earlier change
/// to the same variable (`None` removes it). Shared with `Pipeline`.
pub(crate) fn set_env(
    env: &mut Vec<(OsString, Option<OsString>)>,
    key: &OsStr,
    value: Option<&OsStr>,
) {
    let value = value.map(OsStr::to_owned);
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => env.push((key.to_owned(), value)),
    }
}
