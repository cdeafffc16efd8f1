//! The load generator behind `spate bench` (placeholder).
