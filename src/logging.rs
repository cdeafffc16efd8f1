//! Log setup with tracing-subscriber (placeholder).
