//! GNU parallel's job log: [`JobLog`] writes it one finished job per line,
//! [`JobLog::read`] reads it back, and [`Resume`] says which jobs a re-run
//! must start again (`--resume-failed`, `--resume`).
//!
//! The format is GNU parallel's (`--joblog`), so tools written for it read
//! ours: a header line, then tab-separated columns
//!
//! ```text
//! Seq  Host  Starttime       JobRuntime  Send  Receive  Exitval  Signal  Command
//! 1    :     1700000000.123       0.250  0     0        0        0       gzip -9 a.txt
//! ```
//!
//! `Host` is `:` (this machine), `Starttime` is seconds since the epoch
//! with milliseconds, `JobRuntime` is seconds with three decimals, padded
//! to ten characters as GNU parallel prints it (`%10.3f`), and `Send` and
//! `Receive` are transfer sizes for remote jobs (always 0 here). A job
//! killed by signal N has `Exitval` 0 and `Signal` N; one that could not be
//! started has the shell's codes (127 not found, 126 not executable).

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The header line of a job log, without its newline.
const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// One line of a job log: one finished (or failed to start) job.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let entry = pipe_run::JobLogEntry::new(3, "gzip -9 a.txt")
///     .started(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123), Duration::from_millis(250))
///     .exit_code(1);
/// assert_eq!(entry.to_string(), "3\t:\t1700000000.123\t     0.250\t0\t0\t1\t0\tgzip -9 a.txt");
/// assert!(entry.failed());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLogEntry {
    /// The job number, from 1 (`{#}`).
    pub seq: u64,
    /// Where it ran: `:` for this machine.
    pub host: String,
    /// When it started.
    pub start: SystemTime,
    /// How long it ran.
    pub runtime: Duration,
    /// Bytes sent to a remote host (0 for local jobs).
    pub send: u64,
    /// Bytes received from a remote host (0 for local jobs).
    pub receive: u64,
    /// The exit code (0 when killed by a signal, as GNU parallel writes it).
    pub exitval: i32,
    /// The signal that killed it, or 0.
    pub signal: i32,
    /// The command line as it ran.
    pub command: String,
}

impl JobLogEntry {
    /// A successful local job `seq` that ran `command`, started now and
    /// took no time; set the rest with the builder methods.
    ///
    /// ```
    /// let entry = pipe_run::JobLogEntry::new(1, "true");
    /// assert!(!entry.failed());
    /// assert_eq!(entry.host, ":");
    /// ```
    pub fn new(seq: u64, command: impl Into<String>) -> JobLogEntry {
        JobLogEntry {
            seq,
            host: ":".to_owned(),
            start: SystemTime::now(),
            runtime: Duration::ZERO,
            send: 0,
            receive: 0,
            exitval: 0,
            signal: 0,
            command: command.into(),
        }
    }

