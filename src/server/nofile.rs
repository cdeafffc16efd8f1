//! Raising the open-file limit at start: every client connection is a file
//! descriptor, and a process started from a shell or by systemd without
//! `LimitNOFILE` gets a soft limit of 1,024. Past it `accept` fails with
//! EMFILE, the accept loop backs off, the kernel's accept queue overflows
//! and connecting clients wait out SYN retransmits (1 s, then 3 s...).

use rlimit::Resource;

/// The soft `RLIMIT_NOFILE` before and after [`raise_to_hard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// Soft limit found at start.
    pub before: u64,
    /// Soft limit now (the hard limit, if raising it worked).
    pub now: u64,
}

/// Raises the soft open-file limit to the hard limit (which an
/// unprivileged process may do). Never lowers it.
pub fn raise_to_hard() -> std::io::Result<NofileLimit> {
    let (soft, hard) = Resource::NOFILE.get()?;
    if soft >= hard {
        return Ok(NofileLimit {
            before: soft,
            now: soft,
        });
    }
    Resource::NOFILE.set(hard, hard)?;
    Ok(NofileLimit {
        before: soft,
        now: hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let l = raise_to_hard().expect("getrlimit/setrlimit work on Linux");
        assert!(l.now >= l.before);
        let (soft, hard) = Resource::NOFILE.get().unwrap();
        assert_eq!(soft, hard);
        assert_eq!(soft, l.now);
    }
}
