//! Shared helpers for the integration tests: finding the fixture programs and looking at
//! processes and file descriptors through `/proc` (Linux only).
//!
//! Each test file pulls this in with `mod support;` and uses a subset of it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

/// The stdout pattern of the `spew` fixture: byte `i` is `SPEW_OUT[i % 64]`.
pub const SPEW_OUT: &[u8; 64] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+\n";
/// The stderr pattern of the `spew` fixture: byte `i` is `SPEW_ERR[i % 32]`.
pub const SPEW_ERR: &[u8; 32] = b"ERRORS-ERRORS-ERRORS-ERRORS-ERR\n";

/// The path of the fixture program `name` (a file in `fixtures/src/bin/`).
///
/// Test binaries live in `target/<profile>/deps/` and the fixtures one level up. A plain
/// `cargo test` builds them (they are a default workspace member), but
/// `cargo test --test X` does not, so a missing fixture triggers one
/// `cargo build -p pipe-run-fixtures` in the same profile.
///
/// # Panics
///
/// If the fixture is still missing after that build.
pub fn fixture(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let exe = std::env::current_exe().expect("cannot find the test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable is not in target/<profile>/deps")
        .to_path_buf();
    let path = profile_dir.join(name);
    if !path.exists() {
        BUILD.call_once(|| build_fixtures(profile_dir.file_name() == Some("release".as_ref())));
    }
    assert!(
        path.exists(),
        "fixture {name:?} not found at {}; build it with `cargo build -p pipe-run-fixtures` \
         (is there a fixtures/src/bin/{name}.rs?)",
        path.display()
    );
    path
}

fn build_fixtures(release: bool) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "pipe-run-fixtures",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    if release {
        command.arg("--release");
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("building the fixtures failed: {status}"),
        Err(e) => eprintln!("cannot run cargo to build the fixtures: {e}"),
    }
}

/// Our own open file descriptors, sorted, from `/proc/self/fd`, without the one used to
/// read that directory.
///
/// Other test threads open and close descriptors too, so compare these lists only in a
/// test that runs alone or that allows for noise.
pub fn open_fds() -> Vec<i32> {
    // The directory's own descriptor is the entry whose link points back at it; matching
    // on the link (rather than on which fd vanished after closing) stays right even if
    // another thread reuses that number straight away.
    let own_dir = PathBuf::from(format!("/proc/{}/fd", std::process::id()));
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("cannot read /proc/self/fd")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            // An fd that closes under us fails read_link and is dropped, as it should be.
            let target = std::fs::read_link(entry.path()).ok()?;
            (target != own_dir).then_some(fd)
        })
        .collect();
    fds.sort_unstable();
    fds
}

/// Our descriptors above 2 that lack close-on-exec, so every child inherits them.
///
/// A clean test run has none, but a runner can hand some down (a CI agent's pipe, a
/// make jobserver); a child "with only 0, 1 and 2" then also holds these. Read from the
/// `flags:` line of `/proc/self/fdinfo/N`, which is octal and includes `O_CLOEXEC`
/// (proc(5)).
pub fn inherited_fds() -> Vec<i32> {
    const O_CLOEXEC: u32 = 0o2000000;
    open_fds()
        .into_iter()
        .filter(|&fd| fd > 2)
        .filter(|fd| {
            let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
                return false;
            };
            info.lines()
                .find_map(|line| line.strip_prefix("flags:"))
                .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
                .is_some_and(|flags| flags & O_CLOEXEC == 0)
        })
        .collect()
}

/// State letter and parent pid from `/proc/PID/stat`, or `None` if there is no such
/// process.
///
/// The second field, `(comm)`, may itself hold spaces and parentheses, so the fields are
/// split after the *last* `)` (proc(5)).
fn state_and_ppid(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// The pids whose parent is `pid`, zombies included, sorted.
pub fn children_of(pid: u32) -> Vec<u32> {
    children_with_state(pid)
        .into_iter()
        .map(|(child, _)| child)
        .collect()
}

fn children_with_state(pid: u32) -> Vec<(u32, char)> {
    let mut children: Vec<_> = std::fs::read_dir("/proc")
        .expect("cannot read /proc")
        .filter_map(|entry| {
            let child = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let (state, ppid) = state_and_ppid(child)?;
            (ppid == pid).then_some((child, state))
        })
        .collect();
    children.sort_unstable();
    children
}

/// Our own children that have exited but were never waited for.
pub fn zombie_children() -> Vec<u32> {
    children_with_state(std::process::id())
        .into_iter()
        .filter(|&(_, state)| state == 'Z')
        .map(|(child, _)| child)
        .collect()
}

/// Whether `pid` exists and is not a zombie (or dead and about to vanish).
pub fn process_alive(pid: u32) -> bool {
    matches!(state_and_ppid(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Polls `f` every 5 ms until it returns `true` (then `true`) or `timeout` has passed
/// (then `false`, after one last try).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return f();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The first `n` bytes `spew --stdout n` writes.
pub fn spew_bytes(n: usize) -> Vec<u8> {
    SPEW_OUT.iter().copied().cycle().take(n).collect()
}

/// The first `n` bytes `spew --stderr n` writes.
pub fn spew_err_bytes(n: usize) -> Vec<u8> {
    SPEW_ERR.iter().copied().cycle().take(n).collect()
}
