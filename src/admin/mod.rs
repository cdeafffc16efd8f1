//! Operating a running broker: the admin HTTP listener ([`http`]) with
//! Prometheus metrics ([`metrics`]), health and JSON stats over a
//! [`StatsSource`]; the client side of it for `spate stats` ([`client`],
//! [`report`]); and systemd readiness/watchdog notifications ([`systemd`]).

pub mod client;
pub mod http;
pub mod metrics;
pub mod report;
pub mod source;
pub mod systemd;

pub use http::{router, serve};
pub use metrics::{install_global, Exporter};
pub use source::StatsSource;
