#!/usr/bin/env bash
# Builds the spate .deb and checks it the way an operator would meet it:
# its file list (dpkg-deb -c), its control data (conffile, dependencies,
# maintainer scripts that create the user and start nothing), then an
# install into a scratch root (dpkg -x) and `spate --version`, `spate
# config check` and `systemd-analyze verify` run from the installed
# paths.
#
#   packaging/test-deb.sh            build + check in a scratch root
#   packaging/test-deb.sh --system   also `dpkg -i` it on this machine
#                                    (root only; CI machines), check the
#                                    user, the unit and that nothing was
#                                    enabled or started, then remove it
#
# Installs cargo-deb first if it is missing (cargo install --locked, into
# ~/.cargo/bin), and says so. Ends with "deb: N passed,
# M failed" and exits non-zero if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

system=no
[ "${1:-}" = "--system" ] && system=yes

passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        passed=$((passed + 1))
        echo "ok   $what"
    else
        failed=$((failed + 1))
        echo "FAIL $what"
    fi
}

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "installing cargo-deb into ~/.cargo/bin (cargo install cargo-deb --locked)"
    cargo install cargo-deb --locked
fi

deb=$(packaging/build-deb.sh | tail -n 1)
[ -f "$deb" ] || { echo "build-deb did not produce a package (got '$deb')" >&2; exit 1; }
echo "package: $deb"
version=$(grep -m1 '^version' Cargo.toml | sed 's/.*"\(.*\)".*/\1/')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Contents.
dpkg-deb -c "$deb" | tee "$work/contents"
has() { grep -Eq " \\./$1\$" "$work/contents"; }
check "binary at /usr/bin/spate" has "usr/bin/spate"
check "default config at /etc/spate/spate.toml" has "etc/spate/spate.toml"
check "systemd unit" has "(usr/)?lib/systemd/system/spate.service"
check "man page spate(1)" has "usr/share/man/man1/spate.1.gz"
check "man page spate-serve(1)" has "usr/share/man/man1/spate-serve.1.gz"
check "bash completion" has "usr/share/bash-completion/completions/spate"
check "zsh completion" has "usr/share/zsh/vendor-completions/_spate"
check "fish completion" has "usr/share/fish/vendor_completions.d/spate.fish"

# 2. Control data.
dpkg-deb -I "$deb" | tee "$work/info"
dpkg-deb -e "$deb" "$work/control"
check "config is a conffile" grep -qx "/etc/spate/spate.toml" "$work/control/conffiles"
check "depends on adduser" grep -Eq "^ Depends:.*adduser" "$work/info"
check "postinst creates the spate user" grep -q "adduser --system" "$work/control/postinst"
# cargo-deb's enable=false snippet re-enables only a unit that an admin
# had enabled before an upgrade ("debian-installed"); the enable=true one
# says "was-enabled defaults to true".
check "postinst does not enable the unit" bash -c "grep -q 'debian-installed' '$work/control/postinst' && ! grep -Eq 'was-enabled defaults to true|systemctl enable' '$work/control/postinst'"
check "postinst does not start the unit" bash -c "! grep -Eq 'deb-systemd-invoke (start|restart)|systemctl start' '$work/control/postinst'"
check "maintainer scripts parse" sh -n "$work/control/postinst"

# 3. Install into a scratch root and run it from there.
root="$work/root"
dpkg -x "$deb" "$root"
check "installed spate --version" bash -c "'$root/usr/bin/spate' --version | grep -qx 'spate $version'"
check "installed config passes spate config check" "$root/usr/bin/spate" config check "$root/etc/spate/spate.toml"
check "installed config equals spate config default" bash -c "'$root/usr/bin/spate' config default | cmp - '$root/etc/spate/spate.toml'"
unit=$(find "$root" -name spate.service | head -n 1)
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s#/usr/bin/spate#$root/usr/bin/spate#" "$unit" >"$work/spate.service"
    check "installed unit passes systemd-analyze verify" \
        bash -c "out=\$(systemd-analyze verify --man=no '$work/spate.service' 2>&1); echo \"\$out\"; ! echo \"\$out\" | grep -q spate.service"
else
    echo "skip systemd-analyze verify (systemd-analyze not installed)"
fi

# 4. Optionally, a real install on this machine.
if [ "$system" = yes ]; then
    dpkg -i "$deb"
    check "system: /usr/bin/spate --version" bash -c "/usr/bin/spate --version | grep -qx 'spate $version'"
    check "system: spate user exists" getent passwd spate
    check "system: unit installed" test -f /lib/systemd/system/spate.service -o -f /usr/lib/systemd/system/spate.service
    check "system: unit not enabled" test ! -e /etc/systemd/system/multi-user.target.wants/spate.service
    if command -v pgrep >/dev/null 2>&1; then
        check "system: nothing runs as the spate user" bash -c "! pgrep -u spate"
    fi
    dpkg -r spate
    check "system: removed, config kept until purge" test -f /etc/spate/spate.toml
    dpkg -P spate
fi

echo "deb: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
