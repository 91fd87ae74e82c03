//! Spawn errors say exactly what is wrong, invalid requests fail before anything runs,
//! and a failed command's message reads like a sentence with the stderr tail (issue 2,
//! behaviours 1, 6 and 8).

mod common;
mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::{TempDir, err, ok, show_err};
use pipe_run::{Command, Error, ErrorKind, Redirect};
use support::fixture;

/// The fixture's path, checked to need no shell quoting so messages can be spelled out.
fn plain_fixture(name: &str) -> String {
    let path = fixture(name).display().to_string();
    assert!(
        path.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b)),
        "these tests assume a fixture path that needs no shell quoting: {path}"
    );
    path
}

/// A temp dir whose path needs no shell quoting either.
fn plain_dir(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    plain(dir.path());
    dir
}

fn plain(path: &Path) -> String {
    let text = path.display().to_string();
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b)),
        "these tests assume a temp path that needs no shell quoting: {text}"
    );
    text
}

#[track_caller]
fn assert_kind(e: &Error, kind: ErrorKind) {
    assert_eq!(e.kind(), kind, "{}", show_err(e));
}

#[test]
fn program_not_found_names_the_program_and_the_path_searched() {
    let path = std::env::var("PATH").expect("the test needs PATH");
    let e = err(Command::new("pipe-run-no-such-program").call(), "call");
    assert_kind(&e, ErrorKind::NotFound);
    assert_eq!(e.path(), Some(Path::new("pipe-run-no-such-program")));
    assert_eq!(
        e.to_string(),
        format!(
            "command `pipe-run-no-such-program`: program `pipe-run-no-such-program` not found \
             (searched PATH: {path})"
        )
    );
}

#[test]
fn program_not_found_names_the_childs_own_path_when_it_is_changed() {
    let dir = plain_dir("not-found-path");
    let e = err(
        Command::new("pipe-run-no-such-program")
            .env("PATH", dir.path())
            .call(),
        "call",
    );
    assert_kind(&e, ErrorKind::NotFound);
    assert!(
        e.to_string()
            .ends_with(&format!("(searched PATH: {})", plain(dir.path()))),
        "{e}"
    );

    let e = err(
        Command::new("pipe-run-no-such-program").env_clear().call(),
        "call",
    );
    assert_kind(&e, ErrorKind::NotFound);
    assert!(
        e.to_string()
            .ends_with("(searched PATH: (PATH is not set))"),
        "{e}"
    );
}

#[test]
fn a_bare_name_is_found_in_the_childs_own_path() {
    let dir = plain_dir("child-path");
    std::os::unix::fs::symlink(fixture("print-args"), dir.path().join("pipe-run-echo")).unwrap();
    let out = ok(
        Command::new("pipe-run-echo")
            .arg("found")
            .env("PATH", dir.path())
            .check_output(),
        "check_output",
    );
    assert_eq!(out, b"found\0");
}

#[test]
fn a_missing_path_is_not_found_and_named() {
    let e = err(Command::new("/pipe-run/no/such/program").call(), "call");
    assert_kind(&e, ErrorKind::NotFound);
    assert_eq!(e.path(), Some(Path::new("/pipe-run/no/such/program")));
    assert!(
        e.to_string()
            .contains("`/pipe-run/no/such/program` does not exist"),
        "{e}"
    );
}

#[test]
fn a_script_whose_interpreter_is_missing_says_so() {
    let dir = plain_dir("interpreter");
    let script = dir.file("script", b"#!/pipe-run/no/such/interpreter\n", 0o755);
    let e = err(Command::new(&script).call(), "call");
    assert_kind(&e, ErrorKind::NotFound);
    assert_eq!(e.path(), Some(script.as_path()));
    assert!(e.to_string().contains("interpreter"), "{e}");
    assert!(
        e.to_string().contains(&format!("`{}`", plain(&script))),
        "{e}"
    );
}

#[test]
fn a_bad_working_directory_is_named_and_distinct_from_a_missing_program() {
    let missing = "/pipe-run/no/such/dir";
    let e = err(
        Command::new(fixture("print-cwd")).cwd(missing).call(),
        "call",
    );
    assert_kind(&e, ErrorKind::WorkingDirectory);
    assert_eq!(e.path(), Some(Path::new(missing)));
    assert_eq!(
        e.to_string(),
        format!(
            "command `{}`: working directory `{missing}` does not exist",
            plain_fixture("print-cwd")
        )
    );

    // The same OS error (ENOENT) for a missing program with a good directory.
    let e = err(
        Command::new("/pipe-run/no/such/program").cwd("/").call(),
        "call",
    );
    assert_kind(&e, ErrorKind::NotFound);
}

#[test]
fn a_working_directory_that_is_a_file_is_named() {
    let dir = plain_dir("cwd-file");
    let file = dir.file("not-a-dir", b"", 0o644);
    let e = err(Command::new(fixture("print-cwd")).cwd(&file).call(), "call");
    assert_kind(&e, ErrorKind::WorkingDirectory);
    assert_eq!(e.path(), Some(file.as_path()));
    assert!(
        e.to_string().ends_with(&format!(
            "working directory `{}` is not a directory",
            plain(&file)
        )),
        "{e}"
    );
}

