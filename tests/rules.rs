//! The bundled rules: valid, complete, and their embedded examples pass.

use keydoctor::model::{Class, RuleClass};
use keydoctor::rule::{self, selftest};

use crate::support::{keydoctor, root};

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
        set.rules.len() + set.checks.len(),
        on_disk,
        "rules/**/*.toml (without {:?}) vs embedded",
        rule::DATA_FILES
    );
}

fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            n += walk(&path);
        } else if path.extension().is_some_and(|e| e == "toml")
            && !rule::DATA_FILES.iter().any(|d| path.ends_with(d))
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

/// A custom directory holding one rule derived from a bundled one, edited by `edit`.
fn custom_rule(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    let embedded =
        std::fs::read_to_string(root().join("rules/expired/api-key-expired.toml")).unwrap();
    let text = edit(embedded.replace(
        "id = \"api-key-expired\"",
        "id = \"site-expired\"\ncanonical = false",
    ))
    .replace("canonical = true\n", "");
    std::fs::write(dir.path().join("expired/site-expired.toml"), text).unwrap();
    dir
}

/// Like [`custom_rule`], but the rule keeps the bundled rule's id and file name, so it replaces
/// that rule instead of competing with it.
fn replacing_rule(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = custom_rule(|t| edit(t.replace("id = \"site-expired\"", "id = \"api-key-expired\"")));
    std::fs::rename(
        dir.path().join("expired/site-expired.toml"),
        dir.path().join("expired/api-key-expired.toml"),
    )
    .unwrap();
    dir
}

