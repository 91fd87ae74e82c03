//! Where a child's standard streams go: [`Redirect`].

use std::fs::File;
use std::sync::Arc;

/// Where one of a child's standard streams is connected.
///
/// ```
/// use pipe_run::{Command, Redirect};
/// // Like `sh -c '...' 2>&1`: stderr joins stdout in the capture.
/// let out = Command::shell("echo out; echo err >&2")
///     .stderr(Redirect::Merge)
///     .check_output()?;
/// assert_eq!(out, b"out\nerr\n");
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Redirect {
    /// The child shares our stream (the default of `call` and `spawn`).
    Inherit,
    /// A pipe to us: captured by `run`/`check_output`, or taken from a
    /// [`Popen`](crate::Popen) with `take_stdout` and friends.
    Pipe,
    /// `/dev/null`: reads see end-of-file, writes are discarded.
    Null,
    /// An open file (like `> file` or `< file`; open it for appending to get
    /// `>>`).
    File(File),
    /// Joins the other output stream: on stderr it is `2>&1`, on stdout
    /// `1>&2`. Not valid for stdin, nor on both outputs at once.
    Merge,
}

impl From<File> for Redirect {
    /// ```
    /// let r: pipe_run::Redirect = std::fs::File::open("/dev/null")?.into();
    /// assert!(matches!(r, pipe_run::Redirect::File(_)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn from(file: File) -> Redirect {
        Redirect::File(file)
    }
}

/// The stored, cloneable form of a [`Redirect`] inside a `Command`.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    Inherit,
    Pipe,
    Null,
    File(Arc<File>),
    Merge,
}

impl From<Redirect> for Slot {
    fn from(r: Redirect) -> Slot {
        match r {
            Redirect::Inherit => Slot::Inherit,
            Redirect::Pipe => Slot::Pipe,
            Redirect::Null => Slot::Null,
            Redirect::File(f) => Slot::File(Arc::new(f)),
            Redirect::Merge => Slot::Merge,
        }
    }
}