    /// Sets when the job started and how long it ran.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let entry = pipe_run::JobLogEntry::new(1, "true").started(SystemTime::now(), Duration::from_secs(2));
    /// assert_eq!(entry.runtime, Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn started(mut self, start: SystemTime, runtime: Duration) -> JobLogEntry {
        self.start = start;
        self.runtime = runtime;
        self
    }

    /// Sets `Exitval` and `Signal` from how the job ended.
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    /// use std::process::ExitStatus;
    /// let entry = pipe_run::JobLogEntry::new(1, "x").status(&ExitStatus::from_raw(9));
    /// assert_eq!((entry.exitval, entry.signal), (0, 9));
    /// let entry = pipe_run::JobLogEntry::new(1, "x").status(&ExitStatus::from_raw(3 << 8));
    /// assert_eq!((entry.exitval, entry.signal), (3, 0));
    /// ```
    #[must_use]
    pub fn status(mut self, status: &ExitStatus) -> JobLogEntry {
        self.exitval = status.code().unwrap_or(0);
        self.signal = crate::status::signal_of(status).unwrap_or(0);
        self
    }

    /// Sets `Exitval` to `code` and `Signal` to 0, for a job with no exit
    /// status of its own (127 for a program that was not found, as a shell
    /// reports it).
    ///
    /// ```
    /// assert_eq!(pipe_run::JobLogEntry::new(1, "nope").exit_code(127).exitval, 127);
    /// ```
    #[must_use]
    pub fn exit_code(mut self, code: i32) -> JobLogEntry {
        self.exitval = code;
        self.signal = 0;
        self
    }

    /// Whether the job failed, as GNU parallel judges it: `Exitval` or
    /// `Signal` is not 0.
    ///
    /// ```
    /// assert!(pipe_run::JobLogEntry::new(1, "x").exit_code(2).failed());
    /// ```
    pub fn failed(&self) -> bool {
        self.exitval != 0 || self.signal != 0
    }

    /// Parses one line of a job log (without its newline).
    ///
    /// ```
    /// let line = "7\t:\t1700000000.5\t  1.250\t0\t0\t0\t15\tsleep 9";
    /// let entry = pipe_run::JobLogEntry::parse(line)?;
    /// assert_eq!((entry.seq, entry.signal, entry.command.as_str()), (7, 15, "sleep 9"));
    /// assert_eq!(entry.runtime.as_millis(), 1250);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse) naming the column that
    /// is missing or not a number, and where it starts in the line.
    pub fn parse(line: &str) -> Result<JobLogEntry> {
        let mut fields = Vec::with_capacity(9);
        let mut start = 0;
        for field in line.splitn(9, '\t') {
            fields.push((start, field));
            start += field.len() + 1;
        }
        if fields.len() < 9 {
            return Err(Error::parse(
                line,
                &format!(
                    "a job log line has 9 tab-separated columns, this one {}",
                    fields.len()
                ),
                line.len(),
            ));
        }
        let num = |col: usize, name: &str| -> Result<&str> {
            let (at, text) = fields[col];
            let text = text.trim();
            if text.is_empty() {
                Err(Error::parse(line, &format!("column {name} is empty"), at))
            } else {
                Ok(text)
            }
        };
        let bad = |col: usize, name: &str| {
            Error::parse(
                line,
                &format!("column {name} is not a number"),
                fields[col].0,
            )
        };
        let int = |col: usize, name: &str| -> Result<i64> {
            num(col, name)?.parse().map_err(|_| bad(col, name))
        };
        let secs = |col: usize, name: &str| -> Result<Duration> {
            let value: f64 = num(col, name)?.parse().map_err(|_| bad(col, name))?;
            Duration::try_from_secs_f64(value).map_err(|_| bad(col, name))
        };
        let unsigned =
            |col: usize, name: &str| u64::try_from(int(col, name)?).map_err(|_| bad(col, name));
        let small =
            |col: usize, name: &str| i32::try_from(int(col, name)?).map_err(|_| bad(col, name));
        Ok(JobLogEntry {
            seq: unsigned(0, "Seq")?,
            host: fields[1].1.to_owned(),
            start: UNIX_EPOCH + secs(2, "Starttime")?,
            runtime: secs(3, "JobRuntime")?,
            send: unsigned(4, "Send")?,
            receive: unsigned(5, "Receive")?,
            exitval: small(6, "Exitval")?,
            signal: small(7, "Signal")?,
            command: fields[8].1.to_owned(),
        })
    }
}

impl fmt::Display for JobLogEntry {
    /// The line as GNU parallel writes it, without the newline. A newline
    /// inside the command is written as `\n` so that each job stays one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Floored to the millisecond, as GNU parallel's `::now()` is.
        let since = self.start.duration_since(UNIX_EPOCH).unwrap_or_default();
        write!(
            f,
            "{}\t{}\t{}.{:03}\t{:10.3}\t{}\t{}\t{}\t{}\t{}",
            self.seq,
            self.host,
            since.as_secs(),
            since.subsec_millis(),
            self.runtime.as_secs_f64(),
            self.send,
            self.receive,
            self.exitval,
            self.signal,
            self.command.replace('\n', "\\n"),
        )
    }
}

/// A job log being written: the header first, then one line per finished
/// job, each in a single `write` so that a run killed half-way leaves whole
/// lines behind (and a later `--resume-failed` reads them all).
///
/// ```
/// use pipe_run::{JobLog, JobLogEntry};
/// let path = std::env::temp_dir().join(format!("joblog-doc-{}", std::process::id()));
/// let mut log = JobLog::create(&path)?;
/// log.write(&JobLogEntry::new(1, "true"))?;
/// log.write(&JobLogEntry::new(2, "false").exit_code(1))?;
/// let entries = JobLog::read(&path)?;
/// assert_eq!(entries.len(), 2);
/// assert!(entries[1].failed());
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct JobLog {
    out: Box<dyn Write + Send>,
    path: Option<PathBuf>,
}

