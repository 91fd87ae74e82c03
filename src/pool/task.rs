//! What a pool can run: the [`Task`] trait and the [`TaskSpec`] every task
//! becomes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::command::Command;
use crate::pipeline::Pipeline;
use crate::redirect::Redirect;

/// Something a [`Pool`](crate::Pool) can run: a [`Command`], a
/// [`Pipeline`], a `duct::Expression` (with the `duct` feature, on by default), a
/// [`TaskSpec`], or your own type that turns into one of those.
///
/// ```
/// use pipe_run::{Command, Pool, Task, TaskSpec};
///
/// /// A compile step of a build tool.
/// struct Compile { source: String }
///
/// impl Task for Compile {
///     fn into_spec(self) -> TaskSpec {
///         Command::new("echo").args(["cc", "-c", &self.source]).into()
///     }
/// }
///
/// let pool = Pool::new(2)?;
/// let job = pool.submit(Compile { source: "main.c".into() })?;
/// assert_eq!(job.result()?.stdout, b"cc -c main.c\n");
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub trait Task {
    /// What to run, as the pool's launcher takes it.
    fn into_spec(self) -> TaskSpec;
}

/// A task as the pool stores and starts it: what to run and its command
/// line (rendered once, for events, errors and the summary).
///
/// A [`Command`] runs as with [`Command::run`]: stdout and stderr are
/// captured unless the command redirects them. Unlike `run`, stdin is
/// `/dev/null` unless the command sets it or gives
/// [`input`](Command::input) (a thousand jobs must not fight over the
/// terminal; `xargs` does the same), and every job leads a process group of
/// its own, so that killing a job kills its descendants.
///
/// ```
/// use pipe_run::{Command, TaskSpec};
/// let spec = TaskSpec::from(Command::new("make").arg("all"));
/// assert_eq!(spec.command_line(), "make all");
/// ```
#[derive(Clone)]
pub struct TaskSpec {
    pub(crate) kind: Kind,
    line: Arc<str>,
}

/// The kinds of work a launcher knows how to start.
#[derive(Clone)]
pub(crate) enum Kind {
    Command(Command),
    Pipeline(Pipeline),
    #[cfg(feature = "duct")]
    Duct(duct::Expression),
}

impl TaskSpec {
    /// The command line, shell-quoted, as events and errors show it.
    ///
    /// ```
    /// let spec = pipe_run::TaskSpec::from(pipe_run::Command::new("echo").arg("a b"));
    /// assert_eq!(spec.command_line(), "echo 'a b'");
    /// ```
    pub fn command_line(&self) -> &str {
        &self.line
    }

    pub(crate) fn line(&self) -> &Arc<str> {
        &self.line
    }

    /// The task's own timeout, which overrides the pool's.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Command(cmd) => cmd.get_timeout(),
            Kind::Pipeline(p) => p.get_timeout(),
            #[cfg(feature = "duct")]
            Kind::Duct(_) => None,
        }
    }
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("command", &self.line)
            .finish_non_exhaustive()
    }
}

impl From<Command> for TaskSpec {
    /// ```
    /// let spec: pipe_run::TaskSpec = pipe_run::Command::new("true").into();
    /// assert_eq!(spec.command_line(), "true");
    /// ```
    fn from(cmd: Command) -> TaskSpec {
        let cmd = if cmd.stdin_slot().is_none() && cmd.get_input().is_none() {
            cmd.stdin(Redirect::Null)
        } else {
            cmd
        };
        TaskSpec {
            line: Arc::from(cmd.command_line()),
            kind: Kind::Command(cmd),
        }
    }
}

impl Task for TaskSpec {
    fn into_spec(self) -> TaskSpec {
        self
    }
}

impl Task for Command {
    fn into_spec(self) -> TaskSpec {
        self.into()
    }
}

impl Task for &Command {
    fn into_spec(self) -> TaskSpec {
        self.clone().into()
    }
}

impl From<Pipeline> for TaskSpec {
    /// A pipeline runs as with [`Pipeline::run`], with the pool's stdin
    /// default (`/dev/null`) and all stages in one process group of their
    /// own.
    ///
    /// ```
    /// let spec = pipe_run::TaskSpec::from(pipe_run::Pipeline::parse("echo hi | tr a-z A-Z")?);
    /// assert_eq!(spec.command_line(), "echo hi | tr a-z A-Z");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    fn from(pipeline: Pipeline) -> TaskSpec {
        let pipeline = if pipeline.stdin_configured() {
            pipeline
        } else {
            pipeline.stdin(Redirect::Null)
        };
        TaskSpec {
            line: Arc::from(pipeline.command_line()),
            kind: Kind::Pipeline(pipeline),
        }
    }
}

impl Task for Pipeline {
    fn into_spec(self) -> TaskSpec {
        self.into()
    }
}

impl Task for &Pipeline {
    fn into_spec(self) -> TaskSpec {
        self.clone().into()
    }
}

#[cfg(feature = "duct")]
impl From<duct::Expression> for TaskSpec {
    /// A duct expression runs with stdout and stderr captured and stdin
    /// from `/dev/null`, unless it redirects them itself (duct's inner
    /// redirections win), and is not `checked`: a non-zero exit becomes the
    /// job's [`CalledProcess`](crate::ErrorKind::CalledProcess) error.
    ///
    /// ```
    /// let spec = pipe_run::TaskSpec::from(duct::cmd!("echo", "hi"));
    /// assert!(spec.command_line().contains("echo"));
    /// ```
    fn from(expr: duct::Expression) -> TaskSpec {
        TaskSpec {
            line: Arc::from(format!("{expr:?}")),
            kind: Kind::Duct(expr),
        }
    }
}

#[cfg(feature = "duct")]
impl Task for duct::Expression {
    fn into_spec(self) -> TaskSpec {
        self.into()
    }
}

#[cfg(feature = "duct")]
impl Task for &duct::Expression {
    fn into_spec(self) -> TaskSpec {
        self.clone().into()
    }
}
