//! Job templates in the style of GNU parallel: [`Template`] turns a line such
//! as `gzip -9 {}` and the arguments of one job ([`JobArgs`]) into a
//! [`Command`]; [`Inputs`](crate::Inputs) produces those arguments from `:::` groups (their
//! cartesian product) or from lines of text.
//!
//! # Placeholders
//!
//! | placeholder | replaced by | `dir/a.tar.gz` gives |
//! |---|---|---|
//! | `{}` | the argument | `dir/a.tar.gz` |
//! | `{.}` | without its extension | `dir/a.tar` |
//! | `{/}` | its basename | `a.tar.gz` |
//! | `{//}` | its directory (as `dirname(1)`) | `dir` |
//! | `{/.}` | basename without extension | `a.tar` |
//! | `{#}` | the job number, from 1 | |
//! | `{%}` | the slot (worker) number, from 1 | |
//! | `{1}` `{2}` … | the argument from the N-th input group | |
//! | `{-1}` … | the N-th group counted from the last | |
//! | `{1.}` `{1/}` `{1//}` `{1/.}` | as above, for that group | |
//!
//! With several input groups, `{}` stands for all of the job's arguments:
//! a word that is only `{}` becomes one word per argument, and `{}` inside a
//! longer word joins them with spaces (as GNU parallel does).
//!
//! A template without any placeholder gets the arguments appended as last
//! words, so `gzip -9` means `gzip -9 {}`.
//!
//! # No shell unless asked
//!
//! [`Template::parse`] splits the template into words with POSIX quoting
//! (the `shell-words` rules, as [`Command::parse`]) *before* anything is
//! substituted: a value is inserted into its word and never re-split,
//! globbed or run by a shell, so a file named `a b; rm -rf ~` is one
//! harmless argument. An unquoted `|` between words makes a pipeline;
//! other shell syntax (`;`, `&&`, `>`, `$(…)`) is refused with a pointer to
//! [`Template::shell`], which runs the template with `/bin/sh -c` and
//! shell-quotes each value for the place it lands in (bare, inside `"…"`,
//! or inside `'…'`).
//!
//! Placeholders are found inside quotes too (`'{}'` is the argument, as in
//! GNU parallel); write `\{}` outside quotes for a literal `{}`. `${…}` is
//! never a placeholder, and braces that cannot be one (`{print $1}`,
//! `{a,b}`, `{1..3}`) stay as they are.

use std::fmt;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::inputs::JobArgs;
use crate::pipeline::Pipeline;
use crate::pool::TaskSpec;

mod scan;

use scan::{Scanner, parts_of, placeholder_at};

/// Which part of an argument a placeholder takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Whole,
    NoExt,
    Base,
    Dir,
    BaseNoExt,
}

/// Which argument(s) of the job a placeholder takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pick {
    /// Every group's argument (`{}`).
    All,
    /// The argument of group N, from 1 (`{2}`).
    Nth(usize),
    /// The argument of group N counted from the last, from 1 (`{-1}`).
    FromEnd(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Arg(Pick, Form),
    Seq,
    Slot,
}

/// The quoting a placeholder sits in, which decides how `--shell` quotes
/// the value put there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

#[derive(Clone, Debug)]
struct Hole {
    kind: Kind,
    /// Byte offset of the `{` in the template, for messages.
    at: usize,
    /// The placeholder as written, for messages.
    text: String,
    quote: Quote,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Hole(usize),
}

#[derive(Clone, Debug)]
enum Body {
    /// Pipeline stages, each a list of words, each a list of parts.
    Words(Vec<Vec<Vec<Part>>>),
    /// A `sh -c` script.
    Script(Vec<Part>),
}