#[test]
fn permission_denied_names_the_path() {
    let dir = plain_dir("permission");
    let file = dir.file("not-executable", b"#!/bin/sh\nexit 0\n", 0o644);
    let e = err(Command::new(&file).call(), "call");
    assert_kind(&e, ErrorKind::PermissionDenied);
    assert_eq!(e.path(), Some(file.as_path()));
    assert!(
        e.to_string()
            .contains(&format!("permission denied executing `{}`", plain(&file))),
        "{e}"
    );

    // Found through PATH: the message names the file, not just the bare name.
    let e = err(
        Command::new("not-executable")
            .env("PATH", dir.path())
            .call(),
        "call",
    );
    assert_kind(&e, ErrorKind::PermissionDenied);
    assert_eq!(e.path(), Some(file.as_path()));

    // A directory cannot be executed either.
    let e = err(Command::new(dir.path()).call(), "call");
    assert_kind(&e, ErrorKind::PermissionDenied);
    assert_eq!(e.path(), Some(dir.path()));
}

#[test]
fn exec_format_error_names_the_path() {
    let dir = plain_dir("exec-format");
    // Executable bits but neither a binary nor a `#!` script. (Were the spawn to fall
    // back to execvp, glibc would hand this to /bin/sh and it would "run".)
    let file = dir.file("garbage", b"\x00\x01\x02\x03 not a program\n", 0o755);
    let e = err(Command::new(&file).call(), "call");
    assert_kind(&e, ErrorKind::ExecFormat);
    assert_eq!(e.path(), Some(file.as_path()));
    assert!(
        e.to_string().contains(&format!("`{}`", plain(&file))),
        "{e}"
    );
}

/// A command that would leave a file behind if it ever ran: `grandchild` writes its
/// pid file before anything else that could fail.
fn would_leave_a_mark(dir: &TempDir) -> (Command, std::path::PathBuf) {
    let mark = dir.path().join("ran");
    let cmd = Command::new(fixture("grandchild"))
        .args(["--sleep", "0", "--pid-file"])
        .arg(&mark)
        .stdout(Redirect::Null);
    (cmd, mark)
}

#[test]
fn nul_bytes_and_empty_programs_are_invalid_input_before_anything_runs() {
    let dir = plain_dir("nul");
    let (base, mark) = would_leave_a_mark(&dir);
    let nul = OsStr::from_bytes(b"a\0b");
    let cases: Vec<(&str, Command, &str)> = vec![
        (
            "NUL in an argument",
            base.clone().arg(nul),
            "argument 5 contains a NUL byte",
        ),
        (
            "NUL in an env value",
            base.clone().env("PIPE_RUN_V", nul),
            "contains a NUL byte",
        ),
        ("NUL in an env name", base.clone().env(nul, "v"), "NUL"),
        ("`=` in an env name", base.clone().env("A=B", "v"), "`=`"),
        ("NUL in the cwd", base.clone().cwd(nul), "NUL"),
        (
            "NUL in the program",
            Command::new(nul),
            "the program name contains a NUL byte",
        ),
        (
            "an empty program",
            Command::new(""),
            "the program name is empty",
        ),
        (
            "an empty program with args",
            Command::new("").arg("x"),
            "the program name is empty",
        ),
    ];
    for (what, cmd, message) in cases {
        for (method, result) in [
            ("call", cmd.call().map(drop)),
            ("run", cmd.run().map(drop)),
            ("spawn", cmd.spawn().map(drop)),
        ] {
            let e = err(result, format!("{what} ({method})"));
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidInput,
                "{what} ({method}){}",
                show_err(&e)
            );
            assert!(e.to_string().contains(message), "{what} ({method}): {e}");
        }
    }
    assert!(!mark.exists(), "a command with invalid input was spawned");
    // The same command without the bad part does run (so the mark means something).
    ok(base.call(), "valid command");
    assert!(mark.exists(), "the valid command left no mark");
}

#[test]
fn parse_with_an_unbalanced_quote_is_a_parse_error_naming_the_input() {
    for (line, position) in [("grep -n 'a b f.txt", 8), ("echo \"unclosed", 5)] {
        let e = err(Command::parse(line), line);
        assert_kind(&e, ErrorKind::Parse);
        let message = e.to_string();
        assert!(message.contains(&format!("`{line}`")), "{message}");
        assert!(
            message.contains(&format!("at byte {position}")),
            "{message}"
        );
    }
}

#[test]
fn parse_splits_words_without_a_shell() {
    let line = format!(
        "{} 'a b' \"c d\" e\\ f '$HOME' \"\" 'semi;colon'",
        plain_fixture("print-args")
    );
    let out = ok(
        ok(Command::parse(&line), "parse").check_output(),
        "check_output",
    );
    assert_eq!(out, b"a b\0c d\0e f\0$HOME\0\0semi;colon\0");
}

