//! The module rules of `../shared/ARCHITECTURE.md`, checked on the source: which top-level
//! module may name which (`crate::` paths, `use crate::{…}` groups), that `model/` and
//! `secret/` (the reading of credentials and their redaction, which the event stage and the
//! output guard share) name none, and that no command file in `src/cli/` names another.
//!
//! Edges the house still has would be listed in `KNOWN`, each with the step that removes it; a
//! new edge fails, and so does a listed edge that is gone (shrink the list).

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::root;

/// (consumer, producer): never.
const FORBIDDEN: &[(&str, &str)] = &[
    ("cli", "event"),
    ("report", "event"),
    ("report", "source"),
    ("report", "cluster"),
    ("report", "rule"),
    ("source", "rule"),
    ("source", "diagnosis"),
    ("event", "diagnosis"),
    ("rule", "diagnosis"),
    ("cluster", "diagnosis"),
    ("diagnosis", "cluster"),
    ("diagnosis", "cli"),
    ("pipeline", "cli"),
    // The commands' own modules beside the diagnosis make no calls and know no face; the stages
    // below them know no command.
    ("checks", "cluster"),
    ("lifecycle", "cluster"),
    ("diagnosis", "checks"),
    ("diagnosis", "lifecycle"),
    ("rule", "checks"),
    ("rule", "lifecycle"),
    ("event", "checks"),
    ("event", "lifecycle"),
    ("source", "checks"),
    ("source", "lifecycle"),
    ("cluster", "checks"),
    ("cluster", "lifecycle"),
];

/// The crate's top-level modules.
const MODULES: &[&str] = &[
    "checks",
    "cli",
    "cluster",
    "diagnosis",
    "event",
    "lifecycle",
    "model",
    "pipeline",
    "report",
    "rule",
    "scan",
    "source",
];

/// The command files of `src/cli/`.
const COMMANDS: &[&str] = &[
    "doctor", "expiring", "explain", "impact", "key", "rotate", "rules", "scan",
];

/// Edges still in the code, as `file → module` (or `file → cli/<command>`), and why they stay.
/// Empty since the pipeline took the shared pieces of the commands (issue 16, step 2): a new
/// entry needs its reason and the step that removes it.
const KNOWN: &[&str] = &[];

/// The code of a file without its comments (a doc comment may name any path).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a piece of code names through `crate::`.
fn named_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 0usize;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(ch);
                }
            }
            out.insert(first_segment(&item));
        } else {
            out.insert(first_segment(after));
        }
        rest = after;
    }
    out.retain(|m| MODULES.contains(&m.as_str()));
    out
}

