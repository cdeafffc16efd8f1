//! Admin HTTP listener: Prometheus metrics, health and stats (placeholder).
