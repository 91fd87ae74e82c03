//! The pool's engine: a few scheduler threads (by default one per CPU, at
//! most four), each with one `poll` over its own share of the running jobs.
//!
//! One thread could serve every job, but it spawns one job at a time: the
//! parent waits inside `posix_spawn` until the child has exec'd, and with
//! two workers that wait is a third of a short job's life. Scheduler
//! threads share the queue of pending jobs and the pool's slots; each holds
//! at most its share of the workers, so their spawns overlap as a thread
//! per slot's would, and each refills its own slots without a hop.
//!
//! Each iteration a scheduler:
//! 1. resets its doorbell (a wake pipe that `submit`, `shutdown`, external
//!    slot releases and jobserver tokens ring) and starts pending jobs in
//!    free slots;
//! 2. polls, in one call, the doorbell and every running job's pidfds and
//!    output pipes, until the earliest job deadline (or a kill's grace);
//! 3. serves the jobs whose descriptors are ready (each gets only its own
//!    slice of the poll set) and, the moment one is finished, hands its
//!    slot — jobserver token included — to the next pending job, spawning it
//!    right there, before anything else (no extra hop, no thread switch);
//! 4. kills the process groups of jobs past their deadline (without
//!    waiting: their pidfds report the death) and gives up on corpses that
//!    take longer than a grace period (they go to the background reaper).
//!
//! Results are delivered, and `on_done` callbacks run, after the refill.
//! Nothing here blocks except `poll` itself and `posix_spawn`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, ErrorKind, Result};
use crate::execution::KILL_GRACE;
use crate::status::Completed;
use crate::sys::{self, PollFd};

use super::FailurePolicy;
use super::events::{Event, Hub, describe_error};
use super::job::{Job, JobInner};
use super::launcher::{Launcher, Running};
use super::slot::{Slot, Slots};
use super::task::TaskSpec;

/// A wake pipe with a flag, so that a burst of rings costs one write.
#[derive(Debug)]
pub(crate) struct Doorbell {
    rx: OwnedFd,
    tx: OwnedFd,
    rung: AtomicBool,
}

impl Doorbell {
    pub(crate) fn new() -> io::Result<Doorbell> {
        let (rx, tx) = sys::wake_pipe()?;
        Ok(Doorbell {
            rx,
            tx,
            rung: AtomicBool::new(false),
        })
    }

    /// Wakes the scheduler (from any thread; never blocks).
    pub(crate) fn ring(&self) {
        if !self.rung.swap(true, Ordering::AcqRel) {
            // A full pipe (EAGAIN) already means "wake up".
            let _ = sys::write(self.tx.as_fd(), &[1]);
        }
    }

    /// Clears the bell before the scheduler looks at what rang it, so that
    /// a ring after this point wakes the next poll.
    ///
    /// Drain first, then lower the flag: the other order loses wake-ups. A
    /// ring landing between the two would raise the flag and write a byte
    /// that the drain then eats, leaving the flag up over an empty pipe, so
    /// that every later ring skips its write and the next poll sleeps
    /// through it. In this order a ring before the store is seen when the
    /// scheduler looks at the state next, and one after it writes.
    fn reset(&self) {
        let mut sink = Vec::new();
        while matches!(sys::read_append(self.rx.as_fd(), &mut sink, 64), Ok(n) if n > 0) {
            sink.clear();
        }
        self.rung.store(false, Ordering::SeqCst);
    }
}

/// One doorbell per scheduler thread; a ring wakes them all. (One shared
/// pipe would not do: the first thread to wake drains it, and a thread
/// whose `poll` had not yet returned then sees nothing and sleeps on.)
#[derive(Debug)]
pub(crate) struct Doorbells(Vec<Doorbell>);

impl Doorbells {
    pub(crate) fn new(schedulers: usize) -> io::Result<Doorbells> {
        (0..schedulers)
            .map(|_| Doorbell::new())
            .collect::<io::Result<_>>()
            .map(Doorbells)
    }

    /// Wakes every scheduler thread (from any thread; never blocks).
    pub(crate) fn ring(&self) {
        for bell in &self.0 {
            bell.ring();
        }
    }

    fn get(&self, scheduler: usize) -> &Doorbell {
        &self.0[scheduler]
    }
}

/// A job waiting for a slot, with the attempt it is on.
pub(crate) struct Entry {
    job: Arc<JobInner>,
    spec: TaskSpec,
    attempt: u32,
}

