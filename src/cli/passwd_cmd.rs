//! `spate passwd`: hash a secret for `[[auth.users]] secret_hash`. The
//! secret comes from standard input (first line), or is asked for twice
//! without echo when standard input is a terminal; the Argon2id PHC string
//! is printed on standard output.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;

/// Flags of `spate passwd`.
#[derive(Debug, clap::Args)]
pub struct PasswdArgs {
    /// User name: prints a ready `[[auth.users]]` block instead of the bare
    /// hash.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Reads the secret, prints its hash.
pub fn run(args: PasswdArgs) -> anyhow::Result<ExitCode> {
    let secret = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("secret: ").context("reading the secret")?;
        let b = rpassword::prompt_password("again: ").context("reading the secret")?;
        anyhow::ensure!(a == b, "the two entries differ");
        a
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    anyhow::ensure!(!secret.is_empty(), "the secret is empty");
    let hash = crate::auth::users::hash_secret(&secret)
        .map_err(|e| anyhow::anyhow!("hashing the secret: {e}"))?;
    let mut out = std::io::stdout().lock();
    match args.user {
        Some(name) => {
            anyhow::ensure!(!name.contains(':'), "a user name cannot contain ':'");
            writeln!(
                out,
                "[[auth.users]]\nname = {name:?}\nsecret_hash = {hash:?}"
            )?
        }
        None => writeln!(out, "{hash}")?,
    }
    Ok(ExitCode::SUCCESS)
}
