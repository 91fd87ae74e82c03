//! A submitted task's handle: [`Job`], a future for one external command.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::status::Completed;

use super::events::{Event, Hub};

type Callback = Box<dyn FnOnce(&Job) + Send + 'static>;

/// A task submitted to a [`Pool`](crate::Pool): pending, running or done,
/// like Python's `concurrent.futures.Future`.
///
/// `Job` is a cheap, cloneable handle (`Send + Sync`); every clone sees the
/// same job. Dropping every handle does not cancel the job.
///
/// ```
/// use std::time::Duration;
/// use pipe_run::{Command, ErrorKind, Pool};
/// let pool = Pool::new(1)?;
/// let slow = pool.submit(Command::new("sleep").arg("0.2"))?;
/// let queued = pool.submit(Command::new("echo").arg("never"))?;
/// assert!(queued.cancel()); // not started yet: one worker is busy
/// assert!(!slow.wait_timeout(Duration::from_millis(1)));
/// slow.wait();
/// assert!(slow.done() && slow.result().is_ok());
/// assert_eq!(queued.result().unwrap_err().kind(), ErrorKind::Cancelled);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Clone)]
pub struct Job {
    pub(crate) inner: Arc<JobInner>,
}

pub(crate) struct JobInner {
    id: usize,
    command: Arc<str>,
    hub: Arc<Hub>,
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Running,
    Done,
}

struct State {
    phase: Phase,
    /// `Some` once done.
    result: Option<Result<Completed>>,
    callbacks: Vec<Callback>,
    /// Threads blocked in `wait*`: the condvar is only signalled for them
    /// (a notify costs a futex syscall even when nobody waits).
    waiters: usize,
}

