//! Checks of the `[auth]` section a TOML parser cannot make: user names
//! (unique, no `:`), secret hashes Argon2 can read, permission patterns
//! that are valid topic patterns, key and token files that load.

use std::collections::HashSet;

use super::jwt::JwtKeys;
use super::users;
use crate::config::{Config, Problem};

/// Appends every problem of `cfg.auth` to `p`.
pub fn check(cfg: &Config, p: &mut Vec<Problem>) {
    let a = &cfg.auth;
    let max_len = cfg.limits.max_topic_len as usize;
    let mut names = HashSet::new();
    let mut certs = HashSet::new();
    for (i, u) in a.users.iter().enumerate() {
        let at = format!("auth.users[{i}]");
        if u.name.is_empty() || u.name.contains(':') {
            p.push(Problem::new(
                format!("{at}.name"),
                "must be non-empty and contain no ':'",
            ));
        }
        if !names.insert(u.name.as_str()) {
            p.push(Problem::new(
                format!("{at}.name"),
                format!("{:?} is named twice", u.name),
            ));
        }
        if let Some(c) = &u.cert {
            if !certs.insert(c.as_str()) {
                p.push(Problem::new(
                    format!("{at}.cert"),
                    format!("{c:?} is bound to two users"),
                ));
            }
        }
        if let Some(h) = &u.secret_hash {
            if let Err(e) = users::check_hash(h) {
                p.push(Problem::new(
                    format!("{at}.secret_hash"),
                    format!("not an Argon2 PHC hash ({e}); make one with `spate passwd`"),
                ));
            }
        }
        if u.secret_hash.is_none() && u.cert.is_none() {
            p.push(Problem::new(
                at.clone(),
                "has neither secret_hash nor cert: it could never log in",
            ));
        }
        for (action, pat) in u.permissions.patterns() {
            if let Err(e) = crate::topics::validate_pattern(pat, max_len) {
                p.push(Problem::new(
                    format!("{at}.permissions.{action}"),
                    format!("{pat:?} is not a valid topic pattern: {e}"),
                ));
            }
        }
    }
    if let Err(e) = JwtKeys::load(&a.jwt) {
        p.push(Problem::new(e.field, format!("{}: {}", e.path, e.reason)));
    }
    if let Some(f) = &a.admin_token_file {
        match std::fs::read_to_string(f) {
            Ok(t) if t.lines().next().is_some_and(|l| !l.trim().is_empty()) => {}
            Ok(_) => p.push(Problem::new(
                "auth.admin_token_file",
                format!("{}: empty", f.display()),
            )),
            Err(e) => p.push(Problem::new(
                "auth.admin_token_file",
                format!("{}: {e}", f.display()),
            )),
        }
    }
    if a.admin_token.as_deref() == Some("") {
        p.push(Problem::new("auth.admin_token", "is empty"));
    }
    if a.admin_token_metrics && a.admin_token.is_none() && a.admin_token_file.is_none() {
        p.push(Problem::new(
            "auth.admin_token_metrics",
            "is true but no admin_token or admin_token_file is set",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::config::UserConfig;

    #[test]
    fn reports_bad_users_patterns_and_files() {
        let mut c = Config::default();
        c.auth.users = vec![
            UserConfig {
                name: "a:b".into(),
                secret_hash: Some("plain".into()),
                ..Default::default()
            },
            UserConfig {
                name: "x".into(),
                ..Default::default()
            },
        ];
        c.auth.users[1].permissions.publish.allow = vec!["a.>.b".into()];
        c.auth.jwt.hs256_key_file = Some("/nonexistent/key".into());
        let mut p = Vec::new();
        check(&c, &mut p);
        let fields: Vec<_> = p.iter().map(|p| p.field.as_str()).collect();
        for want in [
            "auth.users[0].name",
            "auth.users[0].secret_hash",
            "auth.users[1]",
            "auth.users[1].permissions.publish",
            "auth.jwt.hs256_key_file",
        ] {
            assert!(fields.contains(&want), "{want} missing from {fields:?}");
        }
    }
}
