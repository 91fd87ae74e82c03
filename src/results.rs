//! Keeping each job's output in files: [`ResultsDir`], what `pipe-run pool
//! --results DIR` writes (like GNU parallel's `--results`).
//!
//! Every job gets a directory named after its job number, holding
//!
//! | file | contents |
//! |---|---|
//! | `cmd` | the command line, shell-quoted, and a newline |
//! | `stdout` | everything it wrote to stdout |
//! | `stderr` | everything it wrote to stderr |
//! | `status` | the exit code a shell would report (128 + N for signal N, 124 timed out, 127 not found), and a newline |
//! | `error` | only when it failed: the error message, as the summary shows it |
//!
//! The layout is by job number rather than GNU parallel's
//! `DIR/1/<argument>/…`, so arguments holding `/` or odd bytes need no
//! escaping and one job's files are one `ls DIR/7` away.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::status::{Completed, error_exit_code, shell_exit_code};

/// A directory of per-job result files: `DIR/<job number>/` holding `cmd`,
/// `stdout`, `stderr`, `status` (the exit code a shell would report) and,
/// for a failed job, `error`.
///
/// ```
/// use pipe_run::{Command, ResultsDir};
/// let dir = std::env::temp_dir().join(format!("results-doc-{}", std::process::id()));
/// let results = ResultsDir::create(&dir)?;
/// let cmd = Command::shell("echo out; echo err >&2; exit 3");
/// let job = results.save(1, &cmd.command_line(), &cmd.run())?;
/// assert_eq!(std::fs::read_to_string(job.join("stdout")).unwrap(), "out\n");
/// assert_eq!(std::fs::read_to_string(job.join("status")).unwrap(), "3\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ResultsDir {
    root: PathBuf,
}

impl ResultsDir {
    /// Uses `root` (created with its parents if missing) for the results.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("results-create-{}", std::process::id()));
    /// pipe_run::ResultsDir::create(&dir)?;
    /// assert!(dir.is_dir());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the directory.
    pub fn create(root: impl AsRef<Path>) -> Result<ResultsDir> {
        let root = root.as_ref().to_owned();
        fs::create_dir_all(&root).map_err(|e| io_error(&root, e))?;
        Ok(ResultsDir { root })
    }

    /// The directory of job `seq`.
    ///
    /// ```
    /// let results = pipe_run::ResultsDir::create(std::env::temp_dir())?;
    /// assert!(results.job_dir(7).ends_with("7"));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn job_dir(&self, seq: u64) -> PathBuf {
        self.root.join(seq.to_string())
    }

    /// Writes the files of job `seq`, which ran `command` and ended with
    /// `result` (its output is taken from the error when it failed), and
    /// returns the job's directory. Files of an earlier run of the same job
    /// are replaced.
    ///
    /// ```
    /// use pipe_run::{Command, ResultsDir};
    /// let dir = std::env::temp_dir().join(format!("results-save-{}", std::process::id()));
    /// let results = ResultsDir::create(&dir)?;
    /// let cmd = Command::new("no-such-program-xyz");
    /// let job = results.save(2, &cmd.command_line(), &cmd.run())?;
    /// assert_eq!(std::fs::read_to_string(job.join("status")).unwrap(), "127\n");
    /// assert!(std::fs::read_to_string(job.join("error")).unwrap().contains("not found"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file that could
    /// not be written.
    pub fn save(&self, seq: u64, command: &str, result: &Result<Completed>) -> Result<PathBuf> {
        let dir = self.job_dir(seq);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let (stdout, stderr, code, error) = match result {
            Ok(done) => (
                &done.stdout,
                &done.stderr,
                shell_exit_code(&done.status),
                None,
            ),
            Err(e) => (
                &e.stdout().to_vec(),
                &e.stderr().to_vec(),
                error_exit_code(e),
                Some(e.to_string()),
            ),
        };
        let write = |name: &str, data: &[u8]| {
            let path = dir.join(name);
            fs::write(&path, data).map_err(|e| io_error(&path, e))
        };
        write("cmd", format!("{command}\n").as_bytes())?;
        write("stdout", stdout)?;
        write("stderr", stderr)?;
        write("status", format!("{code}\n").as_bytes())?;
        let error_file = dir.join("error");
        match error {
            Some(message) => write("error", format!("{message}\n").as_bytes())?,
            None => match fs::remove_file(&error_file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(io_error(&error_file, e));
                }
                _ => {}
            },
        }
        Ok(dir)
    }
}

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::io(
        None,
        format!("cannot write results to `{}`", path.display()),
        e,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, ErrorKind};

    #[test]
    fn a_rerun_replaces_the_files_and_clears_the_error() {
        let dir = std::env::temp_dir().join(format!("pipe-run-results-{}", std::process::id()));
        let results = ResultsDir::create(&dir).unwrap();
        let failing = Command::shell("echo no >&2; exit 1");
        let job = results
            .save(4, "x", &failing.run().and_then(Completed::check))
            .unwrap();
        assert_eq!(fs::read_to_string(job.join("stderr")).unwrap(), "no\n");
        assert_eq!(fs::read_to_string(job.join("status")).unwrap(), "1\n");
        assert!(job.join("error").exists());
        let ok = Command::new("echo").arg("yes");
        results.save(4, "x", &ok.run()).unwrap();
        assert_eq!(fs::read_to_string(job.join("stdout")).unwrap(), "yes\n");
        assert_eq!(fs::read_to_string(job.join("stderr")).unwrap(), "");
        assert!(!job.join("error").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_root_is_an_io_error_naming_it() {
        let err = ResultsDir::create("/proc/no/such").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("/proc/no/such"), "{err}");
    }
}
