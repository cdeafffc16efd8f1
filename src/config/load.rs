//! Loading configuration: read the TOML file (if any) over the defaults,
//! lay flags and `SPATE_*` variables over it ([`ConfigFlags`]; clap already
//! put flags above variables), fall back to `RUST_LOG` for the log level,
//! then validate the result. Errors carry line, column, dotted field and
//! reason; semantic problems point at the line of the offending setting
//! when it came from the file.

use std::path::Path;

use super::error::{ConfigError, Location, ParseError};
use super::flags::ConfigFlags;
use super::validate::validate;
use super::Config;

/// What error messages call settings that came from flags or environment.
pub const FLAGS_ORIGIN: &str = "flags/environment";

/// Most errors one file reports (the rest would be noise).
const MAX_ERRORS: usize = 64;

/// Parses and validates a config file's text, reporting every error it
/// can find, not just the first. `origin` names it in errors.
///
/// The TOML is deserialized; a setting that does not deserialize is
/// reported, commented out (its line, or a whole unknown table, keeping
/// every byte offset) and the text deserialized again, until it succeeds;
/// then the settings are validated. A syntax error ends the search: past
/// it the rest of the file cannot be read reliably.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut work = text.to_owned();
    let mut last_offset = None;
    while errors.len() < MAX_ERRORS {
        match parse_toml_at(&work, origin) {
            Ok(cfg) => {
                match check(&cfg, origin, Some(text), &[]) {
                    Ok(()) if errors.is_empty() => return Ok(cfg),
                    Ok(()) => {}
                    Err(e) => errors.push(e),
                }
                break;
            }
            Err(b) => {
                let (e, offset) = *b;
                let syntax = toml_edit::ImDocument::parse(work.as_str()).is_err();
                if syntax && !errors.is_empty() {
                    // Caused by commenting out part of a multi-line value.
                    break;
                }
                errors.push(e.into());
                let Some(offset) = offset.filter(|o| !syntax && last_offset != Some(*o)) else {
                    break;
                };
                last_offset = Some(offset);
                if !comment_out(&mut work, offset) {
                    break;
                }
            }
        }
    }
    match errors.len() {
        0 => parse_toml(text, origin).map_err(Into::into),
        1 => Err(errors.pop().expect("one error")),
        _ => Err(ConfigError::Several(errors)),
    }
}

/// Comments out the line holding byte `offset` (and, for a table header,
/// the whole table) by overwriting each line's first byte with `#`, so no
/// other byte moves. False if that cannot be done (a non-ASCII first byte).
fn comment_out(text: &mut String, offset: usize) -> bool {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut lines = vec![start];
    if text[start..].trim_start().starts_with('[') {
        let mut at = start;
        while let Some(nl) = text[at..].find('\n') {
            at += nl + 1;
            if at >= text.len() || text[at..].trim_start().starts_with('[') {
                break;
            }
            lines.push(at);
        }
    }
    // Only ASCII bytes are replaced, by ASCII bytes: still UTF-8.
    let mut bytes = std::mem::take(text).into_bytes();
    let mut ok = true;
    for l in lines {
        match bytes.get(l) {
            Some(b'\n') | None => {}
            Some(b) if b.is_ascii() => bytes[l] = b'#',
            Some(_) => ok = false,
        }
    }
    *text = String::from_utf8(bytes).unwrap_or_default();
    ok
}

/// Reads, parses and validates one config file (what `spate config check`
/// does).
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = read(path)?;
    parse_str(&text, &path.display().to_string())
}

/// The effective configuration for `spate serve`: defaults, then the file
/// from `--config`/`SPATE_CONFIG`, then flags and environment variables,
/// validated.
pub fn load(flags: &ConfigFlags) -> Result<Config, ConfigError> {
    load_with_env(flags, |k| std::env::var(k).ok())
}

