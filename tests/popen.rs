//! The running handle: polling, waiting with and without deadlines, signals, sharing
//! one `Popen` between threads, and what `Drop` does (issue 2, behaviour 5).

mod common;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{KillOnDrop, TempDir, assert_reaped, err, kill, noise, ok, read_pid_file, show_err};
use pipe_run::{Command, Completed, Error, ErrorKind, Popen, Redirect};
use support::{children_of, fixture, process_alive, wait_until, zombie_children};

/// The `sleep` fixture, killed if its `Popen` drops (say, when an assertion fails)
/// unless a test sets `kill_on_drop(false)`.
fn sleeper(secs: &str) -> Command {
    Command::new(fixture("sleep")).arg(secs).kill_on_drop(true)
}

/// Asserts `status` is a death by `sig`.
#[track_caller]
fn assert_signalled(status: std::process::ExitStatus, sig: i32, what: &str) {
    assert_eq!(status.signal(), Some(sig), "{what}: {status:?}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Command>();
    assert_send_sync::<Popen>();
    assert_send_sync::<Error>();
    assert_send_sync::<ErrorKind>();
    assert_send_sync::<Completed>();
    assert_send_sync::<Redirect>();
    assert_send_sync::<pipe_run::Result<Completed>>();
}

#[test]
fn pid_is_our_direct_child() {
    let p = ok(sleeper("30").spawn(), "spawn");
    assert!(
        children_of(std::process::id()).contains(&p.pid()),
        "{} is not among our children {:?}",
        p.pid(),
        children_of(std::process::id())
    );
}

#[test]
fn poll_returns_none_while_running_and_the_status_once_exited() {
    let p = ok(sleeper("30").spawn(), "spawn");
    assert_eq!(ok(p.poll(), "poll"), None);
    assert_eq!(p.returncode(), None);
    ok(p.kill(), "kill");
    let status = ok(p.wait(), "wait");
    assert_signalled(status, libc::SIGKILL, "after kill");
    assert_eq!(ok(p.poll(), "poll after wait"), Some(status));
    assert_eq!(ok(p.wait(), "second wait"), status);
    assert_eq!(p.returncode(), Some(-libc::SIGKILL));
}

#[test]
fn poll_reaps_an_exited_child_without_wait() {
    let p = ok(
        Command::new(fixture("exit-with")).arg("42").spawn(),
        "spawn",
    );
    assert!(
        wait_until(Duration::from_secs(10), || matches!(p.poll(), Ok(Some(_)))),
        "poll never saw exit-with 42 exit"
    );
    assert_eq!(ok(p.poll(), "poll").and_then(|s| s.code()), Some(42));
    assert_eq!(p.returncode(), Some(42));
    assert_reaped(p.pid(), "after poll");
}

#[test]
fn wait_returns_the_exit_code() {
    let p = ok(Command::new(fixture("exit-with")).arg("9").spawn(), "spawn");
    assert_eq!(ok(p.wait(), "wait").code(), Some(9));
    assert_eq!(p.returncode(), Some(9));
}

#[test]
fn wait_timeout_gives_none_on_expiry_and_the_status_once_exited() {
    let p = ok(sleeper("30").spawn(), "spawn");
    let start = Instant::now();
    assert_eq!(
        ok(p.wait_timeout(Duration::from_millis(100)), "wait_timeout"),
        None
    );
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "woke early: {:?}",
        start.elapsed()
    );
    assert_eq!(
        ok(p.wait_timeout(Duration::ZERO), "zero wait_timeout"),
        None
    );
    ok(p.kill(), "kill");
    let status = ok(
        p.wait_timeout(Duration::from_secs(10)),
        "wait_timeout after kill",
    );
    assert_signalled(status.expect("exited"), libc::SIGKILL, "wait_timeout");
}

#[test]
fn wait_deadline_gives_none_on_expiry_and_the_status_once_exited() {
    let p = ok(sleeper("30").spawn(), "spawn");
    let deadline = Instant::now() + Duration::from_millis(100);
    assert_eq!(ok(p.wait_deadline(deadline), "wait_deadline"), None);
    assert!(Instant::now() >= deadline);
    assert_eq!(ok(p.wait_deadline(Instant::now()), "past deadline"), None);
    ok(p.terminate(), "terminate");
    let status = ok(
        p.wait_deadline(Instant::now() + Duration::from_secs(10)),
        "after terminate",
    );
    assert_signalled(status.expect("exited"), libc::SIGTERM, "wait_deadline");
}

