//! What happens to captured output as it arrives: live callbacks per line or
//! per chunk, and caps on how much is kept.
//!
//! A [`Capture`] is the configuration a [`Command`] or
//! [`Pipeline`](crate::Pipeline) carries for each of stdout and stderr; the
//! [`Communicator`](crate::communicate) turns it into a [`Sink`] that sees
//! every byte the moment it is read from the pipe, in the same poll loop
//! that serves the other pipes. Callbacks therefore run on the thread that
//! called `run` (no thread per pipe), and the two streams can never deadlock
//! each other: a stream over its cap is still read, only not kept.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::redirect::Slot;

/// A line longer than this is passed to a line callback in pieces of this
/// size, so that a child printing gigabytes without a newline cannot make
/// us buffer them.
pub(crate) const LINE_MAX: usize = 1 << 20;

/// A shared, `Send` callback. Behind a mutex so that a [`Command`] holding
/// it stays `Clone + Send + Sync`; only the thread serving the pipes calls
/// it, so the lock is never contended within one run.
pub(crate) type Callback = Arc<Mutex<dyn FnMut(&[u8]) + Send>>;

/// Which part of an output stream a capped capture keeps.
///
/// ```
/// use pipe_run::{Command, Keep, OutputLimit};
/// let done = Command::new("seq").arg("1000").stdout_limit(OutputLimit::new(6, Keep::Tail)).run()?;
/// assert_eq!(done.stdout, b"\n1000\n");
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Keep {
    /// The first bytes (like `| head -c N`).
    Head,
    /// The last bytes (like `| tail -c N`): what an error message wants.
    Tail,
    /// The first half and the last half of the limit, joined; the bytes
    /// dropped between them are counted.
    HeadAndTail,
}

/// A cap on how many bytes of one output stream are kept in memory.
///
/// The child is still drained to the end (it never blocks on a full pipe),
/// only the bytes beyond the cap are dropped and counted: see
/// [`Completed::stdout_dropped`](crate::Completed::stdout_dropped). With
/// [`kill`](OutputLimit::kill) the child is killed instead as soon as it
/// passes the cap.
///
/// ```
/// use pipe_run::{Command, OutputLimit};
/// let done = Command::new("seq").arg("100000").stdout_limit(OutputLimit::head(4)).run()?;
/// assert_eq!(done.stdout, b"1\n2\n");
/// assert_eq!(done.stdout_dropped(), 588_895 - 4);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "an OutputLimit does nothing until given to stdout_limit or stderr_limit"]
pub struct OutputLimit {
    max: usize,
    keep: Keep,
    kill: bool,
}

impl OutputLimit {
    /// Keep at most `max` bytes, choosing which with `keep`.
    ///
    /// ```
    /// use pipe_run::{Keep, OutputLimit};
    /// assert_eq!(OutputLimit::new(10, Keep::Head), OutputLimit::head(10));
    /// ```
    pub fn new(max: usize, keep: Keep) -> OutputLimit {
        OutputLimit {
            max,
            keep,
            kill: false,
        }
    }

