//! Sharing the machine with GNU make and cargo: their jobserver.
//!
//! `make -j4` hands its recipes a pipe (or, from make 4.4, a fifo) holding
//! one byte per extra job it allows; a process started by make owns one
//! implicit token and must read a byte for every further job it runs at
//! once, and write it back when that job ends. A pool built with
//! [`jobserver(true)`](crate::PoolBuilder::jobserver) does that through the
//! `jobserver` crate, so the whole build stays within `-j4`.
//!
//! The scheduler must never block, but GNU make up to 4.3 (and cargo) use a
//! pipe that other processes read too, so the crate offers no non-blocking
//! `try_acquire` for it (`Unsupported`). We use its helper thread instead:
//! the scheduler asks it for tokens, it blocks in the read, and each token
//! it gets rings the scheduler's doorbell (see `slot.rs`). One extra thread,
//! only while a jobserver is in use. The helper installs a process-wide
//! SIGUSR1 handler (a no-op) to interrupt its read when the pool shuts down.

use std::io;

use super::slot::Slots;

/// The jobserver our process was started under (`CARGO_MAKEFLAGS`,
/// `MAKEFLAGS` or `MFLAGS`), if any and if its descriptors are usable.
pub(crate) fn from_env() -> Option<jobserver::Client> {
    // SAFETY: `from_env_ext` trusts the descriptor numbers named in the
    // environment. With `check_pipe` it first checks that they are open
    // and are pipes (or that the fifo exists), and it duplicates them
    // (close-on-exec) instead of taking ownership, so a stale variable can
    // at worst make us read from someone else's pipe, never close or
    // double-close a descriptor we do not own.
    let found = unsafe { jobserver::Client::from_env_ext(true) };
    match found.client {
        Ok(client) => Some(client),
        Err(e) => {
            use jobserver::FromEnvErrorKind as K;
            // Named but unusable: most often make did not pass its
            // descriptors because the recipe is not marked recursive.
            let unusable = matches!(
                e.kind(),
                K::CannotParse | K::CannotOpenPath | K::CannotOpenFd | K::NotAPipe
            );
            if let (true, Some((var, _))) = (unusable, &found.var) {
                eprintln!(
                    "pipe-run: {var} names a jobserver that cannot be used ({e}); is the make \
                     recipe marked with `+`? The pool goes on with its own limit"
                );
            }
            None
        }
    }
}

/// Starts the helper thread that reads tokens for `slots`.
pub(crate) fn start_helper(
    client: jobserver::Client,
    slots: Slots,
) -> io::Result<jobserver::HelperThread> {
    client.into_helper_thread(move |token| slots.token_arrived(token))
}
