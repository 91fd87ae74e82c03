//! Many commands at once: [`Pool`], a process pool of external commands in
//! the spirit of Python's `concurrent.futures`, built for build tools.
//!
//! # Design
//! A scheduler thread serves its jobs from one `poll`: the pidfds and
//! output pipes of all its running jobs, a doorbell (wake pipe) for
//! submissions and cancellations, and the earliest job deadline as its
//! timeout (`scheduler.rs`). No thread per job, no thread per pipe: one
//! such thread runs 1,000 children. A pool has one per CPU (at most four,
//! never more than its workers; see [`PoolBuilder::scheduler_threads`]),
//! each taking its share of the workers from a shared queue, because one
//! thread alone spawns one child at a time.
//!
//! - Capacity is a set of RAII slots (`slot.rs`): a running job holds one;
//!   when it ends the scheduler moves the slot straight to the next pending
//!   job and spawns it in the same loop iteration.
//! - Each job runs in a process group of its own, so a timeout, a fail-fast
//!   stop or [`Pool::terminate`] kills its descendants too.
//! - Starting a job goes through one seam, a launcher (`launcher.rs`):
//!   local `posix_spawn` today; ssh or Slurm launchers would plug in there.
//! - Under GNU make or cargo, [`PoolBuilder::jobserver`] makes every job
//!   beyond the first take a jobserver token (`jobserver.rs`).
//! - Output is captured per job by the core engine's `Communicator`, whose
//!   pipes start at 64 KiB and grow to 1 MiB only for jobs that fill them,
//!   so thousands of quiet jobs stay within the per-user pipe budget.

#[cfg(feature = "duct")]
mod duct;
mod events;
mod job;
mod jobserver;
mod launcher;
mod map;
mod scheduler;
mod slot;
mod task;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crate::error::{Error, Result};

pub use events::{Event, Events, JobReport, Summary};
pub use job::Job;
pub use map::{AsCompleted, Map, MapUnordered, as_completed};
pub use slot::Slot;
pub use task::{Task, TaskSpec};

use events::Hub;
use launcher::{Launcher, Local};
use scheduler::{Config, Doorbells, Shared};
use slot::Slots;

/// What a pool does when a job fails (after its retries).
///
/// ```
/// use pipe_run::{Command, ErrorKind, FailurePolicy, Pool};
/// let pool = Pool::builder()
///     .workers(1)
///     .failure_policy(FailurePolicy::FailFast { kill_running: true })
///     .build()?;
/// let bad = pool.submit(Command::new("false"))?;
/// let later = pool.submit(Command::new("echo").arg("skipped"))?;
/// assert_eq!(bad.result().unwrap_err().kind(), ErrorKind::CalledProcess);
/// assert_eq!(later.result().unwrap_err().kind(), ErrorKind::Cancelled);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Run every job whatever happens to the others (`make -k`). The
    /// default.
    #[default]
    KeepGoing,
    /// At the first failure, cancel every pending job (and every job
    /// submitted later); with `kill_running`, also kill the running ones
    /// (their results: [`Cancelled`](crate::ErrorKind::Cancelled)), else
    /// let them finish (`make` without `-k`).
    FailFast {
        /// Kill the jobs that are running at the first failure.
        kill_running: bool,
    },
}

/// Builds a [`Pool`] with settings other than the defaults.
///
/// ```
/// use std::time::Duration;
/// use pipe_run::Pool;
/// let pool = Pool::builder()
///     .workers(8)
///     .timeout(Duration::from_secs(60))
///     .retries(2)
///     .fail_fast(false)
///     .jobserver(true)
///     .build()?;
/// assert_eq!(pool.workers(), 8);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[must_use = "a PoolBuilder does nothing until `build` is called"]
pub struct PoolBuilder {
    workers: Option<usize>,
    timeout: Option<Duration>,
    retries: u32,
    policy: FailurePolicy,
    jobserver: bool,
    scheduler_threads: Option<usize>,
    launcher: Option<Arc<dyn Launcher>>,
}