#[test]
fn wait_timeout_returns_as_soon_as_the_child_exits() {
    let p = ok(sleeper("0.2").spawn(), "spawn");
    let start = Instant::now();
    let status = ok(p.wait_timeout(Duration::from_secs(20)), "wait_timeout");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn terminate_sends_sigterm() {
    let p = ok(sleeper("30").spawn(), "spawn");
    ok(p.terminate(), "terminate");
    assert_signalled(ok(p.wait(), "wait"), libc::SIGTERM, "terminate");
    assert_eq!(p.returncode(), Some(-libc::SIGTERM));
}

#[test]
fn kill_ends_a_child_that_ignores_terminate() {
    let mut p = ok(
        Command::new(fixture("ignore-term"))
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let mut line = String::new();
    BufReader::new(p.take_stdout().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    ok(p.terminate(), "terminate");
    assert_eq!(
        ok(p.wait_timeout(Duration::from_millis(300)), "wait_timeout"),
        None
    );
    ok(p.kill(), "kill");
    assert_signalled(ok(p.wait(), "wait"), libc::SIGKILL, "kill");
}

#[test]
fn send_signal_delivers_the_given_signal() {
    let p = ok(sleeper("30").spawn(), "spawn");
    ok(p.send_signal(libc::SIGUSR1), "send_signal");
    assert_signalled(ok(p.wait(), "wait"), libc::SIGUSR1, "SIGUSR1");
    assert_eq!(p.returncode(), Some(-libc::SIGUSR1));
}

#[test]
fn send_signal_with_an_invalid_signal_is_an_io_error() {
    let p = ok(sleeper("30").spawn(), "spawn");
    let e = err(p.send_signal(1000), "send_signal(1000)");
    assert_eq!(e.kind(), ErrorKind::Io, "{}", show_err(&e));
    assert_eq!(ok(p.poll(), "poll"), None, "the child must be unharmed");
}

#[test]
fn signalling_a_reaped_child_does_nothing() {
    let p = ok(Command::new(fixture("exit-with")).arg("3").spawn(), "spawn");
    let status = ok(p.wait(), "wait");
    ok(p.kill(), "kill after wait");
    ok(p.terminate(), "terminate after wait");
    ok(p.send_signal(libc::SIGUSR1), "send_signal after wait");
    assert_eq!(ok(p.wait(), "wait again"), status);
    assert_eq!(p.returncode(), Some(3));
}

#[test]
fn kill_tree_reaches_grandchildren_in_a_new_process_group() {
    let dir = TempDir::new("kill-tree");
    let pid_file = dir.path().join("pid");
    let p = ok(
        Command::new(fixture("grandchild"))
            .args(["--parent-sleep", "30", "--pid-file"])
            .arg(&pid_file)
            .stdout(Redirect::Null)
            .new_process_group(true)
            .spawn(),
        "spawn",
    );
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    }));
    let grandchild = read_pid_file(&pid_file);
    let _cleanup = KillOnDrop(grandchild);
    ok(p.kill_tree(), "kill_tree");
    assert_signalled(ok(p.wait(), "wait"), libc::SIGKILL, "kill_tree");
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(grandchild)),
        "grandchild {grandchild} survived kill_tree"
    );
}

#[test]
fn one_thread_blocks_in_wait_while_another_polls_and_kills_and_both_see_one_status() {
    let p = Arc::new(ok(sleeper("30").spawn(), "spawn"));
    let waiter = thread::spawn({
        let p = Arc::clone(&p);
        move || p.wait()
    });
    thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    for _ in 0..100 {
        assert_eq!(ok(p.poll(), "poll"), None);
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "100 polls took {:?}: poll must not wait behind the blocked waiter",
        start.elapsed()
    );
    ok(p.kill(), "kill");
    let seen_by_waiter = ok(waiter.join().unwrap(), "wait in the other thread");
    assert_signalled(seen_by_waiter, libc::SIGKILL, "waiter");
    assert_eq!(ok(p.poll(), "poll"), Some(seen_by_waiter));
    assert_eq!(ok(p.wait(), "wait"), seen_by_waiter);
    assert_eq!(p.returncode(), Some(-libc::SIGKILL));
}

#[test]
fn every_kind_of_waiter_in_every_thread_sees_the_same_status() {
    let p = Arc::new(ok(sleeper("30").spawn(), "spawn"));
    let ready = Arc::new(Barrier::new(5));
    let waiters: Vec<_> = (0..4)
        .map(|i| {
            let (p, ready) = (Arc::clone(&p), Arc::clone(&ready));
            thread::spawn(move || {
                ready.wait();
                match i {
                    0 => p.wait().map(Some),
                    1 => p.wait_timeout(Duration::from_secs(30)),
                    2 => p.wait_deadline(Instant::now() + Duration::from_secs(30)),
                    _ => {
                        let polled =
                            wait_until(Duration::from_secs(30), || !matches!(p.poll(), Ok(None)));
                        assert!(polled, "poll never saw the exit");
                        p.poll()
                    }
                }
            })
        })
        .collect();
    ready.wait();
    thread::sleep(Duration::from_millis(50));
    ok(p.terminate(), "terminate");
    for (i, w) in waiters.into_iter().enumerate() {
        let status = ok(w.join().unwrap(), format!("waiter {i}"));
        assert_signalled(
            status.expect("exited"),
            libc::SIGTERM,
            &format!("waiter {i}"),
        );
    }
}

