//! The `spate` binary: a thin shell over [`spate::cli`].

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match spate::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
