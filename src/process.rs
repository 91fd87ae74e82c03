//! One running child: its pid, a pidfd where the OS has them, and its exit
//! status once reaped.
//!
//! All methods take `&self`, so a [`Popen`](crate::Popen) can be shared
//! between threads: one blocks in `wait` while another polls or kills. The
//! lock is held only to reap or signal, never while blocking, so a blocked
//! waiter never delays a `kill`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use crate::sys;

/// A spawned child process, reaped exactly once.
#[derive(Debug)]
pub(crate) struct Process {
    pid: u32,
    /// The process group it was put in, if not ours.
    pgid: Option<u32>,
    /// Readable once the child has exited; `None` without pidfd support or
    /// when first asked for after the child was reaped. Opened on first use:
    /// a run that only waits never needs one (see [`Process::pidfd`]).
    pidfd: OnceLock<Option<OwnedFd>>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// `None` once handed to the reaper (only in `Drop`).
    child: Option<Child>,
    status: Option<ExitStatus>,
}

/// How long the fallback waiter holds the lock per slice; bounds how long a
/// concurrent `kill` may wait on systems without pidfds.
const FALLBACK_SLICE: Duration = Duration::from_millis(20);

impl Process {
    /// Wraps a freshly spawned child; `pgid` is the process group it was
    /// put in, if not ours (then signals can reach its descendants).
    pub(crate) fn new(child: Child, pgid: Option<u32>) -> Process {
        let pid = child.id();
        Process {
            pid,
            pgid,
            pidfd: OnceLock::new(),
            state: Mutex::new(State {
                child: Some(child),
                status: None,
            }),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The pidfd to put in a poll set for exit detection, opened on first
    /// use. `None` without pidfd support, and for a child already reaped
    /// (there is nothing left to wait for).
    pub(crate) fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd
            .get_or_init(|| self.open_pidfd())
            .as_ref()
            .map(|fd| fd.as_fd())
    }

    /// Only an unreaped child may get a pidfd: once reaped, its pid may
    /// already name another process. Must not be called with the lock held.
    fn open_pidfd(&self) -> Option<OwnedFd> {
        let state = self.lock();
        let unreaped = state.status.is_none() && state.child.is_some();
        unreaped.then(|| sys::pidfd_open(self.pid)).flatten()
    }

    /// Whether the child is unreaped but opening its pidfd failed (out of
    /// descriptors, say): nothing will wake a poll when it exits, so whoever
    /// waits for it must look from time to time.
    pub(crate) fn pidfd_failed(&self) -> bool {
        matches!(self.pidfd.get(), Some(None)) && self.status().is_none()
    }

    /// The pidfd if one was already opened; never opens one.
    pub(crate) fn opened_pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.get()?.as_ref().map(|fd| fd.as_fd())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent
        // (each field is written in one step), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The status if the child was already reaped; never blocks, never
    /// reaps.
    pub(crate) fn status(&self) -> Option<ExitStatus> {
        self.lock().status
    }

    /// Reaps the child if it has exited; never blocks.
    pub(crate) fn try_reap(&self) -> io::Result<Option<ExitStatus>> {
        let mut state = self.lock();
        if let Some(status) = state.status {
            return Ok(Some(status));
        }
        let Some(child) = state.child.as_mut() else {
            return Ok(None);
        };
        let status = child.try_wait()?;
        state.status = status;
        Ok(status)
    }

    /// Waits for the child to exit, until `deadline` if given. Returns
    /// `Ok(None)` when the deadline passes first.
    pub(crate) fn wait_deadline(
        &self,
        deadline: Option<Instant>,
    ) -> io::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.try_reap()? {
                return Ok(Some(status));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            match self.pidfd() {
                Some(fd) => {
                    let mut fds = [sys::poll_fd(fd, sys::POLLIN)];
                    sys::poll(&mut fds, deadline)?;
                }
                None => {
                    if let Some(status) = self.wait_slice(deadline)? {
                        return Ok(Some(status));
                    }
                }
            }
        }
    }

    /// Waits for the child to exit, blocking in `waitpid` with the lock held:
    /// the cheapest wait (no pidfd, no poll), for an owner that has the
    /// process to itself (`Execution::run` takes `&mut self`), since a
    /// concurrent `signal` would wait for the lock until the child exits.
    pub(crate) fn wait_exclusive(&self) -> io::Result<ExitStatus> {
        let mut state = self.lock();
        if let Some(status) = state.status {
            return Ok(status);
        }
        let Some(child) = state.child.as_mut() else {
            return Err(io::Error::other("the child was handed to the reaper"));
        };
        let status = child.wait()?;
        state.status = Some(status);
        Ok(status)
    }

    /// Without a pidfd: waits with `wait-timeout` for one short slice while
    /// holding the lock, so that signals can get in between slices.
    fn wait_slice(&self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        let mut slice = FALLBACK_SLICE;
        if let Some(d) = deadline {
            slice = slice.min(d.saturating_duration_since(Instant::now()));
        }
        let mut state = self.lock();
        if state.status.is_some() {
            return Ok(state.status);
        }
        let Some(child) = state.child.as_mut() else {
            return Ok(None);
        };
        let status = child.wait_timeout(slice)?;
        state.status = status;
        Ok(status)
    }

    /// Sends `sig` to the child unless it was already reaped (then its pid
    /// may belong to someone else, and there is nothing to signal).
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        // Through a pidfd where there can be one, opened now if need be
        // (before taking the lock): a host that ignores SIGCHLD has its
        // children reaped by the kernel, and only a pidfd is safe then.
        let _ = self.pidfd();
        let state = self.lock();
        if state.status.is_some() || state.child.is_none() {
            return Ok(());
        }
        // Without a pidfd, `kill` is as safe here: the child is unreaped
        // (we hold the lock), so its pid cannot have been reused.
        let result = match self.opened_pidfd() {
            Some(fd) => sys::pidfd_send_signal(fd, sig),
            None => sys::kill(self.pid, sig),
        };
        match result {
            // Exited but not yet reaped: nothing to do.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Sends `sig` to the child's whole process group if it has one of its
    /// own, otherwise to the child alone.
    pub(crate) fn signal_tree(&self, sig: i32) -> io::Result<()> {
        match self.pgid {
            // The group id cannot be reused while the leader is unreaped or
            // any member lives; after that killpg finds no group (ESRCH).
            Some(pgid) => sys::kill_group(pgid, sig),
            None => self.signal(sig),
        }
    }

    /// Kills the child's group (or the child) and reaps it, waiting at most
    /// `grace` for the corpse; an unkillable child (stuck in the kernel) is
    /// left to the reaper.
    pub(crate) fn kill_tree_and_reap(&self, grace: Duration) -> Option<ExitStatus> {
        let _ = self.signal_tree(sys::SIGKILL);
        self.wait_deadline(Some(Instant::now() + grace))
            .ok()
            .flatten()
    }
}

impl Drop for Process {
    /// Never blocks: a child still running is handed to the reaper, which
    /// reaps it when it exits, so no zombie is left behind.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if state.status.is_some() {
            return;
        }
        if let Some(mut child) = state.child.take() {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            // Still unreaped, so opening a pidfd for the reaper is safe.
            let pidfd = self.pidfd.take().flatten();
            crate::reaper::adopt(child, pidfd.or_else(|| sys::pidfd_open(self.pid)));
        }
    }
}
