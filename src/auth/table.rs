//! The compiled `[auth]` section, and how a HELLO's `auth_token` (or a
//! verified client certificate) becomes a [`Principal`] (protocol.md §5.6):
//!
//! - empty token: the user bound to the client certificate's identity, if
//!   any; else an anonymous client allowed everything when
//!   `auth.required = false`; else refused;
//! - a token of JWT form (`xxx.yyy.zzz`, base64url): verified with the
//!   configured keys; the user and permissions come from its claims;
//! - otherwise `user:secret`, split at the first `:`, checked against the
//!   user's Argon2 hash.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::jwt::{self, JwtError, JwtKeys};
use super::permissions::Permissions;
use super::users;
use crate::config::Config;

/// One configured user, compiled.
#[derive(Debug, Clone)]
struct User {
    name: Arc<str>,
    hash: Option<String>,
    cert: Option<String>,
    perms: Arc<Permissions>,
    max_connections: u32,
    publish_per_sec: u32,
}

/// How a principal proved who it is; kept so a reload can check it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No token, `auth.required = false`.
    Anonymous,
    /// `user:secret`, verified against this hash.
    Secret {
        /// The PHC hash it matched.
        hash: String,
    },
    /// A JWT (kept to verify it again with reloaded keys).
    Jwt {
        /// The token.
        token: Arc<str>,
    },
    /// A verified client certificate with this identity.
    Cert {
        /// Subject CN or first DNS SAN.
        identity: String,
    },
}

/// Who a connection is and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User name; `None` for an anonymous client.
    pub user: Option<Arc<str>>,
    /// What it may do.
    pub perms: Arc<Permissions>,
    /// When its token expires (JWT only).
    pub expires_at: Option<SystemTime>,
    /// How it authenticated.
    pub credential: Credential,
    /// Most concurrent connections of this user (0 = unlimited).
    pub max_connections: u32,
    /// Publishes per second for this user (0 = unlimited).
    pub publish_per_sec: u32,
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// Metrics label (`super::metrics::FAILURE_REASONS`).
    pub reason: &'static str,
    /// For the ERROR text and the log; never names which part was wrong
    /// beyond what the client already knows.
    pub message: String,
}

impl AuthFailure {
    fn new(reason: &'static str, message: impl Into<String>) -> AuthFailure {
        AuthFailure {
            reason,
            message: message.into(),
        }
    }

    /// True when the failure is an expired token (ERROR `TOKEN_EXPIRED`
    /// rather than `AUTH_FAILED`).
    pub fn is_expired(&self) -> bool {
        self.reason == "expired"
    }
}

/// The compiled `[auth]` section with the limits that go with it.
#[derive(Debug, Clone)]
pub struct AuthTable {
    /// Clients must authenticate.
    pub required: bool,
    /// Delay before a failed authentication is answered.
    pub failure_delay: Duration,
    /// How long before expiry a connection gets GOAWAY.
    pub expiry_notice: Duration,
    /// Admin bearer token, if any.
    pub admin_token: Option<String>,
    /// `/metrics` requires the admin token too.
    pub admin_token_metrics: bool,
    /// `limits.max_connections_per_ip` (0 = unlimited).
    pub max_connections_per_ip: u32,
    users: HashMap<Arc<str>, User>,
    by_cert: HashMap<String, Arc<str>>,
    jwt: JwtKeys,
    default_user_connections: u32,
    default_user_rate: u32,
}

impl AuthTable {
    /// No authentication: every client is anonymous and allowed everything.
    pub fn open() -> AuthTable {
        AuthTable {
            required: false,
            failure_delay: Duration::from_millis(500),
            expiry_notice: Duration::from_secs(30),
            admin_token: None,
            admin_token_metrics: false,
            max_connections_per_ip: 0,
            users: HashMap::new(),
            by_cert: HashMap::new(),
            jwt: JwtKeys::default(),
            default_user_connections: 0,
            default_user_rate: 0,
        }
    }

