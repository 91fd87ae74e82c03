//! # pipe-run: run external programs well
//!
//! A Popen-style command wrapper in the spirit of Python's `subprocess`,
//! built for the build tools, test harnesses and batch jobs that outgrow
//! [`std::process::Command`].
//!
//! ## Quick start
//! ```
//! use std::time::Duration;
//! use pipe_run::{Command, ErrorKind};
//!
//! // Capture stdout; a non-zero exit is an error that carries stderr.
//! let out = Command::new("echo").arg("hello world").check_output()?;
//! assert_eq!(out, b"hello world\n");
//!
//! // Shell-style parsing without a shell: quotes work, `$HOME` stays literal.
//! let out = Command::parse("printf '%s|' 'a b' $HOME")?.check_output()?;
//! assert_eq!(out, b"a b|$HOME|");
//!
//! // Timeouts kill the whole process tree and keep the partial output.
//! let err = Command::shell("echo partial; sleep 10")
//!     .timeout(Duration::from_millis(100))
//!     .run()
//!     .unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Timeout);
//! assert_eq!(err.stdout(), b"partial\n");
//! # Ok::<(), pipe_run::Error>(())
//! ```
//!
//! ## Pipelines and streaming
//! Stages are linked by OS pipes: data flows child to child, never through
//! our process. Every stage's status is kept; the overall one follows
//! `pipefail`, except that an early stage killed by SIGPIPE because a later
//! one stopped reading is not a failure (see [`Pipeline`]).
//! ```
//! use std::io::BufRead;
//! use pipe_run::{Command, Pipeline};
//!
//! let done = Pipeline::parse("printf 'b\na\nb\n' | sort -u")?.run()?;
//! assert_eq!(done.stdout, b"a\nb\n");
//! assert_eq!(done.statuses().len(), 2);
//!
//! // `yes` dies of SIGPIPE when `head` exits: that is success.
//! assert!(Command::new("yes").pipe(Command::new("head").args(["-n", "1"])).run()?.success());
//!
//! // Stream with bounded memory: the child runs only as fast as we read.
//! let lines = Command::new("seq").arg("100000").reader()?.lines().count();
//! assert_eq!(lines, 100_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Deadlocks
//! A child writing to a full pipe blocks until someone reads it. Code that
//! writes all of a child's input before reading its output, or reads stdout
//! to the end before stderr, can wait on the child while the child waits on
//! it. Every pipe pipe-run serves goes through one `poll` loop that writes
//! stdin and reads stdout and stderr as each becomes ready (see
//! [`Popen::communicate`]), so no amount of input or output can deadlock.
//!
//! ## Timeouts
//! A command with a [`timeout`](Command::timeout) runs in a process group of
//! its own; on expiry the group is killed (descendants included), the child
//! is reaped, and an [`ErrorKind::Timeout`] error returns whatever was
//! captured. Waiting sleeps in the kernel (a pidfd on Linux) and wakes once,
//! at the deadline or at the exit.
//!
//! ## Pool
//! A [`Pool`] runs many commands at once, at most `workers` at a time, each
//! with its output captured, like Python's `concurrent.futures` for external
//! programs. A few scheduler threads (one per CPU, at most four) each serve
//! their share of the jobs from one `poll` (no thread per job), refill a
//! slot the moment its job ends, put each job in
//! a process group of its own so that killing a job kills its descendants,
//! and can share `make -jN`'s jobserver.
//!
//! ```
//! use std::time::Duration;
//! use pipe_run::{Command, Pool};
//!
//! let pool = Pool::builder().workers(4).timeout(Duration::from_secs(60)).build()?;
//! // Results in input order, lazily, a bounded number submitted ahead.
//! let outputs: Vec<String> = pool
//!     .map(["a", "b", "c"].map(|w| Command::new("echo").arg(w)))
//!     .map(|r| r.map(|done| done.stdout_text()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(outputs, ["a\n", "b\n", "c\n"]);
//!
//! // Or one job at a time, with a callback.
//! let job = pool.submit(Command::new("false"))?;
//! job.on_done(|job| eprintln!("job {} done", job.id()));
//! assert!(job.result().is_err());
//! drop(pool); // waits for everything submitted
//! # Ok::<(), pipe_run::Error>(())
//! ```
#![deny(missing_docs, missing_debug_implementations)]
#![warn(rust_2018_idioms)]

mod capture;
mod command;
mod communicate;
mod error;
mod execution;
mod inputs;
mod joblog;
mod parse;
mod pipeline;
mod pool;
mod popen;
mod process;
mod reader;
mod reaper;
mod redirect;
mod results;
mod signals;
mod spawn;
mod status;
mod sys;
mod template;

/// The README's examples are compiled and run as doctests, so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use crate::capture::{Keep, OutputLimit};
pub use crate::command::Command;
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::inputs::{Inputs, JobArgs};
pub use crate::joblog::{JobLog, JobLogEntry, Resume};
pub use crate::pipeline::{Pipeline, PipelineHandle};
pub use crate::pool::{
    AsCompleted, Event, Events, FailurePolicy, Job, JobReport, Map, MapUnordered, Pool,
    PoolBuilder, Slot, Summary, Task, TaskSpec, as_completed,
};
pub use crate::popen::Popen;
pub use crate::reader::ReaderHandle;
pub use crate::redirect::Redirect;
pub use crate::results::ResultsDir;
pub use crate::signals::{Interrupts, TermSeq, signal_process};
pub use crate::status::{Completed, describe_status, error_exit_code, shell_exit_code};
pub use crate::template::Template;
