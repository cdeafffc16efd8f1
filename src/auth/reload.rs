//! Applying a new configuration's users, permissions and limits to a
//! running broker (SIGHUP, `systemctl reload spate`). The new table is
//! compiled first; if that fails, the old one stays in force. Once it is
//! swapped in, every connection checks itself against it (see
//! `server::auth_events`): a connection whose credentials are no longer
//! accepted is closed with AUTH_FAILED, a subscription no longer permitted
//! is ended with ERROR NOT_AUTHORIZED, everything else carries on.

use super::{Auth, AuthTable};
use crate::config::Config;

/// Compiles `cfg`'s auth section and puts it in force on `auth`.
/// On error nothing changes.
pub fn apply(auth: &Auth, cfg: &Config) -> Result<(), String> {
    let table = AuthTable::from_config(cfg)?;
    let users = cfg.auth.users.len();
    auth.replace(table);
    tracing::info!(
        users,
        required = cfg.auth.required,
        "reloaded users, permissions and limits"
    );
    Ok(())
}
