//! Signals in and out: [`Interrupts`] catches the signals that ask *us* to
//! stop, and [`TermSeq`] stops *children* politely, then firmly.
//!
//! Together they make a runner that cleans up after itself. A terminal's
//! Ctrl-C reaches the whole foreground process group, but a `kill PID` or a
//! supervisor's SIGTERM reaches only the runner: children in process groups
//! of their own (as pooled jobs and timed commands are) never see it. A
//! runner that just dies leaves them running (`xargs -P` does); one that
//! catches the signal can pass it on with a term sequence and exit
//! cleanly, as GNU parallel does.
//!
//! ```no_run
//! use pipe_run::{Interrupts, TermSeq};
//! let interrupts = Interrupts::catch()?;
//! let job_groups: Vec<u32> = vec![/* pids of process-group leaders */];
//! let sig = interrupts.wait();
//! TermSeq::default().signal_groups(&job_groups);
//! std::process::exit(128 + sig);
//! # Ok::<(), pipe_run::Error>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::sys;

/// A catcher for the signals that ask a process to stop: SIGINT (Ctrl-C),
/// SIGTERM and SIGHUP by default. Once created, those signals no longer
/// kill the process; [`wait`](Interrupts::wait) returns when one arrives,
/// so a normal thread can clean up and exit.
///
/// The handler is process-wide and stays installed. Every `Interrupts`
/// shares one queue: a signal wakes one waiter. Children do not inherit
/// the handler (caught signals revert to their default at `exec`).
///
/// ```
/// use std::time::Duration;
/// let interrupts = pipe_run::Interrupts::catch_signals(&[libc::SIGUSR2])?;
/// assert_eq!(interrupts.wait_timeout(Duration::from_millis(10)), None);
/// // SAFETY: sending a signal to ourselves; it is caught.
/// unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
/// assert_eq!(interrupts.wait_timeout(Duration::from_secs(5)), Some(libc::SIGUSR2));
/// # Ok::<(), pipe_run::Error>(())
/// ```
///
/// # Platform-specific behavior
/// Unix only: a `sigaction` handler writes to a self-pipe.
pub struct Interrupts {
    pipe: File,
}

impl Interrupts {
    /// Catches SIGINT, SIGTERM and SIGHUP.
    ///
    /// ```
    /// let interrupts = pipe_run::Interrupts::catch()?;
    /// assert_eq!(interrupts.received(), None);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the handler or its pipe
    /// cannot be set up.
    pub fn catch() -> Result<Interrupts> {
        Interrupts::catch_signals(sys::signals::STOP_SIGNALS)
    }

    /// Catches the given signals (numbers, such as `libc::SIGUSR1`).
    ///
    /// ```
    /// pipe_run::Interrupts::catch_signals(&[libc::SIGUSR1])?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) for a signal that cannot be
    /// caught (SIGKILL, SIGSTOP) or a failed pipe.
    pub fn catch_signals(signals: &[i32]) -> Result<Interrupts> {
        let fd = sys::signals::catch(signals)
            .map_err(|e| Error::io(None, format!("cannot catch signals {signals:?}"), e))?;
        Ok(Interrupts {
            pipe: File::from(fd),
        })
    }

    /// Blocks until a caught signal arrives and returns its number.
    ///
    /// ```no_run
    /// let sig = pipe_run::Interrupts::catch()?.wait();
    /// std::process::exit(128 + sig);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait(&self) -> i32 {
        loop {
            if let Some(sig) = self.wait_deadline(Instant::now() + Duration::from_secs(3600)) {
                return sig;
            }
        }
    }

    /// Like [`wait`](Interrupts::wait), giving up after `timeout` with
    /// `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let interrupts = pipe_run::Interrupts::catch()?;
    /// assert_eq!(interrupts.wait_timeout(Duration::ZERO), None);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Option<i32> {
        self.wait_deadline(Instant::now() + timeout)
    }

    /// Like [`wait`](Interrupts::wait), giving up at `deadline` with `None`.
    ///
    /// ```
    /// use std::time::Instant;
    /// let interrupts = pipe_run::Interrupts::catch()?;
    /// assert_eq!(interrupts.wait_deadline(Instant::now()), None);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> Option<i32> {
        loop {
            let mut byte = [0u8];
            if let Ok(1) = (&self.pipe).read(&mut byte) {
                return Some(i32::from(byte[0]));
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut fds = [sys::poll_fd(self.pipe.as_fd(), sys::POLLIN)];
            if sys::poll(&mut fds, Some(deadline)).is_err() {
                // Nothing sensible to do but not spin.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The first signal caught since the handler was installed, without
    /// blocking or taking it from the queue.
    ///
    /// ```
    /// assert_eq!(pipe_run::Interrupts::catch()?.received(), None);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn received(&self) -> Option<i32> {
        sys::signals::first_caught()
    }
}

impl fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupts")
            .field("received", &self.received())
            .finish_non_exhaustive()
    }
}

