//! JWTs signed by an application backend: HS256 with a shared key, EdDSA
//! (Ed25519) or RS256 with a public key, each read from a file named in
//! `[auth.jwt]`. Claims: `sub` (the user), `exp` (expiry, seconds since
//! the epoch) and `spate`, the permissions in the config's shape.

use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::config::JwtConfig;
use super::permissions::PermissionSpec;

/// The claims spate reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Permissions; absent = nothing permitted.
    #[serde(default)]
    pub spate: PermissionSpec,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Its `exp` has passed.
    #[error("token expired")]
    Expired,
    /// Bad signature, unknown algorithm, malformed, missing claims.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {path}: {reason}")]
pub struct KeyError {
    /// Config key.
    pub field: &'static str,
    /// File.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

/// The keys tokens are checked with.
#[derive(Clone, Default)]
pub struct JwtKeys {
    keys: Vec<(Algorithm, DecodingKey)>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algs: Vec<_> = self.keys.iter().map(|(a, _)| a).collect();
        f.debug_struct("JwtKeys")
            .field("algorithms", &algs)
            .finish()
    }
}

fn read(field: &'static str, path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| KeyError {
        field,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

impl JwtKeys {
    /// Reads and parses every key file `cfg` names.
    pub fn load(cfg: &JwtConfig) -> Result<JwtKeys, KeyError> {
        let mut keys = Vec::new();
        let bad = |field, path: &Path, e: jsonwebtoken::errors::Error| KeyError {
            field,
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(p) = &cfg.hs256_key_file {
            let f = "auth.jwt.hs256_key_file";
            let mut k = read(f, p)?;
            while k.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                k.pop();
            }
            if k.len() < 32 {
                return Err(KeyError {
                    field: f,
                    path: p.display().to_string(),
                    reason: "an HS256 key must be at least 32 bytes".into(),
                });
            }
            keys.push((Algorithm::HS256, DecodingKey::from_secret(&k)));
        }
        if let Some(p) = &cfg.ed25519_public_key_file {
            let f = "auth.jwt.ed25519_public_key_file";
            let k = DecodingKey::from_ed_pem(&read(f, p)?).map_err(|e| bad(f, p, e))?;
            keys.push((Algorithm::EdDSA, k));
        }
        if let Some(p) = &cfg.rs256_public_key_file {
            let f = "auth.jwt.rs256_public_key_file";
            let k = DecodingKey::from_rsa_pem(&read(f, p)?).map_err(|e| bad(f, p, e))?;
            keys.push((Algorithm::RS256, k));
        }
        Ok(JwtKeys { keys })
    }

    /// True when no key is configured (JWTs are refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `token`'s signature (with the key of its header's
    /// algorithm) and expiry (no leeway), and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Invalid(e.to_string()))?;
        let Some((alg, key)) = self.keys.iter().find(|(a, _)| *a == header.alg) else {
            return Err(JwtError::Invalid(format!(
                "algorithm {:?} is not accepted by this server",
                header.alg
            )));
        };
        let mut v = Validation::new(*alg);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        match jsonwebtoken::decode::<Claims>(token, key, &v) {
            Ok(d) => Ok(d.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(JwtError::Expired),
            Err(e) => Err(JwtError::Invalid(e.to_string())),
        }
    }
}

/// True when `token` has the form of a JWT: three non-empty base64url
/// parts separated by two dots.
pub fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_form() {
        assert!(looks_like_jwt("eyJ.eyJ.sig-_"));
        assert!(!looks_like_jwt("alice:secret"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b.c=d"));
    }
}
