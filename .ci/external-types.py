#!/usr/bin/env python3
"""Checks which other crates' items appear in ctx's public API.

A type or trait of another crate that a public signature names (an argument,
a return type, a bound, a field, an associated type of a trait impl, the
trait of an impl on a ctx type, a re-export) ties ctx's semver to that
crate's: a major release of `http` is then a breaking release of ctx. This
check keeps that set deliberate. It reads the rustdoc JSON of the library,
walks everything reachable from the crate root the way a user can reach it,
collects each item whose crate is not ctx, std, core or alloc, and compares
the result with the allow-list `.ci/external-types.txt` (one fully qualified
item a line, as rustdoc names it where it is defined; `#` starts a comment).
It fails on an item used but not listed, and on a listed item no longer
used, so that the list stays the truth.

The JSON comes from the stable toolchain (the flag is unstable, so
RUSTC_BOOTSTRAP lets the ctx crate alone use it; doc lints are the doc
step's business, hence --cap-lints):

    RUSTC_BOOTSTRAP=ctx cargo rustdoc --lib --all-features -- \\
        -Z unstable-options --output-format json --cap-lints allow
    python3 .ci/external-types.py "${CARGO_TARGET_DIR:-target}/doc/ctx.json"

`--list` prints every external item with the ctx items that expose it
(to review a failure, or to write the list anew).

What is not counted: blanket impls that other crates give every type (`impl<T>
Instrument for T`), the auto-trait impls the compiler works out (`Send`,
`Sync`; an `impl Unpin` written by a macro is counted), and anything private
or `#[doc(hidden)]` (rustdoc leaves those out of the JSON). Macro bodies are
not types and are not looked into.
"""
import argparse
import json
import os
import sys

# The rustdoc JSON format this walker was written against (rustc 1.95).
# Another version is read all the same, after a warning; a kind of node this
# file does not know stops it with an error rather than being skipped, and a
# change that hid items would show as allowed items "no longer used".
KNOWN_FORMATS = {57}

IGNORED_CRATES = {"std", "core", "alloc"}


class FormatError(Exception):
    pass


def tag(node):
    """An externally tagged enum of the format: `"plain"` or `{"tuple": ...}`."""
    if isinstance(node, str):
        return node, None
    if isinstance(node, dict) and len(node) == 1:
        return next(iter(node.items()))
    raise FormatError(f"expected a tagged enum, found {str(node)[:200]}")


