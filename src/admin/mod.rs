//! Operating a running broker, server side: the admin HTTP listener
//! ([`http`]) with Prometheus metrics ([`metrics`], read from running
//! totals), health and JSON stats over a [`StatsSource`]; and systemd
//! readiness/watchdog notifications ([`systemd`]). The client side —
//! `spate stats` and `spate info` reading this listener — lives with the
//! CLI (`cli/admin_http.rs`, `cli/stats_report.rs`).

pub mod http;
pub mod metrics;
pub mod source;
pub mod systemd;

pub use http::{router, serve};
pub use metrics::{install_global, Exporter};
pub use source::StatsSource;