/// A command line with GNU-parallel-style placeholders, expanded once per
/// job into a [`Command`].
///
/// ```
/// use pipe_run::{JobArgs, Template};
/// let t = Template::parse("convert {} -resize 50% 'small/{/.}.png'")?;
/// let job = JobArgs::new(1, ["photos/cat 1.jpg"]);
/// let cmd = t.command(&job, 1)?;
/// assert_eq!(cmd.get_program(), "convert");
/// assert_eq!(cmd.get_args(), ["photos/cat 1.jpg", "-resize", "50%", "small/cat 1.png"]);
/// # Ok::<(), pipe_run::Error>(())
/// ```
#[derive(Clone)]
pub struct Template {
    source: String,
    body: Body,
    holes: Vec<Hole>,
}

impl Template {
    /// Parses a template that runs without a shell: words split with POSIX
    /// quoting, values inserted into words and never re-split.
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::parse("echo {#}: {}")?;
    /// let line = t.command_line(&JobArgs::new(7, ["a b; rm -rf ~"]), 1)?;
    /// assert_eq!(line, "echo 7: 'a b; rm -rf ~'");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse), naming the template
    /// and the byte position, for an unbalanced quote, an empty command or
    /// pipeline stage, an unknown placeholder such as `{foo}` or `{0}`, or
    /// shell syntax (`;`, `&&`, `||`, `>`, `$(…)`) that needs
    /// [`Template::shell`].
    pub fn parse(template: &str) -> Result<Template> {
        let scan = Scanner::new(template, false).run()?;
        let mut stages = Vec::with_capacity(scan.stages.len());
        for (i, (start, text)) in scan.stages.iter().enumerate() {
            let words = shell_words::split(text)
                .map_err(|e| Error::parse(template, &e.to_string(), *start))?;
            if words.is_empty() {
                let reason = if scan.stages.len() == 1 {
                    "no command".to_owned()
                } else {
                    format!("stage {} of the pipeline is empty", i + 1)
                };
                return Err(Error::parse(template, &reason, *start));
            }
            stages.push(words.iter().map(|w| parts_of(w)).collect());
        }
        Ok(Template {
            source: template.to_owned(),
            body: Body::Words(stages),
            holes: scan.holes,
        })
    }

