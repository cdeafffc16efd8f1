//! Server configuration: the settings tree ([`settings`]) and how it is
//! loaded from file, environment and flags ([`load`]).

pub mod load;
pub mod settings;

pub use settings::Config;
