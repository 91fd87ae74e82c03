//! Run a task list with N workers, write the succeeded and failed tasks to
//! two files, then run the failed ones again.
//!
//! ```text
//! cargo run --example task_list [TASKS_FILE] [WORKERS]
//! ```
//!
//! A task is one line of shell (`sh -c`). Without a file, a sample list is
//! made where every third task fails the first time it runs (a flaky
//! network, a busy lock), so the second pass succeeds.

use std::fs;
use std::path::{Path, PathBuf};

use pipe_run::{Command, Pool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::env::temp_dir().join(format!("pipe-run-task-list-{}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let tasks_file = args
        .next()
        .map_or_else(|| sample(&dir), |f| Ok(PathBuf::from(f)))?;
    let workers = args.next().map_or(Ok(4), |n| n.parse())?;

    let tasks: Vec<String> = fs::read_to_string(&tasks_file)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let pool = Pool::new(workers)?;

    let mut pass = 1;
    let mut todo = tasks;
    while !todo.is_empty() && pass <= 2 {
        let (ok, failed) = run(&pool, &todo);
        let ok_file = dir.join(format!("succeeded-{pass}.txt"));
        let failed_file = dir.join(format!("failed-{pass}.txt"));
        fs::write(&ok_file, lines(&ok))?;
        fs::write(&failed_file, lines(&failed))?;
        println!(
            "pass {pass}: {} succeeded ({}), {} failed ({})",
            ok.len(),
            ok_file.display(),
            failed.len(),
            failed_file.display()
        );
        // The second pass re-runs exactly what the failed file lists.
        todo = read_list(&failed_file)?;
        pass += 1;
    }
    if todo.is_empty() {
        println!("all tasks done");
    } else {
        println!("{} tasks still failing after a retry", todo.len());
    }
    Ok(())
}

/// Runs every task, at most `pool.workers()` at once; returns the succeeded
/// and the failed ones, in input order.
fn run(pool: &Pool, tasks: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for (task, result) in tasks.iter().zip(pool.map(tasks.iter().map(Command::shell))) {
        match result {
            Ok(_) => ok.push(task.clone()),
            Err(e) => {
                let why = String::from_utf8_lossy(e.stderr()).trim().to_owned();
                eprintln!("failed: {task}\n    {why}");
                failed.push(task.clone());
            }
        }
    }
    (ok, failed)
}

fn lines(list: &[String]) -> String {
    list.iter().map(|l| format!("{l}\n")).collect()
}

fn read_list(path: &Path) -> std::io::Result<Vec<String>> {
    Ok(fs::read_to_string(path)?
        .lines()
        .map(str::to_owned)
        .collect())
}

/// 12 tasks; every third fails on its first run only.
fn sample(dir: &Path) -> std::io::Result<PathBuf> {
    let mut list = String::new();
    for i in 1..=12 {
        if i % 3 == 0 {
            let marker = dir.join(format!("tried-{i}"));
            list.push_str(&format!(
                "test -e '{m}' || {{ touch '{m}'; echo 'task {i}: resource busy' >&2; exit 1; }}; echo task {i} done\n",
                m = marker.display()
            ));
        } else {
            list.push_str(&format!("sleep 0.0{i}; echo task {i} done\n"));
        }
    }
    let file = dir.join("tasks.txt");
    fs::write(&file, list)?;
    Ok(file)
}
