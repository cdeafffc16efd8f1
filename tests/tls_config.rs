//! TLS settings through `spate config check` and `spate serve`: a TLS
//! listener needs a certificate and key, the files must load, plaintext
//! off needs another listener; good files pass.

mod tls_support;

use std::path::Path;
use std::process::{Command, Output};

use tls_support::pki;

fn spate(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SPATE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).output().expect("run spate")
}

/// `spate config check` on `text`: (success, stderr).
fn check(dir: &Path, text: &str) -> (bool, String) {
    let f = dir.join("spate.toml");
    std::fs::write(&f, text).unwrap();
    let out = spate(&["config", "check", f.to_str().unwrap()]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tls_settings_are_checked() {
    let pki = pki();
    let d = pki.dir.path();
    let (cert, key) = (pki.server.0.display(), pki.server.1.display());
    let good = format!(
        "[server]\ntls_listen = \"127.0.0.1:7443\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = \"{}\"\nclient_cert = \"optional\"\n",
        pki.ca.pem.display()
    );
    assert_eq!(check(d, &good), (true, String::new()));

    let (ok, err) = check(d, "[server]\ntls_listen = \"127.0.0.1:7443\"\n");
    assert!(!ok);
    assert!(err.contains("tls.cert") && err.contains("tls.key"), "{err}");

    let missing = format!("[server]\ntls_listen = \"127.0.0.1:7443\"\n[tls]\ncert = \"{cert}\"\nkey = \"{}/nope.key\"\n", d.display());
    let (ok, err) = check(d, &missing);
    assert!(!ok);
    assert!(err.contains("tls.key") && err.contains("nope.key"), "{err}");

    // A certificate where the key should be.
    let swapped = format!("[tls]\ncert = \"{cert}\"\nkey = \"{cert}\"\n");
    let (ok, err) = check(d, &swapped);
    assert!(!ok);
    assert!(err.contains("no usable private key"), "{err}");

    // The key of another certificate.
    let other_key = pki.alice.1.display();
    let (ok, err) = check(
        d,
        &format!("[tls]\ncert = \"{cert}\"\nkey = \"{other_key}\"\n"),
    );
    assert!(!ok, "a key that does not match the certificate");
    assert!(err.contains("tls.cert"), "{err}");

    let (ok, err) = check(d, "[tls]\nclient_cert = \"sometimes\"\n");
    assert!(!ok);
    assert!(err.contains("client_cert"), "{err}");

    let (ok, err) = check(d, "[server]\nplaintext_enabled = false\n");
    assert!(!ok);
    assert!(err.contains("plaintext_enabled"), "{err}");

    let (ok, err) = check(
        d,
        "[server]\nlisten = \"127.0.0.1:7411\"\ntls_listen = \"127.0.0.1:7411\"\n",
    );
    assert!(!ok);
    assert!(
        err.contains("server.tls_listen") && err.contains("already used by server.listen"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_tls_listener_without_its_files() {
    let out = spate(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-admin",
        "--tls-listen",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tls.cert"), "{err}");
}
