//! A tour of pipe-run's core: run, capture, stream input, time out, and
//! read the errors. Run it with `cargo run --example quickstart`.

use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, Redirect};

fn main() -> Result<(), pipe_run::Error> {
    // 1. Capture stdout; arguments reach the program verbatim, no shell.
    let out = Command::new("printf")
        .args(["%s\n", "a b", "$HOME", "; rm -rf /"])
        .check_output()?;
    print!("verbatim arguments:\n{}", String::from_utf8_lossy(&out));

    // 2. Shell-style parsing without a shell.
    let cmd = Command::parse("grep -c 'needle in'")?.input("hay\nneedle in a haystack\nhay\n");
    println!(
        "grep counted: {}",
        String::from_utf8_lossy(&cmd.check_output()?).trim()
    );

    // 3. Megabytes in and out at once never deadlock: one poll loop serves
    //    stdin, stdout and stderr together.
    let big = vec![b'x'; 8 << 20];
    let done = Command::shell("cat; echo done >&2").input(&big).run()?;
    println!(
        "echoed {} MiB through cat, stderr said {:?}",
        done.stdout.len() >> 20,
        done.stderr_text().trim()
    );

    // 4. A timeout kills the whole process tree and keeps the partial output.
    let start = Instant::now();
    let err = Command::shell("echo working...; sleep 30")
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    println!(
        "timed out after {:?} with partial output {:?}",
        start.elapsed(),
        String::from_utf8_lossy(err.stdout())
    );

    // 5. Errors name the command, the status and the stderr tail.
    let err = Command::new("ls")
        .arg("/no such dir")
        .stderr(Redirect::Pipe)
        .check_output()
        .unwrap_err();
    println!(
        "a failed check reads:\n  {}",
        err.to_string().replace('\n', "\n  ")
    );
    let err = Command::new("no-such-program").call().unwrap_err();
    println!("a missing program reads:\n  {err}");
    let err = Command::new("ls").cwd("/no/such/dir").call().unwrap_err();
    println!("a bad directory reads:\n  {err}");

    // 6. A Popen handle: talk to a child, resume after a timeout.
    let mut p = Command::shell("echo first; sleep 0.3; echo second")
        .stdout(Redirect::Pipe)
        .spawn()?;
    let partial = p
        .communicate(None, Some(Duration::from_millis(100)))
        .unwrap_err();
    let (rest, _) = p.communicate(None, None)?;
    println!(
        "communicate: {:?} before the timeout, {:?} in all, {}",
        String::from_utf8_lossy(partial.stdout()),
        String::from_utf8_lossy(&rest),
        pipe_run::describe_status(&p.wait()?)
    );
    Ok(())
}