class Walker:
    def __init__(self, krate):
        self.index = krate["index"]
        self.paths = krate["paths"]
        self.crates = {int(k): v["name"] for k, v in krate["external_crates"].items()}
        self.root = krate["root"]
        # external item path -> {"crate", "kind", "by": set of ctx items}
        self.used = {}
        self.public_names = {}  # local id -> the path a user writes
        self.seen = set()
        self.queue = []
        self.unnameable = {}  # local ids reached only through a signature
        self.unresolved = {}  # paths rustdoc gives no item for -> users

    # ---- names -------------------------------------------------------

    def crate_of(self, crate_id):
        return "ctx" if crate_id == 0 else self.crates.get(crate_id, f"crate#{crate_id}")

    def local_name(self, item_id):
        key = str(item_id)
        if key in self.public_names:
            return self.public_names[key]
        summary = self.paths.get(key)
        if summary:
            return "::".join(summary["path"])
        item = self.index.get(key)
        return (item or {}).get("name") or f"#{item_id}"

    def type_name(self, ty):
        """A short rendering of a type, for the "used by" notes."""
        kind, v = tag(ty)
        if kind == "resolved_path":
            key = str(v["id"])
            summary = self.paths.get(key)
            if summary and summary["crate_id"] == 0:
                return self.local_name(v["id"])
            if summary:
                return "::".join(summary["path"])
            return v["path"]
        if kind == "generic":
            return v
        if kind == "primitive":
            return v
        if kind == "borrowed_ref":
            return "&" + ("mut " if v["is_mutable"] else "") + self.type_name(v["type"])
        if kind == "tuple":
            return "(" + ", ".join(self.type_name(t) for t in v) + ")"
        if kind == "slice":
            return "[" + self.type_name(v) + "]"
        return kind

    # ---- recording ---------------------------------------------------

    def refer(self, item_id, written, by):
        """A path in a signature points at `item_id`."""
        key = str(item_id)
        summary = self.paths.get(key)
        if summary is None:
            item = self.index.get(key)
            if item is not None and item["crate_id"] == 0:
                self.enqueue(item_id, None)
                return
            if item is None:
                # Neither summarised nor documented. rustdoc summarises every
                # other crate's item that it links to, so this is a private
                # item of ctx's own, like the `__Origin` struct that
                # pin-project-lite's macro declares inside a `const _`.
                self.unresolved.setdefault(written, set()).add(by)
                return
            summary = {"crate_id": item["crate_id"], "path": [written], "kind": "?"}
        crate = self.crate_of(summary["crate_id"])
        if summary["crate_id"] == 0:
            self.enqueue(item_id, None)
            return
        if crate in IGNORED_CRATES:
            return
        self.record("::".join(summary["path"]), crate, summary["kind"], by)

    def record(self, path, crate, kind, by):
        entry = self.used.setdefault(path, {"crate": crate, "kind": kind, "by": set()})
        entry["by"].add(by)

    def enqueue(self, item_id, name):
        key = str(item_id)
        if key in self.seen or key not in self.index:
            return
        if name is None and key not in self.public_names:
            self.unnameable.setdefault(key, self.local_name(item_id))
        self.queue.append(key)

    # ---- the public tree ---------------------------------------------

    def name_tree(self):
        """First pass: the path under which a user reaches each public item."""
        stack = [(str(self.root), "ctx")]
        named = set()
        while stack:
            key, name = stack.pop()
            if key in named:
                continue
            named.add(key)
            self.public_names.setdefault(key, name)
            item = self.index.get(key)
            if item is None:
                continue
            kind, v = tag(item["inner"])
            if kind == "module":
                for child in v["items"]:
                    c = self.index.get(str(child))
                    if c is None or c["visibility"] != "public":
                        continue
                    ckind, cv = tag(c["inner"])
                    if ckind == "use":
                        if cv["id"] is None:
                            continue
                        target = self.index.get(str(cv["id"]))
                        if target is None or target["crate_id"] != 0:
                            continue
                        if cv["is_glob"]:
                            stack.append((str(cv["id"]), name))  # contents land here
                        else:
                            stack.append((str(cv["id"]), f"{name}::{cv['name']}"))
                    else:
                        stack.append((str(child), f"{name}::{c['name']}"))

    def run(self):
        self.name_tree()
        self.public_names.pop(str(self.root), None)
        self.queue.append(str(self.root))
        self.public_names[str(self.root)] = "ctx"
        while self.queue:
            key = self.queue.pop()
            if key in self.seen:
                continue
            self.seen.add(key)
            self.item(key)

    # ---- items -------------------------------------------------------

    def item(self, key):
        item = self.index[key]
        name = self.local_name(key)
        kind, v = tag(item["inner"])
        if item["crate_id"] != 0:
            return  # an external trait's own items, documented for linking
        if kind == "module":
            for child in v["items"]:
                c = self.index.get(str(child))
                if c is not None and c["visibility"] == "public":
                    self.enqueue(child, True)
        elif kind == "use":
            if v["id"] is None:
                return  # a primitive
            target = str(v["id"])
            summary = self.paths.get(target)
            titem = self.index.get(target)
            crate_id = summary["crate_id"] if summary else (titem or {}).get("crate_id")
            if crate_id == 0:
                self.enqueue(v["id"], True)
            else:
                self.refer(v["id"], v["source"], f"{name} (re-export)")
        elif kind == "extern_crate":
            self.record(v["name"], v["name"], "crate", f"{name} (re-export)")
        elif kind in ("struct", "union"):
            self.generics(v["generics"], name)
            if kind == "struct":
                skind, sv = tag(v["kind"])
                if skind == "plain":
                    fields = sv["fields"]
                elif skind == "tuple":
                    fields = [f for f in sv if f is not None]
                elif skind == "unit":
                    fields = []
                else:
                    raise FormatError(f"unknown struct kind {skind}")
            else:
                fields = v["fields"]
            for f in fields:
                self.field(f, name)
            self.impls(v["impls"], name)
        elif kind == "enum":
            self.generics(v["generics"], name)
            for var in v["variants"]:
                vitem = self.index[str(var)]
                vname = f"{name}::{vitem['name']}"
                vkind, vv = tag(tag(vitem["inner"])[1]["kind"])
                if vkind == "plain":
                    fields = []
                elif vkind == "tuple":
                    fields = [f for f in vv if f is not None]
                elif vkind == "struct":
                    fields = vv["fields"]
                else:
                    raise FormatError(f"unknown variant kind {vkind}")
                for f in fields:
                    self.field(f, vname)
            self.impls(v["impls"], name)
        elif kind == "function":
            self.function(v, name)
        elif kind == "trait":
            self.generics(v["generics"], name)
            self.bounds(v["bounds"], f"{name} (supertrait)")
            for member in v["items"]:
                self.member(member, name)
            # Impls of a ctx trait, also for other crates' types.
            self.impls(v["implementations"], name)
        elif kind == "trait_alias":
            self.generics(v["generics"], name)
            self.bounds(v["params"], name)
        elif kind == "type_alias":
            self.generics(v["generics"], name)
            self.type(v["type"], name)
        elif kind in ("constant", "static", "struct_field", "assoc_const"):
            self.member(key, None)
        elif kind == "impl":
            self.impl(key, name)
        elif kind in ("macro", "proc_macro", "primitive", "extern_type"):
            pass
        elif kind in ("assoc_type",):
            self.member(key, None)
        else:
            raise FormatError(f"unknown item kind {kind}")

    def field(self, field_id, owner):
        f = self.index[str(field_id)]
        kind, ty = tag(f["inner"])
        if kind != "struct_field":
            raise FormatError(f"a field of {owner} is a {kind}")
        self.seen.add(str(field_id))
        self.type(ty, f"{owner}.{f['name']}")

    def member(self, member_id, owner):
        """A trait's or impl's item, or a constant/static/field on its own."""
        m = self.index[str(member_id)]
        self.seen.add(str(member_id))
        name = f"{owner}::{m['name']}" if owner else self.local_name(member_id)
        kind, v = tag(m["inner"])
        if kind == "function":
            self.function(v, name)
        elif kind == "assoc_type":
            self.generics(v["generics"], name)
            self.bounds(v["bounds"], name)
            if v["type"] is not None:
                self.type(v["type"], name)
        elif kind == "assoc_const":
            self.type(v["type"], name)
        elif kind in ("constant", "static"):
            self.type(v["type"], name)
        elif kind == "struct_field":
            self.type(v, name)
        else:
            raise FormatError(f"unknown member kind {kind} in {owner}")

    def impls(self, impl_ids, owner):
        for i in impl_ids:
            self.impl(str(i), owner)

    def impl(self, key, owner):
        item = self.index.get(key)
        if item is None:
            return
        self.seen.add(key)
        v = tag(item["inner"])[1]
        # Auto traits (Send, Unpin...) and other crates' blanket impls
        # (rustdoc copies `impl<T> Instrument for T` onto every type): not
        # something ctx wrote. ctx's own blanket impls are reached through
        # their trait's `implementations`, where `blanket_impl` is null.
        if v["is_synthetic"] or v["blanket_impl"] is not None or v["is_negative"]:
            return
        for_name = self.type_name(v["for"])
        if v["trait"] is not None:
            tpath = v["trait"]
            tsummary = self.paths.get(str(tpath["id"]))
            tname = "::".join(tsummary["path"]) if tsummary else tpath["path"]
            if tsummary and tsummary["crate_id"] == 0:
                tname = self.local_name(tpath["id"])
            label = f"<{for_name} as {tname}>"
            self.path(tpath, f"impl {tname} for {for_name}")
        else:
            label = for_name
        self.generics(v["generics"], f"impl of {label}")
        self.type(v["for"], f"impl of {label}")
        for member in v["items"]:
            m = self.index.get(str(member))
            if m is None:
                continue
            # An inherent impl's private items are not API; a trait impl's
            # items are all public through the trait.
            if v["trait"] is None and m["visibility"] != "public":
                continue
            self.member(member, label)

    # ---- signatures --------------------------------------------------

    def function(self, f, name):
        self.generics(f["generics"], name)
        self.signature(f["sig"], name)

    def signature(self, sig, name):
        for arg, ty in sig["inputs"]:
            self.type(ty, f"{name}({arg})")
        if sig["output"] is not None:
            self.type(sig["output"], f"{name} (return)")

    def generics(self, g, name):
        self.generic_params(g["params"], name)
        for pred in g["where_predicates"]:
            kind, v = tag(pred)
            if kind == "bound_predicate":
                self.type(v["type"], f"{name} (where)")
                self.bounds(v["bounds"], f"{name} (where)")
                self.generic_params(v["generic_params"], name)
            elif kind == "eq_predicate":
                self.type(v["lhs"], f"{name} (where)")
                self.term(v["rhs"], f"{name} (where)")
            elif kind == "lifetime_predicate":
                pass
            else:
                raise FormatError(f"unknown where predicate {kind}")

    def generic_params(self, params, name):
        for p in params:
            kind, v = tag(p["kind"])
            if kind == "type":
                self.bounds(v["bounds"], f"{name} (bound on {p['name']})")
                if v["default"] is not None:
                    self.type(v["default"], f"{name} (default of {p['name']})")
            elif kind == "const":
                self.type(v["type"], name)
            elif kind == "lifetime":
                pass
            else:
                raise FormatError(f"unknown generic parameter kind {kind}")

    def bounds(self, bounds, name):
        for b in bounds:
            kind, v = tag(b)
            if kind == "trait_bound":
                self.path(v["trait"], name)
                self.generic_params(v["generic_params"], name)
            elif kind in ("outlives", "use"):
                pass
            else:
                raise FormatError(f"unknown bound kind {kind}")

    def term(self, t, name):
        kind, v = tag(t)
        if kind == "type":
            self.type(v, name)
        elif kind == "constant":
            pass
        else:
            raise FormatError(f"unknown term kind {kind}")

    def path(self, p, name):
        self.refer(p["id"], p["path"], name)
        if p.get("args") is not None:
            self.generic_args(p["args"], name)

    def generic_args(self, args, name):
        kind, v = tag(args)
        if kind == "angle_bracketed":
            for a in v["args"]:
                akind, av = tag(a)
                if akind == "type":
                    self.type(av, name)
                elif akind in ("lifetime", "const", "infer"):
                    pass
                else:
                    raise FormatError(f"unknown generic argument kind {akind}")
            for c in v["constraints"]:
                if c["args"] is not None:
                    self.generic_args(c["args"], name)
                bkind, bv = tag(c["binding"])
                if bkind == "equality":
                    self.term(bv, name)
                elif bkind == "constraint":
                    self.bounds(bv, name)
                else:
                    raise FormatError(f"unknown constraint kind {bkind}")
        elif kind == "parenthesized":
            for t in v["inputs"]:
                self.type(t, name)
            if v["output"] is not None:
                self.type(v["output"], name)
        elif kind == "return_type_notation":
            pass
        else:
            raise FormatError(f"unknown generic arguments kind {kind}")

    def type(self, ty, name):
        kind, v = tag(ty)
        if kind == "resolved_path":
            self.path(v, name)
        elif kind == "dyn_trait":
            for poly in v["traits"]:
                self.path(poly["trait"], name)
                self.generic_params(poly["generic_params"], name)
        elif kind in ("generic", "primitive", "infer"):
            pass
        elif kind == "function_pointer":
            self.generic_params(v["generic_params"], name)
            self.signature(v["sig"], name)
        elif kind == "tuple":
            for t in v:
                self.type(t, name)
        elif kind == "slice":
            self.type(v, name)
        elif kind in ("array", "pat", "raw_pointer", "borrowed_ref"):
            self.type(v["type"], name)
        elif kind == "impl_trait":
            self.bounds(v, name)
        elif kind == "qualified_path":
            if v["args"] is not None:
                self.generic_args(v["args"], name)
            self.type(v["self_type"], name)
            if v["trait"] is not None:
                self.path(v["trait"], name)
        else:
            raise FormatError(f"unknown type kind {kind}")


