//! The `[auth]` section of the config file: whether clients must
//! authenticate, the users with their secret hashes, permissions and
//! limits, the keys JWTs are checked with, and the admin bearer token.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::permissions::PermissionSpec;

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Clients must authenticate. When false, a HELLO without a token is
    /// an anonymous client allowed everything (a token, if given, is still
    /// checked).
    pub required: bool,
    /// A failed authentication is answered after this delay (± 20%
    /// jitter), milliseconds.
    pub failure_delay_ms: u64,
    /// A connection whose token expires gets GOAWAY this many seconds
    /// before the expiry (or at once if its token lives shorter).
    pub expiry_notice_secs: u64,
    /// Keys JWTs are verified with.
    pub jwt: JwtConfig,
    /// Bearer token `GET /v1/stats` requires on the admin listener
    /// (unset: none). Prefer `admin_token_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    /// File holding the admin bearer token (first line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token_file: Option<PathBuf>,
    /// `/metrics` requires the admin bearer token too.
    pub admin_token_metrics: bool,
    /// Named users.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            required: false,
            failure_delay_ms: 500,
            expiry_notice_secs: 30,
            jwt: JwtConfig::default(),
            admin_token: None,
            admin_token_file: None,
            admin_token_metrics: false,
            users: Vec::new(),
        }
    }
}

/// `[auth.jwt]`: where the verification keys are. Each key set enables its
/// algorithm; a token signed with another is refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// File holding the HS256 shared key (raw bytes, trailing newline
    /// removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hs256_key_file: Option<PathBuf>,
    /// PEM file holding the Ed25519 public key (EdDSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ed25519_public_key_file: Option<PathBuf>,
    /// PEM file holding the RSA public key (RS256).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rs256_public_key_file: Option<PathBuf>,
}

impl JwtConfig {
    /// True when at least one key is configured.
    pub fn enabled(&self) -> bool {
        self.hs256_key_file.is_some()
            || self.ed25519_public_key_file.is_some()
            || self.rs256_public_key_file.is_some()
    }
}

/// `[[auth.users]]`: one named user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name (no `:`), as in `user:secret`.
    pub name: String,
    /// Argon2 PHC hash of the secret (`spate passwd` prints one). Unset:
    /// the user cannot log in with a secret (only with a certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
    /// TLS client-certificate identity (subject CN, else first DNS SAN)
    /// that logs in as this user without a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Most concurrent connections of this user (overrides
    /// `limits.max_connections_per_user`; 0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Messages per second this user may publish, all its connections
    /// together (overrides `rate_limits.publish_per_user`; 0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_per_sec: Option<u32>,
    /// What the user may do; an action left out permits nothing.
    #[serde(default)]
    pub permissions: PermissionSpec,
}
