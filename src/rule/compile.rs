//! Raw rule files → validated, compiled [`Rule`]s, collecting every problem as a miette
//! diagnostic that points into the rule file (cargo-deny's `ValidationContext` habit).
//!
//! - **In**: rule file texts with their paths (embedded and from `--rules DIR`), `snippets.toml`.
//! - **Out**: a [`RuleSet`], or a [`RuleSetError`] listing every problem with file, span and help.
//! - **Never**: stop at the first problem, or panic on a bad file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use regex::{Regex, RegexBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use toml::Spanned;

use super::schema::{RuleFile, SnippetFile, StepFile};
use super::template::{Placeholder, Template};
use super::{
    Candidate, Example, Reference, Rule, RuleSet, Scope, Step, CAPTURE_VOCABULARY,
    DERIVED_VARIABLES,
};
use crate::event::parse_input;
use crate::model::{CandidateKind, Class, RuleClass, Severity, Version};
use crate::source::Input;

/// Largest compiled size a rule regex may have.
const REGEX_SIZE_LIMIT: usize = 2 << 20;
/// Tags a rule may require (credential formats and sites; metadata presence).
const TAG_PREFIXES: &[&str] = &["credential:", "metadata:"];

/// One problem in one rule file.
#[derive(Debug)]
pub struct RuleProblem {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub label: String,
    pub span: Option<SourceSpan>,
    pub file: String,
    pub src: NamedSource<String>,
    pub warning: bool,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for RuleProblem {}

impl Diagnostic for RuleProblem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("keydoctor::rule::{}", self.code)))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span.map(|_| &self.src as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.map(|span| {
            Box::new(std::iter::once(LabeledSpan::new_with_span(
                Some(self.label.clone()),
                span,
            ))) as Box<dyn Iterator<Item = LabeledSpan>>
        })
    }
}

/// Every problem found while loading a rule set.
#[derive(Debug)]
pub struct RuleSetError {
    pub problems: Vec<RuleProblem>,
}

impl fmt::Display for RuleSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.problems.iter().filter(|p| !p.warning).count();
        write!(f, "{errors} problem(s) in rule files")
    }
}

impl std::error::Error for RuleSetError {}

impl Diagnostic for RuleSetError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("keydoctor::rule::invalid"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(
            "rules/README.md describes every field; `keydoctor rules lint DIR` checks a directory",
        ))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

/// A rule file's text and where it came from.
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// Shown in diagnostics: `rules/expired/x.toml (embedded)` or the path.
    pub label: String,
    /// `<class>/<id>.toml` relative path, used for the directory and stem checks.
    pub relative: String,
    pub text: String,
}

/// The embedded set, compiled once per process (when it compiles without warnings).
static EMBEDDED_SET: OnceLock<Arc<RuleSet>> = OnceLock::new();

/// Load the embedded rules, plus every rule under `extra` (overriding by id).
/// Warnings (e.g. a rule without prefilter literals) are returned with the set.
pub fn load(extra: Option<&Path>) -> Result<(Arc<RuleSet>, Vec<RuleProblem>), RuleSetError> {
    if extra.is_none() {
        if let Some(set) = EMBEDDED_SET.get() {
            return Ok((Arc::clone(set), Vec::new()));
        }
    }
    let (set, warnings) = load_uncached(extra)?;
    let set = Arc::new(set);
    if extra.is_none() && warnings.is_empty() {
        let _ = EMBEDDED_SET.set(Arc::clone(&set));
    }
    Ok((set, warnings))
}

fn load_uncached(extra: Option<&Path>) -> Result<(RuleSet, Vec<RuleProblem>), RuleSetError> {
    let mut sources: Vec<RuleSource> = super::embedded::EMBEDDED_RULES
        .iter()
        .map(|(rel, text)| RuleSource {
            label: format!("rules/{rel} (embedded)"),
            relative: (*rel).to_string(),
            text: (*text).to_string(),
        })
        .collect();
    let mut snippet_sources = vec![RuleSource {
        label: "rules/snippets.toml (embedded)".into(),
        relative: "snippets.toml".into(),
        text: super::embedded::EMBEDDED_SNIPPETS.to_string(),
    }];
    let mut problems = Vec::new();
    let mut overrides = BTreeSet::new();
    let mut custom_clients = None;
    if let Some(dir) = extra {
        match read_dir_sources(dir) {
            Ok((rules, snippets, clients)) => {
                for source in &rules {
                    overrides.insert(source.relative.clone());
                }
                sources.extend(rules);
                snippet_sources.extend(snippets);
                custom_clients = clients;
            }
            Err(message) => problems.push(RuleProblem {
                code: "unreadable-dir",
                message,
                help: Some("--rules takes a directory laid out as <class>/<id>.toml".into()),
                label: String::new(),
                span: None,
                file: dir.display().to_string(),
                src: NamedSource::new(dir.display().to_string(), String::new()),
                warning: false,
            }),
        }
    }
    // The embedded clients are compiled once per process (a problem in them is a test
    // failure: `clients::tests`); a rules directory's own are compiled here, with problems.
    let mut clients = super::embedded_clients();
    if let Some(custom) = &custom_clients {
        clients = super::clients::merge(clients, compile_clients(custom, &mut problems));
    }
    // doctor's checks (`checks/<id>.toml`) are rules of their own kind.
    let custom_start = super::embedded::EMBEDDED_RULES.len();
    let (check_sources, rule_sources): (Vec<_>, Vec<_>) = sources
        .into_iter()
        .enumerate()
        .partition(|(_, s)| s.relative.starts_with("checks/"));
    let custom_start = rule_sources
        .iter()
        .filter(|(i, _)| *i < custom_start)
        .count();
    let check_sources: Vec<RuleSource> = check_sources.into_iter().map(|(_, s)| s).collect();
    let rule_sources: Vec<RuleSource> = rule_sources.into_iter().map(|(_, s)| s).collect();
    let mut check_notes = Vec::new();
    let checks = super::check::compile_checks(&check_sources, &mut problems, &mut check_notes);
    compile_sources(&rule_sources, custom_start, &snippet_sources, problems).map(|(mut set, w)| {
        set.clients = clients;
        set.checks = checks;
        set.notes.extend(check_notes);
        (set, w)
    })
}

