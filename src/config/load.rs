//! Loading configuration: TOML file, `SPATE_*` environment, CLI flags.
//! (Owned by the operations work; placeholder until then.)
