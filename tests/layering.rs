//! The crate's layering, read from its own source (ARCHITECTURE.md).
//!
//! Every module of `src/` belongs to a layer; a file may use only items of
//! its own layer or of the layers below it, the data model uses nothing of
//! the crate outside itself, and no two files depend on each other, however
//! indirectly. An item is followed through re-exports (`pub use`) to the
//! file that defines it, so a facade such as `trace/mod.rs` or `lib.rs`
//! adds no edge of its own.
//!
//! The reading is deliberately small: `use` trees and `crate::`/`super::`
//! paths in code (comments and doc examples are skipped), with inline
//! modules (`mod tests { .. }`) tracked by rustfmt's indentation.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer of each top-level module, bottom up. A new module must be
/// added here (the test fails until it is).
const LAYERS: &[(&str, u8)] = &[
    // 1. The data model.
    ("model", 1),
    // 2. The core.
    ("error", 2),
    ("key", 2),
    ("value", 2),
    ("context", 2),
    ("slot", 2),
    ("future", 2),
    ("scoped", 2),
    ("access", 2),
    ("carry", 2),
    ("carried", 2),
    ("wrap", 2),
    ("spawn", 2),
    ("thread", 2),
    ("budget", 2),
    ("deadline", 2),
    ("cancel", 2),
    ("signal", 2),
    // 3. The model in the current context.
    ("trace", 3),
    ("baggage", 3),
    ("call_id", 3),
    ("request_id", 3),
    // 4. Wire formats, then the HTTP layers, then integrations.
    ("propagation", 4),
    ("http", 5),
    // Integrations.
    ("spans", 6),
    ("otel", 6),
    ("logs", 6),
    ("rt_hooks", 6),
];

const LAYER_NAMES: [&str; 7] = [
    "",
    "the data model",
    "the core",
    "the model in the context",
    "propagation",
    "http",
    "an integration",
];

type ModPath = Vec<String>;

/// One source file: its module path and what it says.
struct File {
    path: PathBuf,
    module: ModPath,
    /// `use` paths and inline paths, each with the module it appears in
    /// (the file's, or an inline module's inside it).
    refs: Vec<(ModPath, Vec<String>)>,
    /// Re-exports: name → path, as written, relative to the file's module.
    reexports: BTreeMap<String, Vec<String>>,
    /// Inline modules declared in the file.
    inline_mods: BTreeSet<String>,
    /// `macro_rules!` macros the file defines.
    macros: BTreeSet<String>,
    /// Macros the file invokes (`name!`), with the line.
    macro_calls: Vec<String>,
    /// Imports the reading cannot follow, refused outright: glob imports of
    /// the crate root and glob re-exports.
    refused: Vec<String>,
}

#[test]
fn no_layer_imports_a_layer_above_it_and_no_files_form_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = read_tree(&root);
    let (problems, edges, by_module) = check(&files);
    assert!(
        by_module.len() > 20,
        "the source tree was not read: {} files",
        by_module.len()
    );
    assert!(
        problems.is_empty(),
        "layering:\n  {}",
        problems.join("\n  ")
    );
    // The check can fail: the core's edges to the model were seen.
    let context = by_module[&vec!["context".to_string()]];
    assert!(
        edges[&context]
            .iter()
            .any(|&t| files[t].module.first().map(String::as_str) == Some("model")),
        "no edge from the core to the model was seen: the reading is broken"
    );
}

type Edges = BTreeMap<usize, BTreeSet<usize>>;