impl PoolBuilder {
    /// How many jobs may run at once. Default: the machine's available
    /// parallelism.
    ///
    /// ```
    /// assert_eq!(pipe_run::Pool::builder().workers(3).build()?.workers(), 3);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// A time limit for each job (each attempt), counted from its spawn;
    /// a command's own [`timeout`](crate::Command::timeout) overrides it.
    /// On expiry the job's process group is killed and the job fails with
    /// an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error carrying
    /// its partial output.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipe_run::{Command, ErrorKind, Pool};
    /// let pool = Pool::builder().timeout(Duration::from_millis(100)).build()?;
    /// let job = pool.submit(Command::shell("echo partial; sleep 10"))?;
    /// let err = job.result().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert_eq!(err.stdout(), b"partial\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs a job that fails (non-zero exit, killed by a signal, timed
    /// out) again, up to `retries` more times, straight away in the same
    /// slot. A job that cannot be spawned is not retried. Each retry is an
    /// [`Event::Retried`]; the result is the last attempt's.
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let dir = std::env::temp_dir().join(format!("pipe-run-doc-retries-{}", std::process::id()));
    /// let _ = std::fs::remove_file(&dir);
    /// // Fails the first time (creates the file), succeeds the second.
    /// let flaky = Command::shell("test -e \"$1\" || { touch \"$1\"; exit 1; }").arg("sh").arg(&dir);
    /// let pool = Pool::builder().retries(1).build()?;
    /// assert!(pool.submit(flaky)?.result().is_ok());
    /// # std::fs::remove_file(&dir).ok();
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// What to do when a job fails; see [`FailurePolicy`]. Default:
    /// [`FailurePolicy::KeepGoing`].
    ///
    /// ```
    /// use pipe_run::{FailurePolicy, Pool};
    /// let pool = Pool::builder().failure_policy(FailurePolicy::KeepGoing).build()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Shorthand for [`FailurePolicy::FailFast`]: at the first failure,
    /// cancel the pending jobs, and with `kill_running` kill the running
    /// ones.
    ///
    /// ```
    /// let pool = pipe_run::Pool::builder().fail_fast(true).build()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn fail_fast(self, kill_running: bool) -> Self {
        self.failure_policy(FailurePolicy::FailFast { kill_running })
    }

    /// Whether to honour a GNU make or cargo jobserver found in the
    /// environment (`CARGO_MAKEFLAGS`, `MAKEFLAGS`, `MFLAGS`): every job
    /// beyond the first then needs a token, so `make -j4` bounds the whole
    /// build. Without a jobserver in the environment this changes nothing.
    /// Default: off.
    ///
    /// ```
    /// let pool = pipe_run::Pool::builder().workers(16).jobserver(true).build()?;
    /// if pool.uses_jobserver() {
    ///     println!("running under make: at most `-j` jobs in the whole build");
    /// }
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Platform-specific behavior
    /// GNU make up to 4.3 and cargo pass the jobserver as two inherited
    /// descriptors, and only to recipes it considers recursive: prefix the
    /// recipe line with `+` (or let it mention `$(MAKE)`). Reading tokens
    /// takes one helper thread, which installs a no-op SIGUSR1 handler to
    /// stop cleanly.
    pub fn jobserver(mut self, yes: bool) -> Self {
        self.jobserver = yes;
        self
    }

    /// Starts jobs through `launcher` instead of spawning them locally.
    #[cfg(test)]
    pub(crate) fn launcher(mut self, launcher: impl Launcher + 'static) -> Self {
        self.launcher = Some(Arc::new(launcher));
        self
    }

    /// How many scheduler threads serve the pool's jobs (default: one per
    /// CPU, at most four, and never more than the workers).
    ///
    /// Each thread waits for every job it runs in one `poll`, so a single
    /// thread can run thousands of jobs; but it starts them one at a time,
    /// since the parent waits inside `posix_spawn` until the child has
    /// started the new program. For short jobs that wait is a large part of
    /// their life, and a second thread nearly halves the pool's overhead
    /// (see `benches/README.md`). Workers are split evenly between the
    /// threads; each refills its own slots the moment a job ends. One
    /// thread keeps every callback and event on the same thread.
    ///
    /// ```
    /// let pool = pipe_run::Pool::builder().workers(8).scheduler_threads(1).build()?;
    /// assert_eq!(pool.scheduler_threads(), 1);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// `0` makes [`build`](PoolBuilder::build) fail with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    pub fn scheduler_threads(mut self, threads: usize) -> Self {
        self.scheduler_threads = Some(threads);
        self
    }

    /// Starts the pool's scheduler threads.
    ///
    /// ```
    /// let pool = pipe_run::Pool::builder().workers(2).build()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for zero
    /// workers or zero scheduler threads; [`ErrorKind::Io`](crate::ErrorKind::Io)
    /// if a wake-up pipe or a thread cannot be created.
    pub fn build(self) -> Result<Pool> {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let workers = self.workers.unwrap_or(cpus);
        if workers == 0 {
            return Err(Error::invalid(
                None,
                "a pool needs at least one worker (workers = 0)",
            ));
        }
        if self.scheduler_threads == Some(0) {
            return Err(Error::invalid(
                None,
                "a pool needs at least one scheduler thread (scheduler_threads = 0)",
            ));
        }
        let threads = self
            .scheduler_threads
            .unwrap_or(cpus.min(MAX_DEFAULT_SCHEDULERS))
            .min(workers);
        let io_err = |what: &str, e| Error::io(None, format!("cannot start the pool: {what}"), e);
        let doorbell = Arc::new(Doorbells::new(threads).map_err(|e| io_err("wake-up pipe", e))?);
        let client = if self.jobserver {
            jobserver::from_env()
        } else {
            None
        };
        let mut slots = Slots::new(workers, client.clone(), doorbell.clone());
        let helper = match client {
            None => None,
            Some(client) => match jobserver::start_helper(client, slots.clone()) {
                Ok(helper) => Some(helper),
                Err(e) => {
                    eprintln!("pipe-run: not using the jobserver: cannot start its helper: {e}");
                    slots = Slots::new(workers, None, doorbell.clone());
                    None
                }
            },
        };
        let uses_jobserver = helper.is_some();
        let config = Config {
            timeout: self.timeout,
            retries: self.retries,
            policy: self.policy,
        };
        let hub = Arc::new(Hub::default());
        let shared = Arc::new(Shared::new(config, slots, doorbell, hub, helper));
        let launcher = self.launcher.unwrap_or_else(|| Arc::new(Local));
        let handles =
            scheduler::spawn(&shared, launcher).map_err(|e| io_err("scheduler thread", e))?;
        Ok(Pool {
            schedulers: handles.iter().map(|h| h.thread().id()).collect(),
            threads: Mutex::new(handles),
            shared,
            uses_jobserver,
        })
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("workers", &self.workers)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("policy", &self.policy)
            .field("jobserver", &self.jobserver)
            .field("scheduler_threads", &self.scheduler_threads)
            .finish_non_exhaustive()
    }
}