/// A clients file's entries; each problem becomes a `bad-client` error of that file.
fn compile_clients(
    source: &RuleSource,
    problems: &mut Vec<RuleProblem>,
) -> Vec<super::clients::ClientSpec> {
    match super::clients::compile(&source.text) {
        Ok(specs) => specs,
        Err(found) => {
            for message in found {
                problems.push(problem(
                    source,
                    "bad-client",
                    message,
                    None,
                    "here",
                    Some("see the head of rules/clients.toml for the fields".into()),
                ));
            }
            Vec::new()
        }
    }
}

/// Compile rule sources; sources from `custom_start` on override earlier ones with the same id.
pub fn compile_sources(
    sources: &[RuleSource],
    custom_start: usize,
    snippet_sources: &[RuleSource],
    mut problems: Vec<RuleProblem>,
) -> Result<(RuleSet, Vec<RuleProblem>), RuleSetError> {
    let snippets = compile_snippets(snippet_sources, &mut problems);
    let mut rules: Vec<Rule> = Vec::new();
    let mut notes = Vec::new();
    let mut seen_custom: BTreeMap<String, String> = BTreeMap::new();
    let mut seen_embedded: BTreeMap<String, String> = BTreeMap::new();
    for (idx, source) in sources.iter().enumerate() {
        let Some(rule) = compile_rule(source, &snippets, &mut problems) else {
            continue;
        };
        let custom = idx >= custom_start;
        let seen = if custom {
            &mut seen_custom
        } else {
            &mut seen_embedded
        };
        if let Some(first) = seen.insert(rule.id.clone(), source.label.clone()) {
            problems.push(problem(
                source,
                "duplicate-rule-id",
                format!("rule id `{}` is already defined in {first}", rule.id),
                None,
                "duplicate id",
                Some("ids are unique within a rule directory; rename one of them".into()),
            ));
            continue;
        }
        if let Some(pos) = rules.iter().position(|r| r.id == rule.id) {
            notes.push(format!("rule {} overridden by {}", rule.id, source.label));
            rules[pos] = rule;
        } else {
            rules.push(rule);
        }
    }
    if problems.iter().any(|p| !p.warning) {
        return Err(RuleSetError { problems });
    }
    let mut set = RuleSet::new(rules, notes);
    set.snippets = snippets;
    Ok((set, problems))
}

/// A rules directory's rule files, snippets and clients file.
type DirSources = (Vec<RuleSource>, Vec<RuleSource>, Option<RuleSource>);

fn read_dir_sources(dir: &Path) -> Result<DirSources, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut rules = Vec::new();
    let mut snippets = Vec::new();
    let mut clients = None;
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let path = entry.path();
        if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let relative = path
            .strip_prefix(dir)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = crate::source::read_small_text(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let source = RuleSource {
            label: path.display().to_string(),
            relative: relative.clone(),
            text,
        };
        if relative == "snippets.toml" {
            snippets.push(source);
        } else if relative == "clients.toml" {
            clients = Some(source);
        } else if super::DATA_FILES.contains(&relative.as_str()) {
            // Cross-cluster symptom pairs (`diagnosis::two_sided`), products' keys
            // (`diagnosis::products`) and facts' sentences (`diagnosis::fact`, bundled only),
            // checked by `rules lint`.
        } else {
            rules.push(source);
        }
    }
    Ok((rules, snippets, clients))
}

/// A data file's TOML as `T`; a parse error is a `toml` problem pointing at it, with `help`.
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    source: &RuleSource,
    help: &str,
    problems: &mut Vec<RuleProblem>,
) -> Option<T> {
    match toml::from_str(&source.text) {
        Ok(file) => Some(file),
        Err(err) => {
            problems.push(problem(
                source,
                "toml",
                err.message().trim().to_string(),
                err.span(),
                "here",
                Some(help.to_string()),
            ));
            None
        }
    }
}

/// A version field (`8.4`, `8.15.1`); a bad one is a `bad-version` problem (and `None`).
pub(super) fn parse_version(
    source: &RuleSource,
    given: &Spanned<String>,
    example: &str,
    problems: &mut Vec<RuleProblem>,
) -> Option<Version> {
    let parsed = Version::parse(given.get_ref());
    if parsed.is_none() {
        problems.push(problem(
            source,
            "bad-version",
            format!("`{}` is not a version", given.get_ref()),
            Some(given.span()),
            &format!("expected e.g. `{example}`"),
            None,
        ));
    }
    parsed
}

/// A step's `run_as` (`user` when absent); an unknown one is a `bad-run-as` problem.
pub(super) fn parse_run_as(
    source: &RuleSource,
    given: Option<&Spanned<String>>,
    problems: &mut Vec<RuleProblem>,
) -> Option<crate::model::RunAs> {
    let Some(r) = given else {
        return Some(crate::model::RunAs::User);
    };
    let parsed = crate::model::RunAs::parse(r.get_ref());
    if parsed.is_none() {
        problems.push(problem(
            source,
            "bad-run-as",
            format!("`{}` is not who runs a step", r.get_ref()),
            Some(r.span()),
            "expected `user`, `owner`, `admin`, `new_key` or `client_key`",
            None,
        ));
    }
    parsed
}

