//! The seam between the scheduler and where jobs run: a [`Launcher`] turns
//! a [`TaskSpec`] into a [`Running`] job the scheduler can poll.
//!
//! Only the local launcher exists today. One for other machines would wrap
//! the command (`ssh host -- 'cmd line'`, `srun …`) and start that locally,
//! or hand back any other `Running`: the scheduler only sees the trait.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::execution::Execution;
use crate::redirect::Slot as Redirect;
use crate::spawn::Group;
use crate::status::Completed;
use crate::sys::{self, PollFd};

use super::task::{Kind, TaskSpec};

/// Starts jobs. Called on the scheduler threads, several at once: it must
/// not block longer than a spawn.
pub(crate) trait Launcher: Send + Sync {
    /// Starts one attempt of `task`, in a process group of its own, with
    /// stdout and stderr captured unless the task redirects them.
    fn launch(&self, task: &TaskSpec) -> Result<Running>;
}

/// Runs jobs on this machine: `posix_spawn` through the core engine.
#[derive(Debug, Default)]
pub(crate) struct Local;

impl Launcher for Local {
    fn launch(&self, task: &TaskSpec) -> Result<Running> {
        match &task.kind {
            Kind::Command(cmd) => {
                let popen = cmd.spawn_with(Redirect::Pipe, Redirect::Pipe, Group::New)?;
                Ok(Running::Exec(popen.into_execution()?))
            }
            Kind::Pipeline(pipeline) => Ok(Running::Exec(pipeline.start()?)),
            #[cfg(feature = "duct")]
            Kind::Duct(expr) => Ok(Running::Duct(Box::new(super::duct::DuctRun::start(
                expr,
                task.line().clone(),
            )?))),
        }
    }
}

/// Without a pidfd nothing wakes us when a process exits: look every
/// millisecond at first, then every eighth of its age, at most every 50 ms
/// (a short job is reaped at once, a long one costs 20 wake-ups a second).
pub(crate) fn backoff(started: Instant) -> Duration {
    (started.elapsed() / 8).clamp(Duration::from_millis(1), Duration::from_millis(50))
}

/// A started job as the scheduler drives it.
#[derive(Debug)]
pub(crate) enum Running {
    /// Processes and pipes served by the scheduler's own poll.
    Exec(Execution),
    /// A duct expression: duct's threads serve the pipes, we watch pidfds.
    #[cfg(feature = "duct")]
    Duct(Box<super::duct::DuctRun>),
}

impl Running {
    pub(crate) fn command(&self) -> &Arc<str> {
        match self {
            Running::Exec(e) => e.command(),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.command(),
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Running::Exec(e) => e.processes().first().map(|p| p.pid()),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.pid(),
        }
    }

    pub(crate) fn started(&self) -> Instant {
        match self {
            Running::Exec(e) => e.started(),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.started(),
        }
    }

    pub(crate) fn interest(&self, fds: &mut Vec<PollFd>) {
        match self {
            Running::Exec(e) => e.interest(fds),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.interest(fds),
        }
    }

    /// Serves the ready descriptors among `fds` (this job's own entries).
    pub(crate) fn on_ready(&mut self, fds: &[PollFd]) -> io::Result<()> {
        match self {
            Running::Exec(e) => e.on_ready(fds),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.on_ready(fds),
        }
    }

    /// Whether input is still to be written to the job's stdin.
    pub(crate) fn writing(&self) -> bool {
        match self {
            Running::Exec(e) => e.comm().writing(),
            // duct's own threads write its input.
            #[cfg(feature = "duct")]
            Running::Duct(_) => false,
        }
    }

    /// How soon the scheduler must look again without an event, if it
    /// must: a process without a pidfd (checked less often the longer it
    /// runs), or duct's threads finishing after the processes exited.
    pub(crate) fn tick_after(&self) -> Option<Duration> {
        match self {
            Running::Exec(e) => e
                .processes()
                .iter()
                .any(|p| p.status().is_none() && (!sys::pidfds_supported() || p.pidfd_failed()))
                .then(|| backoff(e.started())),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.tick_after(),
        }
    }

    /// Checks without an event (see [`tick_after`](Self::tick_after)).
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        match self {
            Running::Exec(e) => e.reap_exited().map(drop),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.tick(),
        }
    }

    /// Every pipe done and every process reaped.
    pub(crate) fn is_finished(&self) -> bool {
        match self {
            Running::Exec(e) => e.is_finished(),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.is_finished(),
        }
    }

    /// Every process has exited (pipes may still be open).
    pub(crate) fn all_exited(&self) -> bool {
        match self {
            Running::Exec(e) => e.statuses().is_some(),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.all_exited(),
        }
    }

    /// The result of a finished job (see [`is_finished`](Self::is_finished));
    /// a non-zero exit is not an error yet.
    pub(crate) fn complete(&mut self) -> Result<Completed> {
        match self {
            Running::Exec(e) => Ok(e.complete()),
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.complete(),
        }
    }

    /// SIGKILL to every process group of the job; stops writing input.
    pub(crate) fn kill(&mut self) {
        match self {
            Running::Exec(e) => {
                let _ = e.signal_tree(sys::SIGKILL);
                e.comm_mut().close_input();
            }
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.kill(),
        }
    }

    /// After a kill: the statuses reaped so far and the output collected,
    /// without waiting for the pipes (an escaped descendant may hold them).
    pub(crate) fn abandon(&mut self) -> (Vec<ExitStatus>, Vec<u8>, Vec<u8>) {
        match self {
            Running::Exec(e) => {
                let comm = e.comm_mut();
                comm.drain_available();
                let (out, err) = (comm.take(0), comm.take(1));
                e.set_comm(Default::default());
                let statuses = e.processes().iter().filter_map(|p| p.status()).collect();
                (statuses, out, err)
            }
            #[cfg(feature = "duct")]
            Running::Duct(d) => d.abandon(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::command::Command;
    use crate::pool::Pool;

    /// Stands in for a launcher to another machine: it rewrites each command
    /// the way an ssh launcher would (`ssh host -- cmd`), here `env REMOTE=yes
    /// cmd`, and starts that locally.
    struct Wrapping {
        launched: Arc<AtomicUsize>,
    }

    impl Launcher for Wrapping {
        fn launch(&self, task: &TaskSpec) -> Result<Running> {
            self.launched.fetch_add(1, Ordering::SeqCst);
            let Kind::Command(cmd) = &task.kind else {
                unreachable!("this test submits commands only")
            };
            let wrapped = Command::new("env")
                .arg("REMOTE=yes")
                .arg(cmd.get_program())
                .args(cmd.get_args());
            Local.launch(&TaskSpec::from(wrapped))
        }
    }

    #[test]
    fn a_launcher_decides_how_and_where_jobs_start() {
        let launched = Arc::new(AtomicUsize::new(0));
        let pool = Pool::builder()
            .workers(2)
            .timeout(std::time::Duration::from_secs(30))
            .launcher(Wrapping {
                launched: launched.clone(),
            })
            .build()
            .unwrap();
        let jobs: Vec<_> = (0..3)
            .map(|_| pool.submit(Command::shell("echo $REMOTE")).unwrap())
            .collect();
        for job in &jobs {
            assert_eq!(job.result().unwrap().stdout, b"yes\n");
            assert_eq!(job.command(), "/bin/sh -c 'echo $REMOTE'");
        }
        assert_eq!(launched.load(Ordering::SeqCst), 3);
    }
}
