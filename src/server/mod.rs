//! Listener and connections (in progress).
