//! Reading a template: one quote-aware pass that finds what `shell-words`
//! cannot tell us (placeholders and the quoting each sits in, the position
//! of an unbalanced quote, unquoted `|` and other shell operators), and the
//! sentinels that stand in for placeholders while `shell-words` splits the
//! words.

use crate::error::{Error, Result};

use super::{Form, Hole, Kind, Part, Pick, Quote};

/// Sentinels stand in for placeholders while `shell-words` splits a
/// template: code points of Supplementary Private Use Area-A, which never
/// appear in a real command line (a template that holds one is refused).
const SENTINEL_BASE: u32 = 0xF0000;
const MAX_PLACEHOLDERS: usize = 0xFFFE;

/// Splits text holding sentinels into text and placeholder parts.
pub(super) fn parts_of(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        match sentinel_index(c) {
            Some(h) => {
                if !current.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut current)));
                }
                parts.push(Part::Hole(h));
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(Part::Text(current));
    }
    parts
}

fn sentinel(h: usize) -> char {
    char::from_u32(SENTINEL_BASE + h as u32).expect("sentinels are valid code points")
}

fn sentinel_index(c: char) -> Option<usize> {
    let c = c as u32;
    (SENTINEL_BASE..SENTINEL_BASE + MAX_PLACEHOLDERS as u32)
        .contains(&c)
        .then(|| (c - SENTINEL_BASE) as usize)
}

/// Reads the placeholder starting at the `{` at byte `at` of `s`.
///
/// `Ok(None)` means these braces are not a placeholder and stay literal
/// (`{print $1}`, `{a,b}`, `{1..3}`); an error gives the reason for text
/// that looks like a placeholder but is none (`{foo}`, `{0}`, `{= … =}`).
pub(super) fn placeholder_at(
    s: &str,
    at: usize,
) -> std::result::Result<Option<(Kind, usize)>, String> {
    let rest = &s[at + 1..];
    if rest.starts_with('=') {
        return Err("`{= … =}` (a Perl expression in GNU parallel) is not supported".into());
    }
    let Some(end) = rest.find(|c: char| !c.is_ascii_alphanumeric() && !"./#%-_".contains(c)) else {
        return Ok(None);
    };
    if rest.as_bytes()[end] != b'}' {
        return Ok(None);
    }
    let content = &rest[..end];
    let len = end + 2;
    let kind = match content {
        "" => Kind::Arg(Pick::All, Form::Whole),
        "#" => Kind::Seq,
        "%" => Kind::Slot,
        _ => match form_of(content) {
            Some(form) => Kind::Arg(Pick::All, form),
            None => return positional(content).map(|k| k.map(|k| (k, len))),
        },
    };
    Ok(Some((kind, len)))
}

fn form_of(suffix: &str) -> Option<Form> {
    Some(match suffix {
        "" => Form::Whole,
        "." => Form::NoExt,
        "/" => Form::Base,
        "//" => Form::Dir,
        "/." => Form::BaseNoExt,
        _ => return None,
    })
}

/// `{N}`, `{-N}` and their forms; anything else made of placeholder
/// characters, or a bare word like `{foo}`, is an error.
fn positional(content: &str) -> std::result::Result<Option<Kind>, String> {
    let unknown = || {
        Err(format!(
            "unknown placeholder `{{{content}}}` (known: {{}} {{.}} {{/}} {{//}} {{/.}} {{#}} {{%}} \
             {{N}} {{N.}} {{N/}} {{N//}} {{N/.}}; write \\{{ for a literal brace)"
        ))
    };
    // Brace ranges such as `{1..3}` belong to the shell, not to us.
    if let Some((a, b)) = content.split_once("..") {
        if !a.is_empty()
            && !b.is_empty()
            && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
        {
            return Ok(None);
        }
    }
    let (from_end, rest) = match content.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, content),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return unknown();
    }
    let Some(form) = form_of(&rest[digits..]) else {
        return unknown();
    };
    let n: usize = rest[..digits]
        .parse()
        .map_err(|_| format!("input group `{content}` is too large"))?;
    if n == 0 {
        return Err(format!("`{{{content}}}`: input groups count from 1"));
    }
    let pick = if from_end {
        Pick::FromEnd(n)
    } else {
        Pick::Nth(n)
    };
    Ok(Some(Kind::Arg(pick, form)))
}

/// The result of scanning a template: its text per pipeline stage (with
/// sentinels for placeholders) and the placeholders.
pub(super) struct Scanned {
    /// (byte offset in the template, text) of each stage.
    pub(super) stages: Vec<(usize, String)>,
    pub(super) holes: Vec<Hole>,
}

