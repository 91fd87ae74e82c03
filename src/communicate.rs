//! The one deadlock-free I/O primitive everything else calls.
//!
//! # The deadlock it prevents
//! A child writes into a pipe whose buffer holds 64 KiB. If we write all of
//! its input before reading, or read all of its stdout before its stderr,
//! the child can block on a full pipe we are not reading while we block on
//! the pipe it is not reading: both wait forever. The fix is to never block
//! on one pipe: all of them are non-blocking and served from one `poll`
//! loop, together with the child's pidfd for exit detection and a deadline.
//!
//! A [`Communicator`] owns the parent's ends of the pipes and everything
//! collected so far, so a timed-out call can be resumed: nothing is lost or
//! written twice. It only serves pipes; [`Execution`](crate::execution)
//! adds the processes and the loop. Its [`interest`](Communicator::interest)
//! / [`on_ready`](Communicator::on_ready) halves let a scheduler serve many
//! children from a single poll.
//!
//! Throughput: a pipe that fills up is grown to 1 MiB (fewer wake-ups and
//! copies) and large captures are pre-faulted a few MiB ahead, so the kernel
//! copies into memory that is already mapped.
//!
//! Two extensions ride on the same loop. An output may carry a `Sink`
//! (`capture.rs`): callbacks and a size limit applied right after each
//! read. And an output may be *streamed*: the loop leaves it alone and the
//! caller reads it with [`read_streamed`](Communicator::read_streamed)
//! when it wants more (a `reader()`'s stdout), which is what gives
//! backpressure without a second I/O mechanism.

use crate::capture::{Capture, Sink};
use crate::sys::{self, PollFd};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

/// How far ahead of the data a large capture buffer is pre-faulted.
const PREFAULT_AHEAD: usize = 4 << 20;
/// Captures smaller than this are not pre-faulted (a syscall is not worth it).
const PREFAULT_FROM: usize = 1 << 20;
/// Reads per readiness event before we go back to poll (fairness).
const READS_PER_EVENT: usize = 8;

/// Bytes still to be written to the child's stdin.
#[derive(Debug)]
struct Input {
    fd: OwnedFd,
    data: Arc<[u8]>,
    pos: usize,
    /// The bytes are lent by the caller of each `run` (communicate's
    /// `&[u8]`) instead of owned: no copy unless a call times out.
    lent: bool,
}

/// One output stream of the child being collected.
#[derive(Debug, Default)]
pub(crate) struct Output {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    /// Capacity of the pipe we read from.
    pipe_size: usize,
    /// `buf` is pre-faulted up to this offset.
    faulted: usize,
    /// `buf.capacity()` when `faulted` was computed.
    faulted_cap: usize,
    /// Callbacks and a cap, if any were asked for (see `capture.rs`).
    sink: Option<Box<Sink>>,
    /// Read by the caller through [`Communicator::read_streamed`] instead
    /// of by the loop (a `reader()`'s stdout).
    streamed: bool,
    /// The sink passed a limit that asks to kill the child.
    kill_requested: bool,
}

impl Output {
    fn new(fd: Option<OwnedFd>) -> io::Result<Output> {
        if let Some(fd) = &fd {
            sys::set_nonblocking_own_pipe(fd.as_fd())?;
        }
        Ok(Output {
            fd,
            pipe_size: sys::DEFAULT_PIPE,
            ..Output::default()
        })
    }

