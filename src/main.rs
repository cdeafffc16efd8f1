//! The `spate` binary: a thin shell over [`spate::cli`].

#![forbid(unsafe_code)]

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    match spate::cli::run() {
        Ok(code) => code,
        Err(e) if spate::cli::is_closed_output(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spate: {}", spate::cli::error_text(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