/// A file's `severity`, `default` when absent; an unknown one is a problem (and `None`).
pub(super) fn parse_severity(
    source: &RuleSource,
    given: Option<&Spanned<String>>,
    default: Severity,
    problems: &mut Vec<RuleProblem>,
) -> Option<Severity> {
    let Some(s) = given else {
        return Some(default);
    };
    let parsed = Severity::parse(s.get_ref());
    if parsed.is_none() {
        problems.push(problem(
            source,
            "unknown-severity",
            format!("unknown severity `{}`", s.get_ref()),
            Some(s.span()),
            "error | warning | note",
            None,
        ));
    }
    parsed
}

pub(super) fn problem(
    source: &RuleSource,
    code: &'static str,
    message: String,
    span: Option<std::ops::Range<usize>>,
    label: &str,
    help: Option<String>,
) -> RuleProblem {
    RuleProblem {
        code,
        message,
        help,
        label: label.to_string(),
        span: span.map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
        file: source.label.clone(),
        src: NamedSource::new(source.label.clone(), source.text.clone()),
        warning: false,
    }
}

fn compile_snippets(
    sources: &[RuleSource],
    problems: &mut Vec<RuleProblem>,
) -> BTreeMap<String, Vec<Step>> {
    let mut out = BTreeMap::new();
    for source in sources {
        let file: SnippetFile = match toml::from_str(&source.text) {
            Ok(file) => file,
            Err(err) => {
                problems.push(problem(
                    source,
                    "toml",
                    err.message().to_string(),
                    err.span(),
                    "here",
                    None,
                ));
                continue;
            }
        };
        for entry in file.snippet {
            let mut steps = Vec::new();
            for step in &entry.step {
                if let Some(step) =
                    compile_step(source, step, &BTreeMap::new(), &BTreeSet::new(), problems)
                {
                    steps.extend(step);
                }
            }
            out.insert(entry.id.into_inner(), steps);
        }
    }
    out
}

