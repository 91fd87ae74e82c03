//! Stream a huge file through a pipeline with bounded memory.
//!
//! ```text
//! cargo run --example stream_huge_file [FILE]
//! ```
//!
//! Without a file it first writes a 256 MiB sample log (with a pipeline
//! whose output goes straight to the file). Then `grep -v DEBUG FILE | cut
//! -d' ' -f2` runs child to child through OS pipes, and we read its output
//! line by line with `Pipeline::reader`: the pipeline only runs as fast as
//! we read, so our memory stays flat whatever the file's size. The peak
//! resident size at the end shows it.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use pipe_run::{Pipeline, Redirect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given = std::env::args_os().nth(1).map(PathBuf::from);
    let file = match &given {
        Some(f) => f.clone(),
        None => sample()?,
    };
    let size = std::fs::metadata(&file)?.len();
    let start = Instant::now();
    let pipeline = Pipeline::new([
        pipe_run::Command::new("grep")
            .args(["-v", "DEBUG"])
            .arg(&file),
        pipe_run::Command::new("cut").args(["-d", " ", "-f2"]),
    ]);
    let mut levels = std::collections::BTreeMap::<String, u64>::new();
    for line in pipeline.reader()?.lines() {
        *levels.entry(line?).or_default() += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "streamed {} MiB in {secs:.2} s ({:.0} MiB/s): {levels:?}",
        size >> 20,
        (size >> 20) as f64 / secs
    );
    println!("peak memory of this process: {}", peak_rss());
    if given.is_none() {
        std::fs::remove_file(&file)?;
    }
    Ok(())
}

/// A 256 MiB log with lines like `2024-01-01T00:00:00 INFO request served`.
fn sample() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("pipe-run-huge-{}.log", std::process::id()));
    let out = std::fs::File::create(&path)?;
    let script = "yes '2024-01-01T00:00:00 INFO request served
2024-01-01T00:00:01 DEBUG cache hit
2024-01-01T00:00:02 WARN slow upstream
2024-01-01T00:00:03 DEBUG cache miss' | head -c 256M";
    pipe_run::Command::shell(script)
        .stdout(Redirect::File(out))
        .check_call()?;
    Ok(path)
}

/// `VmHWM` from `/proc/self/status` (Linux), the peak resident set size.
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (no /proc)".into())
}
