//! The pool's capacity: [`Slot`], an RAII token for one running job, handed
//! out by `Slots` (like jobserver-rs `Client::acquire`, with a blocking and
//! a non-blocking acquire).
//!
//! A slot is one of the pool's `workers`; under a GNU make or cargo
//! jobserver it also carries a jobserver token, except for the one slot
//! that runs on the token our process was started with. Dropping a slot
//! frees both. The scheduler never blocks: it takes slots with
//! [`Slots::try_acquire`] and, when tokens are short, asks the jobserver's
//! helper thread for more ([`Slots::tokens_to_request`]); a token that
//! arrives rings the schedulers' doorbells. When a job ends and another is
//! pending, the scheduler moves the finished job's slot, token included,
//! straight to the next job: no release and re-acquire in between.

use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::scheduler::Doorbells;

/// One unit of a pool's capacity, held while a job (or your own work, see
/// [`Pool::acquire_slot`](crate::Pool::acquire_slot)) runs; dropping it
/// frees the unit (and returns a jobserver token, if it holds one) and lets
/// the pool start its next job.
///
/// ```
/// use pipe_run::{Command, Pool};
/// let pool = Pool::new(2)?;
/// let slot = pool.acquire_slot(); // counts against the pool's 2 workers
/// Command::new("true").call()?;   // work of our own, under the same limit
/// drop(slot);
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct Slot {
    slots: Arc<SlotsInner>,
    token: Token,
    /// Taken by a user (not the scheduler): its release wakes the scheduler.
    external: bool,
}

