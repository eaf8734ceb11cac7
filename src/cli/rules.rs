//! `keydoctor rules list|show|test|lint`.

use miette::{GraphicalReportHandler, GraphicalTheme};

use super::{CmdResult, Io, ListFormat, RulesCommand};
use crate::error::{Error, Outcome};
use crate::rule::{self, selftest, show};

/// The sentence tables of the modules above stage 4 (the commands', the pipeline's), which
/// `rules/facts.toml` is checked against beside the passes' own (`fact::SAID`).
pub(crate) const ABOVE: &[crate::diagnosis::fact::Words] = &[
    crate::lifecycle::key::WORDS,
    crate::lifecycle::can::WORDS,
    crate::lifecycle::replay::WORDS,
    crate::lifecycle::suggest::WORDS,
    crate::lifecycle::rotate::WORDS,
    crate::lifecycle::impact::WORDS,
    crate::pipeline::WORDS,
    crate::pipeline::scan::WORDS,
    crate::pipeline::keys::WORDS,
    crate::checks::doctor::WORDS,
];

pub(super) fn run(cmd: RulesCommand, color: bool, io: &mut Io<'_>) -> CmdResult {
    match cmd {
        RulesCommand::List { rules, format } => {
            let (set, _) = rule::load(rules.as_deref())?;
            match format {
                ListFormat::Json => {
                    serde_json::to_writer_pretty(&mut io.stdout, &show::listing(&set))
                        .map_err(std::io::Error::from)?;
                    writeln!(io.stdout)?;
                }
                ListFormat::Human => io.stdout.write_all(show::list_text(&set).as_bytes())?,
            }
            Ok(Outcome::Clean)
        }
        RulesCommand::Show { id, rules } => {
            let (set, _) = rule::load(rules.as_deref())?;
            let text = match (set.get(&id), set.check(&id)) {
                (Some(r), _) => show::show(r),
                (None, Some(c)) => show::show_check(c),
                (None, None) => {
                    return Err(Error::Usage(format!(
                        "no rule `{id}`; `keydoctor rules list` shows them"
                    )))
                }
            };
            io.stdout.write_all(text.as_bytes())?;
            Ok(Outcome::Clean)
        }
        RulesCommand::Test { dir, filter, junit } => {
            let (set, _) = rule::load(dir.as_deref())?;
            let filter = filter
                .as_deref()
                .map(regex::Regex::new)
                .transpose()
                .map_err(|e| Error::Usage(format!("--filter: {e}")))?;
            let results: Vec<_> = selftest::run(&set)
                .into_iter()
                .chain(crate::checks::doctor::run_examples(&set))
                .filter(|r| filter.as_ref().is_none_or(|f| f.is_match(&r.rule)))
                .collect();
            if results.is_empty() {
                return Err(Error::Usage("--filter matches no rule".into()));
            }
            let (text, failed) = show::test_text(&set, &results);
            io.stdout.write_all(text.as_bytes())?;
            if let Some(path) = junit {
                // A file is an output too: it passes the same redacting writer as stdout (a
                // custom rule's example may hold a pasted credential).
                let written = std::fs::File::create(&path).and_then(|file| {
                    let mut w = crate::report::redacting::Redacting::new(file);
                    std::io::Write::write_all(&mut w, show::junit_xml(&set, &results).as_bytes())?;
                    std::io::Write::flush(&mut w)
                });
                written.map_err(|e| {
                    Error::Usage(format!(
                        "--junit {}: {}",
                        path.display(),
                        crate::source::io_reason(&e)
                    ))
                })?;
            }
            Ok(if failed == 0 {
                Outcome::Clean
            } else {
                Outcome::Found
            })
        }
        RulesCommand::Literals { rules } => {
            let (set, _) = rule::load(rules.as_deref())?;
            let scanner = crate::scan::Scanner::new(set, crate::diagnosis::Options::new(None, 0));
            for literal in scanner.literals() {
                writeln!(io.stdout, "{literal}")?;
            }
            Ok(Outcome::Clean)
        }
        RulesCommand::Lint { dir } => {
            let (set, mut problems) = rule::load(dir.as_deref())?;
            let shadowed = selftest::shadowing_problems(&set, &selftest::run(&set));
            let data = data_file_problems(dir.as_deref(), &set);
            let errors = shadowed.len() + data.len();
            problems.extend(shadowed);
            problems.extend(data);
            if errors > 0 {
                return Err(rule::RuleSetError { problems }.into());
            }
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_links(false);
            for w in &problems {
                let mut text = String::new();
                let _ = handler.render_report(&mut text, w);
                io.stderr.write_all(text.as_bytes())?;
            }
            let rules = set.rules.len() + set.checks.len();
            let scanner = crate::scan::Scanner::new(set, crate::diagnosis::Options::new(None, 0));
            let mut warnings = problems.len();
            if scanner.is_prefiltered() && scanner.anchors().is_empty() {
                warnings += 1;
                writeln!(
                    io.stderr,
                    "warning: the rules' {} literals need more than {} anchors (or this CPU has no packed searcher): scans read every byte with the slower automaton; share words between literals or drop near-duplicates",
                    scanner.literals().len(),
                    crate::rule::prefilter::MAX_ANCHORS
                )?;
            }
            writeln!(
                io.stdout,
                "{rules} rules, 0 errors, {warnings} warnings; scans search {} literals through {} anchors",
                scanner.literals().len(),
                scanner.anchors().len()
            )?;
            Ok(Outcome::Clean)
        }
    }
}