/// `cc` in a private PATH: a stand-in compiler that fails the way compilers do.
fn fake_cc(dir: &TempDir) {
    dir.file(
        "cc",
        b"#!/bin/sh\necho \"$2:1:1: error: expected ';'\" >&2\nexit 1\n",
        0o755,
    );
}

#[test]
fn a_failed_command_reads_like_a_sentence_with_the_stderr_tail() {
    let dir = plain_dir("cc");
    fake_cc(&dir);
    let cc = Command::new("cc")
        .args(["-c", "my file.c"])
        .env("PATH", dir.path());

    let e = err(cc.check_call(), "check_call");
    assert_kind(&e, ErrorKind::CalledProcess);
    assert_eq!(e.command(), Some("cc -c 'my file.c'"));
    // stderr went to the terminal (inherited), so the message has no tail.
    assert_eq!(
        e.to_string(),
        "command `cc -c 'my file.c'` exited with code 1"
    );

    let e = err(cc.clone().stderr(Redirect::Pipe).check_call(), "check_call");
    assert_eq!(
        e.to_string(),
        "command `cc -c 'my file.c'` exited with code 1\n\
         --- stderr (last lines) ---\n\
         my file.c:1:1: error: expected ';'"
    );
    assert_eq!(format!("{e:?}"), format!("Error(CalledProcess): {e}"));
}

#[test]
fn a_command_killed_by_a_signal_says_which_with_the_stderr_tail() {
    // `signal-self 9` cannot raise SIGKILL (it fails resetting SIGKILL's disposition),
    // so the shell kills itself here.
    let e = err(
        ok(
            Command::shell("echo last words >&2; kill -9 $$").run(),
            "run",
        )
        .check(),
        "check",
    );
    assert_kind(&e, ErrorKind::CalledProcess);
    assert_eq!(
        e.command(),
        Some("/bin/sh -c 'echo last words >&2; kill -9 $$'")
    );
    assert_eq!(
        e.to_string(),
        "command `/bin/sh -c 'echo last words >&2; kill -9 $$'` was killed by signal 9 (SIGKILL)\n\
         --- stderr (last lines) ---\n\
         last words"
    );

    let e = err(
        Command::new(fixture("signal-self"))
            .args(["15", "--stdout", "bye"])
            .check_output(),
        "check_output",
    );
    assert_eq!(
        e.to_string(),
        format!(
            "command `{} 15 --stdout bye` was killed by signal 15 (SIGTERM)\n\
             --- stdout (last lines) ---\n\
             bye",
            plain_fixture("signal-self")
        )
    );
}

#[test]
fn the_message_shows_only_the_last_lines_of_stderr_but_the_error_keeps_all() {
    let stderr: String = (1..=15).map(|i| format!("line {i}\n")).collect();
    let e = err(
        Command::new(fixture("exit-with"))
            .args(["2", "--stderr", &stderr])
            .run()
            .and_then(|done| done.check()),
        "run",
    );
    let tail: String = (6..=15).map(|i| format!("\nline {i}")).collect();
    assert!(
        e.to_string()
            .ends_with(&format!("--- stderr (last lines) ---{tail}")),
        "{e}"
    );
    let message = e.to_string();
    let shown = message
        .split("--- stderr (last lines) ---")
        .nth(1)
        .unwrap_or_default();
    assert!(!shown.contains("line 5\n"), "{e}");
    assert_eq!(e.stderr(), stderr.as_bytes());
}

/// Writes an executable script to `path` and returns the still-open writer: while it
/// is open, executing the file fails with ETXTBSY.
fn script_held_open(path: &Path) -> std::fs::File {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(path)
        .unwrap();
    f.write_all(b"#!/bin/sh\necho ran\n").unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn a_program_file_busy_for_a_moment_is_retried_and_one_held_open_is_named() {
    let dir = plain_dir("busy");
    // Closed 5 ms after the spawn starts (as when another thread's child still
    // holds a copy of the descriptor): the spawn is retried and succeeds.
    let brief = dir.path().join("brief.sh");
    let writer = script_held_open(&brief);
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(5));
        drop(writer);
    });
    let out = ok(Command::new(&brief).check_output(), "check_output");
    closer.join().unwrap();
    assert_eq!(out, b"ran\n");

    // Held open throughout: after the retries, an Io error that says why.
    let held = dir.path().join("held.sh");
    let _writer = script_held_open(&held);
    let t0 = std::time::Instant::now();
    let e = err(Command::new(&held).check_output(), "check_output");
    assert_kind(&e, ErrorKind::Io);
    assert_eq!(e.io_error().and_then(|io| io.raw_os_error()), Some(26)); // ETXTBSY
    let shown = plain(&held);
    assert_eq!(
        e.to_string(),
        format!(
            "command `{shown}`: cannot execute {shown}: the file is open for writing \
             (still after 7 tries): Text file busy (os error 26)"
        )
    );
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(60),
        "{:?}",
        t0.elapsed()
    );
}
