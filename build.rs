//! Generates the table of embedded rule files: every `rules/**/*.toml` but `snippets.toml`,
//! `pairs.toml`, `products.toml`, `facts.toml` and `clients.toml`, sorted, as `include_str!`s. No parsing and no dependencies here: validation happens in the
//! library (`keydoctor rules lint`) and in `cargo test` (`embedded_rules_are_valid`).

// Cargo reads its directives from a build script's stdout: println! is the interface here.
#![allow(clippy::disallowed_macros)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

/// The commit being built and its date (`git`, when the sources are a checkout; `KEYDOCTOR_COMMIT`
/// when set, for builds from a tarball), for `--version`. Nothing when neither says.
fn commit(root: &Path) -> Option<String> {
    println!("cargo:rerun-if-env-changed=KEYDOCTOR_COMMIT");
    if let Ok(given) = std::env::var("KEYDOCTOR_COMMIT") {
        return Some(given).filter(|c| !c.trim().is_empty());
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    // A new commit moves HEAD or the branch it names: rebuild the version then.
    println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", dir.join(branch).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("packed-refs").display()
    );
    git(&["log", "-1", "--format=%h %cs", "--abbrev=12"]).filter(|c| !c.is_empty())
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    if let Some(commit) = commit(&root) {
        println!("cargo:rustc-env=KEYDOCTOR_COMMIT={commit}");
    }
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed=rules");
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    let mut code = String::from("pub(crate) static EMBEDDED_RULES: &[(&str, &str)] = &[\n");
    let mut snippets = String::from("\"\"");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let rel = file
            .strip_prefix(&rules)
            .expect("under rules/")
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "snippets.toml" {
            snippets = format!("include_str!({:?})", file.display().to_string());
            continue;
        }
        if rel == "pairs.toml"
            || rel == "products.toml"
            || rel == "facts.toml"
            || rel == "clients.toml"
        {
            // Cross-cluster symptom pairs (diagnosis::two_sided), products' keys
            // (diagnosis::products), facts' sentences (diagnosis::fact) and clients (rule::clients, included there): data, but not
            // rules.
            continue;
        }
        writeln!(
            code,
            "    ({rel:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .expect("write");
    }
    code.push_str("];\n");
    writeln!(
        code,
        "pub(crate) static EMBEDDED_SNIPPETS: &str = {snippets};"
    )
    .expect("write");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir")).join("embedded_rules.rs");
    std::fs::write(out, code).expect("write embedded_rules.rs");
}