/// [`load`] with the environment lookup injected (for `RUST_LOG`; clap has
/// already read the `SPATE_*` variables into `flags`).
pub fn load_with_env(
    flags: &ConfigFlags,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let (mut cfg, text, origin) = match &flags.config {
        Some(path) => {
            let text = read(path)?;
            let origin = path.display().to_string();
            (parse_toml(&text, &origin)?, Some(text), origin)
        }
        None => (Config::default(), None, FLAGS_ORIGIN.to_owned()),
    };
    let mut overridden = flags.apply(&mut cfg);
    if flags.log_level.is_none() {
        if let Some(filter) = env("RUST_LOG").filter(|v| !v.trim().is_empty()) {
            cfg.log.level = filter;
            overridden.push("log.level");
        }
    }
    check(&cfg, &origin, text.as_deref(), &overridden)?;
    Ok(cfg)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Deserializes the settings tree, turning toml's error into a
/// [`ParseError`] with the dotted path serde was at.
fn parse_toml(text: &str, origin: &str) -> Result<Config, ParseError> {
    parse_toml_at(text, origin).map_err(|b| b.0)
}

/// [`parse_toml`], also giving the error's byte offset when known.
fn parse_toml_at(text: &str, origin: &str) -> Result<Config, Box<(ParseError, Option<usize>)>> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let reason = inner.message().trim().to_owned();
        let offset = inner.span().map(|s| s.start);
        let location = offset.map(|o| Location::of_offset(text, o));
        let e = ParseError {
            origin: origin.to_owned(),
            location,
            field: field_of(&path, &reason),
            excerpt: location.map(|l| excerpt(text, l)),
            reason,
        };
        Box::new((e, offset))
    })
}

/// The dotted setting an error is about. serde's path already ends at an
/// unknown key; for an unknown key directly under a table that serde had
/// not entered yet, the key's name is taken from the message.
fn field_of(path: &str, reason: &str) -> Option<String> {
    let parent = (path != ".").then_some(path);
    let unknown = reason
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next());
    match (parent, unknown) {
        (Some(p), Some(k)) if p != k && !p.ends_with(&format!(".{k}")) => Some(format!("{p}.{k}")),
        (Some(p), _) => Some(p.to_owned()),
        (None, k) => k.map(str::to_owned),
    }
}

/// Validates and, for each problem from the file, finds its line.
fn check(
    cfg: &Config,
    origin: &str,
    text: Option<&str>,
    overridden: &[&str],
) -> Result<(), ConfigError> {
    let mut problems = validate(cfg);
    if problems.is_empty() {
        return Ok(());
    }
    let doc = text.and_then(|t| toml_edit::ImDocument::parse(t).ok());
    for p in &mut problems {
        if overridden.iter().any(|f| p.field.starts_with(f)) {
            p.reason.push_str(" (set by a flag or SPATE_* variable)");
        } else if let (Some(doc), Some(text)) = (&doc, text) {
            p.location = locate(doc, &p.field).map(|off| Location::of_offset(text, off));
        }
    }
    Err(ConfigError::Invalid {
        origin: origin.to_owned(),
        problems,
    })
}

/// Byte offset of the value at `field` (`a.b[2].c`) in the document.
fn locate(doc: &toml_edit::ImDocument<&str>, field: &str) -> Option<usize> {
    let mut item = doc.as_item();
    for segment in field.split('.') {
        let (key, index) = match segment.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        item = item.get(key)?;
        if let Some(i) = index {
            item = item.get(i)?;
        }
    }
    item.span().map(|s| s.start)
}

