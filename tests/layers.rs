//! The files of `src/` form layers: no two of them import each other, directly or around a
//! loop. A file's imports are the modules it names through `crate::` paths and the modules that
//! define the items it names there (a `use crate::{Kernels, ..}` imports `handle.rs`, where
//! `Kernels` is defined); a child module using its parent (`super::`) is structure, not an
//! import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file below `dir`, as (module path, source without `//` comments).
fn modules(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            modules(&path, &format!("{prefix}{stem}::"), out);
        } else if path.extension().is_some_and(|e| e == "rs") && stem != "lib" {
            let name = if stem == "mod" {
                prefix.trim_end_matches("::").to_string()
            } else {
                format!("{prefix}{stem}")
            };
            let text = std::fs::read_to_string(&path).expect("a readable source file");
            let code: Vec<&str> = text
                .lines()
                .map(|l| l.split("//").next().unwrap())
                .collect();
            out.push((name, code.join("\n")));
        }
    }
}

fn identifier(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The items a module defines at its top level (`pub` or `pub(crate)`).
fn definitions(code: &str) -> Vec<&str> {
    let kinds = [
        "struct ", "enum ", "trait ", "fn ", "type ", "const ", "static ",
    ];
    code.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("pub(crate) ").or(l.strip_prefix("pub "))?;
            kinds
                .iter()
                .find_map(|k| rest.strip_prefix(k))
                .map(identifier)
        })
        .collect()
}

/// The first segments of every `crate::` path in `code`, with `use crate::{a, b::c}` groups
/// split into their members.
fn crate_paths(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            paths.extend(group.split(',').map(|m| m.trim().to_string()));
        } else {
            let seg = identifier(rest);
            let two = rest
                .strip_prefix(seg)
                .and_then(|r| r.strip_prefix("::"))
                .map(|r| format!("{seg}::{}", identifier(r)));
            paths.extend(two);
            paths.push(seg.to_string());
        }
    }
    paths
}

#[test]
fn no_two_files_of_src_import_each_other() {
    let mut files = Vec::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        "",
        &mut files,
    );
    let names: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mut defined: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, code) in &files {
        for item in definitions(code) {
            defined.entry(item).or_insert(name);
        }
    }
    let mut imports: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, code) in &files {
        for path in crate_paths(code) {
            let first = path.split("::").next().unwrap_or("").trim();
            let target = if let Some(&module) = names.get(path.as_str()) {
                Some(module)
            } else if names.contains(first) {
                names.get(first).copied()
            } else {
                defined.get(identifier(first)).copied()
            };
            if let Some(t) = target.filter(|&t| t != name && !name.starts_with(&format!("{t}::"))) {
                imports.entry(name).or_default().insert(t);
            }
        }
    }
    // A module that reaches itself sits on a loop.
    for &start in &names {
        let mut seen = BTreeSet::new();
        let mut stack = vec![(start, vec![start])];
        while let Some((m, trail)) = stack.pop() {
            for &next in imports.get(m).into_iter().flatten() {
                assert_ne!(
                    next,
                    start,
                    "src/ imports loop: {} -> {next}",
                    trail.join(" -> ")
                );
                if seen.insert(next) {
                    let mut t = trail.clone();
                    t.push(next);
                    stack.push((next, t));
                }
            }
        }
    }
    assert!(imports.len() > 5, "the scan found imports: {imports:?}");
}
