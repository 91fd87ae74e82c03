//! What a pool reports while it works: [`Event`]s for progress bars and job
//! logs, and the [`Summary`] of how every job ended.

use std::fmt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind};

/// Something that happened to a job of a [`Pool`](crate::Pool), in the
/// order the pool saw it.
///
/// Every event names the job by its [`id`](crate::Job::id) (submission
/// order, from 0) and its command line, so a consumer needs no other state to
/// drive a progress bar (count `Finished` and `Cancelled`) or to write a job
/// log like GNU parallel's `--joblog` (one line per `Finished`).
///
/// ```
/// use pipe_run::{Command, Event, Pool};
/// let pool = Pool::new(2)?;
/// let events = pool.events();
/// pool.submit(Command::new("true"))?;
/// pool.shutdown(true, false);
/// let kinds: Vec<&str> = events.map(|e| match e {
///     Event::Started { .. } => "started",
///     Event::Finished { .. } => "finished",
///     _ => "other",
/// }).collect();
/// assert_eq!(kinds, ["started", "finished"]);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An attempt of a job was spawned.
    #[non_exhaustive]
    Started {
        /// The job's id.
        job: usize,
        /// The job's command line, shell-quoted.
        command: Arc<str>,
        /// 1 for the first attempt, 2 for the first retry, …
        attempt: u32,
        /// The process id of the job's (first) process.
        pid: Option<u32>,
        /// Wall-clock time of the spawn.
        at: SystemTime,
    },
    /// A job ended for good: succeeded, or failed after its last attempt
    /// (including spawn failures and timeouts, and jobs killed by a
    /// fail-fast stop or [`terminate`](crate::Pool::terminate)).
    #[non_exhaustive]
    Finished {
        /// The job's id.
        job: usize,
        /// The job's command line, shell-quoted.
        command: Arc<str>,
        /// Which attempt this was (1 unless retried).
        attempt: u32,
        /// Wall-clock time of the spawn (or of the failed spawn).
        started: SystemTime,
        /// How long the attempt ran.
        elapsed: Duration,
        /// The exit status, if a process ran and was reaped.
        status: Option<ExitStatus>,
        /// `None` on success; else the error's kind and message.
        error: Option<(ErrorKind, String)>,
    },
    /// An attempt failed and the job runs again.
    #[non_exhaustive]
    Retried {
        /// The job's id.
        job: usize,
        /// The job's command line, shell-quoted.
        command: Arc<str>,
        /// The attempt that failed.
        attempt: u32,
        /// Why it failed.
        error: String,
    },
    /// A job was cancelled before it started.
    #[non_exhaustive]
    Cancelled {
        /// The job's id.
        job: usize,
        /// The job's command line, shell-quoted.
        command: Arc<str>,
    },
    /// A callback given to [`Job::on_done`](crate::Job::on_done) panicked.
    /// The panic was caught; the pool and the other callbacks carry on.
    #[non_exhaustive]
    CallbackPanicked {
        /// The job's id.
        job: usize,
        /// The job's command line, shell-quoted.
        command: Arc<str>,
        /// The panic message.
        message: String,
    },
}

impl Event {
    /// The id of the job this event is about.
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(1)?;
    /// let events = pool.events();
    /// let job = pool.submit(Command::new("true"))?;
    /// pool.shutdown(true, false);
    /// assert!(events.into_iter().all(|e| e.job() == job.id()));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn job(&self) -> usize {
        match self {
            Event::Started { job, .. }
            | Event::Finished { job, .. }
            | Event::Retried { job, .. }
            | Event::Cancelled { job, .. }
            | Event::CallbackPanicked { job, .. } => *job,
        }
    }

    /// The command line of the job this event is about.
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(1)?;
    /// let events = pool.events();
    /// pool.submit(Command::new("echo").arg("a b"))?;
    /// pool.shutdown(true, false);
    /// assert!(events.into_iter().all(|e| e.command() == "echo 'a b'"));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        match self {
            Event::Started { command, .. }
            | Event::Finished { command, .. }
            | Event::Retried { command, .. }
            | Event::Cancelled { command, .. }
            | Event::CallbackPanicked { command, .. } => command,
        }
    }
}

/// A stream of a pool's [`Event`]s, from [`Pool::events`](crate::Pool::events).
///
/// Iterating blocks until the next event and ends once the pool has shut
/// down and every event was delivered. Events are queued without bound
/// until read: read them (or drop the stream, which unsubscribes it).
///
/// ```
/// use pipe_run::{Command, Event, Pool};
/// let pool = Pool::new(4)?;
/// let events = pool.events();
/// for i in 0..3 {
///     pool.submit(Command::new("true").arg(i.to_string()))?;
/// }
/// pool.shutdown(true, false);
/// let finished = events.filter(|e| matches!(e, Event::Finished { .. })).count();
/// assert_eq!(finished, 3);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug)]
pub struct Events {
    rx: Receiver<Event>,
}

impl Events {
    /// The next event if one is queued; never blocks.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let events = pool.events();
    /// assert!(events.try_next().is_none());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn try_next(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Waits at most `timeout` for the next event; `None` if none came (or
    /// the stream has ended).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = pipe_run::Pool::new(1)?;
    /// let events = pool.events();
    /// pool.submit(pipe_run::Command::new("true"))?;
    /// assert!(events.next_timeout(Duration::from_secs(10)).is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn next_timeout(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Iterator for Events {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.rx.recv().ok()
    }
}

