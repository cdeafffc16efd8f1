//! The `spate` binary: a thin shell over [`spate::cli`], and the one place
//! that chooses the global allocator.
//!
//! `unsafe` is denied here as in every crate of spate (the library forbids
//! it outright); the single exception is [`mimalloc_purge`]'s call into
//! the allocator the binary itself links.

#![deny(unsafe_code)]

use std::time::Duration;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// How often mimalloc is asked to return freed memory to the OS.
const PURGE_EVERY: Duration = Duration::from_millis(500);

/// mimalloc gives freed memory back to the OS a purge delay (1 s) after it
/// was freed, but only when some thread next calls into the allocator with
/// purging allowed; a broker gone quiet after a flood would keep it all. A
/// small thread asks for the purge twice a second (with nothing to purge
/// the call returns at once). Measured in benches/README.md ("Idle
/// connections"): RSS 5 s after 10,000 connections closed, 430 → 35 MiB.
#[cfg(feature = "mimalloc")]
#[allow(unsafe_code)]
fn mimalloc_purge() {
    extern "C" {
        fn mi_collect(force: bool);
    }
    let spawned = std::thread::Builder::new()
        .name("spate-purge".into())
        .spawn(|| loop {
            std::thread::sleep(PURGE_EVERY);
            // SAFETY: mi_collect (mimalloc's own symbol, linked as this
            // binary's allocator) takes no pointers and may be called from
            // any thread at any time.
            unsafe { mi_collect(false) };
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the allocator purge thread");
    }
}

fn main() -> std::process::ExitCode {
    #[cfg(feature = "mimalloc")]
    let _ = spate::cli::serve::ALLOCATOR_PURGE.set(mimalloc_purge);
    match spate::cli::run() {
        Ok(code) => code,
        Err(e) if spate::cli::is_closed_output(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spate: {}", spate::cli::error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