/// One quote-aware pass over a template that finds what `shell-words`
/// cannot tell us: placeholders and the quoting they sit in, positions of
/// unbalanced quotes, and unquoted `|` and other shell operators.
pub(super) struct Scanner<'a> {
    src: &'a str,
    shell: bool,
    holes: Vec<Hole>,
    stages: Vec<(usize, String)>,
    current: String,
    stage_start: usize,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(src: &'a str, shell: bool) -> Scanner<'a> {
        Scanner {
            src,
            shell,
            holes: Vec::new(),
            stages: Vec::new(),
            current: String::new(),
            stage_start: 0,
        }
    }

    fn err(&self, reason: &str, at: usize) -> Error {
        Error::parse(self.src, reason, at)
    }

    fn shell_only(&self, what: &str, at: usize) -> Error {
        self.err(
            &format!("{what} needs a shell: run the template with `--shell` (`Template::shell`)"),
            at,
        )
    }

    pub(super) fn run(mut self) -> Result<Scanned> {
        let src = self.src;
        let bytes = src.as_bytes();
        if let Some(at) = src.find(|c| sentinel_index(c).is_some()) {
            return Err(self.err("character from the private use plane 15 is reserved", at));
        }
        let mut quote = (Quote::None, 0);
        let mut word_start = true;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'{' && (i == 0 || bytes[i - 1] != b'$') {
                let found = placeholder_at(src, i).map_err(|reason| self.err(&reason, i))?;
                if let Some((kind, len)) = found {
                    if self.holes.len() == MAX_PLACEHOLDERS {
                        return Err(self.err("too many placeholders", i));
                    }
                    self.current.push(sentinel(self.holes.len()));
                    self.holes.push(Hole {
                        kind,
                        at: i,
                        text: src[i..i + len].to_owned(),
                        quote: quote.0,
                    });
                    i += len;
                    word_start = false;
                    continue;
                }
            }
            match quote.0 {
                Quote::Single => {
                    if b == b'\'' {
                        quote = (Quote::None, 0);
                    }
                }
                Quote::Double => match b {
                    b'\\'
                        if matches!(bytes.get(i + 1), Some(b'$' | b'`' | b'"' | b'\\' | b'\n')) =>
                    {
                        self.current.push('\\');
                        i += 1;
                    }
                    b'"' => quote = (Quote::None, 0),
                    _ => {}
                },
                Quote::None => match b {
                    b'\\' => {
                        if i + 1 == bytes.len() {
                            return Err(self.err("trailing backslash", i));
                        }
                        // The escaped character is copied as is, so `\{}` is no placeholder.
                        self.current.push('\\');
                        i += 1;
                    }
                    b'\'' => quote = (Quote::Single, i),
                    b'"' => quote = (Quote::Double, i),
                    b'#' if word_start => {
                        // A comment runs to the end of the line, as in sh.
                        let end = src[i..].find('\n').map_or(bytes.len(), |n| i + n);
                        if self.shell {
                            self.current.push_str(&src[i..end]);
                        }
                        i = end;
                        continue;
                    }
                    _ if self.shell => {}
                    b'|' if bytes.get(i + 1) == Some(&b'|') => {
                        return Err(self.shell_only("`||`", i));
                    }
                    b'|' => {
                        let text = std::mem::take(&mut self.current);
                        self.stages.push((self.stage_start, text));
                        self.stage_start = i + 1;
                        i += 1;
                        word_start = true;
                        continue;
                    }
                    b'&' if bytes.get(i + 1) == Some(&b'&') => {
                        return Err(self.shell_only("`&&`", i));
                    }
                    b'&' => return Err(self.shell_only("`&` (background job)", i)),
                    b';' => return Err(self.shell_only("`;` (command list)", i)),
                    b'<' | b'>' => return Err(self.shell_only("a redirection", i)),
                    b'(' | b')' => return Err(self.shell_only("a subshell", i)),
                    b'`' => return Err(self.shell_only("command substitution", i)),
                    b'$' if bytes.get(i + 1) == Some(&b'(') => {
                        return Err(self.shell_only("command substitution", i));
                    }
                    _ => {}
                },
            }
            let ch = src[i..].chars().next().expect("i is on a char boundary");
            self.current.push(ch);
            word_start = quote.0 == Quote::None && matches!(b, b' ' | b'\t' | b'\n');
            i += ch.len_utf8();
        }
        match quote {
            (Quote::Single, at) => Err(self.err("missing closing single quote", at)),
            (Quote::Double, at) => Err(self.err("missing closing double quote", at)),
            (Quote::None, _) => {
                let text = std::mem::take(&mut self.current);
                self.stages.push((self.stage_start, text));
                Ok(Scanned {
                    stages: self.stages,
                    holes: self.holes,
                })
            }
        }
    }
}
