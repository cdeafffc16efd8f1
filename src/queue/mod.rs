//! Per-subscription queues (in progress).