    /// Makes a template of words that are already split (as a shell hands
    /// them to a program): each word stays one word, with its placeholders
    /// substituted; quotes and `|` in it are plain characters.
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::from_words(["cp", "{}", "backup dir/"])?;
    /// let cmd = t.command(&JobArgs::new(1, ["x.txt"]), 1)?;
    /// assert_eq!(cmd.get_args(), ["x.txt", "backup dir/"]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse) for no words or an
    /// unknown placeholder, naming its position in the words joined by
    /// spaces.
    pub fn from_words<I, S>(words: I) -> Result<Template>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let words: Vec<String> = words.into_iter().map(|w| w.as_ref().to_owned()).collect();
        let source = shell_words::join(&words);
        if words.is_empty() {
            return Err(Error::parse(&source, "no command", 0));
        }
        let mut holes = Vec::new();
        let mut parts = Vec::with_capacity(words.len());
        let mut offset = 0;
        for word in &words {
            let mut word_parts = Vec::new();
            let mut text = String::new();
            let mut i = 0;
            while i < word.len() {
                let brace =
                    word.as_bytes()[i] == b'{' && (i == 0 || word.as_bytes()[i - 1] != b'$');
                if brace {
                    let found = placeholder_at(word, i)
                        .map_err(|reason| Error::parse(&source, &reason, offset + i))?;
                    if let Some((kind, len)) = found {
                        if !text.is_empty() {
                            word_parts.push(Part::Text(std::mem::take(&mut text)));
                        }
                        word_parts.push(Part::Hole(holes.len()));
                        holes.push(Hole {
                            kind,
                            at: offset + i,
                            text: word[i..i + len].to_owned(),
                            quote: Quote::None,
                        });
                        i += len;
                        continue;
                    }
                }
                let ch = word[i..].chars().next().expect("i is on a char boundary");
                text.push(ch);
                i += ch.len_utf8();
            }
            if !text.is_empty() || word_parts.is_empty() {
                word_parts.push(Part::Text(text));
            }
            parts.push(word_parts);
            offset += shell_words::quote(word).len() + 1;
        }
        Ok(Template {
            source,
            body: Body::Words(vec![parts]),
            holes,
        })
    }

    /// Parses a template to be run by `/bin/sh -c`, for when you want the
    /// shell (redirections, `&&`, globs). Each value is shell-quoted for the
    /// place it lands in, so it is still one literal string to the shell.
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::shell("gzip -c {} > \"out/{/}.gz\" && echo '{} done'")?;
    /// let job = JobArgs::new(1, ["it's.txt"]);
    /// assert_eq!(
    ///     t.command_line(&job, 1)?,
    ///     r#"gzip -c 'it'\''s.txt' > "out/it's.txt.gz" && echo 'it'\''s.txt done'"#
    /// );
    /// let out = t.command(&JobArgs::new(1, ["x"]), 1)?;
    /// assert_eq!(out.get_program(), "/bin/sh");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse) for an empty script,
    /// an unbalanced quote or an unknown placeholder, naming the position.
    pub fn shell(template: &str) -> Result<Template> {
        let scan = Scanner::new(template, true).run()?;
        let (_, text) = &scan.stages[0];
        if text.trim().is_empty() {
            return Err(Error::parse(template, "no command", 0));
        }
        Ok(Template {
            source: template.to_owned(),
            body: Body::Script(parts_of(text)),
            holes: scan.holes,
        })
    }

    /// The template as given.
    ///
    /// ```
    /// assert_eq!(pipe_run::Template::parse("gzip {}")?.source(), "gzip {}");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template runs through `/bin/sh -c` ([`Template::shell`]).
    ///
    /// ```
    /// assert!(pipe_run::Template::shell("echo {} > f")?.is_shell());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn is_shell(&self) -> bool {
        matches!(self.body, Body::Script(_))
    }

    /// Whether the template has an unquoted `|` between commands, so each
    /// job is a pipeline rather than one command.
    ///
    /// ```
    /// assert!(pipe_run::Template::parse("zcat {} | wc -l")?.is_pipeline());
    /// assert!(!pipe_run::Template::parse("grep '|' {}")?.is_pipeline());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn is_pipeline(&self) -> bool {
        matches!(&self.body, Body::Words(stages) if stages.len() > 1)
    }

    /// Whether the template has any placeholder (if not, the arguments are
    /// appended as last words).
    ///
    /// ```
    /// assert!(!pipe_run::Template::parse("gzip -9")?.has_placeholders());
    /// assert!(pipe_run::Template::parse("echo {#}")?.has_placeholders());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn has_placeholders(&self) -> bool {
        !self.holes.is_empty()
    }

    /// Whether the template uses `{%}`, the slot number, which is known
    /// only when the job starts.
    ///
    /// ```
    /// assert!(pipe_run::Template::parse("run --gpu {%} {}")?.uses_slot());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn uses_slot(&self) -> bool {
        self.holes.iter().any(|h| h.kind == Kind::Slot)
    }

    /// Checks that every `{N}` names one of `groups` input groups, so a
    /// mistake is reported before any job runs.
    ///
    /// ```
    /// use pipe_run::{ErrorKind, Template};
    /// let t = Template::parse("cp {1} {3}")?;
    /// let err = t.check_inputs(2).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// assert!(err.to_string().contains("`{3}` (at byte 7)"), "{err}");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the
    /// template, the placeholder and its position.
    pub fn check_inputs(&self, groups: usize) -> Result<()> {
        for hole in &self.holes {
            if let Kind::Arg(Pick::Nth(n) | Pick::FromEnd(n), _) = hole.kind {
                if n > groups {
                    return Err(self.out_of_range(hole, groups));
                }
            }
        }
        Ok(())
    }

    fn out_of_range(&self, hole: &Hole, groups: usize) -> Error {
        let have = match groups {
            0 => "no input group".to_owned(),
            1 => "only 1 input group".to_owned(),
            n => format!("only {n} input groups"),
        };
        Error::invalid(
            None,
            format!(
                "template `{}`: `{}` (at byte {}) refers to input group {}, but the jobs have {have} \
                 (each `:::` starts one)",
                self.source,
                hole.text,
                hole.at,
                match hole.kind {
                    Kind::Arg(Pick::Nth(n) | Pick::FromEnd(n), _) => n,
                    _ => 0,
                }
            ),
        )
    }

    /// The command for one job: `args` fill the placeholders and `slot` is
    /// the number `{%}` gives (1 when you do not use slots).
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::parse("echo {2}-{1}")?;
    /// let out = t.command(&JobArgs::new(1, ["a", "b"]), 1)?.check_output()?;
    /// assert_eq!(out, b"b-a\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when a
    /// `{N}` names a group the job has no argument for, or when the template
    /// is a pipeline (see [`Template::stages`]).
    pub fn command(&self, args: &JobArgs, slot: usize) -> Result<Command> {
        match self.expand(args, slot)? {
            Expansion::Script(script) => Ok(Command::shell(script)),
            Expansion::Stages(mut stages) => {
                if stages.len() > 1 {
                    return Err(Error::invalid(
                        None,
                        format!(
                            "template `{}` is a pipeline of {} commands: build it from \
                             `Template::stages`",
                            self.source,
                            stages.len()
                        ),
                    ));
                }
                Ok(command_of(stages.remove(0)))
            }
        }
    }

    /// The commands of one job, one per pipeline stage (one for a template
    /// without `|`, and one `/bin/sh -c` for a [`shell`](Template::shell)
    /// template).
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let stages = Template::parse("zcat {} | wc -l")?.stages(&JobArgs::new(1, ["a.gz"]), 1)?;
    /// assert_eq!(stages.len(), 2);
    /// assert_eq!(stages[0].command_line(), "zcat a.gz");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Template::command`], except that a pipeline is fine.
    pub fn stages(&self, args: &JobArgs, slot: usize) -> Result<Vec<Command>> {
        match self.expand(args, slot)? {
            Expansion::Script(script) => Ok(vec![Command::shell(script)]),
            Expansion::Stages(stages) => Ok(stages.into_iter().map(command_of).collect()),
        }
    }

    /// The pipeline of one job: every stage of [`Template::stages`] joined
    /// by pipes (a template without `|` gives a one-stage pipeline).
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::parse(r"printf '{}\n{}\n' | wc -l")?;
    /// let out = t.pipeline(&JobArgs::new(1, ["x"]), 1)?.check_output()?;
    /// assert_eq!(String::from_utf8_lossy(&out).trim(), "2");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Template::stages`].
    pub fn pipeline(&self, args: &JobArgs, slot: usize) -> Result<Pipeline> {
        Ok(Pipeline::new(self.stages(args, slot)?))
    }

    /// The job as a pool task: a [`Command`] for a template without `|`,
    /// else a [`Pipeline`].
    ///
    /// ```
    /// use pipe_run::{Inputs, Pool, Template};
    /// let t = Template::parse("echo {#}:{}")?;
    /// let pool = Pool::new(2)?;
    /// let tasks = Inputs::product(vec![vec!["a".into(), "b".into()]])
    ///     .map(|job| t.task(&job?, 1))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// let out: Vec<String> = pool.map(tasks).map(|r| r.map(|d| d.stdout_text())).collect::<Result<_, _>>()?;
    /// assert_eq!(out, ["1:a\n", "2:b\n"]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Template::stages`].
    pub fn task(&self, args: &JobArgs, slot: usize) -> Result<TaskSpec> {
        let mut stages = self.stages(args, slot)?;
        Ok(if stages.len() == 1 {
            stages.remove(0).into()
        } else {
            Pipeline::new(stages).into()
        })
    }

    /// The command line of one job as a person reads it: words shell-quoted
    /// and stages joined by ` | `, or the script for a shell template. This
    /// is what `--dry-run` prints and the job log records.
    ///
    /// ```
    /// use pipe_run::{JobArgs, Template};
    /// let t = Template::parse("gzip -9")?;
    /// assert_eq!(t.command_line(&JobArgs::new(1, ["my file"]), 1)?, "gzip -9 'my file'");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Template::stages`].
    pub fn command_line(&self, args: &JobArgs, slot: usize) -> Result<String> {
        Ok(match self.expand(args, slot)? {
            Expansion::Script(script) => script,
            Expansion::Stages(stages) => stages
                .iter()
                .map(shell_words::join)
                .collect::<Vec<_>>()
                .join(" | "),
        })
    }

    fn expand(&self, args: &JobArgs, slot: usize) -> Result<Expansion> {
        match &self.body {
            Body::Words(stages) => {
                let mut out: Vec<Vec<String>> = Vec::with_capacity(stages.len());
                for stage in stages {
                    let mut words = Vec::with_capacity(stage.len());
                    for word in stage {
                        if let [Part::Hole(h)] = word.as_slice() {
                            // A word that is only a placeholder becomes one word per
                            // value, so `{}` with two groups gives two arguments.
                            words.extend(self.values(*h, args, slot)?);
                            continue;
                        }
                        let mut text = String::new();
                        for part in word {
                            match part {
                                Part::Text(t) => text.push_str(t),
                                Part::Hole(h) => {
                                    text.push_str(&self.values(*h, args, slot)?.join(" "))
                                }
                            }
                        }
                        words.push(text);
                    }
                    out.push(words);
                }
                if self.holes.is_empty() {
                    let last = out.last_mut().expect("a parsed template has a stage");
                    last.extend(args.values().iter().cloned());
                }
                Ok(Expansion::Stages(out))
            }
            Body::Script(parts) => {
                let mut script = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => script.push_str(t),
                        Part::Hole(h) => {
                            let values = self.values(*h, args, slot)?;
                            script.push_str(&quote_for(self.holes[*h].quote, &values));
                        }
                    }
                }
                if self.holes.is_empty() {
                    for value in args.values() {
                        script.push(' ');
                        script.push_str(&shell_words::quote(value));
                    }
                }
                Ok(Expansion::Script(script))
            }
        }
    }

    /// The values placeholder `h` stands for in this job.
    fn values(&self, h: usize, args: &JobArgs, slot: usize) -> Result<Vec<String>> {
        let hole = &self.holes[h];
        let n = args.values().len();
        Ok(match hole.kind {
            Kind::Seq => vec![args.seq().to_string()],
            Kind::Slot => vec![slot.to_string()],
            Kind::Arg(Pick::All, form) => args.values().iter().map(|v| apply(form, v)).collect(),
            Kind::Arg(Pick::Nth(i), form) if i <= n => vec![apply(form, &args.values()[i - 1])],
            Kind::Arg(Pick::FromEnd(i), form) if i <= n => vec![apply(form, &args.values()[n - i])],
            Kind::Arg(..) => return Err(self.out_of_range(hole, n)),
        })
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .field("shell", &self.is_shell())
            .field("placeholders", &self.holes.len())
            .finish_non_exhaustive()
    }
}

