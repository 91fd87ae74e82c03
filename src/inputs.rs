//! Where the jobs' arguments come from: [`Inputs`] yields one [`JobArgs`]
//! per job, from the cartesian product of `:::` groups (as GNU parallel)
//! or from lines of text, for a [`Template`](crate::Template) to fill in.

use std::fmt;
use std::io::BufRead;

use crate::error::{Error, Result};

/// The arguments of one job: its number (`{#}`, from 1) and one value per
/// input group.
///
/// ```
/// let job = pipe_run::JobArgs::new(3, ["a.txt", "fast"]);
/// assert_eq!(job.seq(), 3);
/// assert_eq!(job.values(), ["a.txt", "fast"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobArgs {
    seq: u64,
    values: Vec<String>,
}

impl JobArgs {
    /// Job number `seq` (from 1) with one value per input group.
    ///
    /// ```
    /// let job = pipe_run::JobArgs::new(1, ["x"]);
    /// assert_eq!(job.values().len(), 1);
    /// ```
    pub fn new<I, S>(seq: u64, values: I) -> JobArgs
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        JobArgs {
            seq,
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// The job number, from 1, in input order (`{#}`).
    ///
    /// ```
    /// assert_eq!(pipe_run::JobArgs::new(9, ["x"]).seq(), 9);
    /// ```
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The job's arguments, one per input group.
    ///
    /// ```
    /// assert_eq!(pipe_run::JobArgs::new(1, ["a", "b"]).values(), ["a", "b"]);
    /// ```
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

/// Where the jobs' arguments come from, as an iterator of [`JobArgs`]
/// numbered from 1: the cartesian product of `:::` groups (the first group
/// varies slowest, as in GNU parallel), or one argument per line of text.
///
/// ```
/// use pipe_run::Inputs;
/// let jobs: Vec<_> = Inputs::product(vec![vec!["a".into(), "b".into()], vec!["1".into(), "2".into()]])
///     .map(|job| job.map(|j| j.values().join(" ")))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(jobs, ["a 1", "a 2", "b 1", "b 2"]);
///
/// let lines: Vec<_> = Inputs::lines(&b"x.gz\ny.gz\n"[..]).collect::<Result<_, _>>()?;
/// assert_eq!(lines[1], pipe_run::JobArgs::new(2, ["y.gz"]));
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct Inputs {
    source: Source,
}

enum Source {
    Product {
        groups: Vec<Vec<String>>,
        next: u64,
        total: u64,
    },
    Lines {
        reader: Box<dyn BufRead + Send>,
        next: u64,
        done: bool,
    },
}

impl Inputs {
    /// Every combination of one value from each group, first group slowest.
    /// No groups, or an empty group, gives no jobs.
    ///
    /// ```
    /// let inputs = pipe_run::Inputs::product(vec![vec!["a".into()], vec!["1".into(), "2".into()]]);
    /// assert_eq!(inputs.total(), Some(2));
    /// ```
    pub fn product(groups: Vec<Vec<String>>) -> Inputs {
        let total = if groups.is_empty() {
            0
        } else {
            groups
                .iter()
                .try_fold(1u64, |acc, g| acc.checked_mul(g.len() as u64))
                .unwrap_or(u64::MAX)
        };
        Inputs {
            source: Source::Product {
                groups,
                next: 0,
                total,
            },
        }
    }

    /// One job per line of `reader` (the line without its `\n`; an empty
    /// line is an empty argument, as in GNU parallel), read lazily.
    ///
    /// ```
    /// let n = pipe_run::Inputs::lines(std::io::Cursor::new("a\n\nb")).count();
    /// assert_eq!(n, 3);
    /// ```
    pub fn lines(reader: impl BufRead + Send + 'static) -> Inputs {
        Inputs {
            source: Source::Lines {
                reader: Box::new(reader),
                next: 0,
                done: false,
            },
        }
    }

    /// How many jobs there will be, when known in advance (not for lines).
    ///
    /// ```
    /// assert_eq!(pipe_run::Inputs::lines(std::io::empty()).total(), None);
    /// ```
    pub fn total(&self) -> Option<u64> {
        match &self.source {
            Source::Product { total, .. } => Some(*total),
            Source::Lines { .. } => None,
        }
    }

    /// How many values each job has (the number of input groups; 1 for
    /// lines), for [`Template::check_inputs`](crate::Template::check_inputs).
    ///
    /// ```
    /// assert_eq!(pipe_run::Inputs::lines(std::io::empty()).groups(), 1);
    /// ```
    pub fn groups(&self) -> usize {
        match &self.source {
            Source::Product { groups, .. } => groups.len(),
            Source::Lines { .. } => 1,
        }
    }

    /// Splits a GNU-parallel-style argument list into the command words and
    /// the input groups: `::: a b` is a group of the values that follow,
    /// `:::: FILE…` adds one group per file with a value per line (`-` is
    /// stdin). The inputs are their [`product`](Inputs::product), or `None`
    /// when there was no separator (then read stdin with
    /// [`Inputs::lines`]).
    ///
    /// ```
    /// let args = ["gzip", "-9", ":::", "a", "b", ":::", "x"].map(String::from);
    /// let (words, inputs) = pipe_run::Inputs::split_args(args)?;
    /// assert_eq!(words, ["gzip", "-9"]);
    /// let inputs = inputs.unwrap();
    /// assert_eq!((inputs.groups(), inputs.total()), (2, Some(2)));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for the
    /// unsupported linked forms `:::+` and `::::+`; an I/O error naming the
    /// file for a `::::` file that cannot be read.
    pub fn split_args<I>(args: I) -> Result<(Vec<String>, Option<Inputs>)>
    where
        I: IntoIterator<Item = String>,
    {
        let mut words = Vec::new();
        let mut groups: Option<Vec<Vec<String>>> = None;
        let mut files = false;
        for arg in args {
            match arg.as_str() {
                ":::" => {
                    groups.get_or_insert_with(Vec::new).push(Vec::new());
                    files = false;
                }
                "::::" => {
                    groups.get_or_insert_with(Vec::new);
                    files = true;
                }
                ":::+" | "::::+" => {
                    return Err(Error::invalid(
                        None,
                        format!(
                            "`{arg}` (linked input groups) is not supported; use `:::` or `::::`"
                        ),
                    ));
                }
                _ => match groups.as_mut() {
                    None => words.push(arg),
                    Some(groups) if files => groups.push(read_lines_of(&arg)?),
                    Some(groups) => groups.last_mut().expect("a `:::` opened a group").push(arg),
                },
            }
        }
        Ok((words, groups.map(Inputs::product)))
    }
}

fn read_lines_of(path: &str) -> Result<Vec<String>> {
    let context = || format!("cannot read arguments from `{path}` (after `::::`)");
    let inputs = if path == "-" {
        Inputs::lines(std::io::BufReader::new(std::io::stdin()))
    } else {
        let file = std::fs::File::open(path).map_err(|e| Error::io(None, context(), e))?;
        Inputs::lines(std::io::BufReader::new(file))
    };
    inputs
        .map(|job| job.map(|mut j| j.values.remove(0)))
        .collect()
}

impl Iterator for Inputs {
    type Item = Result<JobArgs>;

    fn next(&mut self) -> Option<Result<JobArgs>> {
        match &mut self.source {
            Source::Product {
                groups,
                next,
                total,
            } => {
                if *next >= *total {
                    return None;
                }
                // Mixed-radix digits of the index, last group fastest.
                let mut index = *next;
                let mut values = vec![String::new(); groups.len()];
                for (g, group) in groups.iter().enumerate().rev() {
                    let len = group.len() as u64;
                    values[g] = group[(index % len) as usize].clone();
                    index /= len;
                }
                *next += 1;
                Some(Ok(JobArgs { seq: *next, values }))
            }
            Source::Lines { reader, next, done } => {
                if *done {
                    return None;
                }
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) => {
                        *done = true;
                        None
                    }
                    Ok(_) => {
                        *next += 1;
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        Some(match String::from_utf8(line) {
                            Ok(value) => Ok(JobArgs {
                                seq: *next,
                                values: vec![value],
                            }),
                            Err(_) => Err(Error::invalid(
                                None,
                                format!("input line {next} is not valid UTF-8"),
                            )),
                        })
                    }
                    Err(e) => {
                        *done = true;
                        Some(Err(Error::io(None, "cannot read the arguments", e)))
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.source {
            Source::Product { next, total, .. } => {
                let left = usize::try_from(total - next).unwrap_or(usize::MAX);
                (left, Some(left))
            }
            Source::Lines { .. } => (0, None),
        }
    }
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Product {
                groups,
                next,
                total,
            } => f
                .debug_struct("Inputs")
                .field("groups", &groups.len())
                .field("next", next)
                .field("total", total)
                .finish(),
            Source::Lines { next, done, .. } => f
                .debug_struct("Inputs")
                .field("lines_read", next)
                .field("done", done)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn product_varies_the_first_group_slowest() {
        let groups = vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["1".to_owned(), "2".to_owned(), "3".to_owned()],
        ];
        let jobs: Vec<JobArgs> = Inputs::product(groups).map(Result::unwrap).collect();
        assert_eq!(jobs.len(), 6);
        assert_eq!(jobs[0], JobArgs::new(1, ["a", "1"]));
        assert_eq!(jobs[2], JobArgs::new(3, ["a", "3"]));
        assert_eq!(jobs[3], JobArgs::new(4, ["b", "1"]));
        assert_eq!(jobs[5], JobArgs::new(6, ["b", "3"]));
        assert_eq!(Inputs::product(vec![]).count(), 0);
        assert_eq!(Inputs::product(vec![vec!["a".into()], vec![]]).count(), 0);
    }

    #[test]
    fn lines_keep_empty_lines_and_need_no_final_newline() {
        let jobs: Vec<JobArgs> = Inputs::lines(&b"a b\n\nc"[..])
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            jobs,
            [
                JobArgs::new(1, ["a b"]),
                JobArgs::new(2, [""]),
                JobArgs::new(3, ["c"])
            ]
        );
        let err = Inputs::lines(&b"ok\n\xff\n"[..])
            .nth(1)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn split_args_finds_groups_and_files() {
        let dir = std::env::temp_dir().join(format!("pipe-run-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("args.txt");
        std::fs::write(&file, "x\ny\n").unwrap();
        let args = [
            "cmd",
            "{1}",
            ":::",
            "a",
            "::::",
            file.to_str().unwrap(),
            ":::",
        ]
        .map(String::from);
        let (words, inputs) = Inputs::split_args(args).unwrap();
        assert_eq!(words, ["cmd", "{1}"]);
        let inputs = inputs.unwrap();
        assert_eq!((inputs.groups(), inputs.total()), (3, Some(0)));
        let args = ["cmd", "::::", file.to_str().unwrap(), ":::", "a", "b"].map(String::from);
        let jobs: Vec<JobArgs> = Inputs::split_args(args)
            .unwrap()
            .1
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(jobs[1], JobArgs::new(2, ["x", "b"]));
        assert_eq!(jobs[2], JobArgs::new(3, ["y", "a"]));
        let (words, inputs) = Inputs::split_args(["gzip".to_owned()]).unwrap();
        assert_eq!((words.len(), inputs.is_none()), (1, true));
        let err = Inputs::split_args([":::+".to_owned()]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = Inputs::split_args(["::::", "/no/such/file"].map(String::from)).unwrap_err();
        assert!(err.to_string().contains("/no/such/file"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
