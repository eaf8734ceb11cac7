//! The rule file as written: serde types with spans, no validation beyond TOML's own.
//!
//! - **In**: TOML text of one rule file (`rules/<class>/<id>.toml`) or of `rules/snippets.toml`.
//! - **Out**: [`RuleFile`] / [`SnippetFile`] with `toml::Spanned` fields, for [`super::compile`].
//! - **Never**: accept an unknown field (`deny_unknown_fields`: `remediaton =` is an error).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One rule file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleFile {
    pub(crate) id: Spanned<String>,
    pub(crate) class: Spanned<String>,
    #[serde(default)]
    pub(crate) severity: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) priority: Option<Spanned<i64>>,
    pub(crate) title: Spanned<String>,
    #[serde(default)]
    pub(crate) summary: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) fallback: bool,
    #[serde(default)]
    pub(crate) canonical: bool,
    #[serde(default)]
    pub(crate) implies_version: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) seen_in: Vec<String>,
    #[serde(rename = "match")]
    pub(crate) matcher: Spanned<MatchFile>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, Spanned<String>>,
    pub(crate) explain: Spanned<ExplainFile>,
    #[serde(default)]
    pub(crate) remediation: Vec<Spanned<StepFile>>,
    #[serde(default)]
    pub(crate) candidate: Vec<Spanned<CandidateFile>>,
    #[serde(default)]
    pub(crate) reference: Vec<Spanned<ReferenceFile>>,
    #[serde(default)]
    pub(crate) example: Vec<Spanned<ExampleFile>>,
    #[serde(default)]
    pub(crate) dead_ends: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) differential: Option<Spanned<String>>,
}

/// `[match]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MatchFile {
    pub(crate) any: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) all: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) not: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) scope: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) tags_any: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) tags_none: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) literals: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) decisive: Vec<Spanned<String>>,
}

/// `[explain]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainFile {
    pub(crate) text: Spanned<String>,
}

/// One `[[remediation]]` step, or `include = "<snippet id>"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepFile {
    #[serde(default)]
    pub(crate) title: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) text: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) request: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) min_version: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) fallback: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) key_type: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) run_as: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) when: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) include: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) path: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) on: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) later: bool,
}

/// One `[[candidate]]` of an `authentication_unresolved` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CandidateFile {
    pub(crate) class: Spanned<String>,
    pub(crate) why: Spanned<String>,
}

/// One `[[reference]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferenceFile {
    pub(crate) title: Spanned<String>,
    pub(crate) url: Spanned<String>,
}

/// One `[[example]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExampleFile {
    pub(crate) name: Spanned<String>,
    pub(crate) expect: Spanned<String>,
    #[serde(default)]
    pub(crate) captures: BTreeMap<String, Spanned<String>>,
    pub(crate) input: Spanned<String>,
}

/// `rules/snippets.toml`: named remediation step lists that rules `include`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnippetFile {
    #[serde(default)]
    pub(crate) snippet: Vec<SnippetEntry>,
}

/// One `[[snippet]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnippetEntry {
    pub(crate) id: Spanned<String>,
    pub(crate) step: Vec<Spanned<StepFile>>,
}
