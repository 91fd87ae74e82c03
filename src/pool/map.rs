//! Running many tasks and walking their results: [`Map`] (input order),
//! [`MapUnordered`] (completion order) and [`as_completed`].
//!
//! The maps are lazy and bounded: they pull a task from the input only
//! when fewer than `ahead` of theirs are submitted and not yet yielded, so
//! memory stays flat over a million tasks, whatever the input iterator.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::iter::Fuse;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::status::Completed;

use super::Pool;
use super::job::Job;
use super::task::Task;

/// How many tasks a map keeps submitted ahead per worker, by default.
const AHEAD_PER_WORKER: usize = 2;

fn default_ahead(pool: &Pool) -> usize {
    pool.workers().saturating_mul(AHEAD_PER_WORKER).max(2)
}

/// The results of [`Pool::map`], in input order.
///
/// Lazy: nothing is submitted before the first `next()`, and at most
/// [`ahead`](Map::ahead) tasks (default: twice the workers) are submitted
/// and not yet yielded at any time. A failed task yields its error and the
/// map goes on. Dropping the map cancels its submitted tasks that have not
/// started (as Python's `Executor.map` does).
///
/// ```
/// use pipe_run::{Command, Pool};
/// let pool = Pool::new(4)?;
/// let words = ["one", "two", "three"];
/// let outs: Vec<Vec<u8>> = pool
///     .map(words.iter().map(|w| Command::new("echo").arg(w)))
///     .map(|r| r.map(|done| done.stdout))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(outs, [&b"one\n"[..], b"two\n", b"three\n"]);
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct Map<'p, I: Iterator> {
    pool: &'p Pool,
    tasks: Fuse<I>,
    window: VecDeque<Result<Job>>,
    ahead: usize,
}

impl<'p, I> Map<'p, I>
where
    I: Iterator,
    I::Item: Task,
{
    pub(crate) fn new(pool: &'p Pool, tasks: I) -> Self {
        Map {
            pool,
            tasks: tasks.fuse(),
            window: VecDeque::new(),
            ahead: default_ahead(pool),
        }
    }

    /// Keeps at most `n` (at least 1) tasks submitted ahead of the consumer.
    /// More keeps workers busy when some tasks are much slower than
    /// others; fewer holds less output in memory.
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(2)?;
    /// let n = pool.map((0..10).map(|_| Command::new("true"))).ahead(3).count();
    /// assert_eq!(n, 10);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn ahead(mut self, n: usize) -> Self {
        self.ahead = n.max(1);
        self
    }
}

impl<I> Iterator for Map<'_, I>
where
    I: Iterator,
    I::Item: Task,
{
    type Item = Result<Completed>;

    fn next(&mut self) -> Option<Result<Completed>> {
        while self.window.len() < self.ahead {
            let Some(task) = self.tasks.next() else { break };
            self.window.push_back(self.pool.submit(task));
        }
        Some(self.window.pop_front()?.and_then(Job::into_result))
    }
}

impl<I: Iterator> Drop for Map<'_, I> {
    fn drop(&mut self) {
        for job in self.window.iter().flatten() {
            job.cancel();
        }
    }
}

impl<I: Iterator> fmt::Debug for Map<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.window.len())
            .field("ahead", &self.ahead)
            .finish_non_exhaustive()
    }
}

/// The results of [`Pool::map_unordered`]: `(input index, result)` in the
/// order the tasks finish.
///
/// Lazy and bounded like [`Map`]; dropping it cancels its submitted tasks
/// that have not started.
///
/// ```
/// use pipe_run::{Command, Pool};
/// let pool = Pool::new(2)?;
/// let tasks = ["0.3", "0"].map(|s| Command::new("sleep").arg(s));
/// let order: Vec<usize> = pool.map_unordered(tasks).map(|(i, r)| { r.unwrap(); i }).collect();
/// assert_eq!(order, [1, 0]); // the short sleep finishes first
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct MapUnordered<'p, I: Iterator> {
    pool: &'p Pool,
    tasks: Fuse<I>,
    next_index: usize,
    in_flight: HashMap<usize, Job>,
    /// Submissions that failed at once, yielded before waiting.
    refused: VecDeque<(usize, Error)>,
    done_tx: mpsc::Sender<usize>,
    done_rx: Receiver<usize>,
    ahead: usize,
}

impl<'p, I> MapUnordered<'p, I>
where
    I: Iterator,
    I::Item: Task,
{
    pub(crate) fn new(pool: &'p Pool, tasks: I) -> Self {
        let (done_tx, done_rx) = mpsc::channel();
        MapUnordered {
            pool,
            tasks: tasks.fuse(),
            next_index: 0,
            in_flight: HashMap::new(),
            refused: VecDeque::new(),
            done_tx,
            done_rx,
            ahead: default_ahead(pool),
        }
    }

    /// Keeps at most `n` (at least 1) tasks submitted and not yet yielded.
    ///
    /// ```
    /// use pipe_run::{Command, Pool};
    /// let pool = Pool::new(2)?;
    /// let n = pool.map_unordered((0..5).map(|_| Command::new("true"))).ahead(1).count();
    /// assert_eq!(n, 5);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn ahead(mut self, n: usize) -> Self {
        self.ahead = n.max(1);
        self
    }
}