/// The default number of scheduler threads is one per CPU, up to this.
const MAX_DEFAULT_SCHEDULERS: usize = 4;

/// A pool of external commands: at most `workers` run at once, each with
/// its output captured, served by a few scheduler threads (see
/// [`PoolBuilder::scheduler_threads`]).
///
/// Submit [`Task`]s ([`Command`](crate::Command)s, `duct` expressions, your
/// own types) and get [`Job`]s back; or [`map`](Pool::map) an iterator of
/// tasks to their results.
///
/// ```
/// use pipe_run::{Command, Pool};
/// let pool = Pool::new(4)?;
/// let jobs: Vec<_> = (1..=3)
///     .map(|i| pool.submit(Command::new("echo").arg(i.to_string())))
///     .collect::<Result<_, _>>()?;
/// for (i, job) in jobs.iter().enumerate() {
///     assert_eq!(job.result()?.stdout, format!("{}\n", i + 1).as_bytes());
/// }
/// # Ok::<(), pipe_run::Error>(())
/// ```
///
/// # Drop
/// Dropping the pool waits for every submitted job to finish, like leaving
/// a Python `with ThreadPoolExecutor()` block ([`shutdown(true,
/// false)`](Pool::shutdown)). Call [`terminate`](Pool::terminate) first to
/// kill instead, or [`shutdown(false, true)`](Pool::shutdown) to drop the
/// pending ones.
pub struct Pool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    schedulers: Vec<ThreadId>,
    uses_jobserver: bool,
}

