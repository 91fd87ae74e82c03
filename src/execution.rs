//! One running unit of work: the processes of a command or pipeline and
//! the [`Communicator`] serving their pipes.
//!
//! [`Popen`](crate::Popen), pipelines and the pool all drive an
//! `Execution`; the blocking loop in [`run`](Execution::run) is the only
//! place that waits for a single one, and its [`interest`](Execution::interest)
//! / [`on_ready`](Execution::on_ready) halves let a scheduler serve
//! thousands from one `poll`.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::communicate::Communicator;
use crate::error::Error;
use crate::process::Process;
use crate::status::{Completed, overall_status};
use crate::sys::{self, PollFd};

/// How long we wait for a child's corpse after SIGKILL before leaving it to
/// the background reaper (a process stuck in the kernel may take longer).
pub(crate) const KILL_GRACE: Duration = Duration::from_millis(250);

/// The processes of one command or pipeline (left to right) and our ends
/// of their pipes.
#[derive(Debug)]
pub(crate) struct Execution {
    // Field order is drop order: pipes close before the processes are
    // dropped (and, if still running, handed to the reaper).
    comm: Communicator,
    processes: Vec<Process>,
    command: Arc<str>,
    started: Instant,
    strict_sigpipe: bool,
    /// Watch exits even while pipes are open: set once a signal was sent,
    /// since a killed job's pipes may stay open (an escaped descendant holds
    /// them) while its processes are dead and must be reaped.
    watch_exits: AtomicBool,
}

impl Execution {
    pub(crate) fn new(command: Arc<str>, processes: Vec<Process>, started: Instant) -> Execution {
        Execution {
            comm: Communicator::default(),
            processes,
            command,
            started,
            strict_sigpipe: false,
            watch_exits: AtomicBool::new(false),
        }
    }

    /// Counts a stage killed by SIGPIPE as a failure (bash's `pipefail`).
    pub(crate) fn set_strict_sigpipe(&mut self, strict: bool) {
        self.strict_sigpipe = strict;
    }

    pub(crate) fn strict_sigpipe(&self) -> bool {
        self.strict_sigpipe
    }

    pub(crate) fn set_comm(&mut self, comm: Communicator) {
        self.comm = comm;
    }

    pub(crate) fn comm(&self) -> &Communicator {
        &self.comm
    }

    pub(crate) fn comm_mut(&mut self) -> &mut Communicator {
        &mut self.comm
    }

    pub(crate) fn processes(&self) -> &[Process] {
        &self.processes
    }

    pub(crate) fn command(&self) -> &Arc<str> {
        &self.command
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Pushes a pollfd for every open pipe and, once the pipes are done (or
    /// a signal was sent), for every unreaped process with a pidfd.
    ///
    /// While its pipes are open the job cannot be finished anyway, so exits
    /// are not watched then: when the pipes close, the children have
    /// usually exited already and [`on_ready`](Self::on_ready) reaps them at
    /// once, without a pidfd (opening one costs a file and an inode). Only
    /// a child that outlives its pipes gets one.
    pub(crate) fn interest(&self, fds: &mut Vec<PollFd>) {
        self.comm.interest(fds);
        if !self.comm.is_done() && !self.watch_exits.load(Ordering::Relaxed) {
            return;
        }
        for p in &self.processes {
            if p.status().is_some() {
                continue;
            }
            if let Some(fd) = p.pidfd() {
                fds.push(sys::poll_fd(fd, sys::POLLIN));
            }
        }
    }

    /// Serves ready pipes and reaps processes whose pidfd fired; kills
    /// every process tree when an output limit asks to.
    pub(crate) fn on_ready(&mut self, fds: &[PollFd]) -> io::Result<()> {
        self.on_ready_lent(fds, None)
    }

    fn on_ready_lent(&mut self, fds: &[PollFd], lent: Option<&[u8]>) -> io::Result<()> {
        self.comm.on_ready(fds, lent)?;
        if self.comm.take_kill_request() {
            self.signal_tree(sys::SIGKILL)?;
        }
        if self.comm.is_done() {
            // Most children are gone by the time their pipes close.
            self.reap_exited()?;
            return Ok(());
        }
        for p in &self.processes {
            let Some(fd) = p.opened_pidfd() else { continue };
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            if fds.iter().any(|f| f.fd == raw && f.revents != 0) {
                p.try_reap()?;
            }
        }
        Ok(())
    }

    /// Reaps whatever has exited (for processes without a pidfd); true when
    /// every process is reaped.
    pub(crate) fn reap_exited(&self) -> io::Result<bool> {
        let mut all = true;
        for p in &self.processes {
            all &= p.try_reap()?.is_some();
        }
        Ok(all)
    }

    fn all_reaped(&self) -> bool {
        self.processes.iter().all(|p| p.status().is_some())
    }

    /// Whether every pipe is done and every process reaped.
    pub(crate) fn is_finished(&self) -> bool {
        self.comm.is_done() && self.all_reaped()
    }

    /// Runs the pipes and waits for every process until `deadline`.
    /// Returns `Ok(false)` on expiry, with everything collected so far kept
    /// for a later call.
    pub(crate) fn run(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        self.run_lent(deadline, None)
    }

    /// [`run`](Self::run) writing input lent by the caller; what is left of
    /// it is copied when the call ends early.
    pub(crate) fn run_lent(
        &mut self,
        deadline: Option<Instant>,
        lent: Option<&[u8]>,
    ) -> io::Result<bool> {
        let result = self.run_inner(deadline, lent);
        if let Some(bytes) = lent {
            self.comm.keep_lent(bytes);
        }
        result
    }

    fn run_inner(&mut self, deadline: Option<Instant>, lent: Option<&[u8]>) -> io::Result<bool> {
        let _guard =
            (self.comm.writing() && sys::sigpipe_is_default()).then(sys::SigpipeGuard::new);
        let mut fds = Vec::with_capacity(8);
        loop {
            if self.comm.is_done() {
                // Without a deadline, a plain `waitpid` per process is all
                // that is left (below): no pidfd, no poll.
                if deadline.is_none() || self.reap_exited()? || !self.waiting_on_pidfd() {
                    break;
                }
            }
            fds.clear();
            self.interest(&mut fds);
            if sys::poll(&mut fds, deadline)? == 0 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(false);
                }
                continue;
            }
            self.on_ready_lent(&fds, lent)?;
        }
        // What is left (processes without a pidfd, or no deadline) is
        // waited for one by one.
        for p in &self.processes {
            match deadline {
                None => drop(p.wait_exclusive()?),
                Some(_) if p.wait_deadline(deadline)?.is_none() => return Ok(false),
                Some(_) => {}
            }
        }
        Ok(true)
    }

