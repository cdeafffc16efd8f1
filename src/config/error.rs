//! Typed configuration errors. Every error names where it comes from (the
//! file, or "flags/environment"), the line and column when a file is at
//! fault, the setting by its dotted path (`queues.default_msgs`) and the
//! reason, in the `file:line:column: field: reason` shape that editors and
//! people both read.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The file could not be parsed: bad TOML syntax, a value of the wrong
/// type, or an unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// File name (or `<string>`).
    pub origin: String,
    /// Where, when the parser knows.
    pub location: Option<Location>,
    /// Dotted path of the setting at fault, when known (`queues.max_msgs`).
    pub field: Option<String>,
    /// What is wrong, one line.
    pub reason: String,
    /// The offending source line with a caret under the column, for people.
    pub excerpt: Option<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(l) = self.location {
            write!(f, ":{}:{}", l.line, l.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ParseError {}

/// One semantic problem in an otherwise well-formed configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the setting at fault.
    pub field: String,
    /// What is wrong and what would be right.
    pub reason: String,
    /// Where in the file the setting is, if it was set there (a value from a
    /// flag, the environment or the defaults has none).
    pub location: Option<Location>,
}

impl Problem {
    /// A problem with `field`, location still unknown.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            reason: reason.into(),
            location: None,
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for the settings tree.
    #[error(transparent)]
    Parse(Box<ParseError>),
    /// The settings parse but contradict each other or are out of range.
    #[error("{}", render_problems(origin, problems))]
    Invalid {
        /// File name, or `flags/environment` when no file was given.
        origin: String,
        /// Every problem found, in settings order.
        problems: Vec<Problem>,
    },
    /// Several of the above in one file (`spate config check` reports
    /// every error it can find), one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl From<ParseError> for ConfigError {
    fn from(e: ParseError) -> ConfigError {
        ConfigError::Parse(Box::new(e))
    }
}

fn render_problems(origin: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match p.location {
            Some(l) => out.push_str(&format!("{origin}:{}:{}: ", l.line, l.column)),
            None => out.push_str(&format!("{origin}: ")),
        }
        out.push_str(&format!("{}: {}", p.field, p.reason));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // Column counts characters, not bytes: 'é' is two bytes, so the
        // space after it (byte 9) is the third character of its line.
        assert_eq!(
            Location::of_offset(text, 9),
            Location { line: 2, column: 3 }
        );
        assert_eq!(Location::of_offset(text, 999).line, 3);
    }

    #[test]
    fn invalid_lists_every_problem_with_its_place() {
        let e = ConfigError::Invalid {
            origin: "spate.toml".into(),
            problems: vec![
                Problem {
                    location: Some(Location {
                        line: 4,
                        column: 16,
                    }),
                    ..Problem::new("queues.default_msgs", "too big")
                },
                Problem::new("log.format", "unknown"),
            ],
        };
        assert_eq!(
            e.to_string(),
            "spate.toml:4:16: queues.default_msgs: too big\nspate.toml: log.format: unknown"
        );
    }
}