#[test]
fn take_stdin_and_take_stdout_give_the_raw_pipe_ends() {
    let mut p = ok(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Pipe)
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let mut stdin = p.take_stdin().expect("stdin pipe");
    assert!(p.take_stdin().is_none(), "taken once");
    let input = noise(100_000, 40);
    let writer = thread::spawn(move || {
        stdin.write_all(&input).unwrap();
        input
    });
    let mut out = Vec::new();
    p.take_stdout().unwrap().read_to_end(&mut out).unwrap();
    let input = writer.join().unwrap();
    assert_eq!(out, input);
    assert!(ok(p.wait(), "wait").success());
}

#[test]
fn drop_neither_blocks_nor_kills_and_the_child_is_reaped_when_it_exits() {
    let p = ok(
        sleeper("30")
            .stdout(Redirect::Pipe)
            .kill_on_drop(false)
            .spawn(),
        "spawn",
    );
    let pid = p.pid();
    let _cleanup = KillOnDrop(pid);
    let start = Instant::now();
    drop(p);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop blocked for {:?}",
        start.elapsed()
    );
    thread::sleep(Duration::from_millis(100));
    assert!(
        process_alive(pid),
        "drop without kill_on_drop killed the child"
    );
    kill(pid, libc::SIGKILL);
    assert_reaped(pid, "dropped child, killed later");
}

#[test]
fn drop_with_kill_on_drop_kills_and_reaps_the_child() {
    let p = ok(sleeper("30").kill_on_drop(true).spawn(), "spawn");
    let pid = p.pid();
    let start = Instant::now();
    drop(p);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop blocked for {:?}",
        start.elapsed()
    );
    assert_reaped(pid, "kill_on_drop");
}

#[test]
fn drop_with_kill_on_drop_kills_the_process_group_it_leads() {
    let dir = TempDir::new("drop-group");
    let pid_file = dir.path().join("pid");
    let p = ok(
        Command::new(fixture("grandchild"))
            .args(["--parent-sleep", "30", "--pid-file"])
            .arg(&pid_file)
            .stdout(Redirect::Pipe)
            .new_process_group(true)
            .kill_on_drop(true)
            .spawn(),
        "spawn",
    );
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    }));
    let (pid, grandchild) = (p.pid(), read_pid_file(&pid_file));
    let _cleanup = KillOnDrop(grandchild);
    drop(p);
    assert_reaped(pid, "kill_on_drop");
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(grandchild)),
        "grandchild {grandchild} survived kill_on_drop"
    );
}

#[test]
fn drop_of_an_exited_but_unwaited_child_leaves_no_zombie() {
    let p = ok(Command::new(fixture("exit-with")).arg("0").spawn(), "spawn");
    let pid = p.pid();
    assert!(
        wait_until(Duration::from_secs(10), || !process_alive(pid)),
        "never exited"
    );
    drop(p);
    assert_reaped(pid, "exited, then dropped");
}

#[test]
fn drop_closes_our_pipe_ends_so_a_blocked_child_can_finish() {
    // spew blocks writing 100 MiB into a pipe nobody reads; once we drop our read end
    // its write fails and it exits. slow-cat waits for end-of-file on stdin.
    let writer = ok(
        Command::new(fixture("spew"))
            .args(["--stdout", "100M"])
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn spew",
    );
    let reader = ok(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Pipe)
            .stdout(Redirect::Null)
            .spawn(),
        "spawn slow-cat",
    );
    let pids = [writer.pid(), reader.pid()];
    thread::sleep(Duration::from_millis(100));
    assert!(
        pids.iter().all(|&pid| process_alive(pid)),
        "both should be blocked on us"
    );
    drop(writer);
    drop(reader);
    for pid in pids {
        assert_reaped(pid, "blocked on a pipe to us");
    }
}

#[test]
fn dropping_many_running_children_leaves_no_zombie() {
    let pids: Vec<u32> = (0..20)
        .map(|i| {
            // Half exit on their own after the drop, half are killed by it.
            let cmd = if i % 2 == 0 {
                sleeper("0.05").kill_on_drop(false)
            } else {
                sleeper("30").kill_on_drop(true)
            };
            ok(cmd.spawn(), "spawn").pid()
        })
        .collect();
    for pid in pids {
        assert_reaped(pid, "dropped while running");
    }
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies: {:?}",
        zombie_children()
    );
}

#[test]
fn spawn_does_not_apply_the_command_timeout() {
    // A timeout is for the run-style methods; a Popen is waited on with its own.
    let p = ok(
        sleeper("30")
            .timeout(Duration::from_millis(50))
            .kill_on_drop(true)
            .spawn(),
        "spawn",
    );
    assert_eq!(
        ok(p.wait_timeout(Duration::from_millis(300)), "wait_timeout"),
        None
    );
    assert!(process_alive(p.pid()));
}