def read_allowed(path):
    allowed, problems = {}, []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            if " " in entry or "\t" in entry:
                problems.append(f"{path}:{n}: one item a line: {entry!r}")
            elif entry in allowed:
                problems.append(f"{path}:{n}: {entry} is listed twice (line {allowed[entry]})")
            else:
                allowed[entry] = n
    return allowed, problems


def by_note(by, most=3):
    by = sorted(by)
    more = f" and {len(by) - most} more" if len(by) > most else ""
    return ", ".join(by[:most]) + more


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="rustdoc JSON of the ctx library (target/doc/ctx.json)")
    ap.add_argument("--allow", default=os.path.join(here, "external-types.txt"))
    ap.add_argument("--list", action="store_true", help="print every external item and its users")
    args = ap.parse_args()

    with open(args.json, encoding="utf-8") as f:
        krate = json.load(f)
    version = krate.get("format_version")
    if version not in KNOWN_FORMATS:
        print(
            f"warning: {args.json} is rustdoc JSON format {version}; this check was "
            f"written for {sorted(KNOWN_FORMATS)}",
            file=sys.stderr,
        )
    root = krate["index"][str(krate["root"])]
    if root["name"] != "ctx":
        sys.exit(f"{args.json} documents {root['name']}, not ctx")

    walker = Walker(krate)
    try:
        walker.run()
    except (FormatError, KeyError, TypeError) as e:
        sys.exit(
            f"error: could not read rustdoc JSON format {version} ({type(e).__name__}: {e}); "
            f"{os.path.basename(__file__)} needs updating for it"
        )
    used = walker.used

    crates = {}
    for path, e in used.items():
        crates.setdefault(e["crate"], []).append(path)

    if args.list:
        for crate in sorted(crates):
            print(f"# {crate}")
            for path in sorted(crates[crate]):
                e = used[path]
                print(f"{path}  # {e['kind']}: {by_note(e['by'], 4)}")
            print()
        if walker.unresolved:
            print("# paths that name no documented item (private to ctx):")
            for path, by in sorted(walker.unresolved.items()):
                print(f"#   {path}: {by_note(by)}")
        if walker.unnameable:
            print("# ctx items reached only through a signature (no public path):")
            for name in sorted(walker.unnameable.values()):
                print(f"#   {name}")
        return 0

    allowed, problems = read_allowed(args.allow)
    allow_name = os.path.relpath(args.allow)
    if allow_name.startswith(".."):
        allow_name = args.allow
    listed_crates = {p.split("::")[0] for p in allowed}
    missing = sorted(p for p in used if p not in allowed)
    stale = sorted(p for p in allowed if p not in used)

    print(
        f"{len(used)} external items from {len(crates)} crates in ctx's public API: "
        + ", ".join(f"{c} ({len(crates[c])})" for c in sorted(crates))
    )
    if walker.unresolved:
        print(
            "note: not counted, as they name no documented item (private to ctx): "
            + ", ".join(sorted(walker.unresolved))
        )
    for p in problems:
        print(f"error: {p}")
    if missing:
        print(f"error: used in the public API but not in {allow_name}:")
        for p in missing:
            e = used[p]
            new = "" if e["crate"] in listed_crates else "  [a crate not in the list yet]"
            print(f"  {p}  ({e['kind']}, used by {by_note(e['by'])}){new}")
    if stale:
        print(f"error: in {allow_name} but no longer used in the public API (remove them):")
        for p in stale:
            print(f"  {p}  (line {allowed[p]})")
    if missing or stale or problems:
        print(
            "An external item in a public signature makes that crate's major version part "
            "of ctx's. If that is meant, add the item; if not, hide it behind a ctx type. "
            f"`python3 {os.path.relpath(__file__)} JSON --list` shows each item's users."
        )
        return 1
    print(f"ok: the public API names exactly the items in {allow_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