#[test]
fn lint_names_a_rule_another_rule_shadows() {
    // Same patterns, lower priority: the bundled rule wins every example.
    let dir = custom_rule(|t| with_priority(t, 10));
    let out = keydoctor(&["rules", "lint", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("keydoctor::rule::shadowed-rule"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("site-expired.toml"), "{}", out.stderr);
    let flat = crate::support::flat(&out.stderr);
    assert!(
        flat.contains(
            "rule `site-expired` is shadowed: its example \"update of an expired key\" is won by"
        ),
        "{flat}"
    );
    assert!(
        flat.contains("(expired, rules/expired/api-key-expired.toml (embedded))"),
        "{flat}"
    );
    assert!(flat.contains("another rule wins this example"), "{flat}");
    // Given the bundled rule's id, it replaces that rule instead: lint is clean.
    let dir = replacing_rule(|t| t);
    let out = keydoctor(&["rules", "lint", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("0 errors"), "{}", out.stdout);
}

#[test]
fn lint_checks_the_pairs_and_products_beside_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pairs.toml"),
        "[[pair]]\nid = \"p\"\ntitle = \"t\"\nquerying = [\"no-such-rule\"]\nfulfilling = []\njoin = \"time\"\ndecides = false\nsilent = \"\"\nboth = \"b\"\nfulfilling_silent = \"f\"\nquerying_silent = \"q\"\ncheck = \"c\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("products.toml"),
        "[[product]]\nid = \"x\"\nproduct = \"X\"\nname = '^(?P<a>'\ndepends = \"d\"\nbreaks = \"b\"\nsteps = [\"s\"]\n",
    )
    .unwrap();
    let out = keydoctor(&["rules", "lint", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    let flat = crate::support::flat(&out.stderr);
    for want in [
        "pair `p` names no rule `no-such-rule`",
        "product `x`: name regex",
        "products.toml (bundled) and",
    ] {
        assert!(flat.contains(want), "{want}: {flat}");
    }
    // A side that is neither is refused where the file is read, with its line.
    let pairs = std::fs::read_to_string(dir.path().join("pairs.toml")).unwrap();
    std::fs::write(
        dir.path().join("pairs.toml"),
        pairs.replace("silent = \"\"", "silent = \"neither\""),
    )
    .unwrap();
    let out = keydoctor(&["rules", "lint", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    let flat = crate::support::flat(&out.stderr);
    assert!(
        flat.contains("silent = `neither`") && flat.contains("line 8"),
        "{flat}"
    );
    // The bundled files alone are clean.
    let out = keydoctor(&["rules", "lint"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `keydoctor rules test DIR --filter ^site-`, expected to fail, with each of `parts` printed.
fn rules_test_fails_with(dir: &tempfile::TempDir, parts: &[&str]) {
    let out = keydoctor(
        &[
            "rules",
            "test",
            dir.path().to_str().unwrap(),
            "--filter",
            "^site-",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    for part in parts {
        assert!(out.stdout.contains(part), "{part:?} not in\n{}", out.stdout);
    }
}

/// The custom rule with this priority.
fn with_priority(t: String, priority: u32) -> String {
    t.replace(
        "severity = \"error\"",
        &format!("severity = \"error\"\npriority = {priority}"),
    )
}

#[test]
fn rules_test_prints_a_diff_of_expected_and_actual_captures() {
    let dir = custom_rule(|t| {
        with_priority(t, 90).replace(
            "captures = { key_id = \"g_PqP4IBcBaEQdwM5-WI\" }",
            "captures = { key_id = \"g_PqP4IBcBaEQdwM5-XX\" }",
        )
    });
    rules_test_fails_with(
        &dir,
        &[
            "FAIL  site-expired",
            "example \"update of an expired key\"",
            "- key_id = \"g_PqP4IBcBaEQdwM5-XX\"",
            "+ key_id = \"g_PqP4IBcBaEQdwM5-WI\"",
            "  class = expired",
            "4 examples of 1 rules: 3 passed, 1 failed\n",
        ],
    );
    // Shadowed: the diff names the rule and class that win.
    let dir = custom_rule(|t| with_priority(t, 10));
    rules_test_fails_with(&dir, &["- rule = site-expired", "+ rule = api-key-expired"]);
    let out = keydoctor(&["rules", "test", "--filter", "^no-such-rule$"], "");
    assert_eq!(out.code, 2);
}

#[test]
fn rules_show_prints_everything_a_rule_says() {
    let out = keydoctor(&["rules", "show", "api-key-expired"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for part in [
        "api-key-expired  (expired, error, priority 50, canonical)",
        "source: rules/expired/api-key-expired.toml (embedded)",
        "title: API key {key_id|(id not in the message)} has expired",
        "  any  (?i)(?<why>api key (?:is|has) expired)",
        "key_id: this key",
        "\nexplain\n  The key's expiration time has passed",
        "  2. Read the old key's role descriptors",
        "     only when: descriptors_unknown",
        "  3. Create the replacement key first",
        "     POST /_security/api_key",
        "     run as: user",
        "  [no-match] an OAuth2 token expiry is not an API key",
        "      | cannot update expired API key [g_PqP4IBcBaEQdwM5-WI]",
        "https://www.elastic.co/",
    ] {
        assert!(out.stdout.contains(part), "{part:?} not in\n{}", out.stdout);
    }
    let out = keydoctor(&["rules", "show", "no-such-rule"], "");
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("keydoctor rules list"),
        "{}",
        out.stderr
    );
}

/// A rule file as the JSON an editor's TOML language server validates.
fn rule_as_json(text: &str) -> serde_json::Value {
    let value: toml::Value = toml::from_str(text).unwrap();
    serde_json::to_value(value).unwrap()
}

#[test]
fn the_json_schema_accepts_every_bundled_rule_and_rejects_broken_ones() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("rules/schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is a valid schema");
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in walkdir::WalkDir::new(root().join("rules")) {
        let path = entry.unwrap().into_path();
        if path.extension().is_none_or(|e| e != "toml")
            || rule::DATA_FILES.iter().any(|d| path.ends_with(d))
            || path.parent().is_some_and(|p| p.ends_with("checks"))
        {
            continue;
        }
        let rule = rule_as_json(&std::fs::read_to_string(&path).unwrap());
        for error in validator.iter_errors(&rule) {
            failures.push(format!(
                "{}: {} at {}",
                path.display(),
                error,
                error.instance_path()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // What the schema says agrees with what the loader accepts.
    let mut classes: Vec<&str> = schema["properties"]["class"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Class::FAILURES.iter().map(|c| c.as_str()).collect();
    expected.push("note");
    classes.sort_unstable();
    expected.sort_unstable();
    assert_eq!(classes, expected);
    let vocabulary: Vec<&str> = schema["properties"]["labels"]["propertyNames"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(vocabulary, rule::CAPTURE_VOCABULARY);

    // Each mistake a rule author makes is caught.
    let good = rule_as_json(
        &std::fs::read_to_string(root().join("rules/expired/api-key-expired.toml")).unwrap(),
    );
    type Edit = fn(&mut serde_json::Value);
    let broken: [(&str, Edit); 8] = [
        ("misspelt field", |r| {
            r["remediaton"] = r["remediation"].clone();
        }),
        ("unknown class", |r| r["class"] = "expird".into()),
        ("id not kebab-case", |r| r["id"] = "Api_Key".into()),
        ("version as a float", |r| r["implies_version"] = 8.1.into()),
        ("capture outside the vocabulary", |r| {
            r["labels"]["keyid"] = "this key".into();
        }),
        ("http reference", |r| {
            r["reference"][0]["url"] = "http://example.com".into();
        }),
        ("no no-match example", |r| {
            let keep: Vec<_> = r["example"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["expect"] == "match")
                .cloned()
                .collect();
            r["example"] = keep.into();
        }),
        ("step with both include and title", |r| {
            r["remediation"][0]["include"] = "rotate-key".into();
        }),
    ];
    assert!(validator.is_valid(&good));
    for (name, edit) in broken {
        let mut rule = good.clone();
        edit(&mut rule);
        assert!(
            !validator.is_valid(&rule),
            "the schema accepts a rule with {name}"
        );
    }
}

#[test]
fn the_worked_example_in_the_rules_readme_lints_and_passes() {
    let readme = std::fs::read_to_string(root().join("rules/README.md")).unwrap();
    let section = &readme[readme.find("## A complete example").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let block = &section[start..start + section[start..].find("```\n").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("expired")).unwrap();
    std::fs::write(dir.path().join("expired/api-key-expired.toml"), block).unwrap();
    let path = dir.path().to_str().unwrap();
    let out = keydoctor(&["rules", "lint", path], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = keydoctor(
        &["rules", "test", path, "--filter", "^api-key-expired$"],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("ok    api-key-expired (3 examples)"),
        "{}",
        out.stdout
    );
    let out = keydoctor(
        &["explain", "--rules", path, "--format", "json"],
        "cannot update expired API key [g_PqP4IBcBaEQdwM5-WI]",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("api-key-expired overridden by"),
        "{}",
        out.stdout
    );
}

#[test]
fn lint_warns_when_the_literals_need_more_anchors_than_the_packed_search_takes() {
    // 70 literals with no window in common: each needs an anchor of its own.
    let many: Vec<String> = (100..170).map(|i| format!("\"{i}\"")).collect();
    // It replaces the bundled rule, so that nothing shadows it.
    let dir = replacing_rule(|t| {
        t.replace(
            "decisive = [",
            &format!(
                "literals = [\"api key is expired\", \"api key has expired\", \"cannot update expired api key [\", {}]\ndecisive = [",
                many.join(", ")
            ),
        )
    });
    let out = keydoctor(&["rules", "lint", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let flat = crate::support::flat(&out.stderr);
    assert!(
        flat.contains("need more than 64 anchors"),
        "{flat}\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("through 0 anchors"), "{}", out.stdout);
    // The bundled rules fit.
    let out = keydoctor(&["rules", "lint"], "");
    assert!(!out.stderr.contains("anchors"), "{}", out.stderr);
    assert!(!out.stdout.contains("through 0 anchors"), "{}", out.stdout);
}

#[test]
fn the_check_schema_accepts_every_bundled_check_and_agrees_with_the_loader() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("rules/checks/schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is a valid schema");
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("rules/checks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let check = rule_as_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> = validator
            .iter_errors(&check)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    let (set, _) = rule::load(None).unwrap();
    assert_eq!(checked, set.checks.len());
    let mut decisions: Vec<&str> = schema["properties"]["decision"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut known: Vec<&str> = rule::check::DECISIONS.iter().map(|d| d.code).collect();
    decisions.sort_unstable();
    known.sort_unstable();
    assert_eq!(decisions, known);
    let mut classes: Vec<&str> = schema["properties"]["class"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    expected.push("note");
    classes.sort_unstable();
    expected.sort_unstable();
    assert_eq!(classes, expected);
    // A misspelt field is refused by both.
    let broken = std::fs::read_to_string(root().join("rules/checks/doctor-audit-off.toml"))
        .unwrap()
        .replace("summary =", "sumary =");
    assert!(validator
        .iter_errors(&rule_as_json(&broken))
        .next()
        .is_some());
}

/// A rules directory holding one check rule: the bundled `name`, edited by `edit`.
fn custom_check(name: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    let bundled =
        std::fs::read_to_string(root().join(format!("rules/checks/{name}.toml"))).unwrap();
    std::fs::write(
        dir.path().join(format!("checks/{name}.toml")),
        edit(bundled),
    )
    .unwrap();
    dir
}

#[test]
fn doctor_checks_are_rules_that_list_show_and_test_know() {
    let out = keydoctor(&["rules", "list", "--format", "json"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let checks: Vec<&str> = list["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "check")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "doctor-security-disabled",
        "doctor-api-key-service-disabled",
        "doctor-key-without-expiration",
        "doctor-key-expiring-soon",
        "doctor-remote-api-key-on-transport-port",
        "doctor-remote-port-without-credentials",
        "doctor-remote-api-key-sniff",
        "doctor-remote-api-key-not-connected",
    ] {
        assert!(checks.contains(&id), "{id} not in {checks:?}");
    }
    let out = keydoctor(&["rules", "test", "--filter", "^doctor-"], "");
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("ok    doctor-remote-api-key-sniff (3 examples)"),
        "{}",
        out.stdout
    );
    let out = keydoctor(&["rules", "show", "doctor-key-expiring-soon"], "");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for part in [
        "decision: key.expiring_soon (the decision may raise it to error)",
        "fields key_id, key, owner, when, left, version",
        "(only when can_update)",
        "[error] an hour left is an error on 8.15.1",
    ] {
        assert!(out.stdout.contains(part), "{part:?} not in\n{}", out.stdout);
    }
}

/// `keydoctor rules test DIR --filter ^doctor-audit-off$` fails, saying `says`.
fn audit_check_fails_with(dir: &tempfile::TempDir, says: &str) {
    let out = keydoctor(
        &[
            "rules",
            "test",
            dir.path().to_str().unwrap(),
            "--filter",
            "^doctor-audit-off$",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains(says), "{says:?} not in\n{}", out.stdout);
}

#[test]
fn a_check_example_that_expects_another_outcome_fails_rules_test() {
    let dir = custom_check("doctor-audit-off", |t| {
        t.replacen("expect = \"note\"", "expect = \"error\"", 1)
    });
    audit_check_fails_with(
        &dir,
        "example \"audit off\": expected the check to come out as error, it came out as note",
    );
    let dir = custom_check("doctor-audit-off", |t| {
        t.replace(
            r#""audit": {"enabled": true}"#,
            r#""audit": {"enabled": false}"#,
        )
    });
    audit_check_fails_with(&dir, "example \"audit on\": expected no match, got one");
}

#[test]
fn a_broken_check_rule_is_an_error_naming_what_is_wrong() {
    let dir = custom_check("doctor-remote-api-key-sniff", |t| {
        t.replace(
            "Remote cluster {alias} uses",
            "Remote cluster {remote} uses",
        )
        .replace("sniff_in_yml = ", "sniff_in_yaml = ")
        .replace(
            "request = \"{proxy_request}\"",
            "request = \"POST /_security/api_key\\n{}\"",
        )
    });
    let err = rule::load(Some(dir.path())).unwrap_err();
    let codes: Vec<&str> = err.problems.iter().map(|p| p.code).collect();
    for code in [
        "unknown-variable",
        "unknown-part",
        "missing-text",
        "create-without-descriptors",
    ] {
        assert!(codes.contains(&code), "{code} not in {codes:?}");
    }
    assert!(err
        .problems
        .iter()
        .all(|p| p.file.ends_with("doctor-remote-api-key-sniff.toml")));
    let dir = custom_check("doctor-audit-off", |t| {
        t.replace("decision = \"audit.off\"", "decision = \"audit.of\"")
    });
    let err = rule::load(Some(dir.path())).unwrap_err();
    assert!(
        err.problems.iter().any(|p| p.code == "unknown-decision"),
        "{:?}",
        err.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
    );
}

#[test]
fn the_causes_a_message_leaves_open_are_the_rule_files_word_not_its_id() {
    // A site's copy of the wrong-secret rule without `differential` gets none: the file, not
    // the rule's id, says which causes the message leaves open.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("malformed_credentials")).unwrap();
    let bundled =
        std::fs::read_to_string(root().join("rules/malformed_credentials/wrong-secret.toml"))
            .unwrap();
    std::fs::write(
        dir.path().join("malformed_credentials/wrong-secret.toml"),
        bundled.replace("differential = \"wrong_secret\"\n", ""),
    )
    .unwrap();
    let input = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: invalid credentials for API key [VuaCfGcBCdbkQm-e5aOx]"}],"type":"security_exception"},"status":401}"#;
    let with = explain_differential(input, None);
    assert!(with.is_some(), "the bundled rule weighs the wrong secret");
    let without = explain_differential(input, Some(dir.path()));
    assert!(without.is_none(), "{without:?}");
    // A differential of another class's causes is refused.
    std::fs::write(
        dir.path().join("malformed_credentials/wrong-secret.toml"),
        bundled.replace(
            "differential = \"wrong_secret\"",
            "differential = \"remote_access_denied\"",
        ),
    )
    .unwrap();
    let err = rule::load(Some(dir.path())).unwrap_err();
    assert!(
        err.problems.iter().any(|p| p.code == "differential-class"),
        "{:?}",
        err.problems.iter().map(|p| &p.message).collect::<Vec<_>>()
    );
}

/// The first finding's `differential` of `keydoctor explain --format json` on `input`.
fn explain_differential(input: &str, rules: Option<&std::path::Path>) -> Option<serde_json::Value> {
    let mut args = vec!["explain", "--format", "json", "--no-config"];
    let dir;
    if let Some(d) = rules {
        dir = d.to_str().unwrap().to_string();
        args.extend(["--rules", dir.as_str()]);
    }
    let out = keydoctor(&args, input);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.stdout, out.stderr));
    let f = &report["findings"][0];
    assert_eq!(f["rule_id"], "wrong-secret", "{}", out.stdout);
    Some(f["differential"].clone()).filter(|d| !d.is_null())
}
