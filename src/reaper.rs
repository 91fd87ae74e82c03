//! Reaps children whose handles were dropped while they still ran.
//!
//! Dropping a [`Popen`](crate::Popen) must not block, yet an exited child
//! that nobody waits for stays a zombie. As in CPython (`_active`) and duct,
//! such children are adopted here. With pidfds one background thread, started
//! on first use, sleeps in `poll` on all of them and reaps each the moment it
//! exits; without pidfds they are swept (`try_wait`) whenever a new child is
//! spawned.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Child;
use std::sync::{Mutex, OnceLock};

use crate::sys;

struct Orphan {
    child: Child,
    pidfd: Option<OwnedFd>,
}

struct Reaper {
    orphans: Mutex<Vec<Orphan>>,
    /// Doorbell of the reaper thread: written when an orphan arrives.
    wake_tx: Option<OwnedFd>,
}

static REAPER: OnceLock<Reaper> = OnceLock::new();

fn reaper() -> &'static Reaper {
    REAPER.get_or_init(|| {
        let wake_tx = sys::wake_pipe().ok().and_then(|(rx, tx)| {
            std::thread::Builder::new()
                .name("pipe-run-reaper".into())
                .spawn(move || reap_forever(rx))
                .ok()
                .map(|_| tx)
        });
        Reaper {
            orphans: Mutex::new(Vec::new()),
            wake_tx,
        }
    })
}

/// Takes over a child that is still running.
pub(crate) fn adopt(child: Child, pidfd: Option<OwnedFd>) {
    let reaper = reaper();
    let has_pidfd = pidfd.is_some();
    lock(reaper).push(Orphan { child, pidfd });
    if has_pidfd {
        if let Some(tx) = &reaper.wake_tx {
            let _ = sys::write(tx.as_fd(), &[1]);
        }
    }
}

/// Reaps every adopted child that has exited; free when none was adopted.
pub(crate) fn sweep() {
    if let Some(reaper) = REAPER.get() {
        reap_exited(reaper);
    }
}

fn reap_exited(reaper: &Reaper) {
    lock(reaper).retain_mut(|o| matches!(o.child.try_wait(), Ok(None)));
}

fn lock(reaper: &Reaper) -> std::sync::MutexGuard<'_, Vec<Orphan>> {
    reaper.orphans.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reaper thread: poll the doorbell and every orphan's pidfd, reap.
fn reap_forever(doorbell: OwnedFd) {
    let mut fds = Vec::new();
    loop {
        fds.clear();
        fds.push(sys::poll_fd(doorbell.as_fd(), sys::POLLIN));
        {
            let orphans = lock(reaper());
            for o in orphans.iter() {
                if let Some(fd) = &o.pidfd {
                    fds.push(sys::poll_fd(fd.as_fd(), sys::POLLIN));
                }
            }
        }
        if sys::poll(&mut fds, None).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if fds[0].revents != 0 {
            let mut sink = Vec::new();
            while matches!(sys::read_append(doorbell.as_fd(), &mut sink, 64), Ok(n) if n > 0) {
                sink.clear();
            }
        }
        reap_exited(reaper());
    }
}
