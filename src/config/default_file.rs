//! The fully commented default config file. Its text lives in
//! `packaging/spate.toml` (installed as `/etc/spate/spate.toml`) and is
//! compiled in here, so `spate config default` prints exactly what the
//! package ships. Tests hold it to [`Config::default`](super::Config) and
//! to naming every setting, so the two cannot drift apart.

/// The text of `packaging/spate.toml`.
pub const DEFAULT_TOML: &str = include_str!("../../packaging/spate.toml");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DEFAULT_TOML;
    use crate::config::{parse_str, Config};

    #[test]
    fn default_file_parses_to_the_defaults() {
        let cfg = parse_str(DEFAULT_TOML, "packaging/spate.toml").expect("default file is valid");
        // The one difference: the package persists to /var/lib/spate (its
        // unit's StateDirectory); without a file, nothing is persisted.
        let mut want = Config::default();
        want.storage.dir = Some("/var/lib/spate".into());
        assert_eq!(cfg, want);
    }

    /// Dotted paths of every leaf key in a TOML table.
    fn leaf_keys(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
        for (k, v) in table {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => leaf_keys(&path, t, out),
                _ => {
                    out.insert(path);
                }
            }
        }
    }

    #[test]
    fn default_file_names_every_setting() {
        let want = toml::Table::try_from(Config::default()).expect("settings serialize");
        let got: toml::Table = DEFAULT_TOML.parse().expect("valid TOML");
        let mut want_keys = BTreeSet::new();
        leaf_keys("", &want, &mut want_keys);
        let mut got_keys = BTreeSet::new();
        leaf_keys("", &got, &mut got_keys);
        // The overrides list is empty by default; the file shows a commented
        // example instead of `overrides = []`, which would clash with it
        // being uncommented.
        want_keys.remove("history.overrides");
        // Unset by default (in memory), set in the packaged file.
        want_keys.insert("storage.dir".into());
        assert_eq!(got_keys, want_keys);
    }
}