/// The layering problems of `files`, the edges seen, and the files by
/// module.
fn check(files: &[File]) -> (Vec<String>, Edges, BTreeMap<ModPath, usize>) {
    let by_module: BTreeMap<ModPath, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        let Some(from_layer) = layer_of(&file.module, &mut problems, &file.path) else {
            continue;
        };
        for refused in &file.refused {
            problems.push(format!("{} {refused}", rel(&file.path)));
        }
        // What the file uses: paths resolved to their defining file, and
        // macros to the files that define a macro of that name.
        let mut targets: Vec<(usize, String)> = Vec::new();
        for (scope, path) in &file.refs {
            let Some(abs) = absolute(scope, path, files, &by_module) else {
                continue;
            };
            if let Some(target) = resolve(&abs, files, &by_module, 0) {
                targets.push((target, path.join("::")));
            }
        }
        for name in &file.macro_calls {
            for (target, f) in files.iter().enumerate() {
                if f.macros.contains(name) {
                    targets.push((target, format!("{name}!")));
                }
            }
        }
        for (target, shown) in targets {
            if target == i {
                continue;
            }
            let to = &files[target];
            let Some(to_layer) = layer_of(&to.module, &mut problems, &to.path) else {
                continue;
            };
            if to_layer > from_layer {
                problems.push(format!(
                    "{} ({}) uses `{shown}` from {} ({})",
                    rel(&file.path),
                    LAYER_NAMES[usize::from(from_layer)],
                    rel(&to.path),
                    LAYER_NAMES[usize::from(to_layer)],
                ));
            }
            if from_layer == 1 && to.module.first().map(String::as_str) != Some("model") {
                problems.push(format!(
                    "{} (the data model) uses `{shown}` from {}",
                    rel(&file.path),
                    rel(&to.path)
                ));
            }
            edges.entry(i).or_default().insert(target);
        }
    }
    for cycle in cycles(files.len(), &edges) {
        let names: Vec<String> = cycle.iter().map(|&i| rel(&files[i].path)).collect();
        problems.push(format!(
            "files that depend on each other: {}",
            names.join(", ")
        ));
    }
    (problems, edges, by_module)
}

/// The layer of a module; a module missing from `LAYERS` is a problem.
fn layer_of(module: &ModPath, problems: &mut Vec<String>, path: &Path) -> Option<u8> {
    let top = module.first()?; // lib.rs: the facade, in no layer
    match LAYERS.iter().find(|(name, _)| name == top) {
        Some(&(_, layer)) => Some(layer),
        None => {
            let p = format!("{} is in no layer: add `{top}` to LAYERS", rel(path));
            if !problems.contains(&p) {
                problems.push(p);
            }
            None
        }
    }
}

fn rel(path: &Path) -> String {
    let s = path.to_string_lossy();
    match s.find("/src/") {
        Some(i) => s[i + 1..].to_string(),
        None => s.into_owned(),
    }
}

