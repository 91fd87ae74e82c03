//! A build-tool-style run: many compiler invocations at once, each job's
//! diagnostics printed as one block when it ends (never mixed with another
//! file's), and fail-fast: after the first error nothing new starts, the
//! running compiles finish (as `make` without `-k`), and the rest are
//! reported as skipped.
//!
//! ```text
//! cargo run --example build_tool
//! ```
//!
//! It writes 24 small C files (one with an error, one with a warning) to a
//! temp directory and compiles them with `cc -Wall -c`. Without a C
//! compiler it uses a stand-in shell script that "compiles" the same way.

use std::fs;
use std::path::Path;

use pipe_run::{Command, ErrorKind, Inputs, Pool, Template};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("pipe-run-build-tool-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let sources = write_sources(&dir)?;

    // The same template language as `pipe-run pool`: {} is the file, {.}
    // the file without its extension.
    let template = if Command::new("cc").arg("--version").run().is_ok() {
        Template::parse("cc -Wall -c {} -o {.}.o")?
    } else {
        println!("(no C compiler found: using a stand-in)");
        Template::shell(FAKE_CC)?
    };
    let pool = Pool::builder().fail_fast(false).build()?;
    let jobs = Inputs::product(vec![sources.clone()])
        .map(|args| template.command(&args?, 1))
        .collect::<Result<Vec<_>, _>>()?;

    let total = jobs.len();
    let (mut built, mut failed, mut skipped) = (0, 0, 0);
    for (i, result) in pool.map_unordered(jobs) {
        let file = Path::new(&sources[i])
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        match result {
            Ok(done) => {
                built += 1;
                println!("[{built:2}/{total}] CC {file}");
                print_block(&done.stderr);
            }
            Err(e) if e.kind() == ErrorKind::Cancelled => skipped += 1,
            Err(e) => {
                failed += 1;
                println!(
                    "[ERR  ] CC {file}: {}",
                    e.status()
                        .map_or("failed".into(), |s| pipe_run::describe_status(&s))
                );
                print_block(e.stderr());
            }
        }
    }
    println!("{built} built, {failed} failed, {skipped} skipped after the first error");
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

/// One job's diagnostics, indented, printed at once.
fn print_block(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    let block: String = text.lines().map(|l| format!("    {l}\n")).collect();
    print!("{block}");
}

/// A compiler stand-in: reports `#error` lines as errors, `#warning` as
/// warnings, takes a moment, and writes the object file.
const FAKE_CC: &str = r#"sleep 0.05
grep -n '#warning' {} | sed 's|^\([0-9]*\):|{}:\1: warning: |' >&2
if grep -n '#error' {} | sed 's|^\([0-9]*\):|{}:\1: error: |' >&2; then exit 1; fi
: > {.}.o"#;

fn write_sources(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut sources = Vec::new();
    for i in 0..24 {
        let path = dir.join(format!("unit{i:02}.c"));
        let body = match i {
            7 => "int f7(void) { int unused; return 7; }\n#warning \"unit07 is deprecated\"\n"
                .to_owned(),
            13 => "#error \"unit13 does not build\"\nint f13(void) { return 13; }\n".to_owned(),
            _ => format!("int f{i}(int x) {{ return x * {i}; }}\n"),
        };
        fs::write(&path, body)?;
        sources.push(path.to_string_lossy().into_owned());
    }
    Ok(sources)
}
