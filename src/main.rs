//! The `spate` binary: a thin shell over [`spate::cli`].

fn main() -> std::process::ExitCode {
    match spate::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("spate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
