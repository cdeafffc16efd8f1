//! Secrets: Argon2id PHC hashes in the config, verified in constant time
//! (argon2's `verify_password` compares the derived hashes that way).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// A hash verified against when a user name is unknown, so an unknown
/// name costs the same time as a wrong secret.
const DUMMY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3BhdGUtZHVtbXktc2FsdA$0K7cW9k7b6lHCh7u0gqN2l1Xb7bJ3Vq7X0Zq1z8mZbE";

/// Hashes `secret` into a PHC string (Argon2id, default parameters, random
/// salt): what `spate passwd` prints.
pub fn hash_secret(secret: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(Argon2::default()
        .hash_password(secret.as_bytes(), &salt)?
        .to_string())
}

/// Checks that `phc` is a PHC hash string Argon2 can verify with.
pub fn check_hash(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    if !h.algorithm.as_str().starts_with("argon2") {
        return Err(format!("algorithm {} is not argon2", h.algorithm));
    }
    Ok(())
}

/// True when `secret` matches `phc`; `None` for `phc` verifies against a
/// dummy hash and returns false (same cost).
pub fn verify(secret: &str, phc: Option<&str>) -> bool {
    let ok = |p: &str| {
        PasswordHash::new(p)
            .map(|h| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    };
    match phc {
        Some(p) => ok(p),
        None => {
            let _ = ok(DUMMY);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_secret("s3cret").unwrap();
        assert!(check_hash(&h).is_ok());
        assert!(verify("s3cret", Some(&h)));
        assert!(!verify("wrong", Some(&h)));
        assert!(!verify("s3cret", None));
        assert!(check_hash("plain").is_err());
    }
}