impl JobInner {
    pub(crate) fn new(id: usize, command: Arc<str>, hub: Arc<Hub>) -> Arc<JobInner> {
        Arc::new(JobInner {
            id,
            command,
            hub,
            state: Mutex::new(State {
                phase: Phase::Pending,
                result: None,
                callbacks: Vec::new(),
                waiters: 0,
            }),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Callbacks run outside the lock and every update is one step, so
        // a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn id(&self) -> usize {
        self.id
    }

    pub(crate) fn command(&self) -> &Arc<str> {
        &self.command
    }

    /// Pending → running; false if the job was cancelled meanwhile.
    pub(crate) fn try_start(&self) -> bool {
        let mut state = self.lock();
        if state.phase == Phase::Pending {
            state.phase = Phase::Running;
            true
        } else {
            false
        }
    }

    /// Stores the result, wakes every waiter, then runs the callbacks (on
    /// the calling thread).
    pub(crate) fn complete(self: &Arc<Self>, result: Result<Completed>) {
        self.hub
            .record(self.id, &self.command, &result.as_ref().map(drop));
        let (callbacks, waiters) = {
            let mut state = self.lock();
            debug_assert_ne!(state.phase, Phase::Done);
            state.phase = Phase::Done;
            state.result = Some(result);
            (std::mem::take(&mut state.callbacks), state.waiters)
        };
        if waiters > 0 {
            self.done.notify_all();
        }
        self.run_callbacks(callbacks);
    }

    /// Cancels a pending job: true if it was pending (then it is done with
    /// a [`Cancelled`](crate::ErrorKind::Cancelled) error).
    pub(crate) fn cancel(self: &Arc<Self>) -> bool {
        let (callbacks, waiters) = {
            let mut state = self.lock();
            if state.phase != Phase::Pending {
                return false;
            }
            state.phase = Phase::Done;
            state.result = Some(Err(Error::cancelled(self.command.clone())));
            (std::mem::take(&mut state.callbacks), state.waiters)
        };
        if waiters > 0 {
            self.done.notify_all();
        }
        let err = Error::cancelled(self.command.clone());
        self.hub.record(self.id, &self.command, &Err(&err));
        self.hub.emit(|| Event::Cancelled {
            job: self.id,
            command: self.command.clone(),
        });
        self.run_callbacks(callbacks);
        true
    }

    fn run_callbacks(self: &Arc<Self>, callbacks: Vec<Callback>) {
        if callbacks.is_empty() {
            return;
        }
        let job = Job {
            inner: self.clone(),
        };
        for callback in callbacks {
            job.call(callback);
        }
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        if state.phase == Phase::Done {
            return true;
        }
        state.waiters += 1;
        while state.phase != Phase::Done {
            state = match deadline {
                None => self.done.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.done
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        state.waiters -= 1;
        state.phase == Phase::Done
    }
}

impl Job {
    /// The job's id: its position in submission order on its pool, from 0.
    /// Events name jobs by it.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let a = pool.submit(pipe_run::Command::new("true"))?;
    /// let b = pool.submit(pipe_run::Command::new("true"))?;
    /// assert_eq!((a.id(), b.id()), (0, 1));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// The command line, shell-quoted.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("echo").arg("a b"))?;
    /// assert_eq!(job.command(), "echo 'a b'");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        &self.inner.command
    }

    /// Whether the job has ended: finished, failed or cancelled. Never
    /// blocks.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// job.wait();
    /// assert!(job.done());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        self.inner.lock().phase == Phase::Done
    }

    /// Whether the job is running now (started, not yet done).
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// job.wait();
    /// assert!(!job.running());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn running(&self) -> bool {
        self.inner.lock().phase == Phase::Running
    }

    /// Whether the job was cancelled (before it started, or killed by a
    /// fail-fast stop or [`Pool::terminate`](crate::Pool::terminate)).
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let _busy = pool.submit(pipe_run::Command::new("sleep").arg("0.1"))?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// assert!(job.cancel() && job.cancelled());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        matches!(
            &self.inner.lock().result,
            Some(Err(e)) if e.kind() == crate::ErrorKind::Cancelled
        )
    }

    /// Cancels the job if it has not started yet, and returns whether it
    /// did. A cancelled job is done; its result is an error of kind
    /// [`Cancelled`](crate::ErrorKind::Cancelled), and its callbacks run
    /// now, on this thread. A running or finished job is left alone (see
    /// [`Pool::terminate`](crate::Pool::terminate) to kill running ones).
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let first = pool.submit(pipe_run::Command::new("sleep").arg("0.1"))?;
    /// let second = pool.submit(pipe_run::Command::new("true"))?;
    /// assert!(second.cancel());
    /// first.wait();
    /// assert!(!first.cancel()); // already done
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.inner.cancel()
    }

    /// Blocks until the job is done.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// job.wait();
    /// assert!(job.done());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait(&self) {
        self.inner.wait_deadline(None);
    }

    /// Blocks until the job is done or `timeout` has passed; true if done.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("sleep").arg("5"))?;
    /// assert!(!job.wait_timeout(Duration::from_millis(10)));
    /// pool.terminate();
    /// assert!(job.wait_timeout(Duration::from_secs(5)));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.wait_deadline(Some(
            Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(far_future),
        ))
    }

    /// Blocks until the job is done or `deadline` has passed; true if done.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// assert!(job.wait_deadline(Instant::now() + Duration::from_secs(10)));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.inner.wait_deadline(Some(deadline))
    }

    /// Waits for the job and returns a copy of its result: the
    /// [`Completed`] of a successful run, or the error.
    ///
    /// ```
    /// use pipe_run::{Command, ErrorKind, Pool};
    /// let pool = Pool::new(2)?;
    /// let ok = pool.submit(Command::new("echo").arg("hi"))?;
    /// let bad = pool.submit(Command::shell("echo oops >&2; exit 3"))?;
    /// assert_eq!(ok.result()?.stdout, b"hi\n");
    /// let err = bad.result().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::CalledProcess);
    /// assert_eq!(err.stderr(), b"oops\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`CalledProcess`](crate::ErrorKind::CalledProcess) for a non-zero
    /// exit or a death by signal, [`Timeout`](crate::ErrorKind::Timeout),
    /// spawn failures ([`NotFound`](crate::ErrorKind::NotFound), …), and
    /// [`Cancelled`](crate::ErrorKind::Cancelled); each carries the command
    /// and the output captured.
    pub fn result(&self) -> Result<Completed> {
        self.wait();
        match self.inner.lock().result.as_ref() {
            Some(Ok(done)) => Ok(done.clone()),
            Some(Err(e)) => Err(e.clone()),
            None => unreachable!("a done job has a result"),
        }
    }

    /// Waits for the job and returns its result, without a copy when this
    /// is the last handle to the job.
    ///
    /// ```
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("echo").arg("hi"))?;
    /// assert_eq!(job.into_result()?.stdout, b"hi\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`result`](Job::result).
    pub fn into_result(self) -> Result<Completed> {
        self.wait();
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                let state = inner.state.into_inner().unwrap_or_else(|e| e.into_inner());
                state.result.expect("a done job has a result")
            }
            // The scheduler may still hold it for a moment (running its
            // callbacks), or the caller kept a clone: copy.
            Err(inner) => Job { inner }.result(),
        }
    }

    /// Runs `callback` once the job is done, exactly once: on the pool
    /// scheduler thread that ran the job when it finishes, on the cancelling thread
    /// when it is cancelled, or right now on this thread if the job is
    /// already done.
    ///
    /// A callback that panics is caught: the panic is reported on stderr
    /// and as an [`Event::CallbackPanicked`](crate::Event::CallbackPanicked),
    /// and the pool and the other callbacks carry on.
    ///
    /// [`wait`](Job::wait) and [`result`](Job::result) return as soon as
    /// the result is in, possibly before the callbacks have run; one
    /// registered at that moment runs at once on its own thread, so two
    /// callbacks of a job may overlap in time (each still runs once).
    ///
    /// Callbacks that run on a scheduler thread hold up every job of that
    /// thread while they run: keep them short, and never wait in one for another job of
    /// the same pool (it could never start). Submitting from a callback is
    /// fine.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// let pool = pipe_run::Pool::new(1)?;
    /// let job = pool.submit(pipe_run::Command::new("true"))?;
    /// let (tx, rx) = mpsc::channel();
    /// job.on_done(move |job| tx.send(job.id()).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_done(&self, callback: impl FnOnce(&Job) + Send + 'static) {
        {
            let mut state = self.inner.lock();
            if state.phase != Phase::Done {
                state.callbacks.push(Box::new(callback));
                return;
            }
        }
        self.call(Box::new(callback));
    }

    /// Runs one callback, catching and reporting a panic.
    fn call(&self, callback: Callback) {
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(self))) else {
            return;
        };
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a non-string panic payload)".to_owned());
        eprintln!(
            "pipe-run: an on_done callback of job {} `{}` panicked: {message}",
            self.id(),
            self.command()
        );
        let inner = &self.inner;
        inner.hub.emit(|| Event::CallbackPanicked {
            job: inner.id,
            command: inner.command.clone(),
            message,
        });
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = self.inner.lock().phase;
        f.debug_struct("Job")
            .field("id", &self.inner.id)
            .field("command", &self.inner.command)
            .field("phase", &phase)
            .finish()
    }
}