    /// Whether an unreaped process has a pidfd to poll (opening it).
    fn waiting_on_pidfd(&self) -> bool {
        self.processes
            .iter()
            .any(|p| p.status().is_none() && p.pidfd().is_some())
    }

    /// Every process's status, once all are reaped.
    pub(crate) fn statuses(&self) -> Option<Vec<ExitStatus>> {
        self.processes.iter().map(Process::status).collect()
    }

    /// The result of a finished execution: statuses and the output of
    /// streams 0 (stdout) and 1 (stderr).
    pub(crate) fn complete(&mut self) -> Completed {
        let statuses = self
            .statuses()
            .expect("complete() after every process was reaped");
        let status = overall_status(&statuses, self.strict_sigpipe).expect("at least one process");
        let (out, err) = (self.comm.take(0), self.comm.take(1));
        Completed::new(self.command.clone(), status, statuses, out, err)
            .with_dropped(self.comm.dropped(0), self.comm.dropped(1))
    }

    /// Reads from output `i`, which the caller streams (see
    /// [`Communicator::stream`]), into `buf`, serving stdin and the other
    /// outputs while it waits: the engine of `reader()`. The child is read
    /// only as fast as the caller reads, so memory stays bounded.
    ///
    /// Returns the bytes read (0 at end of file), or `Ok(None)` once
    /// `deadline` passes. Processes are not reaped here; the pidfds stay out
    /// of the poll set, since an exited child's pidfd would keep it ready.
    pub(crate) fn read_stream(
        &mut self,
        i: usize,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> io::Result<Option<usize>> {
        let _guard =
            (self.comm.writing() && sys::sigpipe_is_default()).then(sys::SigpipeGuard::new);
        let mut fds = Vec::with_capacity(4);
        loop {
            // Try first: when the child outpaces us the data is already
            // there, and one `read` is all it costs.
            match self.comm.read_streamed(i, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other.map(Some),
            }
            fds.clear();
            self.comm.interest(&mut fds);
            let Some(fd) = self.comm.streamed_fd(i) else {
                return Ok(Some(0));
            };
            fds.push(sys::poll_fd(fd, sys::POLLIN));
            if sys::poll(&mut fds, deadline)? == 0 {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
                continue;
            }
            self.on_ready(&fds)?;
        }
    }

    /// Sends `sig` to every process's group (or the process, without a
    /// group of its own).
    pub(crate) fn signal_tree(&self, sig: i32) -> io::Result<()> {
        self.watch_exits.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for p in &self.processes {
            if let Err(e) = p.signal_tree(sig) {
                result = Err(e);
            }
        }
        result
    }

    /// The deadline passed: kill every process tree, keep what the pipes
    /// already hold, stop reading (an escaped descendant may hold them
    /// open), and describe it as a timeout error.
    pub(crate) fn expire(&mut self, timeout: Duration) -> Error {
        let _ = self.signal_tree(sys::SIGKILL);
        let grace = Instant::now() + KILL_GRACE;
        for p in &self.processes {
            let _ = p.wait_deadline(Some(grace));
        }
        self.comm.close_input();
        self.comm.drain_available();
        let (out, err) = (self.comm.take(0), self.comm.take(1));
        self.comm = Communicator::default();
        let statuses = self.statuses().unwrap_or_default();
        Error::timed_out(self.command.clone(), timeout, true, statuses, out, err)
    }

    /// Runs to completion, enforcing `timeout` (counted from the spawn):
    /// the engine of every run-style method.
    pub(crate) fn finish(&mut self, timeout: Option<Duration>) -> crate::Result<Completed> {
        let deadline = timeout.map(|t| self.started + t);
        match self.run(deadline) {
            Ok(true) => Ok(self.complete()),
            Ok(false) => Err(self.expire(timeout.unwrap_or_default())),
            Err(e) => {
                let _ = self.signal_tree(sys::SIGKILL);
                let (out, err) = (self.comm.take(0), self.comm.take(1));
                Err(
                    Error::io(Some(self.command.clone()), "cannot talk to the child", e)
                        .with_output(out, err),
                )
            }
        }
    }
}
