#!/usr/bin/env python3
"""Checks that the workspace's declared `rust-version` is true.

Two ways it can lie, both checked here from `cargo metadata`:
- a dependency (as resolved in Cargo.lock) declares a newer `rust-version`
  than ours, so our users' older compiler would fail on it;
- the declared version is newer than the compiler building it here.
Use of too-new std APIs in our own code is caught by clippy's
`incompatible_msrv` lint, which reads the same field.
"""
import json
import subprocess
import sys


def parse(v):
    return tuple(int(x) for x in v.split(".")) + (0,) * (3 - len(v.split(".")))


def host_triple():
    out = subprocess.check_output(["rustc", "-vV"], text=True)
    return next(l.split()[1] for l in out.splitlines() if l.startswith("host:"))


meta = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked",
         "--filter-platform", host_triple()], text=True
    )
)
members = set(meta["workspace_members"])
ours = {p["name"]: p.get("rust_version") for p in meta["packages"] if p["id"] in members}
declared = {v for v in ours.values()}
if None in declared or len(declared) != 1:
    sys.exit(f"every workspace crate must declare the same rust-version, got {ours}")
msrv = declared.pop()

# Only the packages actually resolved for a build (normal and build deps of
# our crates, transitively) matter; dev-dependencies do not reach users.
resolve = {n["id"]: n for n in meta["resolve"]["nodes"]}
pkgs = {p["id"]: p for p in meta["packages"]}
seen, todo = set(), list(members)
while todo:
    pid = todo.pop()
    if pid in seen:
        continue
    seen.add(pid)
    for dep in resolve[pid]["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if pid in members and kinds == {"dev"}:
            continue
        if kinds - {"dev"}:
            todo.append(dep["pkg"])

too_new = sorted(
    (pkgs[p]["name"], pkgs[p]["version"], pkgs[p]["rust_version"])
    for p in seen - members
    if pkgs[p].get("rust_version") and parse(pkgs[p]["rust_version"]) > parse(msrv)
)
rustc = subprocess.check_output(["rustc", "--version"], text=True).split()[1]
bad = False
if too_new:
    bad = True
    print(f"rust-version {msrv} is older than these dependencies need:")
    for name, ver, rv in too_new:
        print(f"  {name} {ver} needs {rv}")
if parse(msrv) > parse(rustc.split("-")[0]):
    bad = True
    print(f"rust-version {msrv} is newer than this rustc ({rustc})")
if bad:
    sys.exit(1)
print(f"rust-version {msrv}: every dependency builds with it ({len(seen - members)} checked); rustc {rustc}")
