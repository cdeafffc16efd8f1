//! Checks of the TLS settings (h-tls): a TLS listener needs a certificate
//! and key, the files must load (read, parse, match), at least one client
//! listener must be on, and the TLS listeners need addresses of their own.

use super::error::Problem;
use super::Config;

/// Appends the TLS problems of `cfg` to `p`.
pub fn check(cfg: &Config, p: &mut Vec<Problem>) {
    let s = &cfg.server;
    let tls_on = s.tls_listen.is_some() || s.wss_listen.is_some();
    if !s.plaintext_enabled && !tls_on && s.ws_listen.is_none() {
        p.push(Problem::new(
            "server.plaintext_enabled",
            "is false and no other client listener (tls_listen, ws_listen, wss_listen) is set",
        ));
    }
    let mut used = vec![("server.admin_listen", s.admin_listen)];
    if s.plaintext_enabled {
        used.push(("server.listen", s.listen));
    }
    if let Some(a) = s.ws_listen {
        used.push(("server.ws_listen", a));
    }
    for (field, addr) in [
        ("server.tls_listen", s.tls_listen),
        ("server.wss_listen", s.wss_listen),
    ] {
        let Some(addr) = addr.filter(|a| a.port() != 0) else {
            continue;
        };
        if let Some((other, _)) = used.iter().find(|(_, a)| *a == addr) {
            p.push(Problem::new(
                field,
                format!("{addr} is already used by {other}"),
            ));
        }
        used.push((field, addr));
    }
    let t = &cfg.tls;
    if tls_on {
        for (field, v) in [("tls.cert", &t.cert), ("tls.key", &t.key)] {
            if v.is_none() {
                p.push(Problem::new(
                    field,
                    "must be set when server.tls_listen or server.wss_listen is",
                ));
            }
        }
    }
    if t.cert.is_some() && t.key.is_some() {
        if let Err(e) = crate::tls::load_configs(t) {
            let field: &str = match &e {
                crate::tls::TlsError::Read { field, .. }
                | crate::tls::TlsError::Pem { field, .. } => field,
                _ => "tls.cert",
            };
            p.push(Problem::new(field, e.to_string()));
        }
    }
}