fn compile_rule(
    source: &RuleSource,
    snippets: &BTreeMap<String, Vec<Step>>,
    problems: &mut Vec<RuleProblem>,
) -> Option<Rule> {
    let before = problems.len();
    let file: RuleFile = parse_toml(
        source,
        "see rules/README.md for the fields a rule file has",
        problems,
    )?;
    let err = |problems: &mut Vec<RuleProblem>,
               code: &'static str,
               message: String,
               span: std::ops::Range<usize>,
               label: &str,
               help: Option<String>| {
        problems.push(problem(source, code, message, Some(span), label, help));
    };

    // id and class against the file's place.
    let id = file.id.get_ref().clone();
    let (dir, stem) = match source.relative.rsplit_once('/') {
        Some((dir, name)) => (dir.rsplit('/').next().unwrap_or(dir), name),
        None => ("", source.relative.as_str()),
    };
    let stem = stem.trim_end_matches(".toml");
    if !is_kebab(&id) {
        err(
            problems,
            "bad-id",
            format!("rule id `{id}` is not kebab-case"),
            file.id.span(),
            "not kebab-case",
            Some("use lowercase words joined by `-`, e.g. `expired-api-key`".into()),
        );
    } else if id != stem {
        err(
            problems,
            "id-file-mismatch",
            format!("rule id `{id}` differs from the file name `{stem}.toml`"),
            file.id.span(),
            "must equal the file stem",
            Some(format!(
                "rename the file to `{id}.toml` or the id to `{stem}`"
            )),
        );
    }
    let class = RuleClass::parse(file.class.get_ref())
        .filter(|c| !matches!(c, RuleClass::Finding(c) if !Class::FAILURES.contains(c)));
    match class {
        None => err(
            problems,
            "unknown-class",
            format!("unknown class `{}`", file.class.get_ref()),
            file.class.span(),
            "unknown class",
            Some(format!(
                "one of: {}, note",
                Class::FAILURES.map(|c| c.as_str()).join(", ")
            )),
        ),
        Some(class) if class.as_str() != dir => err(
            problems,
            "class-dir-mismatch",
            format!(
                "class `{}` differs from the directory `{dir}`",
                class.as_str()
            ),
            file.class.span(),
            "must equal the parent directory",
            Some(format!("move the file to `{}/{stem}.toml`", class.as_str())),
        ),
        _ => {}
    }
    let default = if class == Some(RuleClass::Note) {
        Severity::Note
    } else {
        Severity::Error
    };
    let severity = parse_severity(source, file.severity.as_ref(), default, problems);
    let priority = file.priority.as_ref().map(|p| *p.get_ref()).unwrap_or(50);
    if let Some(p) = &file.priority {
        if !(0..=1000).contains(p.get_ref()) {
            err(
                problems,
                "bad-priority",
                "priority must be between 0 and 1000".into(),
                p.span(),
                "out of range",
                None,
            );
        }
    }
    let implies_version = file.implies_version.as_ref().and_then(|v| {
        let parsed = Version::parse(v.get_ref());
        if parsed.is_none() {
            err(
                problems,
                "bad-version",
                format!("`{}` is not a version", v.get_ref()),
                v.span(),
                "expected e.g. `8.10`",
                None,
            );
        }
        parsed
    });

    // Patterns.
    let matcher = file.matcher.get_ref();
    if matcher.any.is_empty() {
        err(
            problems,
            "no-pattern",
            "`[match] any` needs at least one pattern".into(),
            file.matcher.span(),
            "no `any` pattern",
            None,
        );
    }
    let compile_list = |list: &[Spanned<String>],
                        problems: &mut Vec<RuleProblem>,
                        need_capture: bool|
     -> Vec<(Regex, Vec<String>)> {
        let mut out = Vec::new();
        for pattern in list {
            match RegexBuilder::new(&ascii_word_boundaries(pattern.get_ref()))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(re) => {
                    let names: Vec<String> =
                        re.capture_names().flatten().map(str::to_string).collect();
                    for name in &names {
                        if !CAPTURE_VOCABULARY.contains(&name.as_str()) {
                            problems.push(problem(
                                source,
                                "unknown-capture",
                                format!("capture `{name}` is not in the capture vocabulary"),
                                Some(pattern.span()),
                                "unknown capture name",
                                Some(format!("use one of: {}", CAPTURE_VOCABULARY.join(", "))),
                            ));
                        }
                    }
                    if need_capture && names.is_empty() {
                        problems.push(problem(source, "no-capture", "an `any` pattern needs at least one named capture (`(?<why>…)` at least)".into(), Some(pattern.span()), "no named capture", None));
                    }
                    out.push((re, names));
                }
                Err(e) => problems.push(problem(
                    source,
                    "bad-regex",
                    format!("pattern does not compile: {}", first_line(&e.to_string())),
                    Some(pattern.span()),
                    "invalid regex",
                    Some(
                        "patterns use Rust `regex` syntax; named captures are `(?<name>…)`".into(),
                    ),
                )),
            }
        }
        out
    };
    let any = compile_list(&matcher.any, problems, true);
    let all = compile_list(&matcher.all, problems, false);
    let not = compile_list(&matcher.not, problems, false);
    let scope = match matcher.scope.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("record") => Scope::Record,
        Some("input") => Scope::Input,
        Some(other) => {
            let span = matcher.scope.as_ref().expect("scope").span();
            err(
                problems,
                "bad-scope",
                format!("unknown scope `{other}`"),
                span,
                "record | input",
                None,
            );
            Scope::Record
        }
    };
    for tag in matcher.tags_any.iter().chain(&matcher.tags_none) {
        if !TAG_PREFIXES.iter().any(|p| tag.get_ref().starts_with(p)) {
            err(
                problems,
                "unknown-tag",
                format!("unknown tag `{}`", tag.get_ref()),
                tag.span(),
                "unknown tag",
                Some(
                    "tags start with `credential:` or `metadata:`; rules/README.md lists them"
                        .into(),
                ),
            );
        }
    }
    // Captures every `any` pattern defines: the ones templates may use without a fallback.
    let always: BTreeSet<String> = any
        .iter()
        .map(|(_, names)| names.iter().cloned().collect::<BTreeSet<_>>())
        .reduce(|a, b| a.intersection(&b).cloned().collect())
        .unwrap_or_default();
    let all_names: BTreeSet<String> = any.iter().flat_map(|(_, n)| n.clone()).collect();

    let literals = if matcher.literals.is_empty() {
        let mut lits = Vec::new();
        let mut missing = false;
        for pattern in &matcher.any {
            match extract_literals(pattern.get_ref()) {
                Some(found) => lits.extend(found),
                None => missing = true,
            }
        }
        if missing {
            lits.clear();
            let mut p = problem(source, "no-literal", "an `any` pattern implies no literal, so this rule runs on every record".into(), Some(file.matcher.span()), "no prefilter literal", Some("start the pattern with fixed text, or list `literals = [...]` that every match contains".into()));
            p.warning = true;
            problems.push(p);
        }
        lits
    } else {
        matcher
            .literals
            .iter()
            .map(|l| l.get_ref().trim().to_ascii_lowercase())
            .collect()
    };

    let mut decisive = Vec::new();
    for d in &matcher.decisive {
        // Trimmed, as literals are: a message cut right before its capture still holds it.
        let phrase = d.get_ref().trim().to_ascii_lowercase();
        if phrase.len() < 12 {
            problems.push(problem(
                source,
                "decisive-too-short",
                format!("`{phrase}` is too short to decide a class on its own"),
                Some(d.span()),
                "at least 12 characters",
                None,
            ));
        } else if !literals.iter().any(|l| phrase.contains(l.as_str())) {
            problems.push(problem(
                source,
                "decisive-not-prefiltered",
                "a decisive phrase must contain one of the rule's prefilter literals, or records that hold it are never read".into(),
                Some(d.span()),
                "no literal in it",
                Some(format!("literals: {}", literals.join(" | "))),
            ));
        } else {
            decisive.push(phrase);
        }
    }

    // Templates.
    let template = |problems: &mut Vec<RuleProblem>, field: &Spanned<String>| -> Option<Template> {
        check_template(source, field, &always, problems)
    };
    let title = template(problems, &file.title);
    let explain = template(problems, &file.explain.get_ref().text);
    let mut labels = Vec::new();
    for (name, text) in &file.labels {
        if !all_names.contains(name) {
            err(
                problems,
                "label-without-capture",
                format!("label for `{name}`, which no `any` pattern captures"),
                text.span(),
                "no such capture",
                None,
            );
        }
        if let Some(t) = template(problems, text) {
            labels.push((name.clone(), t));
        }
    }
    let mut remediation = Vec::new();
    for step in &file.remediation {
        if let Some(steps) = compile_step(source, step, snippets, &always, problems) {
            remediation.extend(steps);
        }
    }
    if remediation.is_empty() && class != Some(RuleClass::Note) {
        err(
            problems,
            "no-remediation",
            "a rule needs at least one `[[remediation]]` step".into(),
            file.id.span(),
            "no remediation",
            None,
        );
    }
    let mut candidates = Vec::new();
    for cand in &file.candidate {
        let c = cand.get_ref();
        match CandidateKind::parse(c.class.get_ref()) {
            Some(kind) => {
                if let Some(why) = template(problems, &c.why) {
                    candidates.push(Candidate { kind, why });
                }
            }
            None => err(
                problems,
                "unknown-candidate",
                format!("unknown candidate class `{}`", c.class.get_ref()),
                c.class.span(),
                "unknown class",
                Some("a finding class or `not_sent`".into()),
            ),
        }
    }
    let unresolved = class
        == Some(RuleClass::Finding(
            crate::model::Class::AuthenticationUnresolved,
        ));
    if unresolved && file.candidate.len() < 2 {
        err(
            problems,
            "too-few-candidates",
            "an `authentication_unresolved` rule names at least two `[[candidate]]` causes".into(),
            file.class.span(),
            "needs candidates",
            None,
        );
    }
    if !unresolved && !file.candidate.is_empty() {
        err(
            problems,
            "candidates-on-decided-rule",
            "only `authentication_unresolved` rules list candidates".into(),
            file.candidate[0].span(),
            "not allowed here",
            None,
        );
    }
    let mut references = Vec::new();
    for r in &file.reference {
        let r = r.get_ref();
        if !r.url.get_ref().starts_with("https://") {
            err(
                problems,
                "insecure-reference",
                "references use https".into(),
                r.url.span(),
                "not https",
                None,
            );
        }
        references.push(Reference {
            title: r.title.get_ref().clone(),
            url: r.url.get_ref().clone(),
        });
    }

    // Examples: at least one of each kind, and every `any` pattern exercised by a positive one.
    let mut examples = Vec::new();
    let mut exercised = vec![false; any.len()];
    for ex in &file.example {
        let e = ex.get_ref();
        let expect_match = match e.expect.get_ref().as_str() {
            "match" => true,
            "no-match" => false,
            other => {
                err(
                    problems,
                    "bad-expect",
                    format!("unknown expectation `{other}`"),
                    e.expect.span(),
                    "match | no-match",
                    None,
                );
                continue;
            }
        };
        if expect_match {
            let doc = parse_input(&Input {
                name: "example".into(),
                text: e.input.get_ref().clone(),
            });
            for (idx, (re, _)) in any.iter().enumerate() {
                if doc.records.iter().any(|r| re.is_match(&r.norm)) {
                    exercised[idx] = true;
                }
            }
        }
        for (name, value) in &e.captures {
            if !all_names.contains(name) {
                err(
                    problems,
                    "example-unknown-capture",
                    format!("example expects capture `{name}`, which no `any` pattern defines"),
                    value.span(),
                    "no such capture",
                    None,
                );
            }
        }
        examples.push(Example {
            name: e.name.get_ref().clone(),
            span: e.name.span(),
            expect_match,
            captures: e
                .captures
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
            input: e.input.get_ref().clone(),
        });
    }
    if !examples.iter().any(|e| e.expect_match) {
        err(
            problems,
            "no-positive-example",
            "a rule needs at least one `expect = \"match\"` example".into(),
            file.id.span(),
            "no positive example",
            Some("paste a real sample from shared/corpus or shared/reference".into()),
        );
    }
    if !examples.iter().any(|e| !e.expect_match) {
        err(
            problems,
            "no-negative-example",
            "a rule needs at least one `expect = \"no-match\"` example (a near miss)".into(),
            file.id.span(),
            "no negative example",
            None,
        );
    }
    if any.len() == matcher.any.len() {
        for (idx, done) in exercised.iter().enumerate() {
            if !done && !examples.is_empty() {
                err(
                    problems,
                    "pattern-not-exercised",
                    "no positive example matches this pattern".into(),
                    matcher.any[idx].span(),
                    "not exercised",
                    Some("add an `[[example]]` with `expect = \"match\"` for it".into()),
                );
            }
        }
    }
    // The causes a message leaves open belong to its class.
    let differential = file.differential.as_ref().and_then(|d| {
        use crate::model::OpenCauses;
        let Some(open) = OpenCauses::parse(d.get_ref()) else {
            err(
                problems,
                "unknown-differential",
                format!("`{}` is not a set of open causes", d.get_ref()),
                d.span(),
                "unknown",
                Some(format!(
                    "one of: {}",
                    OpenCauses::ALL.map(|c| c.as_str()).join(", ")
                )),
            );
            return None;
        };
        let fits = match open {
            OpenCauses::WrongSecret => Class::MalformedCredentials,
            OpenCauses::RemoteKeyRejected | OpenCauses::RemoteAccessDenied => {
                Class::CrossClusterMisconfig
            }
        };
        if class != Some(RuleClass::Finding(fits)) {
            err(
                problems,
                "differential-class",
                format!(
                    "`differential = \"{}\"` weighs causes of `{}`, not of this rule's class",
                    open.as_str(),
                    fits.as_str()
                ),
                d.span(),
                "another class's causes",
                None,
            );
        }
        Some(open)
    });

    if problems[before..].iter().any(|p| !p.warning) {
        return None;
    }
    Some(Rule {
        id,
        differential,
        class: class?,
        severity: severity?,
        priority,
        title: title?,
        summary: file.summary.map(|s| s.into_inner()).unwrap_or_default(),
        fallback: file.fallback,
        is_canonical: file.canonical,
        implies_version,
        seen_in: file.seen_in,
        any: any.into_iter().map(|(re, _)| re).collect(),
        all: all.into_iter().map(|(re, _)| re).collect(),
        not: not.into_iter().map(|(re, _)| re).collect(),
        scope,
        tags_any: matcher
            .tags_any
            .iter()
            .map(|t| t.get_ref().clone())
            .collect(),
        tags_none: matcher
            .tags_none
            .iter()
            .map(|t| t.get_ref().clone())
            .collect(),
        literals,
        decisive,
        labels,
        explain: explain?,
        remediation,
        candidates,
        references,
        dead_ends: file
            .dead_ends
            .iter()
            .map(|d| d.get_ref().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        examples,
        source: source.label.clone(),
        source_text: source.text.as_str().into(),
    })
}

