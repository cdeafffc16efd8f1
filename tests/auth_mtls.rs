//! Mutual TLS mapped to a user, end to end: a client whose verified
//! certificate names a user (`users[].cert`) is that user without a token,
//! with that user's permissions; a certificate naming no user, or none at
//! all, is refused when authentication is required.

mod auth_support;
mod common;
mod tls_support;

use auth_support::allow;
use spate::auth::{PermissionSpec, UserConfig};
use spate::config::settings::ClientCertMode;
use spate_client::{Client, Publication};
use tls_support::*;

/// `alice` may publish to `alice.>` only; her certificate's CN is "alice".
fn config(pki: &Pki) -> spate::config::Config {
    let mut cfg = tls_config(pki);
    cfg.tls.client_ca = Some(pki.ca.pem.clone());
    cfg.tls.client_cert = ClientCertMode::Optional;
    cfg.auth.required = true;
    cfg.auth.failure_delay_ms = 50;
    cfg.auth.users = vec![UserConfig {
        name: "alice".into(),
        cert: Some("alice".into()),
        permissions: PermissionSpec {
            publish: allow(&["alice.>"]),
            ..Default::default()
        },
        ..Default::default()
    }];
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_logs_in_as_its_user_with_that_users_permissions() {
    let pki = pki();
    let srv = start_tls(config(&pki)).await;
    let addr = srv.tls.unwrap().to_string();

    let c = Client::connect(addr.clone(), client_opts(&pki.ca.pem, Some(&pki.alice)))
        .await
        .expect("alice's certificate is her login");
    c.publish_acked(Publication::new("alice.notes", "mine"))
        .await
        .expect("alice may publish to alice.>");
    let e = c
        .publish_acked(Publication::new("bob.notes", "not mine"))
        .await
        .expect_err("alice may not publish to bob.>");
    assert!(e.to_string().contains("NOT_AUTHORIZED"), "{e}");

    // No certificate and no token: nobody, refused.
    let e = match Client::connect(addr.clone(), client_opts(&pki.ca.pem, None)).await {
        Ok(c) => c
            .publish_acked(Publication::new("alice.notes", "x"))
            .await
            .expect_err("an anonymous client is refused"),
        Err(e) => e,
    };
    assert!(e.to_string().contains("AUTH_FAILED"), "{e}");
    srv.stop().await;
}