fn read_tree(root: &Path) -> Vec<File> {
    let mut paths = Vec::new();
    walk(root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let module = module_of(root, &path);
            let text = fs::read_to_string(&path).expect("read a source file");
            parse(path, module, &text)
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(root: &Path, path: &Path) -> ModPath {
    let rel = path.strip_prefix(root).expect("under src/");
    let mut parts: ModPath = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a line: string and char literals blanked out, and without
/// a `//` comment.
fn code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_str = false;
                    out.push('"');
                }
                _ => out.push(' '),
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push('"');
            }
            '\'' => {
                // A char literal ('x', '\n', '"'), or a lifetime ('a).
                let rest: String = chars.clone().take(4).collect();
                let len = if rest.starts_with('\\') {
                    rest.find('\'').map(|i| i + 1)
                } else {
                    (rest.chars().nth(1) == Some('\'')).then_some(2)
                };
                match len {
                    Some(n) => {
                        for _ in 0..n {
                            chars.next();
                        }
                        out.push_str("' '");
                    }
                    None => out.push('\''),
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

/// Macro invocations in a line of code: `name!` followed by a delimiter.
fn macro_calls(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for (i, _) in code.match_indices('!') {
        let next = code[i + 1..].trim_start().chars().next();
        if !matches!(next, Some('(' | '[' | '{')) || bytes.get(i + 1) == Some(&b'=') {
            continue;
        }
        let start = code[..i]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |j| j + 1);
        let name = &code[start..i];
        if !name.is_empty() && name != "macro_rules" && !name.starts_with(char::is_numeric) {
            out.push(name.to_string());
        }
    }
    out
}

fn parse(path: PathBuf, module: ModPath, text: &str) -> File {
    let mut file = File {
        path,
        module: module.clone(),
        refs: Vec::new(),
        reexports: BTreeMap::new(),
        inline_mods: BTreeSet::new(),
        macros: BTreeSet::new(),
        macro_calls: Vec::new(),
        refused: Vec::new(),
    };
    // Inline modules: (indentation of `mod x {`, name).
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut pending_use: Option<(String, bool)> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if let Some((depth, _)) = open.last() {
            if trimmed == "}" && indent == *depth {
                open.pop();
                continue;
            }
        }
        let scope: ModPath = module
            .iter()
            .cloned()
            .chain(open.iter().map(|(_, n)| n.clone()))
            .collect();
        let code = code(trimmed);
        let code = code.as_str();
        if let Some(name) = code.trim_start().strip_prefix("macro_rules! ") {
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            file.macros.insert(name);
        }
        file.macro_calls.extend(macro_calls(code));
        if let Some((mut stmt, public)) = pending_use.take() {
            stmt.push(' ');
            stmt.push_str(code);
            if stmt.contains(';') {
                add_use(&mut file, &scope, &stmt, public && open.is_empty());
            } else {
                pending_use = Some((stmt, public));
            }
            continue;
        }
        if let Some(name) = inline_mod(code) {
            if open.is_empty() {
                file.inline_mods.insert(name.clone());
            }
            open.push((indent, name));
            continue;
        }
        if let Some((public, rest)) = use_stmt(code) {
            if rest.contains(';') {
                add_use(&mut file, &scope, rest, public && open.is_empty());
            } else {
                pending_use = Some((rest.to_string(), public));
            }
            continue;
        }
        for path in inline_paths(code) {
            file.refs.push((scope.clone(), path));
        }
    }
    file
}

/// `mod name {` (an inline module), any visibility.
fn inline_mod(code: &str) -> Option<String> {
    let rest = code.strip_suffix('{')?.trim_end();
    let rest = rest
        .strip_prefix("pub(crate) ")
        .or_else(|| rest.strip_prefix("pub "))
        .unwrap_or(rest);
    let name = rest.strip_prefix("mod ")?;
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then(|| name.to_string())
}

/// `use ...;`: whether it re-exports, and the tree.
fn use_stmt(code: &str) -> Option<(bool, &str)> {
    if let Some(rest) = code.strip_prefix("use ") {
        return Some((false, rest));
    }
    for vis in ["pub use ", "pub(crate) use ", "pub(super) use "] {
        if let Some(rest) = code.strip_prefix(vis) {
            return Some((true, rest));
        }
    }
    None
}

fn add_use(file: &mut File, scope: &ModPath, stmt: &str, public: bool) {
    let tree = stmt.split(';').next().unwrap_or("");
    let tokens = tokenize(tree);
    let mut out = Vec::new();
    expand(&tokens, &mut 0, Vec::new(), &mut out);
    for (path, alias) in out {
        if path.last().map(String::as_str) == Some("*") {
            let shown = path.join("::");
            if public {
                file.refused
                    .push(format!("re-exports a glob (`{shown}`): name the items"));
            } else if path.len() == 2 && path[0] == "crate" {
                file.refused.push(format!(
                    "imports the crate root's glob (`{shown}`): name the items"
                ));
            }
        }
        if public {
            let name = alias.or_else(|| path.last().cloned());
            if let Some(name) = name.filter(|n| n != "*" && n != "self") {
                file.reexports.insert(name, path.clone());
            }
        }
        let path: Vec<String> = path.into_iter().filter(|s| s != "*").collect();
        file.refs.push((scope.clone(), path));
    }
}

fn tokenize(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        match c {
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                tokens.push("::".into());
            }
            '{' | '}' | ',' | '*' => tokens.push(c.to_string()),
            _ => {}
        }
    }
    if !word.is_empty() {
        tokens.push(word);
    }
    tokens
}