    /// Keep the first `max` bytes.
    ///
    /// ```
    /// let done = pipe_run::Command::new("echo").arg("hello").stdout_limit(pipe_run::OutputLimit::head(2)).run()?;
    /// assert_eq!(done.stdout, b"he");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn head(max: usize) -> OutputLimit {
        OutputLimit::new(max, Keep::Head)
    }

    /// Keep the last `max` bytes. While the child runs up to about twice
    /// `max` is held (trimming in bulk keeps the cost per byte constant).
    ///
    /// ```
    /// let done = pipe_run::Command::new("echo").arg("hello").stdout_limit(pipe_run::OutputLimit::tail(3)).run()?;
    /// assert_eq!(done.stdout, b"lo\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn tail(max: usize) -> OutputLimit {
        OutputLimit::new(max, Keep::Tail)
    }

    /// Keep the first `max / 2` and the last `max - max / 2` bytes, joined.
    ///
    /// ```
    /// let done = pipe_run::Command::new("echo").arg("abcdefgh").stdout_limit(pipe_run::OutputLimit::head_and_tail(4)).run()?;
    /// assert_eq!(done.stdout, b"abh\n");
    /// assert_eq!(done.stdout_dropped(), 5);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn head_and_tail(max: usize) -> OutputLimit {
        OutputLimit::new(max, Keep::HeadAndTail)
    }

    /// Kill the child (its process group, or every stage of a pipeline)
    /// with SIGKILL as soon as the stream passes the cap, instead of
    /// draining it. Its status then says it was killed by signal 9, so
    /// `check_*` methods fail; the capture keeps what the limit allows.
    ///
    /// ```
    /// use pipe_run::{Command, OutputLimit};
    /// let done = Command::new("yes").stdout_limit(OutputLimit::head(4).kill()).run()?;
    /// assert_eq!(done.stdout, b"y\ny\n");
    /// assert_eq!(done.status.to_string(), "signal: 9 (SIGKILL)");
    /// assert!(done.stdout_dropped() > 0);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn kill(mut self) -> OutputLimit {
        self.kill = true;
        self
    }

    /// The most bytes kept.
    ///
    /// ```
    /// assert_eq!(pipe_run::OutputLimit::tail(64).max(), 64);
    /// ```
    pub fn max(&self) -> usize {
        self.max
    }

    /// Which bytes are kept.
    ///
    /// ```
    /// use pipe_run::{Keep, OutputLimit};
    /// assert_eq!(OutputLimit::tail(64).keep(), Keep::Tail);
    /// ```
    pub fn keep(&self) -> Keep {
        self.keep
    }
}

/// What to do with one output stream as it is read: the configuration
/// stored in a `Command` or `Pipeline`.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    pub(crate) limit: Option<OutputLimit>,
    pub(crate) on_line: Option<Callback>,
    pub(crate) on_chunk: Option<Callback>,
}

impl Capture {
    /// Whether anything beyond plain capture was asked for.
    pub(crate) fn is_plain(&self) -> bool {
        self.limit.is_none() && !self.has_callbacks()
    }

    pub(crate) fn has_callbacks(&self) -> bool {
        self.on_line.is_some() || self.on_chunk.is_some()
    }

    /// The slot a stream gets when the user set none: callbacks need a pipe
    /// to us, whatever the running method would otherwise do.
    pub(crate) fn default_slot(&self, method_default: Slot) -> Slot {
        if self.has_callbacks() {
            Slot::Pipe
        } else {
            method_default
        }
    }