impl<I> Iterator for MapUnordered<'_, I>
where
    I: Iterator,
    I::Item: Task,
{
    type Item = (usize, Result<Completed>);

    fn next(&mut self) -> Option<(usize, Result<Completed>)> {
        while self.in_flight.len() + self.refused.len() < self.ahead {
            let Some(task) = self.tasks.next() else { break };
            let index = self.next_index;
            self.next_index += 1;
            match self.pool.submit(task) {
                Ok(job) => {
                    let tx = self.done_tx.clone();
                    job.on_done(move |_| {
                        let _ = tx.send(index);
                    });
                    self.in_flight.insert(index, job);
                }
                Err(e) => self.refused.push_back((index, e)),
            }
        }
        if let Some((index, e)) = self.refused.pop_front() {
            return Some((index, Err(e)));
        }
        if self.in_flight.is_empty() {
            return None;
        }
        // We hold a sender ourselves, so this only ends by a message.
        let index = self.done_rx.recv().ok()?;
        let job = self.in_flight.remove(&index)?;
        Some((index, job.into_result()))
    }
}

impl<I: Iterator> Drop for MapUnordered<'_, I> {
    fn drop(&mut self) {
        for job in self.in_flight.values() {
            job.cancel();
        }
    }
}

impl<I: Iterator> fmt::Debug for MapUnordered<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapUnordered")
            .field("in_flight", &self.in_flight.len())
            .field("ahead", &self.ahead)
            .finish_non_exhaustive()
    }
}

/// Yields `jobs` as they finish (already finished ones first), like Python's
/// `concurrent.futures.as_completed`; jobs may come from different pools,
/// and a job given twice is yielded once.
///
/// With a `timeout` (for the whole iteration, counted from this call), a
/// wait that runs past it yields one error of kind
/// [`Timeout`](crate::ErrorKind::Timeout) saying "N (of M) jobs unfinished
/// after …", and the iteration ends. The unfinished jobs keep running.
///
/// ```
/// use std::time::Duration;
/// use pipe_run::{Command, ErrorKind, Pool, as_completed};
/// let pool = Pool::new(3)?;
/// let jobs = vec![
///     pool.submit(Command::new("sleep").arg("5"))?,
///     pool.submit(Command::new("true"))?,
/// ];
/// let mut done = as_completed(jobs, Some(Duration::from_millis(300)));
/// assert_eq!(done.next().unwrap()?.command(), "true");
/// let err = done.next().unwrap().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Timeout);
/// assert!(err.to_string().starts_with("1 (of 2) jobs unfinished"));
/// assert!(done.next().is_none());
/// pool.terminate();
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub fn as_completed<I>(jobs: I, timeout: Option<Duration>) -> AsCompleted
where
    I: IntoIterator<Item = Job>,
{
    let deadline = timeout.map(|t| (Instant::now() + t, t));
    let (tx, rx) = mpsc::channel();
    let mut unique: Vec<Option<Job>> = Vec::new();
    let mut seen = HashSet::new();
    for job in jobs {
        if !seen.insert(std::sync::Arc::as_ptr(&job.inner) as usize) {
            continue;
        }
        unique.push(Some(job));
    }
    // Register after collecting, so that already-done jobs (whose callback
    // runs right here) come out first, in input order.
    for (index, job) in unique.iter().enumerate() {
        let tx = tx.clone();
        job.as_ref().expect("just pushed").on_done(move |_| {
            let _ = tx.send(index);
        });
    }
    AsCompleted {
        remaining: unique.len(),
        total: unique.len(),
        jobs: unique,
        rx,
        deadline,
        timed_out: false,
    }
}

/// The iterator of [`as_completed`]: each item is a finished [`Job`], or
/// one final timeout error.
pub struct AsCompleted {
    jobs: Vec<Option<Job>>,
    rx: Receiver<usize>,
    remaining: usize,
    total: usize,
    deadline: Option<(Instant, Duration)>,
    timed_out: bool,
}

impl Iterator for AsCompleted {
    type Item = Result<Job>;

    fn next(&mut self) -> Option<Result<Job>> {
        if self.remaining == 0 || self.timed_out {
            return None;
        }
        let index = match self.deadline {
            None => self.rx.recv().ok()?,
            Some((deadline, timeout)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(left) {
                    Ok(index) => index,
                    Err(RecvTimeoutError::Timeout) => {
                        self.timed_out = true;
                        return Some(Err(Error::unfinished(self.remaining, self.total, timeout)));
                    }
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            }
        };
        self.remaining -= 1;
        self.jobs[index].take().map(Ok)
    }
}

impl fmt::Debug for AsCompleted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}