/// One job in a [`Summary`]: its id, command and why it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobReport {
    /// The job's id.
    pub job: usize,
    /// The job's command line, shell-quoted.
    pub command: Arc<str>,
    /// What went wrong, as the job's error says it after the command
    /// ("exited with code 1", "was cancelled before it started").
    pub reason: String,
}

/// How the jobs of a pool ended so far: counts, and the commands of every
/// failed and cancelled job.
///
/// Succeeded jobs are only counted, so that the summary stays small over a
/// million jobs; subscribe to [`Pool::events`](crate::Pool::events) to log
/// every one.
///
/// ```
/// use pipe_run::{Command, Pool};
/// let pool = Pool::new(2)?;
/// pool.submit(Command::new("true"))?;
/// pool.submit(Command::new("false"))?;
/// pool.shutdown(true, false);
/// let summary = pool.summary();
/// assert_eq!((summary.succeeded, summary.failed.len()), (1, 1));
/// assert_eq!(&*summary.failed[0].command, "false");
/// assert!(!summary.all_succeeded());
/// assert!(summary.to_string().starts_with("2 jobs: 1 succeeded, 1 failed, 0 cancelled"));
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// How many jobs succeeded.
    pub succeeded: usize,
    /// Every job that failed (after its retries), in the order they ended.
    pub failed: Vec<JobReport>,
    /// Every job that was cancelled (or killed by a fail-fast stop or
    /// [`terminate`](crate::Pool::terminate)), in the order it happened.
    pub cancelled: Vec<JobReport>,
}

impl Summary {
    /// How many jobs have ended, in any way.
    ///
    /// ```
    /// assert_eq!(pipe_run::Summary::default().total(), 0);
    /// ```
    pub fn total(&self) -> usize {
        self.succeeded + self.failed.len() + self.cancelled.len()
    }

    /// Whether no job failed or was cancelled.
    ///
    /// ```
    /// assert!(pipe_run::Summary::default().all_succeeded());
    /// ```
    pub fn all_succeeded(&self) -> bool {
        self.failed.is_empty() && self.cancelled.is_empty()
    }
}

impl fmt::Display for Summary {
    /// `N jobs: S succeeded, F failed, C cancelled`, then one line per
    /// failed or cancelled job.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} jobs: {} succeeded, {} failed, {} cancelled",
            self.total(),
            self.succeeded,
            self.failed.len(),
            self.cancelled.len()
        )?;
        for (what, list) in [("failed", &self.failed), ("cancelled", &self.cancelled)] {
            for r in list {
                let first_line = r.reason.lines().next().unwrap_or_default();
                write!(f, "\n  {what}: job {} `{}`: {first_line}", r.job, r.command)?;
            }
        }
        Ok(())
    }
}

/// Where events go and the summary is kept; shared by the pool, its
/// scheduler and its jobs (a job reports its own cancellation).
#[derive(Debug, Default)]
pub(crate) struct Hub {
    subscribers: Mutex<Vec<Sender<Event>>>,
    /// Whether anyone listens: events are not even built otherwise.
    active: AtomicBool,
    /// After shutdown no new subscriber is added (its stream ends at once).
    closed: AtomicBool,
    summary: Mutex<Summary>,
}

impl Hub {
    fn subscribers(&self) -> MutexGuard<'_, Vec<Sender<Event>>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn subscribe(&self) -> Events {
        let (tx, rx) = mpsc::channel();
        if !self.closed.load(Ordering::Acquire) {
            let mut subs = self.subscribers();
            subs.push(tx);
            self.active.store(true, Ordering::Release);
        }
        Events { rx }
    }

    /// Sends the event built by `make` to every subscriber; `make` is not
    /// called when nobody listens.
    pub(crate) fn emit(&self, make: impl FnOnce() -> Event) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let event = make();
        let mut subs = self.subscribers();
        subs.retain(|tx| tx.send(event.clone()).is_ok());
        if subs.is_empty() {
            self.active.store(false, Ordering::Release);
        }
    }

    /// Ends every event stream (after the scheduler has stopped).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.subscribers().clear();
        self.active.store(false, Ordering::Release);
    }

    fn summary_mut(&self) -> MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn summary(&self) -> Summary {
        self.summary_mut().clone()
    }

    pub(crate) fn record(&self, job: usize, command: &Arc<str>, result: &Result<(), &Error>) {
        let mut summary = self.summary_mut();
        match result {
            Ok(()) => summary.succeeded += 1,
            Err(e) => {
                // "command `x` exited with code 1" → "exited with code 1":
                // the report names the command already.
                let text = e.to_string();
                let reason = [
                    format!("command `{command}` "),
                    format!("command `{command}`: "),
                ]
                .iter()
                .find_map(|prefix| text.strip_prefix(prefix.as_str()))
                .map_or_else(|| text.clone(), str::to_owned);
                let report = JobReport {
                    job,
                    command: command.clone(),
                    reason,
                };
                if e.kind() == ErrorKind::Cancelled {
                    summary.cancelled.push(report);
                } else {
                    summary.failed.push(report);
                }
            }
        }
    }
}

/// The text for an [`Event::Finished`] error and for logs.
pub(crate) fn describe_error(e: &Error) -> (ErrorKind, String) {
    (e.kind(), e.to_string())
}
