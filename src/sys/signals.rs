//! Catching the signals that ask a process to stop (SIGINT, SIGTERM,
//! SIGHUP) with the self-pipe trick, and signal numbers by name.
//!
//! A signal handler may only call async-signal-safe functions
//! (signal-safety(7)), so ours does two things: it records the first
//! signal in an atomic and writes the signal number, one byte, to a
//! non-blocking pipe. A normal thread waits on the pipe's read end and does
//! the real work (ending children, printing a summary). Handlers installed
//! with `sigaction` revert to the default in a child at `exec` (POSIX
//! execve: "signals set to be caught … shall be set to the default
//! action"), so children are not affected.

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals that ask a process to stop: SIGINT (Ctrl-C), SIGTERM, SIGHUP.
pub(crate) const STOP_SIGNALS: &[i32] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The write end of the self-pipe, read by the handler (-1: none yet).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The first caught signal (0: none yet).
static FIRST: AtomicI32 = AtomicI32::new(0);
/// The read end, created once and shared by every catcher.
static PIPE_READ: Mutex<Option<RawFd>> = Mutex::new(None);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe calls here: atomics and write(2). errno is
    // saved and restored because the interrupted code may be reading it.
    // SAFETY: errno_slot returns the calling thread's errno.
    let errno = unsafe { *errno_slot() };
    let _ = FIRST.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` outlives the call.
        // A full pipe (EAGAIN) only drops a repeat notification.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *errno_slot() = errno };
}

#[cfg(any(target_os = "linux", target_os = "android"))]
unsafe fn errno_slot() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
unsafe fn errno_slot() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__error() }
}

#[cfg(any(target_os = "netbsd", target_os = "openbsd"))]
unsafe fn errno_slot() -> *mut libc::c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno() }
}

/// Installs the handler for `signals` (once per signal; again is a no-op)
/// and returns a duplicate of the self-pipe's read end.
pub(crate) fn catch(signals: &[i32]) -> io::Result<OwnedFd> {
    let mut read = PIPE_READ.lock().unwrap_or_else(|e| e.into_inner());
    let read_fd = match *read {
        Some(fd) => fd,
        None => {
            let (r, w) = super::wake_pipe()?;
            // Both ends stay open for the life of the process: the handler
            // may run at any time, so the write end must never be closed.
            let (r, w) = (r.into_raw_fd(), w.into_raw_fd());
            PIPE_WRITE.store(w, Ordering::SeqCst);
            *read = Some(r);
            r
        }
    };
    for &sig in signals {
        // SAFETY: a zeroed sigaction is a valid starting value; we set the
        // handler, an empty mask and flags before passing it to the kernel.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: sa_mask is a valid sigset_t owned by `action`.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is fully initialised; the old action is not wanted.
        if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: read_fd is the open read end kept for the life of the process.
    let dup = unsafe { libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// The first signal caught since the handler was installed, if any.
pub(crate) fn first_caught() -> Option<i32> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub(crate) fn signal_if_alive(pid: u32, sig: i32) -> io::Result<()> {
    match super::kill(pid, sig) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    }
}

/// Whether a live process (not a zombie) is still in group `pgid`.
///
/// Zombies do not count: a killed descendant whose parent died is
/// reparented to init, and an init that reaps slowly (some container
/// runtimes' PID 1 takes seconds) would otherwise keep the group
/// "alive" long after everything in it stopped running.
pub(crate) fn group_exists(pgid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    let any = unsafe { libc::killpg(pgid as libc::pid_t, 0) } == 0
        || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    any && live_member(pgid).unwrap_or(true)
}

/// Whether `/proc` shows a member of `pgid` that is not a zombie; `None`
/// where there is no `/proc` to ask.
#[cfg(target_os = "linux")]
fn live_member(pgid: u32) -> Option<bool> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(dir.filter_map(|entry| entry.ok()).any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // Fields after the command name, which may itself hold `)` (proc(5)):
        // state, ppid, pgrp, …
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
        pgrp == Some(pgid) && state != "Z" && state != "X"
    }))
}

#[cfg(not(target_os = "linux"))]
fn live_member(_pgid: u32) -> Option<bool> {
    None
}

/// The number of the signal called `name` (`TERM`, `SIGTERM`, `term`), if
/// it has one.
pub(crate) fn signal_by_name(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let wanted = upper.strip_prefix("SIG").unwrap_or(&upper);
    (1..65).find(|&sig| super::signal_name(sig).and_then(|n| n.strip_prefix("SIG")) == Some(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_found_by_any_spelling() {
        assert_eq!(signal_by_name("TERM"), Some(libc::SIGTERM));
        assert_eq!(signal_by_name("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(signal_by_name("hup"), Some(libc::SIGHUP));
        assert_eq!(signal_by_name("NOPE"), None);
    }
}
