//! `pipe-run`: run one pipeline well, or a thousand jobs at once.
//!
//! The binary is thin: it parses arguments, calls the library and maps
//! errors to exit codes. `run` lives in `cli/run.rs`, `pool` in
//! `cli/pool.rs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[path = "cli/pool.rs"]
mod pool;
#[path = "cli/run.rs"]
mod run;

const ABOUT: &str = "Run external programs well: one pipeline with shell-like exit codes, \
or many jobs at once like GNU parallel.";

#[derive(Debug, Parser)]
#[command(name = "pipe-run", version, about = ABOUT, propagate_version = true)]
#[command(after_help = "Examples:
  pipe-run run 'cut -d: -f7 /etc/passwd | sort | uniq -c | sort -rn'
  pipe-run run --timeout 2s -- sleep 10        # exits 124
  pipe-run pool -j 4 'gzip -9 {}' ::: *.log
  pipe-run pool --help                         # placeholders, job logs, signals")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run one command or pipeline, with live output and a shell's exit code.
    Run(run::RunArgs),
    /// Run a command template once per argument, many at a time (GNU parallel style).
    Pool(pool::PoolArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = if !e.use_stderr() {
                0 // --help, --version
            } else if std::env::args().nth(1).as_deref() == Some("run") {
                run::OWN_ERROR
            } else {
                pool::OWN_ERROR
            };
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Cmd::Run(args) => run::main(args),
        Cmd::Pool(args) => pool::main(args),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Prints `message` as pipe-run's own error, on stderr.
fn complain(message: impl std::fmt::Display) {
    eprintln!("pipe-run: {message}");
}

/// Parses `5`, `1.5`, `200ms`, `5s`, `2m`, `1h`, `1d` (a bare number is
/// seconds, as in GNU parallel and `timeout(1)`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ms, s, m, h or d)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (like 500ms, 5s, 1.5m)"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_gnu_style_units() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
