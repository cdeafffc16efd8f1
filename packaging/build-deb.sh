#!/usr/bin/env bash
# Builds the spate Debian package: the release binary, then the man pages
# and shell completions generated from its own CLI definition (the hidden
# `spate generate` command), then `cargo deb`. Prints the .deb's path as
# the last line. Extra arguments go to cargo deb (e.g. --deb-revision 2).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "build-deb: cargo-deb is not installed; run: cargo install cargo-deb --locked" >&2
    exit 1
fi

assets=target/deb-assets
rm -rf "$assets"
cargo build --release
spate() { cargo run --release --quiet -- "$@"; }
spate generate man --dir "$assets/man"
for shell in bash zsh fish; do
    spate generate completions "$shell" --dir "$assets/completions"
done
cargo deb --no-build --strip "$@" | tail -n 1
