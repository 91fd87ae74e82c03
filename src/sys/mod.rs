//! The seam between pipe-run and the operating system.
//!
//! Every platform module offers the same function names; the rest of the
//! crate calls them through `crate::sys` and never names `libc` itself.
//! Only Unix-like systems are supported today; Linux gets pidfds, pipe
//! resizing and pre-faulting, other Unixes fall back to portable calls.

#[cfg(unix)]
#[path = "unix.rs"]
mod imp;

/// Catching stop signals (a self-pipe) and signal numbers by name.
#[cfg(unix)]
pub(crate) mod signals;

#[cfg(not(unix))]
compile_error!("pipe-run supports Unix-like systems only (for now)");

pub(crate) use imp::*;