fn compile_step(
    source: &RuleSource,
    step: &Spanned<StepFile>,
    snippets: &BTreeMap<String, Vec<Step>>,
    always: &BTreeSet<String>,
    problems: &mut Vec<RuleProblem>,
) -> Option<Vec<Step>> {
    let s = step.get_ref();
    let path = match &s.path {
        Some(p) => match crate::model::PlanPath::parse(p.get_ref()) {
            Some(p) => Some(p),
            None => {
                problems.push(problem(
                    source,
                    "bad-path",
                    format!("`{}` is not a plan path", p.get_ref()),
                    Some(p.span()),
                    "expected `update` or `rotate`",
                    None,
                ));
                return None;
            }
        },
        None => None,
    };
    if let Some(include) = &s.include {
        if s.title.is_some()
            || s.request.is_some()
            || s.text.is_some()
            || s.key_type.is_some()
            || s.run_as.is_some()
            || s.on.is_some()
            || s.later
            || !s.when.is_empty()
        {
            problems.push(problem(
                source,
                "include-with-fields",
                "a step with `include` has no other fields but `path`".into(),
                Some(step.span()),
                "include only",
                None,
            ));
            return None;
        }
        return match snippets.get(include.get_ref()) {
            Some(steps) => Some(
                steps
                    .iter()
                    .cloned()
                    .map(|mut st| {
                        st.path = st.path.or(path);
                        st
                    })
                    .collect(),
            ),
            None => {
                problems.push(problem(
                    source,
                    "unknown-snippet",
                    format!("no snippet `{}` in rules/snippets.toml", include.get_ref()),
                    Some(include.span()),
                    "unknown snippet",
                    Some(format!(
                        "known: {}",
                        snippets.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                ));
                None
            }
        };
    }
    let Some(title) = &s.title else {
        problems.push(problem(
            source,
            "step-without-title",
            "a remediation step needs a `title`".into(),
            Some(step.span()),
            "no title",
            None,
        ));
        return None;
    };
    let min_version = s
        .min_version
        .as_ref()
        .and_then(|v| parse_version(source, v, "8.4", problems));
    if s.fallback.is_some() && s.min_version.is_none() {
        problems.push(problem(
            source,
            "fallback-without-version",
            "`fallback` goes with `min_version`".into(),
            Some(step.span()),
            "no min_version",
            None,
        ));
    }
    let key_type = match &s.key_type {
        Some(t) if t.get_ref() == "rest" => Some(crate::model::KeyType::Rest),
        Some(t) if t.get_ref() == "cross_cluster" => Some(crate::model::KeyType::CrossCluster),
        Some(t) => {
            problems.push(problem(
                source,
                "bad-key-type",
                format!("`{}` is not a key type", t.get_ref()),
                Some(t.span()),
                "expected `rest` or `cross_cluster`",
                None,
            ));
            return None;
        }
        None => None,
    };
    let run_as = parse_run_as(source, s.run_as.as_ref(), problems)?;
    let on = match &s.on {
        Some(o) => match crate::model::RunsOn::parse(o.get_ref()) {
            Some(o) => o,
            None => {
                problems.push(problem(
                    source,
                    "bad-on",
                    format!("`{}` is not where a step runs", o.get_ref()),
                    Some(o.span()),
                    "unknown place",
                    Some(format!(
                        "known: {}",
                        crate::model::RunsOn::ALL.map(|o| o.as_str()).join(", ")
                    )),
                ));
                return None;
            }
        },
        None if s
            .request
            .as_ref()
            .is_some_and(|r| r.get_ref().contains(" kbn:/")) =>
        {
            crate::model::RunsOn::Kibana
        }
        None if s.request.is_some() => crate::model::RunsOn::Cluster,
        None => crate::model::RunsOn::Client,
    };
    let mut when = Vec::new();
    for c in &s.when {
        match crate::model::StepCondition::parse(c.get_ref()) {
            Some(c) => when.push(c),
            None => {
                problems.push(problem(
                    source,
                    "bad-condition",
                    format!("`{}` is not a step condition", c.get_ref()),
                    Some(c.span()),
                    "unknown condition",
                    Some(format!(
                        "known: {}",
                        crate::model::StepCondition::ALL
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ));
                return None;
            }
        }
    }
    if let Some(r) = &s.request {
        if let Some((code, message, label)) = unsafe_request(r.get_ref(), run_as) {
            problems.push(problem(source, code, message, Some(r.span()), label, None));
            return None;
        }
    }
    let title = check_template(source, title, always, problems)?;
    let opt = |field: &Option<Spanned<String>>,
               problems: &mut Vec<RuleProblem>|
     -> Result<Option<Template>, ()> {
        match field {
            Some(f) => check_template(source, f, always, problems)
                .map(Some)
                .ok_or(()),
            None => Ok(None),
        }
    };
    let text = opt(&s.text, problems).ok()?;
    let request = opt(&s.request, problems).ok()?;
    let fallback = opt(&s.fallback, problems).ok()?;
    Some(vec![Step {
        title,
        text,
        request,
        min_version,
        fallback,
        key_type,
        run_as,
        when,
        path,
        on,
        later: s.later,
    }])
}

/// A request that would be unsafe as printed: a create without role descriptors (the new key
/// would get all of its creator's privileges), or `_authenticate` as the user (it checks the
/// user, not the key the step is about).
pub(super) fn unsafe_request(
    request: &str,
    run_as: crate::model::RunAs,
) -> Option<(&'static str, String, &'static str)> {
    let first = request.trim_start().lines().next().unwrap_or("").trim();
    let compact: String = request.split_whitespace().collect();
    if first == "POST /_security/api_key"
        && (!compact.contains("\"role_descriptors\":")
            || compact.contains("\"role_descriptors\":{}"))
    {
        return Some((
            "create-without-descriptors",
            "a key created without `role_descriptors` gets all of its creator's privileges: name them, or use a placeholder Elasticsearch rejects (a string where a descriptor goes)".into(),
            "no role_descriptors",
        ));
    }
    let manages_keys = [
        "POST /_security/api_key",
        "PUT /_security/api_key",
        "POST /_security/cross_cluster/api_key",
        "PUT /_security/cross_cluster/api_key",
        "POST /_security/api_key/grant",
    ]
    .iter()
    .any(|p| first.starts_with(p));
    if manages_keys && !run_as.is_password() {
        return Some((
            "key-management-as-key",
            "Elasticsearch creates and updates keys only for a caller with a password, never for one authenticated by an API key: say `run_as = \"owner\"`, `\"user\"` or `\"admin\"`".into(),
            "run as an API key",
        ));
    }
    if first.starts_with("GET /_security/_authenticate") && run_as.is_password() {
        return Some((
            "authenticate-as-user",
            "`_authenticate` as the user checks the user, not the key: say `run_as = \"new_key\"` or `\"client_key\"`".into(),
            "run as the user",
        ));
    }
    None
}

fn check_template(
    source: &RuleSource,
    field: &Spanned<String>,
    always: &BTreeSet<String>,
    problems: &mut Vec<RuleProblem>,
) -> Option<Template> {
    // The span of a TOML string includes its quotes; find where the text itself starts.
    let span = field.span();
    let raw = &source.text[span.clone()];
    let offset = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        // A multi-line string drops the newline right after its opening quotes.
        span.start + 3 + usize::from(raw[3..].starts_with('\n'))
    } else {
        span.start + 1
    };
    match Template::parse(field.get_ref()) {
        Ok((template, placeholders)) => {
            let mut ok = true;
            for Placeholder {
                name,
                has_fallback,
                span,
            } in placeholders
            {
                if !CAPTURE_VOCABULARY.contains(&name.as_str())
                    && !DERIVED_VARIABLES.contains(&name.as_str())
                {
                    ok = false;
                    problems.push(problem(
                        source,
                        "unknown-variable",
                        format!("`{{{name}}}` is neither a capture name nor a derived variable"),
                        Some(field.span()),
                        "unknown variable",
                        Some(format!(
                            "captures: {}; derived: {}",
                            CAPTURE_VOCABULARY.join(", "),
                            DERIVED_VARIABLES.join(", ")
                        )),
                    ));
                    continue;
                }
                if !has_fallback && !always.contains(&name) {
                    ok = false;
                    let located = (offset + span.start)..(offset + span.end);
                    let in_text = located.end <= source.text.len()
                        && source.text.get(located.clone()).is_some();
                    problems.push(problem(
                        source,
                        "unbound-placeholder",
                        format!("`{{{name}}}` is not captured by every `any` pattern and has no fallback"),
                        Some(if in_text { located } else { field.span() }),
                        "may be undefined",
                        Some(format!("write `{{{name}|…}}` with a fallback text, or capture `{name}` in every `any` pattern")),
                    ));
                }
            }
            ok.then_some(template)
        }
        Err(e) => {
            problems.push(problem(
                source,
                "bad-template",
                e.message,
                Some(field.span()),
                "bad placeholder",
                None,
            ));
            None
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .to_string()
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Literals (lower case) of which every match of `pattern` contains one; `None` when the
/// pattern implies none that are at least 3 bytes long.
pub(crate) fn extract_literals(pattern: &str) -> Option<Vec<String>> {
    // Matching is ASCII case-insensitive, so a leading `(?i)` only multiplies the literals.
    let stripped = pattern.strip_prefix("(?i)").unwrap_or(pattern);
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(stripped)
        .ok()?;
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut extractor = Extractor::new();
        extractor.kind(kind);
        let seq = extractor.extract(&hir);
        if let Some(lits) = seq.literals() {
            let out: Vec<String> = lits
                .iter()
                // Trimmed: a message cut where a capture begins ends before the space the
                // pattern puts there.
                .map(|l| {
                    String::from_utf8_lossy(l.as_bytes())
                        .trim()
                        .to_ascii_lowercase()
                })
                .collect();
            if !out.is_empty() && out.iter().all(|l| l.trim().len() >= 3) {
                let mut out = out;
                out.sort();
                out.dedup();
                return Some(out);
            }
        }
    }
    None
}

/// `pattern` with every `\b` and `\B` made ASCII (`(?-u:\b)`). A Unicode word boundary keeps the
/// regex engines off their DFAs on any text that is not pure ASCII (a redacted `…`, a Terraform
/// box's `│`), which made matching such a record some thirty times slower; in log text the two
/// readings differ only next to non-ASCII letters.
pub(crate) fn ascii_word_boundaries(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains("\\b") && !pattern.contains("\\B") {
        return std::borrow::Cow::Borrowed(pattern);
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(b @ ('b' | 'B')) => {
                out.push_str("(?-u:\\");
                out.push(b);
                out.push(')');
            }
            // Any other escape (`\\`, `\d`, `\[`) is kept whole, so that `\\b` stays a
            // backslash and a `b`.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn word_boundaries_are_made_ascii_and_other_escapes_kept() {
        assert_eq!(
            super::ascii_word_boundaries(r"\bstatus\B\d \\b [\]b]"),
            r"(?-u:\b)status(?-u:\B)\d \\b [\]b]"
        );
        assert!(matches!(
            super::ascii_word_boundaries(r"no boundary \d"),
            std::borrow::Cow::Borrowed(_)
        ));
        // The point of it: a record with a non-ASCII character is matched by the same words.
        let re = regex::Regex::new(&super::ascii_word_boundaries(r"\b401 Unauthorized\b")).unwrap();
        assert!(re.is_match("…redacted… 401 Unauthorized │"));
        assert!(!re.is_match("x401 Unauthorized"));
    }
    use super::*;

    fn src(rel: &str, text: &str) -> RuleSource {
        RuleSource {
            label: rel.into(),
            relative: rel.into(),
            text: text.into(),
        }
    }

    const GOOD: &str = r#"
id = "x-rule"
class = "expired"
title = "API key {key_id|?} expired"
[match]
any = ['''(?<why>api key is expired)''']
[explain]
text = "It expired."
[[remediation]]
title = "Look it up"
request = "GET /_security/api_key?id={key_id|<id>}"
[[example]]
name = "yes"
expect = "match"
input = "api key is expired"
[[example]]
name = "no"
expect = "no-match"
input = "api key is fine"
"#;

    #[test]
    fn a_good_rule_compiles_with_literals() {
        let (set, warnings) =
            compile_sources(&[src("expired/x-rule.toml", GOOD)], 1, &[], vec![]).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(set.rules[0].literals, vec!["api key is expired"]);
    }

    #[test]
    fn every_problem_is_collected_with_its_code() {
        let bad = GOOD
            .replace("class = \"expired\"", "class = \"expird\"")
            .replace("(?<why>api", "(?<reason>api")
            .replace("{key_id|?}", "{user}");
        let err = compile_sources(&[src("expired/x-rule.toml", &bad)], 1, &[], vec![]).unwrap_err();
        let codes: Vec<_> = err.problems.iter().map(|p| p.code).collect();
        assert!(codes.contains(&"unknown-class"), "{codes:?}");
        assert!(codes.contains(&"unknown-capture"), "{codes:?}");
        assert!(codes.contains(&"unbound-placeholder"), "{codes:?}");
    }

    #[test]
    fn unsafe_requests_and_bad_step_fields_are_problems() {
        let codes = |from: &str, to: &str| -> Vec<&'static str> {
            let bad = GOOD.replace(from, to);
            let err =
                compile_sources(&[src("expired/x-rule.toml", &bad)], 1, &[], vec![]).unwrap_err();
            // The step is dropped, so the rule also has no remediation left: not the point here.
            err.problems
                .iter()
                .map(|p| p.code)
                .filter(|c| *c != "no-remediation")
                .collect()
        };
        let look = "request = \"GET /_security/api_key?id={key_id|<id>}\"";
        assert_eq!(
            codes(look, "request = '''\nPOST /_security/api_key\n{\"name\": \"x\", \"role_descriptors\": {}}\n'''"),
            ["create-without-descriptors"]
        );
        assert_eq!(
            codes(
                look,
                "request = '''\nPOST /_security/api_key\n{\"name\": \"x\"}\n'''"
            ),
            ["create-without-descriptors"]
        );
        assert_eq!(
            codes(look, "request = \"GET /_security/_authenticate\""),
            ["authenticate-as-user"]
        );
        assert_eq!(
            codes(look, &format!("{look}\nrun_as = \"root\"")),
            ["bad-run-as"]
        );
        assert_eq!(
            codes(
                look,
                "request = '''\nPUT /_security/api_key/x\n{\"role_descriptors\": {\"a\": \"<copied>\"}}\n'''\nrun_as = \"new_key\""
            ),
            ["key-management-as-key"]
        );
        assert_eq!(
            codes(look, &format!("{look}\npath = \"sideways\"")),
            ["bad-path"]
        );
        assert_eq!(codes(look, &format!("{look}\non = \"moon\"")), ["bad-on"]);
        assert_eq!(
            codes(look, &format!("{look}\nwhen = [\"always\"]")),
            ["bad-condition"]
        );
        let fine = GOOD.replace(
            look,
            "request = \"GET /_security/_authenticate\"\nrun_as = \"new_key\"\nwhen = [\"key_may_be_active\"]",
        );
        assert!(compile_sources(&[src("expired/x-rule.toml", &fine)], 1, &[], vec![]).is_ok());
    }

    #[test]
    fn unknown_field_is_a_toml_error_not_ignored() {
        let bad = GOOD.replace("[[remediation]]", "[[remediaton]]");
        let err = compile_sources(&[src("expired/x-rule.toml", &bad)], 1, &[], vec![]).unwrap_err();
        assert_eq!(err.problems[0].code, "toml");
        assert!(err.problems[0].span.is_some());
    }

    #[test]
    fn custom_rule_overrides_by_id_and_says_so() {
        let sources = [
            src("expired/x-rule.toml", GOOD),
            src("expired/x-rule.toml", GOOD),
        ];
        let (set, _) = compile_sources(&sources, 1, &[], vec![]).unwrap();
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.notes.len(), 1);
    }

    #[test]
    fn literal_extraction_handles_alternation_and_case() {
        assert_eq!(
            extract_literals(r"(?i)missing authentication (?:credentials|token) for"),
            Some(vec![
                "missing authentication credentials for".to_string(),
                "missing authentication token for".to_string()
            ])
        );
        assert_eq!(extract_literals(r".*x"), None);
    }
}
