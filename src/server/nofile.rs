//! Raising the open-file limit at start: every client connection is a file
//! descriptor, and a process started from a shell or by systemd without
//! `LimitNOFILE` gets a soft limit of 1,024. Past it `accept` fails with
//! EMFILE, the accept loop backs off, the kernel's accept queue overflows
//! and connecting clients wait out SYN retransmits (1 s, then 3 s...).

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
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before: u64 = lim.rlim_cur;
    if lim.rlim_cur >= lim.rlim_max {
        return Ok(NofileLimit {
            before,
            now: before,
        });
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(NofileLimit {
        before,
        now: lim.rlim_cur,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let l = raise_to_hard().expect("getrlimit/setrlimit work on Linux");
        assert!(l.now >= l.before);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
        assert_eq!(lim.rlim_cur, l.now);
    }
}
