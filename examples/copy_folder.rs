//! Copy a folder with a pool of `cp` processes and a live progress line.
//!
//! ```text
//! cargo run --example copy_folder [SRC DST]
//! ```
//!
//! Without arguments it builds a sample folder of 400 files in a temp
//! directory and copies that. Every file is one `cp -p` job; the pool runs
//! as many at once as there are CPUs, and its event stream drives the
//! progress line (the same events `pipe-run pool` uses for its bar).

use std::io::Write;
use std::path::{Path, PathBuf};

use pipe_run::{Command, Event, Pool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (src, dst) = match args.as_slice() {
        [src, dst] => (src.clone(), dst.clone()),
        _ => sample()?,
    };
    let files = walk(&src)?;
    let pool = Pool::builder().build()?;
    let events = pool.events();
    for file in &files {
        let target = dst.join(file.strip_prefix(&src)?);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        pool.submit(Command::new("cp").arg("-p").arg(file).arg(target))?;
    }
    // No more jobs: the event stream ends once the last one has finished.
    pool.shutdown(false, false);

    let (total, mut done, mut failed) = (files.len(), 0, Vec::new());
    let mut drawn = std::time::Instant::now();
    for event in events {
        if let Event::Finished { command, error, .. } = event {
            done += 1;
            if let Some((_, message)) = error {
                failed.push(format!("{command}: {message}"));
            }
            // Redraw at most every 50 ms, and at the end.
            if done == total || drawn.elapsed().as_millis() >= 50 {
                eprint!("\rcopied {done}/{total} files ({} failed)", failed.len());
                std::io::stderr().flush()?;
                drawn = std::time::Instant::now();
            }
        }
    }
    eprintln!();
    for f in &failed {
        eprintln!("failed: {f}");
    }
    println!(
        "{} -> {}: {} of {total} files copied with {} workers",
        src.display(),
        dst.display(),
        total - failed.len(),
        pool.workers()
    );
    Ok(())
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A sample folder of 400 small files in 8 subfolders, and where to copy it.
fn sample() -> std::io::Result<(PathBuf, PathBuf)> {
    let root = std::env::temp_dir().join(format!("pipe-run-copy-folder-{}", std::process::id()));
    let (src, dst) = (root.join("src"), root.join("dst"));
    let _ = std::fs::remove_dir_all(&root);
    for i in 0..400 {
        let dir = src.join(format!("part{}", i % 8));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("file{i}.txt")),
            format!("file {i}\n").repeat(100),
        )?;
    }
    Ok((src, dst))
}