/// What is wrong with the data files beside the rules: `pairs.toml` (cross-cluster symptom
/// pairs, checked against the rule set) and `products.toml` (products' keys), bundled and of
/// `dir`.
fn data_file_problems(
    dir: Option<&std::path::Path>,
    set: &rule::RuleSet,
) -> Vec<rule::RuleProblem> {
    use crate::diagnosis::{products, two_sided};
    let file = |name: &str| match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
        Some(p) => format!("rules/{name} (bundled) and {}", p.display()),
        None => format!("rules/{name} (bundled)"),
    };
    let problem = |name: &str, message: String| {
        let file = file(name);
        rule::RuleProblem {
            code: "data_file",
            message,
            help: None,
            label: String::new(),
            span: None,
            src: miette::NamedSource::new(file.clone(), String::new()),
            file,
            warning: false,
        }
    };
    let mut out = Vec::new();
    match two_sided::pairs(dir) {
        Ok(pairs) => out.extend(
            two_sided::check_pairs(&pairs, set)
                .into_iter()
                .map(|m| problem("pairs.toml", m)),
        ),
        Err(e) => out.push(problem("pairs.toml", e)),
    }
    match products::products(dir) {
        Ok(list) => out.extend(
            products::check_products(&list)
                .into_iter()
                .map(|m| problem("products.toml", m)),
        ),
        Err(e) => out.push(problem("products.toml", e)),
    }
    // The facts' sentences (bundled only): a template per code, each with its code's fields.
    out.extend(
        crate::diagnosis::fact::check(ABOVE)
            .into_iter()
            .map(|m| problem("facts.toml", m)),
    );
    // The message atlas (atlas/*.toml, embedded): its entries' fields.
    out.extend(rule::atlas::check().into_iter().map(|m| {
        let mut p = problem("products.toml", m);
        p.file = "atlas (embedded)".into();
        p.src = miette::NamedSource::new(p.file.clone(), String::new());
        p
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::ABOVE;
    use crate::diagnosis::fact::{assert_said_as_listed, check, Words};

    #[test]
    fn every_sentence_a_command_says_is_in_its_table_and_every_entry_is_said() {
        let modules: &[(&str, Words)] = &[
            (
                include_str!("../lifecycle/key.rs"),
                crate::lifecycle::key::WORDS,
            ),
            (
                include_str!("../lifecycle/can.rs"),
                crate::lifecycle::can::WORDS,
            ),
            (
                include_str!("../lifecycle/replay.rs"),
                crate::lifecycle::replay::WORDS,
            ),
            (
                include_str!("../lifecycle/suggest.rs"),
                crate::lifecycle::suggest::WORDS,
            ),
            (
                include_str!("../lifecycle/rotate.rs"),
                crate::lifecycle::rotate::WORDS,
            ),
            (
                include_str!("../lifecycle/impact.rs"),
                crate::lifecycle::impact::WORDS,
            ),
            (include_str!("../pipeline/mod.rs"), crate::pipeline::WORDS),
            (
                include_str!("../pipeline/scan.rs"),
                crate::pipeline::scan::WORDS,
            ),
            (
                include_str!("../pipeline/keys.rs"),
                crate::pipeline::keys::WORDS,
            ),
            (
                include_str!("../checks/doctor.rs"),
                crate::checks::doctor::WORDS,
            ),
        ];
        assert_eq!(modules.len(), ABOVE.len(), "a table of ABOVE is not tested");
        assert_said_as_listed(modules);
    }

    #[test]
    fn the_bundled_templates_cover_every_code_with_its_fields() {
        assert_eq!(check(ABOVE), Vec::<String>::new());
    }
}
