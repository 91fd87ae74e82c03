//! Running a `duct::Expression` as a pool job.
//!
//! duct serves a started expression's pipes with threads of its own (one
//! per captured stream) and offers no descriptors to poll. We accept that
//! for duct tasks only, and never add a blocking thread of ours: the
//! scheduler watches a pidfd per process from `Handle::pids()` in its one
//! poll, and once they have all exited collects the output with the
//! non-blocking `Handle::try_wait`. duct's reader threads may need a moment
//! longer than the processes to reach end-of-file, so until `try_wait`
//! answers the scheduler looks again every millisecond. A Command task
//! costs no thread at all; a duct task costs duct's two.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{ExitStatus, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::status::Completed;
use crate::sys::{self, PollFd};

#[derive(Debug)]
pub(crate) struct DuctRun {
    /// `None` once the output was collected.
    handle: Option<duct::Handle>,
    output: Option<Output>,
    pids: Vec<u32>,
    pidfds: Vec<Option<OwnedFd>>,
    /// Per process: its pidfd fired (it exited; duct reaps it).
    exited: Vec<bool>,
    command: Arc<str>,
    started: Instant,
}

impl DuctRun {
    pub(crate) fn start(expr: &duct::Expression, command: Arc<str>) -> Result<DuctRun> {
        // Outer settings are defaults that the expression's own
        // redirections override. Every command leads a process group so a
        // kill reaches its descendants; `process_group` keeps std on its
        // posix_spawn path.
        let expr = expr
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .before_spawn(|cmd| {
                cmd.process_group(0);
                Ok(())
            });
        let started = Instant::now();
        let handle = expr
            .start()
            .map_err(|e| Error::io(Some(command.clone()), "cannot start", e))?;
        let pids = handle.pids();
        let pidfds: Vec<_> = pids.iter().map(|&pid| sys::pidfd_open(pid)).collect();
        Ok(DuctRun {
            handle: Some(handle),
            output: None,
            exited: vec![false; pids.len()],
            pids,
            pidfds,
            command,
            started,
        })
    }

    pub(crate) fn command(&self) -> &Arc<str> {
        &self.command
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.pids.first().copied()
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    pub(crate) fn interest(&self, fds: &mut Vec<PollFd>) {
        for (fd, exited) in self.pidfds.iter().zip(&self.exited) {
            if let (Some(fd), false) = (fd, exited) {
                fds.push(sys::poll_fd(fd.as_fd(), sys::POLLIN));
            }
        }
    }

    pub(crate) fn on_ready(&mut self, fds: &[PollFd]) -> io::Result<()> {
        for (fd, exited) in self.pidfds.iter().zip(self.exited.iter_mut()) {
            let Some(fd) = fd else { continue };
            let raw = std::os::fd::AsRawFd::as_raw_fd(fd);
            if fds.iter().any(|f| f.fd == raw && f.revents != 0) {
                *exited = true;
            }
        }
        if self.all_exited() {
            self.collect()?;
        }
        Ok(())
    }

    /// Takes the output if duct has it (processes reaped, readers done).
    fn collect(&mut self) -> io::Result<()> {
        let Some(handle) = &self.handle else {
            return Ok(());
        };
        if handle.try_wait()?.is_none() {
            return Ok(());
        }
        let handle = self.handle.take().expect("checked above");
        self.output = Some(handle.into_output()?);
        Ok(())
    }

    pub(crate) fn tick_after(&self) -> Option<Duration> {
        if self.output.is_some() {
            None
        } else if self.exited.iter().all(|&e| e) {
            // Only duct's reader threads are left to finish.
            Some(Duration::from_millis(1))
        } else if self.pidfds.iter().any(Option::is_none) {
            Some(super::launcher::backoff(self.started))
        } else {
            None
        }
    }

    pub(crate) fn tick(&mut self) -> io::Result<()> {
        self.collect()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.output.is_some()
    }

    pub(crate) fn all_exited(&self) -> bool {
        self.output.is_some() || self.exited.iter().all(|&e| e)
    }

    pub(crate) fn complete(&mut self) -> Result<Completed> {
        let output = self.output.take().expect("complete() after the output");
        Ok(Completed::new(
            self.command.clone(),
            output.status,
            vec![output.status],
            output.stdout,
            output.stderr,
        ))
    }

    pub(crate) fn kill(&mut self) {
        for (&pid, &exited) in self.pids.iter().zip(&self.exited) {
            // Exited (pidfd fired) but perhaps reaped by duct: its group id
            // may be free for reuse, so only live leaders are signalled.
            if !exited {
                let _ = sys::kill_group(pid, sys::SIGKILL);
            }
        }
        if let Some(handle) = &self.handle {
            let _ = handle.kill();
        }
    }

    pub(crate) fn abandon(&mut self) -> (Vec<ExitStatus>, Vec<u8>, Vec<u8>) {
        let _ = self.collect();
        match self.output.take() {
            Some(out) => (vec![out.status], out.stdout, out.stderr),
            // duct's threads still hold the pipes; dropping the handle
            // leaves its children to duct's own reaping.
            None => (Vec::new(), Vec::new(), Vec::new()),
        }
    }
}