/// Sends signal `sig` to process `pid`, like `kill -SIG PID`. A process
/// that has already gone is not an error.
///
/// ```
/// let child = pipe_run::Command::new("sleep").arg("30").spawn()?;
/// pipe_run::signal_process(child.pid(), libc::SIGTERM)?;
/// assert!(!child.wait()?.success());
/// # Ok::<(), pipe_run::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Io`](crate::ErrorKind::Io) when the signal cannot be sent
/// (not our process, not a signal).
pub fn signal_process(pid: u32, sig: i32) -> Result<()> {
    sys::signals::signal_if_alive(pid, sig).map_err(|e| {
        Error::io(
            None,
            format!("cannot send signal {sig} to process {pid}"),
            e,
        )
    })
}

/// How to end children: signals to send, each followed by how long to wait
/// for them to go, as GNU parallel's `--termseq`. The default,
/// `TERM,200,KILL,25`, sends SIGTERM, waits up to 200 ms, then SIGKILL and
/// waits up to 25 ms.
///
/// ```
/// use std::time::Duration;
/// use pipe_run::TermSeq;
/// let seq: TermSeq = "INT,500,TERM,200,KILL,25".parse()?;
/// assert_eq!(seq.steps()[0], (libc::SIGINT, Duration::from_millis(500)));
/// assert_eq!(TermSeq::default().to_string(), "TERM,200,KILL,25");
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermSeq {
    steps: Vec<(i32, Duration)>,
}

impl Default for TermSeq {
    fn default() -> TermSeq {
        TermSeq {
            steps: vec![
                (sys::SIGTERM, Duration::from_millis(200)),
                (sys::SIGKILL, Duration::from_millis(25)),
            ],
        }
    }
}

impl TermSeq {
    /// Parses `SIGNAL,MS,SIGNAL,MS,…`: signal names with or without `SIG`
    /// (any case) or numbers, and waits in milliseconds. A last wait may be
    /// left out (it is then 0).
    ///
    /// ```
    /// let seq = pipe_run::TermSeq::parse("sigterm,100,9")?;
    /// assert_eq!(seq.steps().len(), 2);
    /// assert!(pipe_run::TermSeq::parse("TERM,soon").is_err());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse) naming the bad item
    /// and its position.
    pub fn parse(spec: &str) -> Result<TermSeq> {
        let mut steps = Vec::new();
        let mut at = 0;
        let items: Vec<(usize, &str)> = spec
            .split(',')
            .map(|item| {
                let start = at;
                at += item.len() + 1;
                (start, item.trim())
            })
            .collect();
        for pair in items.chunks(2) {
            let (pos, name) = pair[0];
            let sig = name
                .parse::<i32>()
                .ok()
                .filter(|n| (1..65).contains(n))
                .or_else(|| sys::signals::signal_by_name(name))
                .ok_or_else(|| Error::parse(spec, &format!("`{name}` is not a signal"), pos))?;
            let wait = match pair.get(1) {
                None => Duration::ZERO,
                Some(&(pos, ms)) => ms.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    Error::parse(
                        spec,
                        &format!("`{ms}` is not a number of milliseconds"),
                        pos,
                    )
                })?,
            };
            steps.push((sig, wait));
        }
        Ok(TermSeq { steps })
    }

    /// The steps: a signal and how long to wait after it.
    ///
    /// ```
    /// assert_eq!(pipe_run::TermSeq::default().steps().len(), 2);
    /// ```
    pub fn steps(&self) -> &[(i32, Duration)] {
        &self.steps
    }

    /// Runs the sequence with your own ways to signal and to wait: for each
    /// step, `send(signal)`, then `gone_within(wait)`, which returns `true`
    /// as soon as the targets are gone. Returns whether they went before
    /// the sequence ran out.
    ///
    /// ```
    /// let mut sent = Vec::new();
    /// let gone = pipe_run::TermSeq::default().run(|sig| sent.push(sig), |_| false);
    /// assert!(!gone);
    /// assert_eq!(sent, [libc::SIGTERM, libc::SIGKILL]);
    /// ```
    pub fn run(
        &self,
        mut send: impl FnMut(i32),
        mut gone_within: impl FnMut(Duration) -> bool,
    ) -> bool {
        for &(sig, wait) in &self.steps {
            send(sig);
            if gone_within(wait) {
                return true;
            }
        }
        false
    }

    /// Runs the sequence on whole process groups (`kill(-pgid, sig)`),
    /// waiting after each signal until no process is left in any of them.
    /// Returns whether they all went before the sequence ran out.
    ///
    /// A group is gone when its last member has exited *and been reaped*,
    /// so whoever is the parent must be reaping meanwhile (a pool's
    /// scheduler does; descendants that outlive their parent are reaped
    /// by init).
    ///
    /// ```
    /// use pipe_run::{Command, TermSeq};
    /// let child = Command::new("sleep").arg("30").new_process_group(true).spawn()?;
    /// let pgid = child.pid();
    /// let waiter = std::thread::spawn(move || child.wait());
    /// assert!(TermSeq::default().signal_groups(&[pgid]));
    /// assert!(!waiter.join().unwrap()?.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn signal_groups(&self, pgids: &[u32]) -> bool {
        let alive = |pgids: &[u32]| pgids.iter().any(|&g| sys::signals::group_exists(g));
        self.run(
            |sig| {
                for &pgid in pgids {
                    let _ = sys::kill_group(pgid, sig);
                }
            },
            |wait| {
                let deadline = Instant::now() + wait;
                loop {
                    if !alive(pgids) {
                        return true;
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            },
        )
    }
}