/// The source line at `l` with a caret under the column.
fn excerpt(text: &str, l: Location) -> String {
    let line = text.lines().nth(l.line - 1).unwrap_or("");
    let gutter = l.line.to_string();
    let pad = " ".repeat(gutter.len());
    let caret = " ".repeat(l.column.saturating_sub(1));
    format!("{pad} |\n{gutter} | {line}\n{pad} | {caret}^")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> ParseError {
        match parse_str(text, "t.toml") {
            Err(ConfigError::Parse(e)) => *e,
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_its_table_and_line() {
        let e = parse_err("[queues]\ndefault_msgs = 5\ndefualt_bytes = 9\n");
        assert_eq!(e.field.as_deref(), Some("queues.defualt_bytes"));
        assert_eq!(e.location, Some(Location { line: 3, column: 1 }));
        assert!(
            e.reason.starts_with("unknown field `defualt_bytes`"),
            "{}",
            e.reason
        );
        assert!(e
            .to_string()
            .starts_with("t.toml:3:1: queues.defualt_bytes: unknown field"));
        assert!(e.excerpt.unwrap().contains("3 | defualt_bytes = 9"));
    }

    #[test]
    fn unknown_top_level_table_is_an_error() {
        let e = parse_err("[queue]\nmax_msgs = 1\n");
        assert_eq!(e.field.as_deref(), Some("queue"));
        assert_eq!(e.location.map(|l| l.line), Some(1));
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse_err("[limits]\nmax_connections = \"many\"\n");
        assert_eq!(e.field.as_deref(), Some("limits.max_connections"));
        assert_eq!(
            e.location,
            Some(Location {
                line: 2,
                column: 19
            })
        );
        assert!(e.reason.contains("invalid type"), "{}", e.reason);
    }

    #[test]
    fn syntax_error_has_a_location() {
        let e = parse_err("[server]\nlisten = \"127.0.0.1:1\n");
        assert_eq!(e.location.map(|l| l.line), Some(2));
        assert_eq!(e.field, None);
    }

    #[test]
    fn bad_policy_and_address_say_why() {
        let e = parse_err("[queues]\ndefault_policy = \"fast\"\n");
        assert_eq!(e.field.as_deref(), Some("queues.default_policy"));
        assert!(e.reason.contains("unknown policy \"fast\""), "{}", e.reason);
        let e = parse_err("[server]\nlisten = \"localhost\"\n");
        assert_eq!(e.field.as_deref(), Some("server.listen"));
    }

    #[test]
    fn semantic_problems_point_at_their_line() {
        let text = "[queues]\nmax_msgs = 10\ndefault_msgs = 20\n\n[[history.overrides]]\npattern = \"a..b\"\nmax_msgs = 1\nmax_bytes = 1\n";
        let Err(ConfigError::Invalid { origin, problems }) = parse_str(text, "t.toml") else {
            panic!("expected invalid");
        };
        assert_eq!(origin, "t.toml");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].field, "queues.default_msgs");
        assert_eq!(
            problems[0].location,
            Some(Location {
                line: 3,
                column: 16
            })
        );
        assert_eq!(problems[1].field, "history.overrides[0].pattern");
        assert_eq!(
            problems[1].location,
            Some(Location {
                line: 6,
                column: 11
            })
        );
    }

    #[test]
    fn flags_beat_the_file_and_rust_log_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1000\"\nadmin_listen = \"127.0.0.1:1001\"\n[log]\nlevel = \"warn\"\n").unwrap();
        let flags = ConfigFlags {
            config: Some(path),
            listen: Some("127.0.0.1:2000".parse().unwrap()),
            ..ConfigFlags::default()
        };
        let cfg = load_with_env(&flags, |_| None).unwrap();
        assert_eq!(cfg.server.listen.port(), 2000);
        assert_eq!(cfg.server.admin_listen.port(), 1001);
        assert_eq!(cfg.log.level, "warn");
        let cfg = load_with_env(&flags, |k| (k == "RUST_LOG").then(|| "debug".into())).unwrap();
        assert_eq!(cfg.log.level, "debug");
    }

    #[test]
    fn a_bad_flag_is_blamed_on_the_flag() {
        let flags = ConfigFlags {
            default_queue_msgs: Some(u32::MAX),
            ..ConfigFlags::default()
        };
        let Err(ConfigError::Invalid { origin, problems }) = load_with_env(&flags, |_| None) else {
            panic!("expected invalid");
        };
        assert_eq!(origin, FLAGS_ORIGIN);
        assert!(problems[0]
            .reason
            .ends_with("(set by a flag or SPATE_* variable)"));
        assert_eq!(problems[0].location, None);
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let flags = ConfigFlags {
            config: Some("/nonexistent/spate.toml".into()),
            ..ConfigFlags::default()
        };
        let e = load_with_env(&flags, |_| None).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/spate.toml"));
    }
}