    /// Refuses callbacks on a stream the user redirected away from us: they
    /// would silently never be called.
    pub(crate) fn check_slot(
        &self,
        slot: Option<&Slot>,
        stream: &str,
        command: &Arc<str>,
    ) -> Result<()> {
        match slot {
            Some(Slot::Pipe) | None => Ok(()),
            Some(other) if self.has_callbacks() => Err(Error::invalid(
                Some(command.clone()),
                format!(
                    "{stream} callbacks need {stream} captured, but it is redirected to {other:?}"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// This capture with `limit` unless one was set.
    pub(crate) fn or_limit(&self, limit: OutputLimit) -> Capture {
        let mut capture = self.clone();
        capture.limit.get_or_insert(limit);
        capture
    }

    /// The runtime state for one run, or `None` for plain capture (the
    /// fast path).
    pub(crate) fn sink(&self) -> Option<Box<Sink>> {
        (!self.is_plain()).then(|| {
            Box::new(Sink {
                capture: self.clone(),
                partial: Vec::new(),
                head: Vec::new(),
                seen: 0,
                dropped: 0,
                over: false,
                finished: false,
            })
        })
    }
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("limit", &self.limit)
            .field("on_line", &self.on_line.is_some())
            .field("on_chunk", &self.on_chunk.is_some())
            .finish()
    }
}

pub(crate) fn callback(f: impl FnMut(&[u8]) + Send + 'static) -> Callback {
    Arc::new(Mutex::new(f))
}

fn call(cb: &Callback, bytes: &[u8]) {
    // A callback that panicked in an earlier run poisons the lock; the
    // closure itself is still usable.
    let mut f = cb.lock().unwrap_or_else(|e| e.into_inner());
    f(bytes);
}

/// The state of one captured stream during a run: callbacks are fed and the
/// limit applied right after each read, on the capture buffer itself.
#[derive(Debug)]
pub(crate) struct Sink {
    capture: Capture,
    /// A line not yet ended by `\n`.
    partial: Vec<u8>,
    /// The kept head, for [`Keep::HeadAndTail`].
    head: Vec<u8>,
    /// Bytes read so far.
    seen: u64,
    /// Bytes read and not kept.
    dropped: u64,
    /// Whether the limit was passed.
    over: bool,
    /// [`finish`](Sink::finish) was called: `buf` holds the final result.
    finished: bool,
}

impl Sink {
    /// Takes in the bytes `buf[start..]` just read: feeds the callbacks,
    /// then trims `buf` to the limit. Returns true the first time the limit
    /// is passed when it asks to kill.
    pub(crate) fn absorb(&mut self, buf: &mut Vec<u8>, start: usize) -> bool {
        let fresh = &buf[start..];
        self.seen += fresh.len() as u64;
        if let Some(cb) = &self.capture.on_chunk {
            if !fresh.is_empty() {
                call(cb, fresh);
            }
        }
        if let Some(cb) = &self.capture.on_line {
            feed_lines(cb, &mut self.partial, fresh);
        }
        let Some(limit) = self.capture.limit else {
            return false;
        };
        let kept = self.head.len() as u64 + buf.len() as u64;
        let newly_over = !self.over && kept > limit.max as u64;
        self.over |= newly_over;
        match limit.keep {
            Keep::Head => self.trim_end(buf, limit.max),
            Keep::Tail => self.trim_front(buf, limit.max, false),
            Keep::HeadAndTail => {
                let head_max = limit.max / 2;
                if self.head.len() < head_max {
                    let take = (head_max - self.head.len()).min(buf.len());
                    self.head.extend_from_slice(&buf[..take]);
                    buf.drain(..take);
                }
                self.trim_front(buf, limit.max - head_max, false);
            }
        }
        newly_over && limit.kill
    }

    fn trim_end(&mut self, buf: &mut Vec<u8>, max: usize) {
        if buf.len() > max {
            self.dropped += (buf.len() - max) as u64;
            buf.truncate(max);
        }
    }

    /// Drops bytes from the front of `buf` down to `max`: in bulk, once it
    /// holds `max` bytes too many (so each byte is moved about once), or
    /// exactly when `now`.
    fn trim_front(&mut self, buf: &mut Vec<u8>, max: usize, now: bool) {
        let slack = if now { 0 } else { max.max(64 << 10) };
        if buf.len() > max + slack {
            let cut = buf.len() - max;
            self.dropped += cut as u64;
            buf.drain(..cut);
        }
    }

    /// The stream ended: pass on the last line if it had no `\n`.
    pub(crate) fn flush_line(&mut self) {
        if let Some(cb) = &self.capture.on_line {
            if !self.partial.is_empty() {
                call(cb, &self.partial);
                self.partial.clear();
            }
        }
    }

    /// The capture is being taken: pass on the last unfinished line and cut
    /// `buf` exactly to the limit. Only the first call does anything.
    pub(crate) fn finish(&mut self, buf: &mut Vec<u8>) {
        self.flush_line();
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let Some(limit) = self.capture.limit else {
            return;
        };
        match limit.keep {
            Keep::Head => {}
            Keep::Tail => self.trim_front(buf, limit.max, true),
            Keep::HeadAndTail => {
                self.trim_front(buf, limit.max - limit.max / 2, true);
                if !self.head.is_empty() {
                    let mut joined = std::mem::take(&mut self.head);
                    joined.extend_from_slice(buf);
                    *buf = joined;
                }
            }
        }
    }

    /// What [`finish`](Sink::finish) would leave, without changing anything
    /// (for a timed-out `communicate`, which may resume).
    pub(crate) fn view(&self, buf: &[u8]) -> Vec<u8> {
        let Some(limit) = self.capture.limit.filter(|_| !self.finished) else {
            return buf.to_vec();
        };
        let tail_max = match limit.keep {
            Keep::Head => buf.len(),
            Keep::Tail => limit.max,
            Keep::HeadAndTail => limit.max - limit.max / 2,
        };
        let mut out = self.head.clone();
        out.extend_from_slice(&buf[buf.len().saturating_sub(tail_max)..]);
        out
    }

    /// Bytes read and not kept, so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Passes each complete line of `fresh` (after what `partial` holds) to
/// `cb`, without its `\n`; keeps the unfinished rest in `partial`, passing
/// it on in [`LINE_MAX`] pieces if it grows that long.
fn feed_lines(cb: &Callback, partial: &mut Vec<u8>, fresh: &[u8]) {
    let mut f = cb.lock().unwrap_or_else(|e| e.into_inner());
    let mut rest = fresh;
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        if partial.is_empty() {
            f(&rest[..nl]);
        } else {
            partial.extend_from_slice(&rest[..nl]);
            f(partial);
            partial.clear();
        }
        rest = &rest[nl + 1..];
    }
    partial.extend_from_slice(rest);
    while partial.len() >= LINE_MAX {
        f(&partial[..LINE_MAX]);
        partial.drain(..LINE_MAX);
    }
}

/// Callbacks and caps on a [`Command`]'s output. They apply whenever the
/// stream is captured (a pipe to us): by [`run`](Command::run),
/// [`check_output`](Command::check_output), [`Popen::communicate`](crate::Popen::communicate),
/// and by every method once a callback makes the stream a pipe.
impl Command {
    /// Calls `f` with each line of stdout (without its `\n`) as soon as it
    /// arrives, while the output is still captured as usual: live progress
    /// for build tools, in the same call that collects the result. Setting
    /// it makes stdout a pipe to us for every running method (unless it is
    /// redirected elsewhere, which is then an error). A final line without
    /// `\n` is passed at the end; a line longer than 1 MiB is passed in 1 MiB
    /// pieces.
    ///
    /// Callbacks run on the thread that runs the command, in the loop that
    /// serves all its pipes, so stdout and stderr cannot deadlock each
    /// other; a slow callback only slows the child down.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let seen = lines.clone();
    /// let done = pipe_run::Command::shell("echo one; echo two >&2; echo three")
    ///     .on_stdout_line(move |line| seen.lock().unwrap().push(String::from_utf8_lossy(line).into_owned()))
    ///     .run()?;
    /// assert_eq!(*lines.lock().unwrap(), ["one", "three"]);
    /// assert_eq!(done.stdout, b"one\nthree\n"); // still captured
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stdout_line(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Command {
        self.capture_mut(0).on_line = Some(callback(f));
        self
    }

    /// Calls `f` with each line of stderr as soon as it arrives; see
    /// [`on_stdout_line`](Command::on_stdout_line).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let warnings = Arc::new(Mutex::new(0));
    /// let count = warnings.clone();
    /// pipe_run::Command::shell("echo warning: a >&2; echo warning: b >&2")
    ///     .on_stderr_line(move |line| if line.starts_with(b"warning") { *count.lock().unwrap() += 1 })
    ///     .check_call()?;
    /// assert_eq!(*warnings.lock().unwrap(), 2);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stderr_line(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Command {
        self.capture_mut(1).on_line = Some(callback(f));
        self
    }

    /// Calls `f` with every chunk of stdout as it is read (any size, no
    /// line splitting); see [`on_stdout_line`](Command::on_stdout_line).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let total = Arc::new(AtomicUsize::new(0));
    /// let t = total.clone();
    /// pipe_run::Command::new("head").args(["-c", "100000", "/dev/zero"])
    ///     .on_stdout_chunk(move |chunk| { t.fetch_add(chunk.len(), Ordering::Relaxed); })
    ///     .check_call()?;
    /// assert_eq!(total.load(Ordering::Relaxed), 100_000);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stdout_chunk(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Command {
        self.capture_mut(0).on_chunk = Some(callback(f));
        self
    }

    /// Calls `f` with every chunk of stderr as it is read; see
    /// [`on_stdout_chunk`](Command::on_stdout_chunk).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let l = log.clone();
    /// pipe_run::Command::shell("echo oops >&2")
    ///     .on_stderr_chunk(move |chunk| l.lock().unwrap().extend_from_slice(chunk))
    ///     .check_call()?;
    /// assert_eq!(*log.lock().unwrap(), b"oops\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stderr_chunk(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Command {
        self.capture_mut(1).on_chunk = Some(callback(f));
        self
    }

    /// Caps how much captured stdout is kept; the rest is read and dropped
    /// (and counted in [`Completed::stdout_dropped`](crate::Completed::stdout_dropped)),
    /// so a runaway child cannot exhaust our memory yet never blocks.
    ///
    /// ```
    /// use pipe_run::{Command, OutputLimit};
    /// let done = Command::new("seq").arg("5").stdout_limit(OutputLimit::tail(4)).run()?;
    /// assert_eq!((&done.stdout[..], done.stdout_dropped()), (&b"4\n5\n"[..], 6));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout_limit(mut self, limit: OutputLimit) -> Command {
        self.capture_mut(0).limit = Some(limit);
        self
    }

    /// Caps how much captured stderr is kept; see
    /// [`stdout_limit`](Command::stdout_limit).
    ///
    /// ```
    /// use pipe_run::{Command, OutputLimit};
    /// let done = Command::shell("seq 5 >&2").stderr_limit(OutputLimit::head(2)).run()?;
    /// assert_eq!((&done.stderr[..], done.stderr_dropped()), (&b"1\n"[..], 8));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stderr_limit(mut self, limit: OutputLimit) -> Command {
        self.capture_mut(1).limit = Some(limit);
        self
    }
}