enum Expansion {
    Stages(Vec<Vec<String>>),
    Script(String),
}

fn command_of(words: Vec<String>) -> Command {
    let mut words = words.into_iter();
    let program = words.next().unwrap_or_default();
    Command::new(program).args(words)
}

/// Quotes `values` for a `sh -c` script at a place with quoting `quote`.
fn quote_for(quote: Quote, values: &[String]) -> String {
    match quote {
        Quote::None => values
            .iter()
            .map(|v| shell_words::quote(v).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        // Inside "…" only these four keep a special meaning (POSIX 2.2.3).
        Quote::Double => {
            let mut out = String::new();
            for c in values.join(" ").chars() {
                if matches!(c, '$' | '`' | '"' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
        // Nothing is special inside '…' except its end: close, escape, reopen.
        Quote::Single => values.join(" ").replace('\'', r"'\''"),
    }
}

/// Applies a placeholder's form to one argument, with GNU parallel's
/// definitions: `{.}` is `s:\.[^/.]+$::`, `{/}` is `s:.*/::`, `{//}` is
/// `dirname`.
fn apply(form: Form, value: &str) -> String {
    match form {
        Form::Whole => value.to_owned(),
        Form::NoExt => strip_ext(value).to_owned(),
        Form::Base => basename(value).to_owned(),
        Form::Dir => dirname(value),
        Form::BaseNoExt => strip_ext(basename(value)).to_owned(),
    }
}

fn basename(value: &str) -> &str {
    value.rsplit_once('/').map_or(value, |(_, base)| base)
}

fn strip_ext(value: &str) -> &str {
    match value.rfind('.') {
        Some(dot) if dot + 1 < value.len() && !value[dot + 1..].contains('/') => &value[..dot],
        _ => value,
    }
}

/// `dirname(1)`: trailing slashes do not count, no slash gives `.`, and the
/// root stays `/`.
fn dirname(value: &str) -> String {
    let trimmed = value.trim_end_matches('/');
    if trimmed.is_empty() {
        return if value.is_empty() {
            ".".into()
        } else {
            "/".into()
        };
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let dir = trimmed[..i].trim_end_matches('/');
            if dir.is_empty() {
                "/".into()
            } else {
                dir.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn line(template: &str, values: &[&str]) -> String {
        Template::parse(template)
            .unwrap()
            .command_line(&JobArgs::new(4, values.iter().copied()), 2)
            .unwrap()
    }

    fn argv(template: &str, values: &[&str]) -> Vec<String> {
        let cmd = Template::parse(template)
            .unwrap()
            .command(&JobArgs::new(4, values.iter().copied()), 2)
            .unwrap();
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args().iter().map(|a| a.as_os_str()))
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    fn script(template: &str, values: &[&str]) -> String {
        Template::shell(template)
            .unwrap()
            .command_line(&JobArgs::new(4, values.iter().copied()), 2)
            .unwrap()
    }

    #[test]
    fn every_placeholder_form_matches_gnu_parallel() {
        let v = ["dir.d/sub/a.tar.gz"];
        assert_eq!(argv("x {}", &v), ["x", "dir.d/sub/a.tar.gz"]);
        assert_eq!(argv("x {.}", &v), ["x", "dir.d/sub/a.tar"]);
        assert_eq!(argv("x {/}", &v), ["x", "a.tar.gz"]);
        assert_eq!(argv("x {//}", &v), ["x", "dir.d/sub"]);
        assert_eq!(argv("x {/.}", &v), ["x", "a.tar"]);
        assert_eq!(argv("x {#} {%}", &v), ["x", "4", "2"]);
    }

    #[test]
    fn forms_handle_edge_paths_like_gnu_parallel() {
        assert_eq!(apply(Form::NoExt, "sub.dir/bar"), "sub.dir/bar");
        assert_eq!(apply(Form::NoExt, "foo."), "foo.");
        assert_eq!(apply(Form::NoExt, "noext"), "noext");
        assert_eq!(apply(Form::Dir, "file"), ".");
        assert_eq!(apply(Form::Dir, "/file"), "/");
        assert_eq!(apply(Form::Dir, "a/b/"), "a");
        assert_eq!(apply(Form::Dir, "a//b"), "a");
        assert_eq!(apply(Form::Dir, "/"), "/");
        assert_eq!(apply(Form::Base, "a/b/"), "");
        assert_eq!(apply(Form::BaseNoExt, "/x/y.z/w.txt"), "w");
    }

    #[test]
    fn positional_placeholders_pick_their_group() {
        let v = ["a/x.c", "fast", "b"];
        assert_eq!(
            argv("cc {1} -O{2} -o {1/.}", &v),
            ["cc", "a/x.c", "-Ofast", "-o", "x"]
        );
        assert_eq!(argv("echo {-1} {3} {1//}", &v), ["echo", "b", "b", "a"]);
        assert_eq!(argv("echo {1.}.o", &v), ["echo", "a/x.o"]);
    }

    #[test]
    fn values_are_never_resplit_or_interpreted() {
        let nasty = "a b; rm -rf ~ $(x) `y` 'q' \"d\" *";
        assert_eq!(argv("echo {}", &[nasty]), ["echo", nasty]);
        assert_eq!(
            argv("echo pre-{}-post", &[nasty]),
            ["echo".to_owned(), format!("pre-{nasty}-post")]
        );
        assert_eq!(argv("echo {}", &[""]), ["echo", ""]);
    }

    #[test]
    fn placeholders_inside_quotes_are_substituted() {
        assert_eq!(
            argv("mv '{}' \"{.}.bak\"", &["my file.txt"]),
            ["mv", "my file.txt", "my file.bak"]
        );
    }

    #[test]
    fn template_without_placeholder_gets_arguments_appended() {
        assert_eq!(argv("gzip -9", &["a b"]), ["gzip", "-9", "a b"]);
        assert_eq!(argv("echo", &["a", "1"]), ["echo", "a", "1"]);
        assert_eq!(line("zcat | wc -l", &["f"]), "zcat | wc -l f");
    }

    #[test]
    fn bare_braces_with_several_groups_give_one_word_each() {
        assert_eq!(
            argv("printf %s {}", &["a", "1"]),
            ["printf", "%s", "a", "1"]
        );
        assert_eq!(argv("echo x{}y", &["a", "1"]), ["echo", "xa 1y"]);
    }

    #[test]
    fn braces_that_are_not_placeholders_stay_literal() {
        assert_eq!(
            argv("awk '{print $1}' {}", &["f"]),
            ["awk", "{print $1}", "f"]
        );
        assert_eq!(
            argv("echo {a,b} {1..3} ${HOME}", &["f"]),
            ["echo", "{a,b}", "{1..3}", "${HOME}", "f"]
        );
        assert_eq!(argv(r"echo \{} {}", &["f"]), ["echo", "{}", "f"]);
        assert_eq!(argv("echo '{' '}'", &["f"]), ["echo", "{", "}", "f"]);
    }

    #[test]
    fn unknown_placeholders_are_errors_that_name_the_position() {
        for (template, at, needle) in [
            ("echo {foo}", 5, "unknown placeholder `{foo}`"),
            ("echo x {1x}", 7, "unknown placeholder `{1x}`"),
            ("echo {0}", 5, "count from 1"),
            ("echo {= s/a/b/ =}", 5, "Perl expression"),
        ] {
            let err = Template::parse(template).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Parse, "{template}");
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("(at byte {at})")),
                "{template}: {msg}"
            );
            assert!(msg.contains(needle), "{template}: {msg}");
            assert!(msg.contains(&format!("`{template}`")), "{template}: {msg}");
        }
    }

    #[test]
    fn out_of_range_groups_are_invalid_input() {
        let t = Template::parse("echo {1} {3}").unwrap();
        assert!(t.check_inputs(3).is_ok());
        let err = t.check_inputs(2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(msg.contains("template `echo {1} {3}`"), "{msg}");
        assert!(
            msg.contains(
                "`{3}` (at byte 9) refers to input group 3, but the jobs have only 2 input groups"
            ),
            "{msg}"
        );
        let err = t.command(&JobArgs::new(1, ["a"]), 1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            Template::parse("echo {-2}")
                .unwrap()
                .check_inputs(1)
                .is_err()
        );
    }

    #[test]
    fn bad_quoting_and_shell_syntax_are_parse_errors() {
        let err = Template::parse("echo 'abc {}").unwrap_err();
        assert!(
            err.to_string().contains("single quote (at byte 5)"),
            "{err}"
        );
        let err = Template::shell("echo \"{}").unwrap_err();
        assert!(
            err.to_string().contains("double quote (at byte 5)"),
            "{err}"
        );
        for (template, at) in [
            ("gzip {} > x", 8),
            ("a {} && b", 5),
            ("a; b", 1),
            ("a || b", 2),
            ("echo $(date)", 5),
        ] {
            let err = Template::parse(template).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Parse);
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("(at byte {at})")),
                "{template}: {msg}"
            );
            assert!(msg.contains("--shell"), "{template}: {msg}");
        }
        assert!(
            Template::parse("   ")
                .unwrap_err()
                .to_string()
                .contains("no command")
        );
        assert!(
            Template::parse("a | | b")
                .unwrap_err()
                .to_string()
                .contains("stage 2")
        );
        assert!(Template::shell(" ").is_err());
    }

    #[test]
    fn pipes_make_stages() {
        let t = Template::parse("zcat {} | grep -c '|' | sort").unwrap();
        assert!(t.is_pipeline());
        let stages = t.stages(&JobArgs::new(1, ["a b.gz"]), 1).unwrap();
        let lines: Vec<_> = stages.iter().map(Command::command_line).collect();
        assert_eq!(lines, ["zcat 'a b.gz'", "grep -c '|'", "sort"]);
        assert_eq!(line("zcat {} | wc -l", &["a b"]), "zcat 'a b' | wc -l");
        assert_eq!(
            t.command(&JobArgs::new(1, ["a"]), 1).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn comments_are_dropped_with_their_placeholders() {
        let t = Template::parse("echo hi # {}").unwrap();
        assert!(!t.has_placeholders());
        assert_eq!(argv("echo hi # {}", &["x"]), ["echo", "hi", "x"]);
    }

    #[test]
    fn shell_templates_quote_for_the_context() {
        let v = ["it's $HOME \"x\""];
        assert_eq!(script("echo {}", &v), r#"echo 'it'\''s $HOME "x"'"#);
        assert_eq!(script("echo '{}'", &v), r#"echo 'it'\''s $HOME "x"'"#);
        assert_eq!(script("echo \"<{}>\"", &v), r#"echo "<it's \$HOME \"x\">""#);
        assert_eq!(script("echo {} {}", &["a", "1"]), "echo a 1 a 1");
        assert_eq!(script("echo", &["a b", "1"]), "echo 'a b' 1");
        assert_eq!(script("echo ${HOME} {#}", &["a"]), "echo ${HOME} 4");
    }

    #[test]
    fn shell_templates_keep_the_value_one_string_when_run() {
        let nasty = "it's a \"test\" $HOME `id` \\ ;";
        for template in [
            "printf %s {}",
            "printf %s '{}'",
            "printf %s \"{}\"",
            "printf %s",
        ] {
            let cmd = Template::shell(template)
                .unwrap()
                .command(&JobArgs::new(1, [nasty]), 1)
                .unwrap();
            assert_eq!(cmd.check_output().unwrap(), nasty.as_bytes(), "{template}");
        }
    }

    #[test]
    fn from_words_keeps_each_word_whole() {
        let t = Template::from_words(["printf", "%s|", "{}", "a b|c", "'q'"]).unwrap();
        let out = t
            .command(&JobArgs::new(1, ["x y"]), 1)
            .unwrap()
            .check_output()
            .unwrap();
        assert_eq!(out, b"x y|a b|c|'q'|");
        let t = Template::from_words(["gzip"]).unwrap();
        assert_eq!(
            t.command_line(&JobArgs::new(1, ["f"]), 1).unwrap(),
            "gzip f"
        );
        let err = Template::from_words(["echo", "{nope}"]).unwrap_err();
        assert!(err.to_string().contains("(at byte 5)"), "{err}");
        assert!(Template::from_words(Vec::<String>::new()).is_err());
    }
}
