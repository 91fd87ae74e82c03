//! Shell-style command lines without a shell.
//!
//! Words are split by `shell-words` (POSIX quoting, no expansion). Before
//! that, one quote-aware pass finds what `shell-words` cannot tell us: the
//! byte position of an unbalanced quote, and unquoted shell operators
//! (`|` between pipeline stages; `||`, `&&`, `;`, redirections and
//! subshells, which need a real shell and are refused with a pointer to
//! [`Command::shell`](crate::Command::shell)).

use crate::error::{Error, Result};

/// Quoting state of the scanner.
#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Single(usize),
    Double(usize),
}

/// Splits `input` into pipeline stages at unquoted `|`, each stage a list
/// of words.
///
/// Refuses unbalanced quotes, empty stages and any other unquoted shell
/// operator with an [`ErrorKind::Parse`](crate::ErrorKind::Parse) error that
/// names the position.
pub(crate) fn split_stages(input: &str) -> Result<Vec<Vec<String>>> {
    let bounds = stage_bounds(input)?;
    let mut stages = Vec::with_capacity(bounds.len());
    for (i, &(start, end)) in bounds.iter().enumerate() {
        let words = shell_words::split(&input[start..end])
            .map_err(|e| Error::parse(input, &e.to_string(), start))?;
        if words.is_empty() {
            let reason = if bounds.len() == 1 {
                "no command".to_owned()
            } else {
                format!("stage {} of the pipeline is empty", i + 1)
            };
            return Err(Error::parse(input, &reason, start));
        }
        stages.push(words);
    }
    Ok(stages)
}

/// Splits a single command line into words.
pub(crate) fn split_command(input: &str) -> Result<Vec<String>> {
    let bounds = stage_bounds(input)?;
    if bounds.len() > 1 {
        let at = bounds[0].1;
        return Err(Error::parse(
            input,
            "`|` makes a pipeline: use `Pipeline::parse`, or `Command::shell` for shell syntax",
            at,
        ));
    }
    split_stages(input).map(|mut stages| stages.remove(0))
}

/// Byte ranges of the stages of `input`, split at unquoted single `|`.
fn stage_bounds(input: &str) -> Result<Vec<(usize, usize)>> {
    let bytes = input.as_bytes();
    let mut quote = Quote::None;
    let mut bounds = Vec::new();
    let mut stage_start = 0;
    let mut word_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Quote::Single(_) => {
                if b == b'\'' {
                    quote = Quote::None;
                }
            }
            Quote::Double(_) => match b {
                b'\\' => i += 1,
                b'"' => quote = Quote::None,
                _ => {}
            },
            Quote::None => match b {
                b'\\' => {
                    if i + 1 == bytes.len() {
                        return Err(Error::parse(input, "trailing backslash", i));
                    }
                    i += 1;
                }
                b'\'' => quote = Quote::Single(i),
                b'"' => quote = Quote::Double(i),
                b'#' if word_start => {
                    // A comment runs to the end of the line, as in sh.
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'|' if bytes.get(i + 1) == Some(&b'|') => {
                    return Err(shell_only(input, "`||`", i));
                }
                b'|' => {
                    bounds.push((stage_start, i));
                    stage_start = i + 1;
                }
                b'&' if bytes.get(i + 1) == Some(&b'&') => {
                    return Err(shell_only(input, "`&&`", i));
                }
                b'&' => return Err(shell_only(input, "`&` (background job)", i)),
                b';' => return Err(shell_only(input, "`;` (command list)", i)),
                b'<' | b'>' => return Err(shell_only(input, "a redirection", i)),
                b'(' | b')' => return Err(shell_only(input, "a subshell", i)),
                b'`' => return Err(shell_only(input, "command substitution", i)),
                b'$' if bytes.get(i + 1) == Some(&b'(') => {
                    return Err(shell_only(input, "command substitution", i));
                }
                _ => {}
            },
        }
        word_start = quote == Quote::None && matches!(b, b' ' | b'\t' | b'\n' | b'|');
        i += 1;
    }
    match quote {
        Quote::Single(at) => Err(Error::parse(input, "missing closing single quote", at)),
        Quote::Double(at) => Err(Error::parse(input, "missing closing double quote", at)),
        Quote::None => {
            bounds.push((stage_start, bytes.len()));
            Ok(bounds)
        }
    }
}

fn shell_only(input: &str, what: &str, at: usize) -> Error {
    Error::parse(
        input,
        &format!("{what} needs a shell: use `Command::shell` (`sh -c`) for shell syntax"),
        at,
    )
}

/// Renders an argument vector as one shell-quoted line (for messages).
pub(crate) fn render<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    shell_words::join(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn splits_words_with_quotes() {
        assert_eq!(
            split_command("grep -n 'a b' f.txt").unwrap(),
            ["grep", "-n", "a b", "f.txt"]
        );
        assert_eq!(
            split_command(r#"echo "a|b" '&&' \;"#).unwrap(),
            ["echo", "a|b", "&&", ";"]
        );
    }

    #[test]
    fn unbalanced_quote_names_its_position() {
        let err = split_command("echo 'abc").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Parse);
        assert!(err.to_string().contains("at byte 5"), "{err}");
        assert!(err.to_string().contains("`echo 'abc`"), "{err}");
        let err = split_command("echo \"ab").unwrap_err();
        assert!(
            err.to_string().contains("double quote (at byte 5)"),
            "{err}"
        );
    }

    #[test]
    fn pipes_split_stages() {
        let stages = split_stages("grep -v '^#' conf | sort -u | head -n 5").unwrap();
        assert_eq!(stages.len(), 3);
        assert_eq!(stages[0], ["grep", "-v", "^#", "conf"]);
        assert_eq!(stages[2], ["head", "-n", "5"]);
    }

    #[test]
    fn shell_syntax_is_refused() {
        for (input, at) in [
            ("a || b", 2),
            ("a && b", 2),
            ("a ; b", 2),
            ("a > f", 2),
            ("a < f", 2),
            ("(a)", 0),
            ("echo $(x)", 5),
            ("a &", 2),
        ] {
            let err = split_stages(input).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Parse, "{input}");
            assert!(
                err.to_string().contains(&format!("at byte {at}")),
                "{input}: {err}"
            );
            assert!(err.to_string().contains("Command::shell"), "{input}: {err}");
        }
    }

    #[test]
    fn empty_stage_is_named() {
        let err = split_stages("a | | b").unwrap_err();
        assert!(err.to_string().contains("stage 2"), "{err}");
        assert!(
            split_stages("   ")
                .unwrap_err()
                .to_string()
                .contains("no command")
        );
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(split_command("echo a # not | here").unwrap(), ["echo", "a"]);
    }
}