impl JobLog {
    /// Creates (or truncates) the log at `path` and writes the header, as
    /// GNU parallel does for a fresh run.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("joblog-create-{}", std::process::id()));
    /// pipe_run::JobLog::create(&path)?;
    /// assert!(std::fs::read_to_string(&path)?.starts_with("Seq\tHost\t"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file.
    pub fn create(path: impl AsRef<Path>) -> Result<JobLog> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| io_error(path, "create", e))?;
        let mut log = JobLog::new(file, Some(path));
        log.write_line(HEADER)?;
        Ok(log)
    }

    /// Opens the log at `path` to add to it, as a resumed run does: the
    /// header is written only if the file is new or empty.
    ///
    /// ```
    /// use pipe_run::{JobLog, JobLogEntry};
    /// let path = std::env::temp_dir().join(format!("joblog-append-{}", std::process::id()));
    /// JobLog::create(&path)?.write(&JobLogEntry::new(1, "false").exit_code(1))?;
    /// JobLog::append(&path)?.write(&JobLogEntry::new(1, "false"))?;
    /// assert_eq!(JobLog::read(&path)?.len(), 2);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file.
    pub fn append(path: impl AsRef<Path>) -> Result<JobLog> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_error(path, "open", e))?;
        let empty = file
            .metadata()
            .map_err(|e| io_error(path, "open", e))?
            .len()
            == 0;
        let mut log = JobLog::new(file, Some(path));
        if empty {
            log.write_line(HEADER)?;
        }
        Ok(log)
    }

    /// A log written to any writer (the header first), e.g. stdout or a
    /// buffer in a test.
    ///
    /// ```
    /// let log = pipe_run::JobLog::to_writer(std::io::sink())?;
    /// # drop(log);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if writing the header fails.
    pub fn to_writer(out: impl Write + Send + 'static) -> Result<JobLog> {
        let mut log = JobLog::new(out, None);
        log.write_line(HEADER)?;
        Ok(log)
    }

    fn new(out: impl Write + Send + 'static, path: Option<&Path>) -> JobLog {
        JobLog {
            out: Box::new(out),
            path: path.map(Path::to_owned),
        }
    }

    /// Adds one job's line and flushes it.
    ///
    /// ```
    /// let mut log = pipe_run::JobLog::to_writer(std::io::sink())?;
    /// log.write(&pipe_run::JobLogEntry::new(1, "true"))?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file.
    pub fn write(&mut self, entry: &JobLogEntry) -> Result<()> {
        self.write_line(&entry.to_string())
    }

    fn write_line(&mut self, line: &str) -> Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.out
            .write_all(&bytes)
            .and_then(|()| self.out.flush())
            .map_err(|e| match &self.path {
                Some(path) => io_error(path, "write", e),
                None => Error::io(None, "cannot write the job log", e),
            })
    }

    /// Reads every job line of the log at `path`, in file order. The header
    /// and lines that are not job lines (a torn last line, blank lines) are
    /// skipped, as GNU parallel skips them.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("joblog-read-{}", std::process::id()));
    /// std::fs::write(&path, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
    ///                        1\t:\t1.0\t0.1\t0\t0\t0\t0\techo a\n2\t:\t1.0")?;
    /// let entries = pipe_run::JobLog::read(&path)?;
    /// assert_eq!(entries.len(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file when it
    /// cannot be read.
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<JobLogEntry>> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io_error(path, "read", e))?;
        JobLog::read_from(BufReader::new(file)).map_err(|e| io_error(path, "read", e))
    }

    /// Reads job lines from any reader; see [`JobLog::read`].
    ///
    /// ```
    /// let text = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
    ///             2\t:\t1.0\t0.1\t0\t0\t1\t0\tfalse\n";
    /// let entries = pipe_run::JobLog::read_from(text.as_bytes())?;
    /// assert_eq!(entries[0].seq, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// The reader's I/O error.
    pub fn read_from(reader: impl BufRead) -> io::Result<Vec<JobLogEntry>> {
        let mut entries = Vec::new();
        for line in reader.split(b'\n') {
            let line = line?;
            let line = String::from_utf8_lossy(&line);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if let Ok(entry) = JobLogEntry::parse(line) {
                entries.push(entry);
            }
        }
        Ok(entries)
    }
}