    /// Reads what the pipe holds, up to a few pipe-fulls.
    fn read_some(&mut self) -> io::Result<()> {
        for _ in 0..READS_PER_EVENT {
            if self.fd.is_none() {
                return Ok(());
            }
            let chunk = self.pipe_size;
            self.prefault(chunk);
            let Some(fd) = &self.fd else { return Ok(()) };
            let start = self.buf.len();
            let read = sys::read_append(fd.as_fd(), &mut self.buf, chunk);
            if let (Ok(_), Some(sink)) = (&read, &mut self.sink) {
                self.kill_requested |= sink.absorb(&mut self.buf, start);
            }
            match read {
                Ok(0) => {
                    self.fd = None;
                    if let Some(sink) = &mut self.sink {
                        sink.flush_line();
                    }
                    return Ok(());
                }
                Ok(n) if n < chunk => return Ok(()),
                Ok(_) => self.grow_pipe(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A read that filled the whole pipe means the child outpaces us: give
    /// it a 1 MiB pipe. Growing lazily keeps small jobs within the per-user
    /// pipe budget.
    fn grow_pipe(&mut self) {
        if self.pipe_size < sys::BIG_PIPE {
            if let Some(fd) = &self.fd {
                self.pipe_size = sys::grow_pipe(fd.as_fd(), sys::BIG_PIPE).max(self.pipe_size);
            }
        }
    }

    fn prefault(&mut self, chunk: usize) {
        let len = self.buf.len();
        if len < PREFAULT_FROM {
            return;
        }
        self.buf.reserve(chunk);
        if self.buf.capacity() != self.faulted_cap {
            self.faulted_cap = self.buf.capacity();
            self.faulted = self.faulted.min(len);
        }
        if self.faulted < len + chunk {
            self.faulted =
                sys::prefault(&mut self.buf, self.faulted.max(len), len + PREFAULT_AHEAD);
        }
    }

    /// Reads whatever is already in the pipe without waiting (after the
    /// child was killed), at most one pipe-full: an escaped descendant that
    /// keeps writing must not keep us here.
    fn drain_available(&mut self) {
        let Some(fd) = &self.fd else { return };
        if self.streamed {
            return;
        }
        let mut left = self.pipe_size;
        while left > 0 {
            let start = self.buf.len();
            match sys::read_append(fd.as_fd(), &mut self.buf, left) {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n.min(left),
            }
            if let Some(sink) = &mut self.sink {
                sink.absorb(&mut self.buf, start);
            }
        }
    }

    /// Reads straight into the caller's `buf` (a streamed output): one
    /// `read`, `WouldBlock` when the pipe is empty, 0 at end of file.
    fn read_streamed(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(fd) = &self.fd else { return Ok(0) };
        let n = sys::read(fd.as_fd(), buf)?;
        if n == 0 {
            self.fd = None;
        } else if n >= self.pipe_size {
            // The pipe was full: the child outpaces the reader.
            self.grow_pipe();
        }
        Ok(n)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.fd.is_some()
    }

    /// Everything collected so far (with a limit, possibly more than it
    /// keeps in the end: see [`kept`](Self::kept)).
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf
    }

    /// A copy of what [`take`](Self::take) would return now.
    pub(crate) fn kept(&self) -> Vec<u8> {
        match &self.sink {
            Some(sink) => sink.view(&self.buf),
            None => self.data().to_vec(),
        }
    }

    /// Bytes read but not kept because of a limit.
    pub(crate) fn dropped(&self) -> u64 {
        self.sink.as_ref().map_or(0, |s| s.dropped())
    }

    /// Takes the collected bytes, trimming excess capacity.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        if let Some(sink) = &mut self.sink {
            sink.finish(&mut self.buf);
        }
        let mut buf = std::mem::take(&mut self.buf);
        if buf.capacity() - buf.len() > 4096.max(buf.len() / 8) {
            buf.shrink_to_fit();
        }
        self.faulted = 0;
        self.faulted_cap = 0;
        buf
    }
}

/// Writes input to and collects output from one child (or one pipeline)
/// without ever blocking on a single pipe.
#[derive(Debug, Default)]
pub(crate) struct Communicator {
    input: Option<Input>,
    outputs: Vec<Output>,
}

impl Communicator {
    /// Serves `stdin` (writing `input`, then closing it) and reads every
    /// pipe in `outputs` to the end. A stdin pipe with no input is closed at
    /// once, so the child sees end-of-file.
    pub(crate) fn new(
        stdin: Option<OwnedFd>,
        input: Option<Arc<[u8]>>,
        outputs: Vec<Option<OwnedFd>>,
    ) -> io::Result<Communicator> {
        let mut comm = Communicator {
            input: None,
            outputs: outputs
                .into_iter()
                .map(Output::new)
                .collect::<io::Result<_>>()?,
        };
        if let (Some(fd), Some(data)) = (stdin, input) {
            comm.set_input(fd, data)?;
        }
        Ok(comm)
    }

    fn set_input(&mut self, fd: OwnedFd, data: Arc<[u8]>) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        sys::set_nonblocking_own_pipe(fd.as_fd())?;
        if data.len() > sys::DEFAULT_PIPE {
            sys::grow_pipe(fd.as_fd(), sys::BIG_PIPE);
        }
        self.input = Some(Input {
            fd,
            data,
            pos: 0,
            lent: false,
        });
        Ok(())
    }

    /// Takes stdin to write bytes the caller lends to each call of
    /// [`on_ready`](Self::on_ready), until [`keep_lent`](Self::keep_lent).
    /// Saves copying a large `communicate` input that is written in one call.
    pub(crate) fn lend_input(&mut self, fd: OwnedFd, len: usize) -> io::Result<()> {
        sys::set_nonblocking_own_pipe(fd.as_fd())?;
        if len > sys::DEFAULT_PIPE {
            sys::grow_pipe(fd.as_fd(), sys::BIG_PIPE);
        }
        self.input = Some(Input {
            fd,
            data: Arc::from(&[][..]),
            pos: 0,
            lent: true,
        });
        Ok(())
    }

    /// The lending call is over: copies what is still unwritten of `lent`
    /// so a later call can resume without it.
    pub(crate) fn keep_lent(&mut self, lent: &[u8]) {
        if let Some(input) = self.input.as_mut().filter(|i| i.lent) {
            input.data = Arc::from(&lent[input.pos.min(lent.len())..]);
            input.pos = 0;
            input.lent = false;
        }
    }

