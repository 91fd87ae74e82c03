//! Assertion helpers shared by the behaviour tests: failure messages that show the
//! command, status, stdout and stderr; byte comparisons that stay readable for
//! megabytes; cleanup guards for processes and files a test creates.
//!
//! Each test file pulls this in with `mod common;` next to `mod support;`.

#![allow(dead_code)]

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pipe_run::{Completed, Error};

/// At most this many bytes of an output are shown in a failure message (head and tail).
const SHOWN: usize = 600;

/// Output bytes for a failure message: lossy text, elided in the middle when long.
pub fn show_bytes(bytes: &[u8]) -> String {
    if bytes.len() <= 2 * SHOWN {
        return format!("{:?}", String::from_utf8_lossy(bytes));
    }
    format!(
        "{:?} ... ({} bytes in all) ... {:?}",
        String::from_utf8_lossy(&bytes[..SHOWN]),
        bytes.len(),
        String::from_utf8_lossy(&bytes[bytes.len() - SHOWN..])
    )
}

/// A finished run for a failure message: command, status, stdout, stderr.
pub fn show_done(done: &Completed) -> String {
    format!(
        "\ncommand: {}\nstatus:  {:?}\nstdout:  {}\nstderr:  {}",
        done.command(),
        done.status,
        show_bytes(&done.stdout),
        show_bytes(&done.stderr)
    )
}

/// An error for a failure message: kind, message, command, status, stdout, stderr.
pub fn show_err(err: &Error) -> String {
    format!(
        "\nkind:    {:?}\nmessage: {err}\ncommand: {:?}\nstatus:  {:?}\nstdout:  {}\nstderr:  {}",
        err.kind(),
        err.command(),
        err.status(),
        show_bytes(err.stdout()),
        show_bytes(err.stderr())
    )
}

/// A run's result for a failure message, whichever way it went.
pub fn show_result(result: &Result<Completed, Error>) -> String {
    match result {
        Ok(done) => show_done(done),
        Err(err) => show_err(err),
    }
}

/// Unwraps `result`, or fails the test showing everything the error carries.
#[track_caller]
pub fn ok<T>(result: Result<T, Error>, what: impl Display) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what}: unexpected error{}", show_err(&err)),
    }
}

/// Unwraps the error of `result`, or fails the test showing what came back instead.
#[track_caller]
pub fn err<T: std::fmt::Debug>(result: Result<T, Error>, what: impl Display) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected an error, got Ok({value:?})"),
        Err(err) => err,
    }
}

/// Asserts two byte strings are equal; on failure reports both lengths and the first
/// differing offset instead of dumping megabytes.
#[track_caller]
pub fn assert_bytes(what: &str, actual: &[u8], expected: &[u8], context: impl Display) {
    if actual == expected {
        return;
    }
    let first_diff = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(actual.len().min(expected.len()));
    let near = |b: &[u8]| show_bytes(&b[first_diff.min(b.len())..(first_diff + 40).min(b.len())]);
    panic!(
        "{what} differs: got {} bytes, expected {}; first difference at byte {first_diff} \
         (got {}, expected {}){context}",
        actual.len(),
        expected.len(),
        near(actual),
        near(expected),
    );
}

/// `len` bytes that do not repeat with any short period (a xorshift stream), so that a
/// lost, duplicated or reordered chunk cannot go unnoticed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Sends SIGKILL to a process this test started indirectly (a grandchild, which it
/// cannot wait for) when the guard drops, pass or fail.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0, libc::SIGKILL);
    }
}

/// Sends `sig` to `pid`, ignoring errors (it may be gone already).
pub fn kill(pid: u32, sig: i32) {
    let pid = libc::pid_t::try_from(pid).expect("pid out of range");
    // SAFETY: kill() only sends a signal; callers pass pids their test started.
    unsafe { libc::kill(pid, sig) };
}

/// Whether `/proc/PID` exists at all: false once a process has been reaped (a zombie
/// still has an entry).
pub fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (up to 10 s, polling) until `pid` has been reaped by whoever is its parent.
#[track_caller]
pub fn assert_reaped(pid: u32, what: &str) {
    assert!(
        crate::support::wait_until(Duration::from_secs(10), || !pid_exists(pid)),
        "{what}: process {pid} was never reaped (state: {:?})",
        std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
    );
}

/// A fresh directory under `std::env::temp_dir()`, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name says which test made it.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "pipe-run-test-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("cannot create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in this directory with permission bits `mode`.
    pub fn file(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("cannot write a temp file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("cannot chmod a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pid in a `grandchild` fixture's `grandchild PID\n` line.
#[track_caller]
pub fn grandchild_pid(stdout: &[u8]) -> u32 {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("grandchild ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `grandchild PID` line in {text:?}"))
}

/// The pid written to a `--pid-file` by the `grandchild` fixture.
#[track_caller]
pub fn read_pid_file(path: &Path) -> u32 {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read pid file {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("bad pid file {}: {text:?}", path.display()))
}

/// CPU time this thread has used.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a local.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(ret, 0, "clock_gettime failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
