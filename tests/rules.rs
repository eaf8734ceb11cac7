//! The bundled rules: valid, complete, and their embedded examples pass.

use keydoctor::diagnosis::{Class, RuleClass};
use keydoctor::rule::{self, selftest};

use crate::support::root;

#[test]
fn embedded_rules_are_valid_without_warnings() {
    let (set, warnings) = rule::load(None).expect("embedded rules load");
    let warnings: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert!(set.rules.len() >= 30);
}

#[test]
fn every_rule_file_is_embedded() {
    let (set, _) = rule::load(None).unwrap();
    let on_disk = walk(&root().join("rules"));
    assert_eq!(
        set.rules.len(),
        on_disk,
        "rules/**/*.toml (without snippets.toml) vs embedded"
    );
}

fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            n += walk(&path);
        } else if path.extension().is_some_and(|e| e == "toml")
            && path.file_name().unwrap() != "snippets.toml"
        {
            n += 1;
        }
    }
    n
}

#[test]
fn every_class_has_a_rule_and_the_decided_classes_a_canonical_one() {
    let (set, _) = rule::load(None).unwrap();
    for class in Class::FAILURES {
        assert!(
            set.rules
                .iter()
                .any(|r| r.class == RuleClass::Finding(class)),
            "no rule for {class}"
        );
    }
    for class in [Class::Missing, Class::Invalidated, Class::Expired] {
        let canonical = set
            .rules
            .iter()
            .filter(|r| r.class == RuleClass::Finding(class) && r.canonical())
            .count();
        assert_eq!(canonical, 1, "{class}: exactly one canonical rule");
    }
}

#[test]
fn every_rule_example_passes() {
    let (set, _) = rule::load(None).unwrap();
    let results = selftest::run(&set);
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != selftest::Outcome::Ok)
        .map(|r| format!("{:<40} {:<50} {:?}", r.rule, r.example, r.outcome))
        .collect();
    assert!(results.len() >= 80, "only {} examples", results.len());
    assert!(
        failures.is_empty(),
        "failing examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_broken_custom_rule_is_an_error_naming_file_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    std::fs::write(
        dir.path().join("expired/my-rule.toml"),
        "id = \"my-rule\"\nclass = \"expired\"\ntitle = \"x {keyid}\"\n[match]\nany = ['''(?<why>boom''']\n[explain]\ntext = \"t\"\n",
    )
    .unwrap();
    let err = rule::load(Some(dir.path())).unwrap_err();
    let codes: Vec<&str> = err.problems.iter().map(|p| p.code).collect();
    assert!(codes.contains(&"bad-regex"), "{codes:?}");
    assert!(codes.contains(&"unknown-variable"), "{codes:?}");
    assert!(err
        .problems
        .iter()
        .all(|p| p.file.ends_with("my-rule.toml")));
}

#[test]
fn a_custom_rule_overrides_an_embedded_one_by_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    let embedded =
        std::fs::read_to_string(root().join("rules/expired/api-key-expired.toml")).unwrap();
    let custom = embedded.replace("has expired\"", "has expired (site wording)\"");
    std::fs::write(dir.path().join("expired/api-key-expired.toml"), custom).unwrap();
    let (set, _) = rule::load(Some(dir.path())).unwrap();
    assert_eq!(set.notes.len(), 1, "{:?}", set.notes);
    assert!(set.notes[0].contains("api-key-expired overridden by"));
}