fn io_error(path: &Path, verb: &str, e: io::Error) -> Error {
    Error::io(
        None,
        format!("cannot {verb} job log `{}`", path.display()),
        e,
    )
}

impl fmt::Debug for JobLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Which jobs a resumed run must start again, judged from an earlier run's
/// job log by job number (`Seq`), as GNU parallel does.
///
/// - [`Resume::failed`] (`--resume-failed`): a job is done once the log has
///   a line for it with `Exitval` 0 and `Signal` 0; jobs whose lines all
///   failed, and jobs with no line (never finished), run again.
/// - [`Resume::unfinished`] (`--resume`): a job is done once it has any line.
///
/// ```
/// use pipe_run::{JobLogEntry, Resume};
/// let log = [
///     JobLogEntry::new(1, "ok"),
///     JobLogEntry::new(2, "bad").exit_code(1),
///     JobLogEntry::new(3, "ok").exit_code(0),
/// ];
/// let resume = Resume::failed(&log);
/// assert_eq!((1..=4).filter(|&seq| resume.should_run(seq)).collect::<Vec<_>>(), [2, 4]);
/// assert!(!Resume::unfinished(&log).should_run(2));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resume {
    done: HashSet<u64>,
}

impl Resume {
    /// `--resume-failed`: re-run jobs that failed or are missing.
    ///
    /// ```
    /// let log = [pipe_run::JobLogEntry::new(1, "x").exit_code(2)];
    /// assert!(pipe_run::Resume::failed(&log).should_run(1));
    /// ```
    pub fn failed(entries: &[JobLogEntry]) -> Resume {
        Resume {
            done: entries
                .iter()
                .filter(|e| !e.failed())
                .map(|e| e.seq)
                .collect(),
        }
    }

    /// `--resume`: run only the jobs that are missing from the log.
    ///
    /// ```
    /// let log = [pipe_run::JobLogEntry::new(1, "x").exit_code(2)];
    /// assert!(!pipe_run::Resume::unfinished(&log).should_run(1));
    /// ```
    pub fn unfinished(entries: &[JobLogEntry]) -> Resume {
        Resume {
            done: entries.iter().map(|e| e.seq).collect(),
        }
    }