fn first_segment(s: &str) -> String {
    s.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `path` from the repository root, with `/` between its parts.
fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every edge the module rules forbid, as `file → module` / `file → cli/<command>`.
fn edges() -> BTreeSet<String> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = BTreeSet::new();
    for path in files {
        let rel = relative(&path);
        let Some(module) = path
            .strip_prefix(&src)
            .unwrap()
            .components()
            .next()
            .filter(|_| path.parent() != Some(src.as_path()))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
        else {
            continue; // lib.rs, main.rs, error.rs: the crate's root
        };
        let code = code(&std::fs::read_to_string(&path).unwrap());
        for named in named_modules(&code) {
            if named == module {
                continue;
            }
            // The two bottom modules name no other: the vocabulary and the reading of secrets.
            let forbidden = module == "model"
                || module == "secret"
                || (named == "cli" && module != "cli")
                || FORBIDDEN.contains(&(module.as_str(), named.as_str()));
            if forbidden {
                found.insert(format!("{rel} → {named}"));
            }
        }
        if module == "cli" {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if COMMANDS.contains(&stem.as_str()) {
                for other in COMMANDS.iter().filter(|c| **c != stem) {
                    if code.contains(&format!("super::{other}::"))
                        || code.contains(&format!("crate::cli::{other}::"))
                    {
                        found.insert(format!("{rel} → cli/{other}"));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn the_module_rules_hold_except_for_the_listed_edges() {
    let found = edges();
    let known: BTreeSet<String> = KNOWN.iter().map(|s| (*s).to_string()).collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "edges the module rules forbid (../shared/ARCHITECTURE.md):\n{}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        gone.is_empty(),
        "listed edges that are gone: take them out of KNOWN:\n{}",
        gone.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_edge_reader_sees_paths_and_groups() {
    let names = named_modules(&code(
        "use crate::{event::Document, model::{Class, Severity}, report};\nlet x = crate::source::read(p); // crate::cli::run",
    ));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(names, ["event", "model", "report", "source"]);
    assert!(named_modules(&code("// crate::cli::run")).is_empty());
}

/// Fields of the diagnosis and of the commands' results where a `&'static str` still stands in
/// for an enum or for words, with why they stay (issue 16, steps 3 and 4).
const STRING_FIELDS: &[&str] = &[
    // Open sets the products define, kept as they write them: a realm's type (custom realms
    // are plugins) and a product key's `metadata.type` (Fleet's `access`, `output`, …).
    "src/event/key_metadata.rs: pub realm_type: Option<String>,",
    "src/lifecycle/impact.rs: pub kind: Option<String>,",
    // An audit line's transport action (`indices:data/write/bulk[s]`): Elasticsearch has
    // hundreds, and plugins add more; its audit event's own action is `model::AuditAction`.
    "src/event/audit.rs: pub request_action: Option<String>,",
    // The same open set: the action a `can` request is evaluated for, a replayed one, and
    // the action of a "granted by" list the atlas disagrees with.
    "src/diagnosis/atlas.rs: pub action: String,",
    "src/lifecycle/can.rs: pub action: String,",
    "src/lifecycle/replay.rs: pub action: String,",
    // Names, not members of a set: a rule problem's diagnostic code (`keydoctor::rule::<code>`,
    // one per kind of mistake, grown with the checks), an atlas file's name, and the stable
    // code of a doctor decision (what a check rule binds to, like a rule id).
    "src/rule/compile.rs: pub code: &'static str,",
    "src/rule/atlas.rs: pub file: &'static str,",
    "src/rule/check.rs: pub code: &'static str,",
];

/// In the diagnosis, the commands' results and the records they read (`src/diagnosis/`,
/// `src/event/`, `src/model/`), a typed value is an enum of `model/`, not a string compared
/// later: no new `pub` field of type `&'static str`, nor a `String` named as one of a set.
#[test]
fn no_string_stands_in_for_an_enum_in_the_diagnosis() {
    let mut files = Vec::new();
    for dir in [
        "src/diagnosis",
        "src/event",
        "src/model",
        "src/rule",
        "src/lifecycle",
        "src/checks",
    ] {
        rust_files(&root().join(dir), &mut files);
    }
    let mut found = BTreeSet::new();
    for path in files {
        let rel = relative(&path);
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let t = line.trim();
            let Some(rest) = t.strip_prefix("pub ") else {
                continue;
            };
            let Some((name, ty)) = rest.split_once(": ") else {
                continue;
            };
            let bare = ty
                .trim_end_matches(',')
                .replace("Option<", "")
                .replace("Vec<", "");
            // A name that says "one of a set" (a type, kind, state, side, verdict, class) held
            // as a `String` is an enum in disguise too.
            let enum_named = [
                "_type", "kind", "state", "side", "verdict", "class", "action", "mode",
            ]
            .iter()
            .any(|s| name.ends_with(s));
            if name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && (bare.starts_with("&'static str") || (enum_named && bare.starts_with("String")))
            {
                found.insert(format!("{rel}: {t}"));
            }
        }
    }
    let known: BTreeSet<String> = STRING_FIELDS.iter().map(|s| (*s).to_string()).collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty(),
        "fields of type &'static str (make them enums in model/):\n{new:#?}"
    );
    assert!(
        gone.is_empty(),
        "listed fields that are gone: take them out:\n{gone:#?}"
    );
}

/// A finding holds typed parts (what was denied, what was seen, the key) and typed facts; the
/// god struct of sentences and strings is gone for good.
#[test]
fn a_finding_has_typed_parts_and_no_details_struct() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .any(|l| l.trim_start().starts_with("pub struct Details"))
        })
        .map(|p| relative(p))
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}

/// A command has the same file name in `cli/`, in its module and in `report/`; `explain` and
/// `scan` run the pipeline (`pipeline/<name>.rs`), `rules` is the rule engine's face.
#[test]
fn a_command_has_one_name_in_cli_its_module_and_report() {
    let src = root().join("src");
    let mut missing = Vec::new();
    for command in COMMANDS {
        let cli = src.join(format!("cli/{command}.rs"));
        let places: Vec<std::path::PathBuf> = match *command {
            "explain" | "scan" => vec![src.join(format!("pipeline/{command}.rs"))],
            "rules" => vec![src.join("rule/mod.rs")],
            "doctor" => vec![src.join("checks/doctor.rs"), src.join("report/doctor.rs")],
            other => vec![
                src.join(format!("lifecycle/{other}.rs")),
                src.join(format!("report/{other}.rs")),
            ],
        };
        for p in std::iter::once(cli).chain(places) {
            if !p.is_file() {
                missing.push(relative(&p));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
}

/// Renderers redact nothing field by field: the one writer redacts every line on the way out,
/// and `report::fill` redacts prose before wrapping it (the only other call in `report/`).
#[test]
fn report_redacts_in_the_writer_and_before_wrapping_only() {
    let mut files = Vec::new();
    rust_files(&root().join("src/report"), &mut files);
    let mut calls = Vec::new();
    for path in files {
        let text = code(&std::fs::read_to_string(&path).unwrap());
        let n = text.matches("redact(").count();
        if n > 0 {
            calls.push(format!("{} ({n})", relative(&path)));
        }
    }
    calls.sort();
    assert_eq!(
        calls,
        ["src/report/mod.rs (1)", "src/report/redacting.rs (1)"],
        "a renderer redacts on its own: let the writer do it"
    );
}

/// Renderers and the face build no JSON by hand: every JSON output is a wire struct
/// (`report/json.rs`, `report/<command>.rs`, `rule/show.rs` for `rules list`), so its fields
/// and their order are written once and typed.
#[test]
fn report_builds_no_json_by_hand() {
    let mut files = vec![root().join("src/rule/show.rs")];
    rust_files(&root().join("src/report"), &mut files);
    rust_files(&root().join("src/cli"), &mut files);
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // The renderers' own code, not their tests.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code = code(text);
        for needle in ["json!", "serde_json::Map", "Map<String, Value>"] {
            if code.contains(needle) {
                found.push(format!("{}: {needle}", relative(&path)));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}
