//! Unix implementation of the OS seam: poll, pidfds, signals, pipe sizes.
//!
//! Linux-only calls sit behind `cfg(target_os = "linux")` with a portable
//! fallback, so the crate still builds on the BSDs and macOS.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::Instant;

/// Interest and readiness flags, re-exported so callers need not name libc.
pub(crate) use libc::pollfd as PollFd;
pub(crate) const POLLIN: i16 = libc::POLLIN;
pub(crate) const POLLOUT: i16 = libc::POLLOUT;

pub(crate) const SIGKILL: i32 = libc::SIGKILL;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGPIPE: i32 = libc::SIGPIPE;

/// The capacity we grow a busy pipe to (the default Linux maximum for
/// unprivileged users, `/proc/sys/fs/pipe-max-size`).
pub(crate) const BIG_PIPE: usize = 1 << 20;
/// The capacity a new pipe has on Linux.
pub(crate) const DEFAULT_PIPE: usize = 1 << 16;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A `pollfd` asking for `events` on `fd`.
pub(crate) fn poll_fd(fd: BorrowedFd<'_>, events: i16) -> PollFd {
    PollFd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    }
}

/// Waits until one of `fds` is ready or `deadline` passes.
///
/// Returns the number of ready descriptors; 0 means the deadline passed or a
/// signal interrupted the wait (callers loop and re-check the clock). On
/// Linux `ppoll` takes nanoseconds, so a deadline is met to the microsecond
/// with one wake-up; elsewhere `poll` rounds the wait up to a millisecond.
pub(crate) fn poll(fds: &mut [PollFd], deadline: Option<Instant>) -> io::Result<usize> {
    let timeout = match deadline {
        None => None,
        Some(d) => {
            let now = Instant::now();
            if d <= now {
                Some(std::time::Duration::ZERO)
            } else {
                Some(d - now)
            }
        }
    };
    let ret = poll_raw(fds, timeout);
    match ret {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

#[cfg(target_os = "linux")]
fn poll_raw(fds: &mut [PollFd], timeout: Option<std::time::Duration>) -> io::Result<usize> {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd for the
    // whole call; `ts_ptr` is null or points at a live timespec; a null
    // sigmask leaves the signal mask unchanged.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null(),
        )
    };
    cvt(n).map(|n| n as usize)
}

#[cfg(not(target_os = "linux"))]
fn poll_raw(fds: &mut [PollFd], timeout: Option<std::time::Duration>) -> io::Result<usize> {
    let ms = match timeout {
        None => -1,
        // Round up so we never wake before the deadline.
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
    };
    // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    cvt(n).map(|n| n as usize)
}

/// Puts a pipe end we created into non-blocking mode with one `fcntl`.
///
/// `F_SETFL` replaces every settable status flag, so this is exact only for
/// a descriptor whose other settable flags (`O_APPEND`, `O_ASYNC`, ...) are
/// clear, as on a fresh pipe: the engine's own pipe ends, which no user code
/// touches before the engine takes them. One syscall instead of two, per
/// pipe, adds up over thousands of pool jobs.
pub(crate) fn set_nonblocking_own_pipe(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we borrow; F_SETFL takes an int.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) }).map(drop)
}

/// Puts `fd` into non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we borrow; F_GETFL/F_SETFL take an int.
    unsafe {
        let flags = cvt(libc::fcntl(raw, libc::F_GETFL))?;
        let new = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if new != flags {
            cvt(libc::fcntl(raw, libc::F_SETFL, new))?;
        }
    }
    Ok(())
}