/// Settings the scheduler applies to every job.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: u32,
    pub(crate) policy: FailurePolicy,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<Entry>,
    /// No more submissions (shutdown or terminate).
    closed: bool,
    /// Kill what runs and stop (terminate).
    terminate: bool,
    /// A job failed under fail-fast: new submissions are cancelled.
    halted: bool,
    /// ... and running jobs are to be killed.
    kill_on_halt: bool,
}

/// What every scheduler thread must stop doing, as of now.
#[derive(Debug, Clone, Copy)]
struct Stops {
    terminate: bool,
    halted: bool,
    kill_on_halt: bool,
}

/// What the pool's handles and the scheduler share.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    pub(crate) bells: Arc<Doorbells>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) slots: Slots,
    pub(crate) config: Config,
    /// The jobserver's token reader, if a jobserver is in use; dropped
    /// (joined) by the last scheduler thread to stop.
    helper: Mutex<Option<jobserver::HelperThread>>,
    next_id: AtomicUsize,
    /// Scheduler threads still running.
    live: AtomicUsize,
    /// All of them stopped and the last one cleaned up.
    stopped: Mutex<bool>,
    stopped_cv: Condvar,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        slots: Slots,
        bells: Arc<Doorbells>,
        hub: Arc<Hub>,
        helper: Option<jobserver::HelperThread>,
    ) -> Shared {
        Shared {
            queue: Mutex::default(),
            bells,
            hub,
            slots,
            config,
            helper: Mutex::new(helper),
            next_id: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            stopped: Mutex::new(false),
            stopped_cv: Condvar::new(),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Updates are single steps; a poisoned lock is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn submit(&self, spec: TaskSpec) -> Result<Job> {
        let mut queue = self.queue();
        if queue.closed {
            return Err(Error::invalid(
                Some(spec.line().clone()),
                "cannot submit: the pool was shut down",
            ));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = JobInner::new(id, spec.line().clone(), self.hub.clone());
        if queue.halted {
            drop(queue);
            job.cancel();
        } else {
            // A non-empty queue means every slot is busy (or waits for a
            // jobserver token): the scheduler looks at the queue again when
            // one frees up, so only the first pending job rings.
            let was_empty = queue.pending.is_empty();
            queue.pending.push_back(Entry {
                job: job.clone(),
                spec,
                attempt: 1,
            });
            drop(queue);
            if was_empty {
                self.bells.ring();
            }
        }
        Ok(Job { inner: job })
    }

    /// Jobs waiting for a slot (cancelled ones not yet skipped included).
    pub(crate) fn backlog(&self) -> usize {
        self.queue().pending.len()
    }

    /// The next pending job, marked running; cancelled ones are dropped.
    fn pop_startable(&self) -> Option<Entry> {
        let mut queue = self.queue();
        while let Some(entry) = queue.pending.pop_front() {
            if entry.job.try_start() {
                return Some(entry);
            }
        }
        None
    }

    /// Stops taking work: later submissions fail; with `cancel_pending` (or
    /// `terminate`) every pending job is cancelled now, on this thread.
    pub(crate) fn close(&self, cancel_pending: bool, terminate: bool) {
        let drained = {
            let mut queue = self.queue();
            queue.closed = true;
            queue.terminate |= terminate;
            if cancel_pending || terminate {
                std::mem::take(&mut queue.pending)
            } else {
                VecDeque::new()
            }
        };
        for entry in drained {
            entry.job.cancel();
        }
        self.bells.ring();
    }

    /// Fail-fast: cancel everything pending and whatever comes later; with
    /// `kill_running`, every scheduler thread kills its running jobs.
    fn halt(&self, kill_running: bool) {
        let drained = {
            let mut queue = self.queue();
            queue.halted = true;
            queue.kill_on_halt |= kill_running;
            std::mem::take(&mut queue.pending)
        };
        for entry in drained {
            entry.job.cancel();
        }
        self.bells.ring();
    }

    /// Whether a failed job may run again: no fail-fast stop and no
    /// terminate, as of now (another thread may have asked for either).
    fn may_retry(&self) -> bool {
        let queue = self.queue();
        !queue.halted && !queue.terminate
    }

    fn stops(&self) -> Stops {
        let queue = self.queue();
        Stops {
            terminate: queue.terminate,
            halted: queue.halted,
            kill_on_halt: queue.kill_on_halt,
        }
    }

    /// Closed and nothing pending: the scheduler may stop once idle.
    fn drained(&self) -> bool {
        let queue = self.queue();
        queue.closed && queue.pending.is_empty()
    }

    fn request_tokens(&self, backlog: usize) {
        let helper = self.helper.lock().unwrap_or_else(|e| e.into_inner());
        let Some(helper) = helper.as_ref() else {
            return;
        };
        for _ in 0..self.slots.tokens_to_request(backlog) {
            helper.request_token();
        }
    }

    /// Blocks until every scheduler thread has stopped.
    pub(crate) fn wait_stopped(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        while !*stopped {
            stopped = self
                .stopped_cv
                .wait(stopped)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A scheduler thread stops; the last one closes the event stream,
    /// gives spare jobserver tokens back and stops the token reader, and
    /// only then are waiters told.
    fn scheduler_stopped(&self) {
        if self.live.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        self.hub.close();
        self.slots.release_spare_tokens();
        // Joins the helper thread (interrupting its blocking read).
        let helper = self.helper.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(helper);
        *self.stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.stopped_cv.notify_all();
    }
}

/// Why a running job is being killed.
#[derive(Debug, Clone, Copy)]
enum KillReason {
    Timeout(Duration),
    Halted,
    Terminated,
}

#[derive(Debug, Clone, Copy)]
struct Kill {
    reason: KillReason,
    /// After this, stop waiting for the corpse (the reaper takes it).
    grace: Instant,
}

struct RunningJob {
    // Field order is drop order: `run` (pipes, then processes) goes before
    // `slot`, so a slot is free only once its job's descriptors are closed.
    run: Running,
    job: Arc<JobInner>,
    spec: TaskSpec,
    attempt: u32,
    /// Tells apart successive occupants of the same key.
    serial: u64,
    started_at: SystemTime,
    timeout: Option<Duration>,
    kill: Option<Kill>,
    slot: Slot,
}

/// One job's entries in the poll set.
#[derive(Debug, Clone, Copy)]
struct Span {
    key: usize,
    serial: u64,
    start: usize,
    end: usize,
}

pub(crate) struct Scheduler {
    shared: Arc<Shared>,
    launcher: Arc<dyn Launcher>,
    /// Which scheduler thread this is (its doorbell).
    index: usize,
    /// The most jobs this thread runs at once: its share of the workers.
    cap: usize,
    /// Running jobs by key; `None` marks a free key.
    jobs: Vec<Option<RunningJob>>,
    free_keys: Vec<usize>,
    count: usize,
    /// (deadline, serial, key); entries of jobs that ended are skipped
    /// when they surface, and the heap is rebuilt when they pile up.
    deadlines: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    fds: Vec<PollFd>,
    spans: Vec<Span>,
    next_serial: u64,
    terminating: bool,
    halted: bool,
    /// This thread's running jobs were killed for a fail-fast stop.
    halt_killed: bool,
    /// Final results, delivered (callbacks run) after the refill.
    completions: Vec<(Arc<JobInner>, Result<Completed>)>,
}

/// Starts one scheduler thread per doorbell, splitting the workers between
/// them. If one cannot start, those already started are stopped again.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    launcher: Arc<dyn Launcher>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let threads = shared.bells.0.len();
    let workers = shared.slots.workers();
    shared.live.store(threads, Ordering::Release);
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        let mut scheduler = Scheduler {
            shared: shared.clone(),
            launcher: launcher.clone(),
            index,
            cap: workers / threads + usize::from(index < workers % threads),
            jobs: Vec::new(),
            free_keys: Vec::new(),
            count: 0,
            deadlines: BinaryHeap::new(),
            fds: Vec::new(),
            spans: Vec::new(),
            next_serial: 0,
            terminating: false,
            halted: false,
            halt_killed: false,
            completions: Vec::new(),
        };
        let started = std::thread::Builder::new()
            .name(format!("pipe-run-pool-{index}"))
            .spawn(move || scheduler.main());
        match started {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                for _ in index..threads {
                    shared.scheduler_stopped();
                }
                shared.close(true, true);
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(e);
            }
        }
    }
    Ok(handles)
}

impl Scheduler {
    fn main(&mut self) {
        // Whatever happens below, waiters in `shutdown`/`terminate`/`Drop`
        // must wake up: marked stopped on the way out, unwinding included.
        struct Stopped(Arc<Shared>);
        impl Drop for Stopped {
            fn drop(&mut self) {
                self.0.scheduler_stopped();
            }
        }
        let _stopped = Stopped(self.shared.clone());
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.run())) {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            eprintln!("pipe-run: the pool's scheduler panicked: {message}");
            self.fail_everything(&message);
        }
    }

    fn run(&mut self) {
        loop {
            self.shared.bells.get(self.index).reset();
            self.follow_stops();
            self.fill();
            if self.count == 0 && self.shared.drained() {
                return;
            }
            let deadline = self.build_poll_set();
            if let Err(e) = sys::poll(&mut self.fds, deadline) {
                eprintln!("pipe-run: the pool's poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            self.dispatch();
            self.check_time();
        }
    }

    /// Applies a terminate or fail-fast stop that any thread asked for.
    fn follow_stops(&mut self) {
        let stops = self.shared.stops();
        self.halted |= stops.halted;
        if stops.terminate && !self.terminating {
            self.terminating = true;
            self.kill_all(KillReason::Terminated);
        }
        if stops.kill_on_halt && !self.halt_killed {
            self.halt_killed = true;
            self.kill_all(KillReason::Halted);
        }
    }

    /// Starts pending jobs while there are free slots (within this
    /// thread's share).
    fn fill(&mut self) {
        if self.terminating {
            return;
        }
        while self.count < self.cap {
            let backlog = self.shared.backlog();
            if backlog == 0 {
                self.shared.slots.release_spare_tokens();
                break;
            }
            let Some(slot) = self.shared.slots.try_acquire(false) else {
                self.shared.request_tokens(backlog);
                break;
            };
            match self.shared.pop_startable() {
                Some(entry) => self.start(entry, slot),
                None => break,
            }
        }
        self.deliver();
    }

    /// Spawns `entry` in `slot`; if that fails the job fails alone and the
    /// slot goes on to the next pending job (or the job's retry).
    fn start(&mut self, mut entry: Entry, slot: Slot) {
        loop {
            let at = SystemTime::now();
            let t0 = Instant::now();
            match self.launcher.launch(&entry.spec) {
                Ok(run) => {
                    self.insert(entry, run, slot, at);
                    return;
                }
                Err(err) => {
                    let next = self.conclude(entry, Err(err), at, t0.elapsed());
                    match next.or_else(|| self.next_pending()) {
                        Some(next) => entry = next,
                        None => return,
                    }
                }
            }
        }
    }

    fn next_pending(&self) -> Option<Entry> {
        if self.terminating {
            None
        } else {
            self.shared.pop_startable()
        }
    }

    fn insert(&mut self, entry: Entry, run: Running, slot: Slot, at: SystemTime) {
        let serial = self.next_serial;
        self.next_serial += 1;
        let key = self.free_keys.pop().unwrap_or_else(|| {
            self.jobs.push(None);
            self.jobs.len() - 1
        });
        let timeout = entry.spec.timeout().or(self.shared.config.timeout);
        if let Some(t) = timeout {
            self.deadlines
                .push(Reverse((run.started() + t, serial, key)));
        }
        self.shared.hub.emit(|| Event::Started {
            job: entry.job.id(),
            command: entry.job.command().clone(),
            attempt: entry.attempt,
            pid: run.pid(),
            at,
        });
        self.jobs[key] = Some(RunningJob {
            run,
            job: entry.job,
            spec: entry.spec,
            attempt: entry.attempt,
            serial,
            started_at: at,
            timeout,
            kill: None,
            slot,
        });
        self.count += 1;
    }

    /// Fills the poll set; returns when poll must return at the latest.
    fn build_poll_set(&mut self) -> Option<Instant> {
        self.fds.clear();
        self.spans.clear();
        let bell = self.shared.bells.get(self.index);
        self.fds.push(sys::poll_fd(bell.rx.as_fd(), sys::POLLIN));
        let mut wake = self.deadlines.peek().map(|Reverse((d, _, _))| *d);
        let mut earliest = |t: Instant| wake = Some(wake.map_or(t, |w| w.min(t)));
        let now = Instant::now();
        for (key, slot) in self.jobs.iter().enumerate() {
            let Some(rj) = slot else { continue };
            let start = self.fds.len();
            rj.run.interest(&mut self.fds);
            self.spans.push(Span {
                key,
                serial: rj.serial,
                start,
                end: self.fds.len(),
            });
            if let Some(kill) = rj.kill {
                earliest(kill.grace);
            }
            if let Some(after) = rj.run.tick_after() {
                earliest(now + after);
            }
        }
        wake
    }

    fn get_mut(&mut self, key: usize, serial: u64) -> Option<&mut RunningJob> {
        self.jobs
            .get_mut(key)?
            .as_mut()
            .filter(|rj| rj.serial == serial)
    }

    /// Serves every job whose descriptors are ready.
    fn dispatch(&mut self) {
        let fds = std::mem::take(&mut self.fds);
        let spans = std::mem::take(&mut self.spans);
        for span in &spans {
            let mine = &fds[span.start..span.end];
            if mine.iter().all(|f| f.revents == 0) {
                continue;
            }
            let Some(rj) = self.get_mut(span.key, span.serial) else {
                continue;
            };
            // Writing a child's stdin after it exited raises SIGPIPE in this
            // thread; where SIGPIPE is at its default (a C or Python host)
            // that would kill the process, so it is blocked around the write
            // (the write then fails with EPIPE: "input refused"). Only
            // around it: spawning from a thread with blocked signals would
            // push std off posix_spawn onto fork.
            let _sigpipe =
                (rj.run.writing() && sys::sigpipe_is_default()).then(sys::SigpipeGuard::new);
            let served = rj.run.on_ready(mine);
            drop(_sigpipe);
            match served {
                Ok(()) => self.check_done(span.key),
                Err(e) => self.fail_io(span.key, e),
            }
        }
        self.fds = fds;
        self.spans = spans;
        self.deliver();
    }

    /// Finishes the job at `key` if it is done.
    fn check_done(&mut self, key: usize) {
        let Some(rj) = self.jobs[key].as_mut() else {
            return;
        };
        if rj.kill.is_some() {
            if rj.run.all_exited() {
                self.finish_killed(key);
            }
        } else if rj.run.is_finished() {
            let result = rj.run.complete().and_then(Completed::check);
            self.finish(key, result);
        }
    }

    fn fail_io(&mut self, key: usize, e: io::Error) {
        let Some(rj) = self.jobs[key].as_mut() else {
            return;
        };
        rj.run.kill();
        let (_, out, err) = rj.run.abandon();
        let command = rj.run.command().clone();
        let error = Error::io(Some(command), "cannot talk to the child", e).with_output(out, err);
        self.finish(key, Err(error));
    }

    /// Deadlines that passed start a kill; kills past their grace and
    /// jobs that need a look without an event are handled.
    fn check_time(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((deadline, serial, key))) = self.deadlines.peek() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            if let Some(rj) = self.get_mut(key, serial) {
                if rj.kill.is_none() {
                    let timeout = rj.timeout.unwrap_or_default();
                    self.begin_kill(key, KillReason::Timeout(timeout), now);
                }
            }
        }
        for key in 0..self.jobs.len() {
            let Some(rj) = self.jobs[key].as_mut() else {
                continue;
            };
            if rj.kill.is_some_and(|k| now >= k.grace) {
                self.finish_killed(key);
                continue;
            }
            if rj.run.tick_after().is_some() {
                match rj.run.tick() {
                    Ok(()) => self.check_done(key),
                    Err(e) => self.fail_io(key, e),
                }
            }
        }
        self.deliver();
    }

    fn begin_kill(&mut self, key: usize, reason: KillReason, now: Instant) {
        if let Some(rj) = self.jobs[key].as_mut() {
            rj.run.kill();
            rj.kill = Some(Kill {
                reason,
                grace: now + KILL_GRACE,
            });
        }
    }

    fn kill_all(&mut self, reason: KillReason) {
        let now = Instant::now();
        for key in 0..self.jobs.len() {
            if self.jobs[key].as_ref().is_some_and(|rj| rj.kill.is_none()) {
                self.begin_kill(key, reason, now);
            }
        }
    }

    /// A killed job is dead (or past its grace): describe it with what it
    /// printed.
    fn finish_killed(&mut self, key: usize) {
        let Some(rj) = self.jobs[key].as_mut() else {
            return;
        };
        let Some(kill) = rj.kill else { return };
        let (statuses, out, err) = rj.run.abandon();
        let command = rj.run.command().clone();
        let error = match kill.reason {
            KillReason::Timeout(t) => Error::timed_out(command, t, true, statuses, out, err),
            KillReason::Halted => Error::stopped(
                command,
                "another job failed and the pool stops at the first failure",
                statuses,
                out,
                err,
            ),
            KillReason::Terminated => {
                Error::stopped(command, "the pool was terminated", statuses, out, err)
            }
        };
        self.finish(key, Err(error));
    }

    /// Removes the job at `key`, decides between retry and final result,
    /// and refills its slot at once.
    fn finish(&mut self, key: usize, result: Result<Completed>) {
        let rj = self.jobs[key].take().expect("finishing a running job");
        self.free_keys.push(key);
        self.count -= 1;
        let RunningJob {
            run,
            job,
            spec,
            attempt,
            started_at,
            slot,
            ..
        } = rj;
        let elapsed = run.started().elapsed();
        // Closes our pipe ends; a process not yet reaped (a kill past its
        // grace) goes to the background reaper.
        drop(run);
        let entry = Entry { job, spec, attempt };
        let next = self.conclude(entry, result, started_at, elapsed);
        match next.or_else(|| self.next_pending()) {
            Some(next) => self.start(next, slot),
            None => drop(slot),
        }
        if self.deadlines.len() > 2 * self.count + 64 {
            let live = self.jobs.iter().enumerate().filter_map(|(key, rj)| {
                let rj = rj.as_ref()?;
                let deadline = rj.run.started() + rj.timeout?;
                Some(Reverse((deadline, rj.serial, key)))
            });
            self.deadlines = live.collect();
        }
    }

    /// Retry or final result (queued for delivery). Returns the retry.
    fn conclude(
        &mut self,
        entry: Entry,
        result: Result<Completed>,
        started: SystemTime,
        elapsed: Duration,
    ) -> Option<Entry> {
        let Entry { job, spec, attempt } = entry;
        if let Err(e) = &result {
            let retryable = matches!(e.kind(), ErrorKind::CalledProcess | ErrorKind::Timeout);
            // Another thread's stop may not be followed yet: ask the queue.
            if retryable
                && attempt <= self.shared.config.retries
                && !self.terminating
                && !self.halted
                && self.shared.may_retry()
            {
                self.shared.hub.emit(|| Event::Retried {
                    job: job.id(),
                    command: job.command().clone(),
                    attempt,
                    error: e.to_string(),
                });
                return Some(Entry {
                    job,
                    spec,
                    attempt: attempt + 1,
                });
            }
        }
        self.shared.hub.emit(|| Event::Finished {
            job: job.id(),
            command: job.command().clone(),
            attempt,
            started,
            elapsed,
            status: match &result {
                Ok(done) => Some(done.status),
                Err(e) => e.status(),
            },
            error: result.as_ref().err().map(describe_error),
        });
        let failed = matches!(&result, Err(e) if e.kind() != ErrorKind::Cancelled);
        self.completions.push((job, result));
        if failed && !self.halted {
            if let FailurePolicy::FailFast { kill_running } = self.shared.config.policy {
                self.halted = true;
                self.shared.halt(kill_running);
                if kill_running {
                    self.halt_killed = true;
                    self.kill_all(KillReason::Halted);
                }
            }
        }
        None
    }

    /// Hands out final results: wakes waiters, runs callbacks.
    fn deliver(&mut self) {
        while !self.completions.is_empty() {
            for (job, result) in std::mem::take(&mut self.completions) {
                job.complete(result);
            }
        }
    }

    /// After a panic in the scheduler: kill what runs, fail every job, so
    /// that no waiter hangs.
    fn fail_everything(&mut self, message: &str) {
        self.shared.close(true, true);
        for key in 0..self.jobs.len() {
            let Some(mut rj) = self.jobs[key].take() else {
                continue;
            };
            rj.run.kill();
            let (_, out, err) = rj.run.abandon();
            let command = rj.run.command().clone();
            let error = Error::io(
                Some(command),
                "the pool's scheduler panicked",
                io::Error::other(message.to_owned()),
            )
            .with_output(out, err);
            self.completions.push((rj.job, Err(error)));
        }
        self.count = 0;
        // A panicking callback is caught per job; a second panic here would
        // abort anyway, so deliver without another guard.
        self.deliver();
    }
}