impl Pool {
    /// A pool running at most `workers` jobs at once, with the default
    /// settings (see [`Pool::builder`] for the others).
    ///
    /// ```
    /// use pipe_run::{ErrorKind, Pool};
    /// let pool = Pool::new(2)?;
    /// assert_eq!(Pool::new(0).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for zero
    /// workers; [`ErrorKind::Io`](crate::ErrorKind::Io) if the scheduler
    /// cannot start.
    pub fn new(workers: usize) -> Result<Pool> {
        Pool::builder().workers(workers).build()
    }

    /// A builder for a pool with a timeout, retries, a failure policy or a
    /// jobserver.
    ///
    /// ```
    /// let pool = pipe_run::Pool::builder().workers(2).retries(1).build()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            workers: None,
            timeout: None,
            retries: 0,
            policy: FailurePolicy::default(),
            jobserver: false,
            scheduler_threads: None,
            launcher: None,
        }
    }

    /// How many jobs may run at once.
    ///
    /// ```
    /// assert_eq!(pipe_run::Pool::new(3)?.workers(), 3);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.slots.workers()
    }

    /// How many scheduler threads serve the pool (see
    /// [`PoolBuilder::scheduler_threads`]).
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// assert_eq!(pool.scheduler_threads(), 1); // never more than the workers
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn scheduler_threads(&self) -> usize {
        self.schedulers.len()
    }

    /// Whether the pool takes tokens from a make or cargo jobserver.
    ///
    /// ```
    /// assert!(!pipe_run::Pool::new(1)?.uses_jobserver());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn uses_jobserver(&self) -> bool {
        self.uses_jobserver
    }

    /// Queues `task` and returns its [`Job`] at once; the job starts as soon
    /// as a slot is free (in submission order). After a fail-fast stop the
    /// job comes back already cancelled.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(2)?;
    /// let job = pool.submit(pipe_run::Command::new("echo").arg("hi"))?;
    /// assert_eq!(job.result()?.stdout_text(), "hi\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) after
    /// [`shutdown`](Pool::shutdown) or [`terminate`](Pool::terminate):
    /// "cannot submit: the pool was shut down".
    pub fn submit(&self, task: impl Task) -> Result<Job> {
        self.shared.submit(task.into_spec())
    }

    /// Runs every task and yields the results in input order, lazily, with
    /// a bounded number submitted ahead (see [`Map`]).
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(4)?;
    /// let lens: Vec<usize> = pool
    ///     .map((1..=3).map(|n| Command::new("head").arg("-c").arg(n.to_string()).arg("/dev/zero")))
    ///     .map(|r| r.map(|done| done.stdout.len()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(lens, [1, 2, 3]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn map<I>(&self, tasks: I) -> Map<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Task,
    {
        Map::new(self, tasks.into_iter())
    }

    /// Runs every task and yields `(input index, result)` in completion
    /// order, lazily, with a bounded number submitted ahead (see
    /// [`MapUnordered`]).
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(4)?;
    /// let mut indices: Vec<usize> = pool
    ///     .map_unordered((0..4).map(|_| Command::new("true")))
    ///     .map(|(i, r)| { r.unwrap(); i })
    ///     .collect();
    /// indices.sort();
    /// assert_eq!(indices, [0, 1, 2, 3]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn map_unordered<I>(&self, tasks: I) -> MapUnordered<'_, I::IntoIter>
    where
        I: IntoIterator,
        I::Item: Task,
    {
        MapUnordered::new(self, tasks.into_iter())
    }

    /// Subscribes to the pool's [`Event`]s from now on: started, finished,
    /// retried, cancelled. The stream ends after the pool shuts down.
    ///
    /// ```
    /// use pipe_run::{Command, Event, Pool};
    /// let pool = Pool::new(1)?;
    /// let events = pool.events();
    /// pool.submit(Command::new("false"))?;
    /// drop(pool); // waits, then ends the stream
    /// let log: Vec<String> = events
    ///     .filter_map(|e| match e {
    ///         Event::Finished { command, status, .. } => {
    ///             Some(format!("{command}: {:?}", status.and_then(|s| s.code())))
    ///         }
    ///         _ => None,
    ///     })
    ///     .collect();
    /// assert_eq!(log, ["false: Some(1)"]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn events(&self) -> Events {
        self.shared.hub.subscribe()
    }

    /// How the jobs ended so far; see [`Summary`].
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// pool.submit(pipe_run::Command::new("true"))?.wait();
    /// assert_eq!(pool.summary().succeeded, 1);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn summary(&self) -> Summary {
        self.shared.hub.summary()
    }

    /// Takes one of the pool's slots for work of your own (a command you
    /// run yourself, in-process work), waiting until one is free; the pool
    /// runs one job fewer until the [`Slot`] is dropped. Under a jobserver
    /// the slot holds a token too.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let slot = pool.acquire_slot();
    /// assert!(pool.try_acquire_slot().is_none());
    /// drop(slot);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Panics
    /// Never, but waiting here for a slot while holding all of them (or
    /// from an [`on_done`](Job::on_done) callback) waits forever.
    pub fn acquire_slot(&self) -> Slot {
        self.shared.slots.acquire()
    }

    /// Takes a free slot if there is one; never blocks. See
    /// [`acquire_slot`](Pool::acquire_slot).
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// assert!(pool.try_acquire_slot().is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn try_acquire_slot(&self) -> Option<Slot> {
        self.shared.slots.try_acquire(true)
    }

    /// Stops accepting jobs. With `cancel_pending`, every job not yet
    /// started is cancelled now (its callbacks run on this thread); running
    /// jobs always finish. With `wait`, blocks until they have; without,
    /// returns at once (dropping the pool later still waits).
    ///
    /// Called from an [`on_done`](Job::on_done) callback, it never waits
    /// (the callback runs on the thread it would wait for).
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind, Pool};
    /// let pool = Pool::new(1)?;
    /// let running = pool.submit(Command::new("sleep").arg("0.1"))?;
    /// let pending = pool.submit(Command::new("true"))?;
    /// pool.shutdown(true, true);
    /// assert!(running.done());
    /// assert_eq!(pending.result().unwrap_err().kind(), ErrorKind::Cancelled);
    /// assert_eq!(pool.submit(Command::new("true")).unwrap_err().kind(), ErrorKind::InvalidInput);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_pending: bool) {
        self.shared.close(cancel_pending, false);
        if wait {
            self.join();
        }
    }

    /// Stops at once: cancels every pending job, kills the process group
    /// of every running job (SIGKILL), reaps them, and returns when the
    /// scheduler has stopped — promptly: a corpse that takes longer than
    /// 250 ms is left to a background reaper. Killed jobs fail with an
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled) error that
    /// carries their output so far.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use pipe_run::{Command, ErrorKind, Pool};
    /// let pool = Pool::new(2)?;
    /// let job = pool.submit(Command::shell("sleep 30"))?;
    /// let t0 = Instant::now();
    /// pool.terminate();
    /// assert!(t0.elapsed() < Duration::from_secs(5));
    /// assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn terminate(&self) {
        self.shared.close(true, true);
        self.join();
    }

    /// Waits for the scheduler threads to stop (unless called on one, from
    /// a callback: it would wait for itself).
    fn join(&self) {
        if self.schedulers.contains(&std::thread::current().id()) {
            return;
        }
        self.shared.wait_stopped();
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Drop for Pool {
    /// Waits for every submitted job, as [`Pool::shutdown`]`(true, false)`.
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("pending", &self.shared.backlog())
            .field("slots_in_use", &self.shared.slots.in_use())
            .field("jobserver", &self.uses_jobserver)
            .field("scheduler_threads", &self.scheduler_threads())
            .finish_non_exhaustive()
    }
}