enum Token {
    /// No jobserver.
    None,
    /// The token our process was started with (held implicitly).
    Implicit,
    /// A token read from the jobserver; released when dropped.
    Acquired(#[allow(dead_code)] jobserver::Acquired),
}

/// The capacity of one pool: `workers` local slots, plus jobserver tokens.
#[derive(Clone)]
pub(crate) struct Slots {
    inner: Arc<SlotsInner>,
}

struct SlotsInner {
    workers: usize,
    state: Mutex<State>,
    freed: Condvar,
    /// For blocking acquires on user threads (the scheduler never blocks).
    jobserver: Option<jobserver::Client>,
    bells: Arc<Doorbells>,
}

struct State {
    free: usize,
    /// Whether our implicit jobserver token is unused.
    implicit_free: bool,
    /// Tokens the helper thread delivered that no job holds yet.
    spare: Vec<jobserver::Acquired>,
    /// Token requests the helper thread has not answered yet.
    requested: usize,
    /// The jobserver failed: go on with local slots only.
    broken: bool,
}

impl Slots {
    pub(crate) fn new(
        workers: usize,
        jobserver: Option<jobserver::Client>,
        bells: Arc<Doorbells>,
    ) -> Slots {
        Slots {
            inner: Arc::new(SlotsInner {
                workers,
                state: Mutex::new(State {
                    free: workers,
                    implicit_free: true,
                    spare: Vec::new(),
                    requested: 0,
                    broken: false,
                }),
                freed: Condvar::new(),
                jobserver,
                bells,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    pub(crate) fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Slots in use (by jobs and by users).
    pub(crate) fn in_use(&self) -> usize {
        self.inner.workers - self.lock().free
    }

    fn uses_jobserver(&self, state: &State) -> bool {
        self.inner.jobserver.is_some() && !state.broken
    }

    /// A free slot, if there is one and (under a jobserver) a token for it;
    /// never blocks.
    pub(crate) fn try_acquire(&self, external: bool) -> Option<Slot> {
        let mut state = self.lock();
        if state.free == 0 {
            return None;
        }
        let token = if !self.uses_jobserver(&state) {
            Token::None
        } else if state.implicit_free {
            state.implicit_free = false;
            Token::Implicit
        } else {
            Token::Acquired(state.spare.pop()?)
        };
        state.free -= 1;
        Some(self.slot(token, external))
    }

    /// Waits for a free slot (and, under a jobserver, a token). For user
    /// threads only: the scheduler must never block.
    pub(crate) fn acquire(&self) -> Slot {
        let mut state = self.lock();
        while state.free == 0 {
            state = self
                .inner
                .freed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.free -= 1;
        if !self.uses_jobserver(&state) {
            return self.slot(Token::None, true);
        }
        if state.implicit_free {
            state.implicit_free = false;
            return self.slot(Token::Implicit, true);
        }
        if let Some(token) = state.spare.pop() {
            return self.slot(Token::Acquired(token), true);
        }
        drop(state);
        // The local unit is reserved; wait for a token outside our lock,
        // in the jobserver's own blocking read.
        let client = self.inner.jobserver.as_ref().expect("checked above");
        match client.acquire() {
            Ok(token) => self.slot(Token::Acquired(token), true),
            Err(e) => {
                self.jobserver_failed(&e);
                self.slot(Token::None, true)
            }
        }
    }

    fn slot(&self, token: Token, external: bool) -> Slot {
        Slot {
            slots: self.inner.clone(),
            token,
            external,
        }
    }

    /// How many more tokens to ask the helper thread for so that `backlog`
    /// pending jobs could start (bounded by the free local slots); counts
    /// them as requested.
    pub(crate) fn tokens_to_request(&self, backlog: usize) -> usize {
        let mut state = self.lock();
        if !self.uses_jobserver(&state) {
            return 0;
        }
        let have = usize::from(state.implicit_free) + state.spare.len() + state.requested;
        let want = backlog.min(state.free).saturating_sub(have);
        state.requested += want;
        want
    }

    /// Gives back tokens no job is waiting for, so that make can run
    /// something else with them.
    pub(crate) fn release_spare_tokens(&self) {
        let spare = std::mem::take(&mut self.lock().spare);
        drop(spare);
    }

    /// Called on the helper thread with each token it read.
    pub(crate) fn token_arrived(&self, token: io::Result<jobserver::Acquired>) {
        let mut state = self.lock();
        state.requested = state.requested.saturating_sub(1);
        match token {
            Ok(token) => state.spare.push(token),
            Err(e) => {
                drop(state);
                self.jobserver_failed(&e);
            }
        }
        self.inner.freed.notify_all();
        self.inner.bells.ring();
    }

    fn jobserver_failed(&self, e: &io::Error) {
        let mut state = self.lock();
        if !state.broken {
            state.broken = true;
            eprintln!("pipe-run: the jobserver failed ({e}); the pool goes on with its own limit");
        }
    }
}

impl SlotsInner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single step: a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.free += 1;
        if let Token::Implicit = self.token {
            state.implicit_free = true;
        }
        // A jobserver token goes back to make when `self.token` drops.
        drop(state);
        self.slots.freed.notify_one();
        if self.external {
            self.slots.bells.ring();
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match self.token {
            Token::None => "none",
            Token::Implicit => "implicit",
            Token::Acquired(_) => "jobserver",
        };
        f.debug_struct("Slot").field("token", &token).finish()
    }
}

impl fmt::Debug for Slots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("workers", &self.inner.workers)
            .field("in_use", &self.in_use())
            .field("jobserver", &self.inner.jobserver.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize) -> Slots {
        Slots::new(n, None, Arc::new(Doorbells::new(1).unwrap()))
    }

    #[test]
    fn a_slot_frees_itself_on_drop() {
        let s = slots(2);
        let a = s.try_acquire(false).unwrap();
        let b = s.try_acquire(false).unwrap();
        assert!(s.try_acquire(false).is_none());
        assert_eq!(s.in_use(), 2);
        drop(a);
        assert_eq!(s.in_use(), 1);
        let _c = s.try_acquire(false).unwrap();
        drop(b);
        assert_eq!(s.in_use(), 1);
    }

    #[test]
    fn blocking_acquire_waits_for_a_release() {
        let s = slots(1);
        let held = s.try_acquire(false).unwrap();
        let waiter = std::thread::spawn({
            let s = s.clone();
            move || drop(s.acquire())
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished());
        drop(held);
        waiter.join().unwrap();
        assert_eq!(s.in_use(), 0);
    }

    #[test]
    fn under_a_jobserver_only_the_first_slot_is_free_of_tokens() {
        let client = jobserver::Client::new(1).unwrap();
        let s = Slots::new(4, Some(client), Arc::new(Doorbells::new(1).unwrap()));
        let first = s.try_acquire(false).unwrap();
        assert!(s.try_acquire(false).is_none(), "a second job needs a token");
        assert_eq!(s.tokens_to_request(10), 3);
        assert_eq!(s.tokens_to_request(10), 0, "already requested");
        drop(first);
        let again = s.try_acquire(false).unwrap();
        assert!(format!("{again:?}").contains("implicit"));
    }
}
