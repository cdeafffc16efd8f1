//! One file per client request (in progress).
