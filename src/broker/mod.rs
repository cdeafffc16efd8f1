//! Shared broker state (in progress).