impl FromStr for TermSeq {
    type Err = Error;

    fn from_str(spec: &str) -> Result<TermSeq> {
        TermSeq::parse(spec)
    }
}

impl fmt::Display for TermSeq {
    /// `TERM,200,KILL,25`: signal names without `SIG`, waits in ms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(sig, wait)) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match sys::signal_name(sig) {
                Some(name) => f.write_str(name.trim_start_matches("SIG"))?,
                None => write!(f, "{sig}")?,
            }
            write!(f, ",{}", wait.as_millis())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn termseq_round_trips_through_text() {
        for spec in [
            "TERM,200,KILL,25",
            "INT,1000,TERM,200,TERM,100,KILL,25",
            "HUP,0",
        ] {
            assert_eq!(TermSeq::parse(spec).unwrap().to_string(), spec);
        }
        assert_eq!(
            TermSeq::parse("15,5,SIGKILL").unwrap().to_string(),
            "TERM,5,KILL,0"
        );
    }

    #[test]
    fn bad_termseq_names_the_item_and_position() {
        let err = TermSeq::parse("TERM,200,KIL,25").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
        assert!(
            err.to_string()
                .contains("`KIL` is not a signal (at byte 9)"),
            "{err}"
        );
        let err = TermSeq::parse("TERM,2s").unwrap_err();
        assert!(
            err.to_string()
                .contains("`2s` is not a number of milliseconds (at byte 5)"),
            "{err}"
        );
        assert!(TermSeq::parse("").is_err());
        assert!(TermSeq::parse("0,1").is_err());
    }

    #[test]
    fn signal_groups_escalates_when_term_is_ignored() {
        // `trap '' TERM` makes the shell and its `sleep` ignore SIGTERM.
        let child = crate::Command::shell("trap '' TERM; sleep 30; :")
            .new_process_group(true)
            .spawn()
            .unwrap();
        let pgid = child.pid();
        std::thread::sleep(Duration::from_millis(100));
        let waiter = std::thread::spawn(move || child.wait());
        let seq = TermSeq::parse("TERM,150,KILL,2000").unwrap();
        let start = Instant::now();
        assert!(seq.signal_groups(&[pgid]));
        assert!(
            start.elapsed() >= Duration::from_millis(150),
            "{:?}",
            start.elapsed()
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            waiter.join().unwrap().unwrap().signal(),
            Some(libc::SIGKILL)
        );
    }

    #[test]
    fn signal_groups_of_nothing_is_done_at_once() {
        assert!(TermSeq::default().signal_groups(&[]));
    }
}