    /// Reads the log at `path` (a missing file means nothing ran yet) and
    /// applies [`Resume::failed`] when `rerun_failed`, else
    /// [`Resume::unfinished`].
    ///
    /// ```
    /// let resume = pipe_run::Resume::from_log("/no/such/joblog", true)?;
    /// assert!(resume.should_run(1));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) naming the file when it
    /// exists but cannot be read.
    pub fn from_log(path: impl AsRef<Path>, rerun_failed: bool) -> Result<Resume> {
        let path = path.as_ref();
        let entries = match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(path, "read", e)),
            Ok(file) => {
                JobLog::read_from(BufReader::new(file)).map_err(|e| io_error(path, "read", e))?
            }
        };
        Ok(if rerun_failed {
            Resume::failed(&entries)
        } else {
            Resume::unfinished(&entries)
        })
    }

    /// Whether job `seq` must run.
    ///
    /// ```
    /// assert!(pipe_run::Resume::default().should_run(1));
    /// ```
    pub fn should_run(&self, seq: u64) -> bool {
        !self.done.contains(&seq)
    }

    /// How many jobs the log shows as done.
    ///
    /// ```
    /// assert_eq!(pipe_run::Resume::failed(&[pipe_run::JobLogEntry::new(4, "x")]).done(), 1);
    /// ```
    pub fn done(&self) -> usize {
        self.done.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pipe-run-joblog-{name}-{}", std::process::id()))
    }

    #[test]
    fn lines_have_gnu_parallel_columns_and_number_formats() {
        let entry = JobLogEntry::new(12, "echo 'a b'")
            .started(
                UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_999),
                Duration::from_micros(1_234_567),
            )
            .exit_code(3);
        let line = entry.to_string();
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols,
            [
                "12",
                ":",
                "1700000000.123",
                "     1.235",
                "0",
                "0",
                "3",
                "0",
                "echo 'a b'"
            ]
        );
        assert_eq!(HEADER.split('\t').count(), 9);
    }

    #[test]
    fn parse_reads_back_what_display_writes() {
        let entry = JobLogEntry::new(5, "printf '%s\\t' x\ty")
            .started(
                UNIX_EPOCH + Duration::from_millis(1_234_567),
                Duration::from_millis(4_500),
            )
            .exit_code(0);
        let mut back = JobLogEntry::parse(&entry.to_string()).unwrap();
        assert_eq!(back.command, "printf '%s\\t' x\ty");
        assert_eq!(back.runtime, Duration::from_millis(4_500));
        back.start = entry.start;
        back.runtime = entry.runtime;
        assert_eq!(back, entry);
    }

    #[test]
    fn newlines_in_commands_do_not_break_lines() {
        let entry = JobLogEntry::new(1, "sh -c 'echo a\necho b'");
        let line = entry.to_string();
        assert!(!line.contains('\n'));
        assert!(line.ends_with("'echo a\\necho b'"), "{line}");
    }

    #[test]
    fn parse_errors_name_the_column() {
        let err = JobLogEntry::parse("x\t:\t1\t1\t0\t0\t0\t0\tc").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
        assert!(
            err.to_string()
                .contains("column Seq is not a number (at byte 0)"),
            "{err}"
        );
        let err = JobLogEntry::parse("1\t:\t1\t1\t0\t0\tz\t0\tc").unwrap_err();
        assert!(
            err.to_string()
                .contains("column Exitval is not a number (at byte 12)"),
            "{err}"
        );
        let err = JobLogEntry::parse("1\t:\t1").unwrap_err();
        assert!(
            err.to_string()
                .contains("9 tab-separated columns, this one 3"),
            "{err}"
        );
        assert!(JobLogEntry::parse(HEADER).is_err());
    }

    #[test]
    fn negative_exitval_is_a_failure() {
        let entry = JobLogEntry::parse("1\t:\t1.0\t1.0\t0\t0\t-1\t0\tx").unwrap();
        assert!(entry.failed());
    }

    #[test]
    fn create_truncates_and_append_keeps() {
        let path = temp("append");
        std::fs::write(&path, "old junk\n").unwrap();
        JobLog::create(&path)
            .unwrap()
            .write(&JobLogEntry::new(1, "a").exit_code(1))
            .unwrap();
        JobLog::append(&path)
            .unwrap()
            .write(&JobLogEntry::new(1, "a"))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(text.matches("Seq\tHost").count(), 1, "{text}");
        assert!(!text.contains("old junk"));
        std::fs::remove_file(&path).unwrap();
        JobLog::append(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{HEADER}\n")
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn io_errors_name_the_file() {
        let err = JobLog::create("/no/such/dir/log").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("`/no/such/dir/log`"), "{err}");
    }

    #[test]
    fn resume_failed_reruns_failed_signalled_and_missing_jobs() {
        let text = format!(
            "{HEADER}\n\
             1\t:\t1.0\t0.1\t0\t0\t0\t0\tok\n\
             2\t:\t1.0\t0.1\t0\t0\t1\t0\tfailed\n\
             3\t:\t1.0\t0.1\t0\t0\t0\t15\tkilled\n\
             5\t:\t1.0\t0.1\t0\t0\t2\t0\tfailed then ok\n\
             5\t:\t2.0\t0.1\t0\t0\t0\t0\tfailed then ok\n\
             6\t:\t1.0\t0.1\t0\t0\t0\t0\tok then failed\n\
             6\t:\t2.0\t0.1\t0\t0\t1\t0\tok then failed\n\
             7\t:\t1.0"
        );
        let entries = JobLog::read_from(text.as_bytes()).unwrap();
        assert_eq!(entries.len(), 7);
        let resume = Resume::failed(&entries);
        let rerun: Vec<u64> = (1..=8).filter(|&s| resume.should_run(s)).collect();
        assert_eq!(rerun, [2, 3, 4, 7, 8]);
        let resume = Resume::unfinished(&entries);
        let rerun: Vec<u64> = (1..=8).filter(|&s| resume.should_run(s)).collect();
        assert_eq!(rerun, [4, 7, 8]);
    }

    #[test]
    fn resume_from_a_missing_log_runs_everything() {
        let resume = Resume::from_log(temp("missing"), true).unwrap();
        assert_eq!(resume.done(), 0);
    }
}