/// Expands a use tree into its paths, each with its alias.
fn expand(
    tokens: &[String],
    i: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix;
    while *i < tokens.len() {
        let t = tokens[*i].as_str();
        *i += 1;
        match t {
            "::" => {}
            "{" => {
                loop {
                    expand(tokens, i, path.clone(), out);
                    match tokens.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            break;
                        }
                        _ => break,
                    }
                    if tokens.get(*i).map(String::as_str) == Some("}") {
                        *i += 1;
                        break;
                    }
                }
                return;
            }
            "," | "}" => {
                *i -= 1;
                break;
            }
            "as" => {
                let alias = tokens.get(*i).cloned();
                *i += 1;
                out.push((path, alias));
                return;
            }
            "self" if !path.is_empty() => {}
            word => path.push(word.to_string()),
        }
    }
    if !path.is_empty() {
        out.push((path, None));
    }
}

/// `crate::a::b` and `super::a` paths written in code.
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            from = at + start.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut path = vec![start.trim_end_matches("::").to_string()];
            let mut rest = &code[from..];
            loop {
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    break;
                }
                path.push(rest[..len].to_string());
                rest = &rest[len..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            out.push(path);
        }
    }
    out
}

/// The absolute module path `path` names from `scope`, or `None` for a
/// path outside the crate.
fn absolute(
    scope: &ModPath,
    path: &[String],
    files: &[File],
    by_module: &BTreeMap<ModPath, usize>,
) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => scope.clone(),
        "super" => {
            let mut s = scope.clone();
            s.pop()?;
            s
        }
        name => {
            // A child module of the scope (`mod b3;` then `b3::X`).
            let mut child = scope.clone();
            child.push(name.to_string());
            let is_child = by_module.contains_key(&child)
                || by_module
                    .get(scope)
                    .is_some_and(|&f| files[f].inline_mods.contains(name));
            if !is_child {
                return None;
            }
            return Some(child.into_iter().chain(path[1..].iter().cloned()).collect());
        }
    };
    let mut rest = &path[1..];
    while rest.first().map(String::as_str) == Some("super") {
        base.pop()?;
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file defining the item `abs` names, through re-exports.
fn resolve(
    abs: &[String],
    files: &[File],
    by_module: &BTreeMap<ModPath, usize>,
    depth: usize,
) -> Option<usize> {
    if depth > 16 {
        return None;
    }
    // The deepest file module on the path.
    let mut n = abs.len();
    let file = loop {
        if let Some(&f) = by_module.get(&abs[..n].to_vec()) {
            break f;
        }
        n = n.checked_sub(1)?;
    };
    let Some(item) = abs.get(n) else {
        return Some(file); // the module itself (`use crate::slot;`)
    };
    match files[file].reexports.get(item) {
        Some(target) => {
            let scope = files[file].module.clone();
            let mut next = absolute(&scope, target, files, by_module)?;
            next.extend(abs[n + 1..].iter().cloned());
            if next == abs {
                return Some(file);
            }
            resolve(&next, files, by_module, depth + 1).or(Some(file))
        }
        None => Some(file),
    }
}

/// The circles of the graph (its strongly connected components of more
/// than one file), by Tarjan's algorithm.
fn cycles(n: usize, edges: &BTreeMap<usize, BTreeSet<usize>>) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        let targets: Vec<usize> = s.edges.get(&v).into_iter().flatten().copied().collect();
        for w in targets {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort_unstable();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_reading_sees_use_trees_and_inline_paths() {
    let file = parse(
        PathBuf::from("src/x/y.rs"),
        vec!["x".into(), "y".into()],
        "use crate::a::{b, c::{d, e as f}, self};\n\
         pub use super::g::H;\n\
         use crate::m::{\n    N,\n    O,\n};\n\
         fn f() { crate::p::q(); let s = \"http://x\"; } // crate::not\n\
         #[cfg(test)]\n\
         mod tests {\n    use super::*;\n}\n",
    );
    let paths: Vec<String> = file.refs.iter().map(|(_, p)| p.join("::")).collect();
    for want in [
        "crate::a::b",
        "crate::a::c::d",
        "crate::a::c::e",
        "crate::a",
        "super::g::H",
        "crate::m::N",
        "crate::m::O",
        "crate::p::q",
        "super",
    ] {
        assert!(paths.contains(&want.to_string()), "{want} in {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.contains("not")), "{paths:?}");
    assert_eq!(file.reexports["H"], ["super", "g", "H"]);
    assert!(file.inline_mods.contains("tests"));
    // `use super::*` inside `mod tests` is relative to the inline module.
    let (scope, _) = file.refs.iter().find(|(_, p)| p == &["super"]).unwrap();
    assert_eq!(scope, &["x", "y", "tests"]);

    let mut edges = BTreeMap::new();
    edges.insert(0, BTreeSet::from([1]));
    edges.insert(1, BTreeSet::from([2]));
    edges.insert(2, BTreeSet::from([0]));
    edges.insert(3, BTreeSet::from([0]));
    assert_eq!(cycles(4, &edges), vec![vec![0, 1, 2]]);
}

/// The problems `check` finds in a tree of (path under `src/`, text).
fn problems_of(tree: &[(&str, &str)]) -> Vec<String> {
    let root = Path::new("/crate/src");
    let files: Vec<File> = tree
        .iter()
        .map(|(path, text)| {
            let path = root.join(path);
            let module = module_of(root, &path);
            parse(path, module, text)
        })
        .collect();
    check(&files).0
}

/// A small crate shaped like this one: a facade re-exporting a layer-3
/// function at the root (as `lib.rs` does `trace_id`), a core file, the
/// model and http.
fn tree_with_core(core: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "lib.rs",
            "mod model;\nmod context;\npub mod trace;\npub mod http;\n\
             pub use trace::trace_id;\n",
        ),
        ("model/mod.rs", "pub struct TraceId;\n"),
        (
            "trace/mod.rs",
            "use crate::model::TraceId;\npub fn trace_id() -> Option<TraceId> { None }\n",
        ),
        ("http/mod.rs", "pub struct ContextLayer;\n"),
        ("context.rs", core),
    ]
}

#[test]
fn the_check_fails_on_a_use_of_a_higher_layer() {
    let problems = problems_of(&tree_with_core(
        "use crate::model::TraceId;\nuse crate::http::ContextLayer;\n",
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problems = problems_of(&tree_with_core("fn f() { let _ = crate::trace_id(); }\n"));
    assert_eq!(problems.len(), 1, "through the facade: {problems:?}");
}

#[test]
fn a_glob_import_of_the_crate_root_does_not_hide_a_higher_layer() {
    // `use crate::*;` then a bare name the facade re-exports from layer 3:
    // the same edge as `crate::trace_id()` above.
    let problems = problems_of(&tree_with_core(
        "use crate::*;\nfn f() { let _ = trace_id(); }\n",
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn a_string_holding_two_slashes_does_not_hide_the_rest_of_its_line() {
    let problems = problems_of(&tree_with_core(
        "fn f() { let _url = \"http://x\"; let _ = crate::http::ContextLayer; }\n",
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn a_macro_of_a_higher_layer_used_by_the_core_is_an_edge() {
    // http's macros declared first, so the core may invoke them (textual
    // scope): the core then depends on http as surely as through a `use`.
    let problems = problems_of(&[
        (
            "lib.rs",
            "#[macro_use]\npub mod http;\nmod model;\nmod context;\n",
        ),
        ("model/mod.rs", "pub struct TraceId;\n"),
        (
            "http/mod.rs",
            "#[macro_use]\nmod macros;\npub struct ContextLayer;\n",
        ),
        (
            "http/macros.rs",
            "macro_rules! layer {\n    () => {\n        $crate::http::ContextLayer\n    };\n}\n",
        ),
        ("context.rs", "fn f() {\n    let _ = layer!();\n}\n"),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn files_that_use_each_other_are_a_circle() {
    let problems = problems_of(&[
        ("lib.rs", "mod model;\npub mod http;\n"),
        ("model/mod.rs", "pub struct TraceId;\n"),
        ("http/mod.rs", "mod body;\nmod log;\n"),
        ("http/body.rs", "use super::log::emit;\npub struct Body;\n"),
        ("http/log.rs", "pub fn emit(_: &super::body::Body) {}\n"),
    ]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("depend on each other"), "{problems:?}");
}