/// Grows the pipe behind `fd` to `size` bytes; returns the capacity it has
/// afterwards.
///
/// The kernel refuses (EPERM) once the user is over
/// `/proc/sys/fs/pipe-user-pages-soft` (64 MiB of pipe buffers): then the
/// pipe keeps its default size, which is slower but correct.
#[cfg(target_os = "linux")]
pub(crate) fn grow_pipe(fd: BorrowedFd<'_>, size: usize) -> usize {
    // An int: a larger size is asked as the largest int (which the kernel
    // refuses or rounds), never wrapped into a tiny one.
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl on a borrowed descriptor; F_SETPIPE_SZ takes an int.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    if ret > 0 { ret as usize } else { DEFAULT_PIPE }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn grow_pipe(_fd: BorrowedFd<'_>, _size: usize) -> usize {
    DEFAULT_PIPE
}

/// Reads once from `fd` into the spare capacity of `buf`, at most `max`
/// bytes, and returns how many bytes were appended (0 at end of file).
pub(crate) fn read_append(fd: BorrowedFd<'_>, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    buf.reserve(max);
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    loop {
        // SAFETY: the kernel writes at most `want` bytes into the spare
        // capacity, which is allocated and exclusively ours; we only extend
        // the length by what it reports written.
        let n = unsafe { libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), want) };
        if n >= 0 {
            let n = n as usize;
            // SAFETY: the first `n` spare bytes were just initialised by read.
            unsafe { buf.set_len(buf.len() + n) };
            return Ok(n);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Reads once from `fd` into `buf`; returns the bytes read (0 at end of
/// file).
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is a valid writable slice for its whole length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Writes once from `data` to `fd`; returns the bytes written.
pub(crate) fn write(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `data` is a valid readable slice for its whole length.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Faults in the pages of `buf`'s spare capacity from `from` up to `to`
/// bytes (clamped to the capacity), so that the following reads do not take
/// one page fault per 4 KiB. A hint: failures (old kernels) are ignored.
#[cfg(target_os = "linux")]
pub(crate) fn prefault(buf: &mut Vec<u8>, from: usize, to: usize) -> usize {
    let cap = buf.capacity();
    let to = to.min(cap);
    if to <= from {
        return from;
    }
    let page = page_size();
    let base = buf.as_mut_ptr() as usize;
    let start = (base + from) & !(page - 1);
    let end = (base + to) & !(page - 1);
    if end > start {
        // SAFETY: [start, end) lies within the vector's allocation (start is
        // rounded down into a page we own at least in part, end is rounded
        // down); MADV_POPULATE_WRITE only faults pages in and never changes
        // their contents.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_POPULATE_WRITE,
            );
        }
    }
    end - base
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn prefault(_buf: &mut Vec<u8>, _from: usize, to: usize) -> usize {
    to
}

#[cfg(target_os = "linux")]
fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// Opens a pidfd for `pid`, or `None` where the kernel has none (before
/// Linux 5.3, other Unixes) or `PIPE_RUN_NO_PIDFD` is set (to test the
/// fallback).
#[cfg(target_os = "linux")]
pub(crate) fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    static DISABLED: OnceLock<bool> = OnceLock::new();
    if *DISABLED.get_or_init(|| std::env::var_os("PIPE_RUN_NO_PIDFD").is_some()) {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (O_CLOEXEC is implied) that we then own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor returned to us alone.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pidfd_open(_pid: u32) -> Option<OwnedFd> {
    None
}

/// Whether this system gives pidfds (probed once, on our own pid): when it
/// does not, nothing wakes a poll when a child exits, and waiters must look.
pub(crate) fn pidfds_supported() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| pidfd_open(std::process::id()).is_some())
}

/// Sends `sig` through a pidfd: immune to pid reuse.
#[cfg(target_os = "linux")]
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: a pidfd we borrow, a signal number, no siginfo, no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn pidfd_send_signal(_pidfd: BorrowedFd<'_>, _sig: i32) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Sends `sig` to process `pid`.
pub(crate) fn kill(pid: u32, sig: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    cvt(unsafe { libc::kill(pid as libc::pid_t, sig) }).map(drop)
}

/// Sends `sig` to every process in group `pgid`. A group that is already
/// empty is not an error.
pub(crate) fn kill_group(pgid: u32, sig: i32) -> io::Result<()> {
    // SAFETY: killpg has no memory-safety preconditions.
    match cvt(unsafe { libc::killpg(pgid as libc::pid_t, sig) }) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Marks every descriptor from 3 up as close-on-exec, so that a child
/// starts with only 0, 1 and 2 (plus what it is given on purpose) even when
/// code elsewhere in our process opened descriptors without `O_CLOEXEC`.
///
/// One `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)` call on Linux 5.11+; a
/// walk over `/proc/self/fd` (or `/dev/fd`) elsewhere. Done in the parent
/// because a `pre_exec` hook would push std off its fast `posix_spawn` path.
pub(crate) fn cloexec_from_3() {
    #[cfg(target_os = "linux")]
    {
        static UNSUPPORTED: std::sync::atomic::AtomicBool =
            std::sync::atomic::AtomicBool::new(false);
        use std::sync::atomic::Ordering;
        if !UNSUPPORTED.load(Ordering::Relaxed) {
            // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag
            // on descriptors; it closes nothing.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    3 as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                )
            };
            if ret == 0 {
                return;
            }
            UNSUPPORTED.store(true, Ordering::Relaxed);
        }
    }
    cloexec_by_listing();
}

fn cloexec_by_listing() {
    let dir = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let fds: Vec<RawFd> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD on a descriptor number; a stale number
        // (the directory's own, now closed) just fails with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Whether SIGPIPE would kill our process (its disposition is the default).
///
/// Rust binaries ignore SIGPIPE from startup, but a library can be loaded by
/// a C or Python host that does not; then writes to a closed pipe must be
/// guarded (see [`SigpipeGuard`]).
pub(crate) fn sigpipe_is_default() -> bool {
    let mut old = std::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries the current one into `old`.
    let ret = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: sigaction filled `old` on success.
    ret == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_DFL
}

/// Blocks SIGPIPE in this thread while alive; on drop, swallows a SIGPIPE
/// our own writes raised and restores the mask. Used around writes to a
/// child's stdin when SIGPIPE is at its default disposition.
pub(crate) struct SigpipeGuard {
    old: libc::sigset_t,
}

impl SigpipeGuard {
    pub(crate) fn new() -> SigpipeGuard {
        // SAFETY: sigset manipulation on local values; pthread_sigmask only
        // changes this thread's mask.
        unsafe {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            let mut old = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SigpipeGuard { old }
        }
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        // SAFETY: as in `new`; sigtimedwait with a zero timeout only
        // dequeues a pending SIGPIPE of this thread, if there is one.
        unsafe {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            #[cfg(target_os = "linux")]
            {
                let zero = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGPIPE {}
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// Whether the calling thread blocks any signal.
///
/// A child inherits the signal mask of the thread that spawns it: std no
/// longer resets it ("Inherit the signal mask from this process rather than
/// resetting it", std `sys/process/unix/unix.rs`), and glibc's
/// `posix_spawn` gives the child the caller's mask unless told otherwise.
pub(crate) fn thread_blocks_signals() -> bool {
    // SAFETY: a zeroed sigset_t is a valid (empty) set; with a null new set
    // pthread_sigmask only reads this thread's mask into `mask`.
    unsafe {
        let mut mask = std::mem::zeroed::<libc::sigset_t>();
        if libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) != 0 {
            return false;
        }
        (1..=64).any(|sig| libc::sigismember(&mask, sig) == 1)
    }
}

/// Makes `cmd`'s child start with an empty signal mask.
///
/// It takes a `pre_exec` hook, which moves std from `posix_spawn` to
/// `fork`, so callers use it only when [`thread_blocks_signals`] (rare).
/// Emptying our own mask around `posix_spawn` instead would keep the fast
/// path but let a signal pending for a `sigwait`/`signalfd` thread be
/// delivered to this one, where its default action may kill the process.
/// The price: on the `fork` path std execs with `execvp`, which runs a file
/// of no known format through `/bin/sh` instead of failing with ENOEXEC.
pub(crate) fn unblock_signals_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs between fork and exec and only calls
    // sigemptyset and sigprocmask, which are async-signal-safe, on a local.
    unsafe {
        cmd.pre_exec(|| {
            let mut empty = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut empty);
            if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The conventional name of signal `sig` ("SIGKILL"), if it has one.
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    };
    Some(name)
}

/// A pipe whose write end wakes a poll loop (the reaper's doorbell).
pub(crate) fn wake_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = os_pipe::pipe()?;
    let (r, w): (OwnedFd, OwnedFd) = (r.into(), w.into());
    set_nonblocking(r.as_fd(), true)?;
    set_nonblocking(w.as_fd(), true)?;
    Ok((r, w))
}