/// The same callbacks and caps on a [`Pipeline`]: stdout is the last stage's,
/// stderr the pipe all stages share.
impl Pipeline {
    /// Calls `f` with each line of the last stage's stdout as it arrives,
    /// while still capturing it; see [`Command::on_stdout_line`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let n = Arc::new(Mutex::new(0));
    /// let count = n.clone();
    /// pipe_run::Pipeline::parse("seq 10 | grep 1")?
    ///     .on_stdout_line(move |_| *count.lock().unwrap() += 1)
    ///     .check_call()?;
    /// assert_eq!(*n.lock().unwrap(), 2);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stdout_line(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Pipeline {
        self.capture_mut(0).on_line = Some(callback(f));
        self
    }

    /// Calls `f` with each line any stage writes to the shared stderr; see
    /// [`Command::on_stderr_line`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let l = lines.clone();
    /// pipe_run::Pipeline::parse("sh -c 'echo a >&2' | sh -c 'cat; echo b >&2'")?
    ///     .on_stderr_line(move |line| l.lock().unwrap().push(line.to_vec()))
    ///     .check_call()?;
    /// let mut got = lines.lock().unwrap().clone();
    /// got.sort();
    /// assert_eq!(got, [b"a", b"b"]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stderr_line(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Pipeline {
        self.capture_mut(1).on_line = Some(callback(f));
        self
    }

    /// Calls `f` with every chunk of the last stage's stdout as it is read;
    /// see [`Command::on_stdout_chunk`].
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// let total = Arc::new(AtomicUsize::new(0));
    /// let t = total.clone();
    /// pipe_run::Pipeline::parse("head -c 5000 /dev/zero | cat")?
    ///     .on_stdout_chunk(move |c| { t.fetch_add(c.len(), Ordering::Relaxed); })
    ///     .check_call()?;
    /// assert_eq!(total.load(Ordering::Relaxed), 5000);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stdout_chunk(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Pipeline {
        self.capture_mut(0).on_chunk = Some(callback(f));
        self
    }

    /// Calls `f` with every chunk of the shared stderr as it is read; see
    /// [`Command::on_stderr_chunk`].
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let l = log.clone();
    /// pipe_run::Pipeline::parse("sh -c 'echo x >&2' | cat")?
    ///     .on_stderr_chunk(move |c| l.lock().unwrap().extend_from_slice(c))
    ///     .check_call()?;
    /// assert_eq!(*log.lock().unwrap(), b"x\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn on_stderr_chunk(mut self, f: impl FnMut(&[u8]) + Send + 'static) -> Pipeline {
        self.capture_mut(1).on_chunk = Some(callback(f));
        self
    }

    /// Caps how much of the captured stdout is kept; see
    /// [`Command::stdout_limit`].
    ///
    /// ```
    /// use pipe_run::{OutputLimit, Pipeline};
    /// let done = Pipeline::parse("seq 1000 | cat")?.stdout_limit(OutputLimit::tail(4)).run()?;
    /// assert_eq!(done.stdout, b"000\n");
    /// assert_eq!(done.stdout_dropped(), 3893 - 4);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout_limit(mut self, limit: OutputLimit) -> Pipeline {
        self.capture_mut(0).limit = Some(limit);
        self
    }

    /// Caps how much of the shared captured stderr is kept; see
    /// [`Command::stderr_limit`].
    ///
    /// ```
    /// use pipe_run::{OutputLimit, Pipeline};
    /// let done = Pipeline::parse("sh -c 'seq 100 >&2' | cat")?.stderr_limit(OutputLimit::head(2)).run()?;
    /// assert_eq!(done.stderr, b"1\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stderr_limit(mut self, limit: OutputLimit) -> Pipeline {
        self.capture_mut(1).limit = Some(limit);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limit: OutputLimit, chunks: &[&[u8]]) -> (Vec<u8>, u64) {
        let capture = Capture {
            limit: Some(limit),
            ..Capture::default()
        };
        let mut sink = capture.sink().unwrap();
        let mut buf = Vec::new();
        for chunk in chunks {
            let start = buf.len();
            buf.extend_from_slice(chunk);
            sink.absorb(&mut buf, start);
        }
        sink.finish(&mut buf);
        (buf, sink.dropped())
    }

    #[test]
    fn limits_keep_the_asked_part_and_count_the_rest() {
        let chunks: &[&[u8]] = &[b"0123", b"4567", b"89"];
        assert_eq!(run(OutputLimit::head(5), chunks), (b"01234".to_vec(), 5));
        assert_eq!(run(OutputLimit::tail(3), chunks), (b"789".to_vec(), 7));
        assert_eq!(
            run(OutputLimit::head_and_tail(5), chunks),
            (b"01789".to_vec(), 5)
        );
        assert_eq!(run(OutputLimit::tail(0), chunks), (Vec::new(), 10));
        assert_eq!(
            run(OutputLimit::head(20), chunks),
            (b"0123456789".to_vec(), 0)
        );
    }

    #[test]
    fn a_tail_limit_trims_in_bulk_and_stays_bounded() {
        let capture = Capture {
            limit: Some(OutputLimit::tail(1000)),
            ..Capture::default()
        };
        let mut sink = capture.sink().unwrap();
        let mut buf = Vec::new();
        for i in 0..10_000u32 {
            let start = buf.len();
            buf.extend_from_slice(&i.to_le_bytes());
            sink.absorb(&mut buf, start);
            assert!(buf.len() <= 1000 + (64 << 10) + 4);
        }
        assert_eq!(sink.view(&buf), buf[buf.len() - 1000..]);
        sink.finish(&mut buf);
        assert_eq!(buf.len(), 1000);
        assert_eq!(&buf[996..], &9999u32.to_le_bytes());
        assert_eq!(sink.dropped(), 40_000 - 1000);
    }

    #[test]
    fn lines_are_split_across_chunks_and_long_lines_come_in_pieces() {
        let lines = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let seen = lines.clone();
        let capture = Capture {
            on_line: Some(callback(move |l| seen.lock().unwrap().push(l.to_vec()))),
            ..Capture::default()
        };
        let mut sink = capture.sink().unwrap();
        let mut buf = Vec::new();
        let long = vec![b'x'; LINE_MAX + 5];
        for chunk in [&b"a\nb"[..], b"c\n\nd", &long, b"\nend"] {
            let start = buf.len();
            buf.extend_from_slice(chunk);
            sink.absorb(&mut buf, start);
        }
        sink.finish(&mut buf);
        let got = lines.lock().unwrap().clone();
        let mut d_long = b"d".to_vec();
        d_long.extend_from_slice(&long);
        assert_eq!(got.len(), 6);
        assert_eq!(got[..3], [b"a".to_vec(), b"bc".to_vec(), Vec::new()]);
        assert_eq!([&got[3][..], &got[4][..]].concat(), d_long);
        assert_eq!(got[3].len(), LINE_MAX);
        assert_eq!(got[5], b"end");
    }
}
