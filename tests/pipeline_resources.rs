//! What pipelines and readers cost our process (issue 3): a slow reader keeps memory
//! bounded however much the child writes, and no descriptor or zombie is left behind
//! by pipelines, readers dropped early, failed spawns or timeouts.
//!
//! Both measure the whole process (`/proc/self`), so this file holds nothing else and
//! its tests take turns.

mod support;

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use pipe_run::{Command, ErrorKind, Pipeline, Redirect};
use support::{SPEW_OUT, fixture, open_fds, wait_until, zombie_children};

/// The tests in this file must not overlap: each looks at the whole process.
static ALONE: Mutex<()> = Mutex::new(());

/// A `kB` field of `/proc/self/status` (VmRSS, VmHWM), in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kb: usize = line.trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

#[test]
fn a_slow_reader_keeps_memory_bounded() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let total: usize = 256 << 20;
    let mut reader = Command::new(fixture("spew"))
        .args(["--stdout", "256M"])
        .reader()
        .unwrap();
    // Start measuring from here: writing "5" to clear_refs resets VmHWM to VmRSS
    // (proc(5)); where that is refused, the high-water mark since start-up is used.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = status_bytes("VmRSS");
    let mut buf = vec![0u8; 64 << 10];
    let pattern = SPEW_OUT.repeat(buf.len() / 64 + 1);
    let mut pos = 0usize;
    while pos < total {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0, "early end of file at byte {pos}");
        let expected = &pattern[pos % 64..pos % 64 + n];
        assert!(buf[..n] == *expected, "wrong bytes in {pos}..{}", pos + n);
        pos += n;
        // Slower than the child: about 1 ms per MiB on top of the checking.
        if pos % (1 << 20) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(reader.read(&mut buf).unwrap(), 0);
    assert!(reader.completed().unwrap().success());
    let peak = status_bytes("VmHWM");
    let grew = peak.saturating_sub(base);
    eprintln!(
        "VmRSS at start {} KiB, peak {} KiB (reset: {reset})",
        base >> 10,
        peak >> 10
    );
    if reset {
        assert!(
            grew < 16 << 20,
            "reading 256 MiB slowly grew our memory by {} KiB",
            grew >> 10
        );
    }
}

/// One round of everything that could leak: pipes between stages, shared stderr,
/// readers dropped mid-stream, a stage that cannot start, a timeout.
fn one_round() {
    let done = Pipeline::new([
        Command::new(fixture("spew")).args(["--stdout", "100K", "--stderr", "10K"]),
        Command::new("cat"),
        Command::new("cat"),
    ])
    .run()
    .unwrap();
    assert_eq!(done.stdout.len(), 100 << 10);

    let mut reader = Pipeline::parse("yes | cat").unwrap().reader().unwrap();
    reader.read_exact(&mut [0u8; 100]).unwrap();
    drop(reader);

    let mut reader = Command::new("yes").reader().unwrap();
    reader.read_exact(&mut [0u8; 100]).unwrap();
    drop(reader);

    let e = Pipeline::new([
        Command::new("yes"),
        Command::new("no-such-program-pipe-run-xyz"),
        Command::new("cat"),
    ])
    .stderr(Redirect::Pipe)
    .run()
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let e = Pipeline::parse("yes | cat")
        .unwrap()
        .stdout(Redirect::Null)
        .timeout(Duration::from_millis(20))
        .run()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);

    let mut h = Pipeline::parse("cat | cat")
        .unwrap()
        .stdin(Redirect::Pipe)
        .stdout(Redirect::Pipe)
        .spawn()
        .unwrap();
    drop(h.take_stdin());
    h.wait().unwrap();
    drop(h);
}

#[test]
fn no_descriptor_or_zombie_is_left_behind() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // The first round starts the background reaper (and its doorbell pipe), which
    // lives as long as the process: count from after it.
    one_round();
    let before = open_fds();
    for _ in 0..30 {
        one_round();
    }
    let after = open_fds();
    assert_eq!(before, after, "descriptors leaked");
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies left: {:?}",
        zombie_children()
    );
}
