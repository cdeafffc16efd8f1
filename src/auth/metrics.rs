//! Counters of failed authentications and refused requests, rendered on
//! `/metrics` as `spate_auth_failures_total{reason}` and
//! `spate_auth_refusals_total{reason}`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why an authentication failed (the `reason` label).
pub const FAILURE_REASONS: [&str; 6] = [
    "no_token",
    "malformed",
    "bad_secret",
    "bad_token",
    "expired",
    "unknown_cert",
];

/// Why a request or connection was refused (the `reason` label).
pub const REFUSAL_REASONS: [&str; 6] = [
    "publish",
    "subscribe",
    "state",
    "ip_connections",
    "user_connections",
    "publish_rate",
];

/// Running counts.
#[derive(Debug, Default)]
pub struct AuthCounters {
    failures: [AtomicU64; FAILURE_REASONS.len()],
    refusals: [AtomicU64; REFUSAL_REASONS.len()],
}

fn bump(names: &[&str], cells: &[AtomicU64], reason: &str) {
    if let Some(i) = names.iter().position(|n| *n == reason) {
        cells[i].fetch_add(1, Relaxed);
    }
}

impl AuthCounters {
    /// Counts a failed authentication (`reason` from [`FAILURE_REASONS`]).
    pub fn failed(&self, reason: &str) {
        bump(&FAILURE_REASONS, &self.failures, reason);
    }

    /// Counts a refusal (`reason` from [`REFUSAL_REASONS`]).
    pub fn refused(&self, reason: &str) {
        bump(&REFUSAL_REASONS, &self.refusals, reason);
    }

    /// A copy of the counts, for rendering.
    pub fn figures(&self) -> AuthFigures {
        AuthFigures {
            failures: std::array::from_fn(|i| self.failures[i].load(Relaxed)),
            refusals: std::array::from_fn(|i| self.refusals[i].load(Relaxed)),
        }
    }
}

/// A copy of [`AuthCounters`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthFigures {
    /// By [`FAILURE_REASONS`].
    pub failures: [u64; FAILURE_REASONS.len()],
    /// By [`REFUSAL_REASONS`].
    pub refusals: [u64; REFUSAL_REASONS.len()],
}

impl AuthFigures {
    /// Appends the two counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let mut one = |name: &str, help: &str, names: &[&str], vals: &[u64]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (n, v) in names.iter().zip(vals) {
                let _ = writeln!(out, "{name}{{reason=\"{n}\"}} {v}");
            }
        };
        one(
            "spate_auth_failures_total",
            "Failed client authentications, by reason.",
            &FAILURE_REASONS,
            &self.failures,
        );
        one(
            "spate_auth_refusals_total",
            "Requests and connections refused by permissions or per-user/per-IP limits, by reason.",
            &REFUSAL_REASONS,
            &self.refusals,
        );
    }
}
