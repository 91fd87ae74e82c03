//! Running the real `pipe-run` binary in the CLI tests: a finished run keeps
//! the command line, exit status, stdout and stderr, and every failed
//! assertion about it prints all four.
//!
//! Each CLI test file pulls this in with `mod cli_support;` next to
//! `mod support;` and `mod common;`.

#![allow(dead_code)]

use std::fmt;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pipe-run"))
}

/// A finished `pipe-run` run.
pub struct Ran {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The exit code, or 128 + N for a death by signal N (a test failure
    /// either way, but readable).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// Fails the test, showing everything, unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Ran {
        assert_eq!(self.code(), code, "wrong exit code{self:?}");
        self
    }

    /// Fails the test unless stderr contains `text`.
    #[track_caller]
    pub fn expect_stderr(&self, text: &str) -> &Ran {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}{self:?}");
        self
    }

    /// stdout split into lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl fmt::Debug for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\ncommand: pipe-run {}\nstatus:  {:?}\nstdout:  {:?}\nstderr:  {:?}",
            shell_words::join(&self.args),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs `pipe-run ARGS` with stdin from /dev/null and waits for it.
pub fn pipe_run<S: AsRef<str>>(args: &[S]) -> Ran {
    pipe_run_in(args, None, "")
}

/// Runs `pipe-run ARGS` with `stdin` as its input.
pub fn pipe_run_input<S: AsRef<str>>(args: &[S], stdin: &str) -> Ran {
    pipe_run_in(args, None, stdin)
}

/// Runs `pipe-run ARGS` in directory `dir` (if given) with `stdin`.
pub fn pipe_run_in<S: AsRef<str>>(args: &[S], dir: Option<&Path>, stdin: &str) -> Ran {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = Command::new(bin());
    cmd.args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect("cannot start pipe-run");
    let mut input = child.stdin.take().expect("stdin is piped");
    let text = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("cannot wait for pipe-run");
    let _ = writer.join();
    Ran {
        args,
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Starts `pipe-run ARGS` in the background, stdout and stderr piped, for
/// tests that signal it while it runs.
pub fn spawn_pipe_run<S: AsRef<str>>(args: &[S]) -> Child {
    Command::new(bin())
        .args(args.iter().map(AsRef::as_ref))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start pipe-run")
}

/// A fixture's path as a string, for building command lines.
pub fn fx(name: &str) -> String {
    crate::support::fixture(name).to_string_lossy().into_owned()
}
