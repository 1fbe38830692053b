#!/usr/bin/env python3
"""Checks the library's Rust floor against its dependencies.

`rust-version` in Cargo.toml is the oldest compiler the library (not its
tests) is meant for. No older compiler is run here; what is checked is that
every crate the library depends on, with every feature on, as locked in
Cargo.lock, declares a `rust-version` at or below ctx's. (Clippy's
`incompatible_msrv` lint, run by `.ci/run`, checks ctx's own use of the
standard library against the same version.)

    python3 .ci/msrv.py
"""
import json
import subprocess
import sys


def version(v):
    # Three parts, so that "1.85" and "1.85.0" compare equal.
    parts = [int(p) for p in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    floor = packages[root].get("rust_version")
    if not floor:
        sys.exit("Cargo.toml declares no rust-version")
    # The library's dependencies: normal (and build) edges only, transitively.
    seen, stack = set(), [root]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"} and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    above = sorted(
        (packages[i]["name"], packages[i]["version"], packages[i]["rust_version"])
        for i in seen
        if packages[i].get("rust_version")
        and version(packages[i]["rust_version"]) > version(floor)
    )
    highest = max(
        (version(packages[i]["rust_version"]), packages[i]["name"])
        for i in seen
        if packages[i].get("rust_version")
    )
    print(
        f"rust-version {floor}: {len(seen)} dependencies of the library, "
        f"the highest floor {'.'.join(map(str, highest[0]))} ({highest[1]})"
    )
    if above:
        for name, ver, rv in above:
            print(f"  {name} {ver} needs Rust {rv}")
        sys.exit(f"dependencies need a newer Rust than rust-version = {floor}")


if __name__ == "__main__":
    main()
