//! Server configuration: the settings tree ([`settings`]), where each value
//! comes from ([`flags`] and `SPATE_*` environment variables over a TOML
//! file over the defaults, merged by [`load`]), what makes a tree invalid
//! beyond its syntax ([`validate`]), and the commented default file that
//! ships as `packaging/spate.toml` ([`default_file`]).
//!
//! Precedence, highest first: command-line flag, `SPATE_*` environment
//! variable, config file, built-in default. The environment mapping is
//! listed in [`flags::ConfigFlags`] and in `packaging/README.md`.

pub mod default_file;
pub mod engine;
pub mod error;
pub mod flags;
pub mod load;
pub mod settings;
pub mod storage;
pub mod tls_flags;
pub mod tls_validate;
pub mod units;
pub mod validate;

pub use error::{ConfigError, ParseError, Problem};
pub use flags::ConfigFlags;
pub use load::{load, parse_str};
pub use settings::Config;