    /// Compiles `cfg`'s `[auth]` section, reading the key and token files it
    /// names. The config is expected to have passed validation.
    pub fn from_config(cfg: &Config) -> Result<AuthTable, String> {
        let a = &cfg.auth;
        let jwt = JwtKeys::load(&a.jwt).map_err(|e| e.to_string())?;
        let admin_token = match (&a.admin_token, &a.admin_token_file) {
            (_, Some(p)) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("auth.admin_token_file: {}: {e}", p.display()))?;
                let t = text.lines().next().unwrap_or("").trim().to_owned();
                if t.is_empty() {
                    return Err(format!("auth.admin_token_file: {}: empty", p.display()));
                }
                Some(t)
            }
            (Some(t), None) => Some(t.clone()),
            (None, None) => None,
        };
        let mut users = HashMap::new();
        let mut by_cert = HashMap::new();
        for u in &a.users {
            let name: Arc<str> = u.name.as_str().into();
            if let Some(c) = &u.cert {
                by_cert.insert(c.clone(), name.clone());
            }
            users.insert(
                name.clone(),
                User {
                    name,
                    hash: u.secret_hash.clone(),
                    cert: u.cert.clone(),
                    perms: Arc::new(Permissions::new(&u.permissions)),
                    max_connections: u
                        .max_connections
                        .unwrap_or(cfg.limits.max_connections_per_user),
                    publish_per_sec: u
                        .publish_per_sec
                        .unwrap_or(cfg.rate_limits.publish_per_user),
                },
            );
        }
        Ok(AuthTable {
            required: a.required,
            failure_delay: Duration::from_millis(a.failure_delay_ms),
            expiry_notice: Duration::from_secs(a.expiry_notice_secs),
            admin_token,
            admin_token_metrics: a.admin_token_metrics,
            max_connections_per_ip: cfg.limits.max_connections_per_ip,
            users,
            by_cert,
            jwt,
            default_user_connections: cfg.limits.max_connections_per_user,
            default_user_rate: cfg.rate_limits.publish_per_user,
        })
    }

    fn principal_of(&self, u: &User, credential: Credential) -> Principal {
        Principal {
            user: Some(u.name.clone()),
            perms: u.perms.clone(),
            expires_at: None,
            credential,
            max_connections: u.max_connections,
            publish_per_sec: u.publish_per_sec,
        }
    }

    fn anonymous() -> Principal {
        // One shared copy: every connection of an open broker is anonymous.
        static ALL: std::sync::OnceLock<Arc<Permissions>> = std::sync::OnceLock::new();
        Principal {
            user: None,
            perms: ALL.get_or_init(|| Arc::new(Permissions::all())).clone(),
            expires_at: None,
            credential: Credential::Anonymous,
            max_connections: 0,
            publish_per_sec: 0,
        }
    }

    /// True when `token` needs the (slow, blocking) Argon2 check: run
    /// [`Self::authenticate`] off the async workers then.
    pub fn needs_hashing(token: &str) -> bool {
        !token.is_empty() && !jwt::looks_like_jwt(token)
    }

    /// Authenticates a HELLO's `token`, with the identity of a verified
    /// client certificate if there is one.
    pub fn authenticate(&self, token: &str, cert: Option<&str>) -> Result<Principal, AuthFailure> {
        if token.is_empty() {
            if let Some(id) = cert {
                return match self.by_cert.get(id).and_then(|n| self.users.get(n)) {
                    Some(u) => Ok(self.principal_of(
                        u,
                        Credential::Cert {
                            identity: id.to_owned(),
                        },
                    )),
                    None if !self.required => Ok(Self::anonymous()),
                    None => Err(AuthFailure::new(
                        "unknown_cert",
                        "the client certificate names no user",
                    )),
                };
            }
            return if self.required {
                Err(AuthFailure::new(
                    "no_token",
                    "this server requires authentication: HELLO carried no auth_token",
                ))
            } else {
                Ok(Self::anonymous())
            };
        }
        if jwt::looks_like_jwt(token) {
            return self.check_jwt(token.into());
        }
        let Some((name, secret)) = token.split_once(':') else {
            // A server that does not require authentication ignores a
            // token in neither form, as v1 servers before authentication
            // did (protocol.md §5.6).
            if !self.required {
                return Ok(Self::anonymous());
            }
            return Err(AuthFailure::new(
                "malformed",
                "auth_token is neither a JWT nor user:secret",
            ));
        };
        let user = self.users.get(name);
        let hash = user.and_then(|u| u.hash.as_deref());
        if users::verify(secret, hash) {
            let u = user.expect("a hash implies a user");
            Ok(self.principal_of(
                u,
                Credential::Secret {
                    hash: hash.expect("verified").to_owned(),
                },
            ))
        } else {
            Err(AuthFailure::new(
                "bad_secret",
                "unknown user or wrong secret",
            ))
        }
    }

    fn check_jwt(&self, token: Arc<str>) -> Result<Principal, AuthFailure> {
        if self.jwt.is_empty() {
            return Err(AuthFailure::new(
                "bad_token",
                "this server accepts no JWTs (no key configured)",
            ));
        }
        let claims = self.jwt.verify(&token).map_err(|e| match e {
            JwtError::Expired => AuthFailure::new("expired", "token expired"),
            JwtError::Invalid(m) => AuthFailure::new("bad_token", m),
        })?;
        let user: Arc<str> = claims.sub.as_str().into();
        Ok(Principal {
            user: Some(user),
            perms: Arc::new(Permissions::new(&claims.spate)),
            expires_at: Some(UNIX_EPOCH + Duration::from_secs(claims.exp)),
            credential: Credential::Jwt { token },
            max_connections: self.default_user_connections,
            publish_per_sec: self.default_user_rate,
        })
    }

    /// Checks an authenticated principal again against this (reloaded)
    /// table: the same credential must still be accepted. Returns the
    /// principal with the permissions and limits now in force.
    pub fn reauthorize(&self, p: &Principal) -> Result<Principal, AuthFailure> {
        let gone = || {
            AuthFailure::new(
                "bad_secret",
                "credentials no longer accepted after a reload",
            )
        };
        match &p.credential {
            Credential::Anonymous if self.required => Err(AuthFailure::new(
                "no_token",
                "this server now requires authentication",
            )),
            Credential::Anonymous => Ok(Self::anonymous()),
            Credential::Jwt { token } => self.check_jwt(token.clone()),
            Credential::Secret { hash } => {
                let name = p.user.as_ref().ok_or_else(gone)?;
                match self.users.get(name) {
                    Some(u) if u.hash.as_deref() == Some(hash.as_str()) => {
                        Ok(self.principal_of(u, p.credential.clone()))
                    }
                    _ => Err(gone()),
                }
            }
            Credential::Cert { identity } => {
                let name = p.user.as_ref().ok_or_else(gone)?;
                match self.users.get(name) {
                    Some(u) if u.cert.as_deref() == Some(identity.as_str()) => {
                        Ok(self.principal_of(u, p.credential.clone()))
                    }
                    _ => Err(gone()),
                }
            }
        }
    }

    /// True when `token` is the admin bearer token (or none is set).
    pub fn admin_allows(&self, bearer: Option<&str>) -> bool {
        match &self.admin_token {
            None => true,
            Some(t) => bearer.is_some_and(|b| {
                // Constant time in the token's length.
                b.len() == t.len()
                    && b.bytes()
                        .zip(t.bytes())
                        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                        == 0
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::config::UserConfig;
    use crate::auth::permissions::{PermissionSpec, RuleSpec};

    fn cfg_with(users: Vec<UserConfig>, required: bool) -> Config {
        let mut c = Config::default();
        c.auth.required = required;
        c.auth.users = users;
        c
    }

    fn user(name: &str, secret: Option<&str>, cert: Option<&str>) -> UserConfig {
        UserConfig {
            name: name.into(),
            secret_hash: secret.map(|s| users::hash_secret(s).unwrap()),
            cert: cert.map(str::to_owned),
            permissions: PermissionSpec {
                publish: RuleSpec {
                    allow: vec!["a.>".into()],
                    deny: vec![],
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn cert_identity_maps_to_its_user_with_an_empty_token() {
        let t = AuthTable::from_config(&cfg_with(
            vec![user("svc", None, Some("svc.example"))],
            true,
        ))
        .unwrap();
        let p = t.authenticate("", Some("svc.example")).unwrap();
        assert_eq!(p.user.as_deref(), Some("svc"));
        assert!(p.perms.publish.permits_topic("a.b"));
        assert_eq!(
            t.authenticate("", Some("other")).unwrap_err().reason,
            "unknown_cert"
        );
        assert_eq!(t.authenticate("", None).unwrap_err().reason, "no_token");
    }

    #[test]
    fn an_explicit_token_wins_over_the_certificate() {
        let t = AuthTable::from_config(&cfg_with(
            vec![
                user("svc", None, Some("svc.example")),
                user("bob", Some("pw"), None),
            ],
            true,
        ))
        .unwrap();
        let p = t.authenticate("bob:pw", Some("svc.example")).unwrap();
        assert_eq!(p.user.as_deref(), Some("bob"));
    }

    #[test]
    fn secrets_and_reload() {
        let c = cfg_with(vec![user("bob", Some("pw"), None)], true);
        let t = AuthTable::from_config(&c).unwrap();
        let p = t.authenticate("bob:pw", None).unwrap();
        assert_eq!(
            t.authenticate("bob:nope", None).unwrap_err().reason,
            "bad_secret"
        );
        assert_eq!(
            t.authenticate("eve:pw", None).unwrap_err().reason,
            "bad_secret"
        );
        assert_eq!(
            t.authenticate("nocolon", None).unwrap_err().reason,
            "malformed"
        );
        // Same table: still fine. Hash changed: refused.
        assert!(t.reauthorize(&p).is_ok());
        let t2 =
            AuthTable::from_config(&cfg_with(vec![user("bob", Some("pw2"), None)], true)).unwrap();
        assert!(t2.reauthorize(&p).is_err());
    }

    #[test]
    fn admin_token_compare() {
        let mut t = AuthTable::open();
        assert!(t.admin_allows(None));
        t.admin_token = Some("tok".into());
        assert!(t.admin_allows(Some("tok")));
        assert!(!t.admin_allows(Some("tok2")));
        assert!(!t.admin_allows(None));
    }
}