    /// Whether every pipe is finished: input written (or refused) and
    /// every output at end-of-file.
    pub(crate) fn is_done(&self) -> bool {
        self.input.is_none() && self.outputs.iter().all(|o| !o.is_open())
    }

    /// Whether input is still waiting to be written.
    pub(crate) fn writing(&self) -> bool {
        self.input.is_some()
    }

    /// Pushes a pollfd for every pipe still open.
    pub(crate) fn interest(&self, fds: &mut Vec<PollFd>) {
        if let Some(input) = &self.input {
            fds.push(sys::poll_fd(input.fd.as_fd(), sys::POLLOUT));
        }
        for output in self.outputs.iter().filter(|o| !o.streamed) {
            if let Some(fd) = &output.fd {
                fds.push(sys::poll_fd(fd.as_fd(), sys::POLLIN));
            }
        }
    }

    /// Serves the pipes that `fds` (filled by [`interest`](Self::interest)
    /// and polled) report ready; entries for other descriptors are ignored.
    /// `lent` is the input given to [`lend_input`](Self::lend_input), if any.
    pub(crate) fn on_ready(&mut self, fds: &[PollFd], lent: Option<&[u8]>) -> io::Result<()> {
        for pfd in fds.iter().filter(|p| p.revents != 0) {
            if self
                .input
                .as_ref()
                .is_some_and(|i| i.fd.as_raw_fd() == pfd.fd)
            {
                self.write_some(lent)?;
                continue;
            }
            let found = self
                .outputs
                .iter_mut()
                .find(|o| !o.streamed && o.fd.as_ref().is_some_and(|fd| fd.as_raw_fd() == pfd.fd));
            if let Some(output) = found {
                output.read_some()?;
            }
        }
        Ok(())
    }

    /// Writes as much input as the pipe takes; closes stdin when all is
    /// written. A child that exits or closes its stdin early makes the write
    /// fail with EPIPE: the rest of the input is dropped, not an error.
    fn write_some(&mut self, lent: Option<&[u8]>) -> io::Result<()> {
        let Some(input) = &mut self.input else {
            return Ok(());
        };
        let data: &[u8] = match (input.lent, lent) {
            (false, _) => &input.data,
            (true, Some(bytes)) => bytes,
            // Lent bytes gone without keep_lent (a panic): close stdin.
            (true, None) => &[],
        };
        while input.pos < data.len() {
            match sys::write(input.fd.as_fd(), &data[input.pos..]) {
                Ok(n) => input.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => break,
                Err(e) => return Err(e),
            }
        }
        self.input = None;
        Ok(())
    }

    /// Collects what the pipes already hold, without waiting.
    pub(crate) fn drain_available(&mut self) {
        for output in &mut self.outputs {
            output.drain_available();
        }
    }

    /// Closes stdin without writing the rest of the input.
    pub(crate) fn close_input(&mut self) {
        self.input = None;
    }

    /// Takes the bytes of output `i` collected so far (empty if no such
    /// stream).
    pub(crate) fn take(&mut self, i: usize) -> Vec<u8> {
        self.outputs
            .get_mut(i)
            .map(Output::take)
            .unwrap_or_default()
    }

    /// A copy of output `i` collected so far.
    pub(crate) fn snapshot(&self, i: usize) -> Vec<u8> {
        self.outputs.get(i).map(Output::kept).unwrap_or_default()
    }

    /// Applies callbacks and a limit to output `i` from now on.
    pub(crate) fn capture(&mut self, i: usize, capture: &Capture) {
        if let Some(output) = self.outputs.get_mut(i) {
            output.sink = capture.sink();
        }
    }

    /// Bytes of output `i` read but not kept because of a limit.
    pub(crate) fn dropped(&self, i: usize) -> u64 {
        self.outputs.get(i).map_or(0, Output::dropped)
    }

    /// Whether a limit asked to kill the child since the last call.
    pub(crate) fn take_kill_request(&mut self) -> bool {
        let mut any = false;
        for output in &mut self.outputs {
            any |= std::mem::take(&mut output.kill_requested);
        }
        any
    }

    /// Leaves output `i` to the caller, who reads it with
    /// [`read_streamed`](Self::read_streamed); the loop serves the others.
    pub(crate) fn stream(&mut self, i: usize) {
        if let Some(output) = self.outputs.get_mut(i) {
            output.streamed = true;
        }
    }

    /// The pipe of streamed output `i`, while it is open.
    pub(crate) fn streamed_fd(&self, i: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        let output = self.outputs.get(i)?;
        output.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// One non-blocking read of streamed output `i` into `buf`.
    pub(crate) fn read_streamed(&mut self, i: usize, buf: &mut [u8]) -> io::Result<usize> {
        match self.outputs.get_mut(i) {
            Some(output) => output.read_streamed(buf),
            None => Ok(0),
        }
    }
}
