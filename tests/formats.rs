//! `--format ecs` checked against the Elastic Common Schema's own field list and allowed values
//! (fixtures/ecs, read from elastic/ecs at v8.11.0), and `--format html` checked for its
//! structure without a browser (`scripts/check-html` opens it in Chromium in CI).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::{keydoctor, root};

/// ECS field name → (type, whether ECS expects an array).
fn ecs_fields() -> BTreeMap<String, (String, bool)> {
    let text = std::fs::read_to_string(root().join("fixtures/ecs/fields-8.11.0.tsv"))
        .expect("ECS field list");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next().expect("name").to_string();
            let ty = cols.next().expect("type").to_string();
            let array = cols.next().unwrap_or("").contains("array");
            (name, (ty, array))
        })
        .collect()
}

fn ecs_allowed() -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/ecs/allowed-8.11.0.json"))
        .expect("ECS allowed values");
    serde_json::from_str::<Value>(&text).expect("allowed values JSON")["allowed"].clone()
}

/// Every leaf of `doc` by its dotted name (arrays of scalars are one leaf).
fn leaves(prefix: &str, doc: &Value, out: &mut Vec<(String, Value)>) {
    match doc {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&name, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn ecs_lines(args: &[&str], stdin: &str) -> Vec<Value> {
    let out = keydoctor(args, stdin);
    assert!(out.code <= 1, "{args:?}: {}", out.stderr);
    out.stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON per line ({e}): {l}"))
        })
        .collect()
}

fn check_ecs(doc: &Value, fields: &BTreeMap<String, (String, bool)>, allowed: &Value) {
    let mut all = Vec::new();
    leaves("", doc, &mut all);
    for (name, value) in &all {
        if name.starts_with("keydoctor.") {
            continue; // keydoctor's custom field set, as ECS asks custom fields to be
        }
        let (ty, array) = fields
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not an ECS 8.11 field"));
        let values: Vec<&Value> = match value {
            Value::Array(items) => {
                assert!(array, "{name} holds an array; ECS expects one value");
                items.iter().collect()
            }
            v => {
                assert!(!array, "{name}: ECS expects an array");
                vec![v]
            }
        };
        for v in values {
            match ty.as_str() {
                "keyword" | "match_only_text" | "text" | "wildcard" | "constant_keyword" => {
                    assert!(v.is_string(), "{name} ({ty}) holds {v}");
                }
                "date" => {
                    let s = v.as_str().unwrap_or_else(|| panic!("{name}: {v}"));
                    chrono::DateTime::parse_from_rfc3339(s)
                        .unwrap_or_else(|e| panic!("{name}: {s} is not RFC 3339: {e}"));
                }
                "long" => assert!(v.is_i64() || v.is_u64(), "{name} (long) holds {v}"),
                "ip" => {
                    let s = v.as_str().unwrap_or_else(|| panic!("{name}: {v}"));
                    s.parse::<std::net::IpAddr>()
                        .unwrap_or_else(|e| panic!("{name}: {s} is not an IP: {e}"));
                }
                other => panic!("{name}: keydoctor writes no ECS field of type {other}"),
            }
        }
    }
    // The categorisation fields take only their allowed values, and each event.type is one
    // that ECS expects for one of the event's categories.
    let event = &doc["event"];
    for (field, value) in [
        ("event.kind", &event["kind"]),
        ("event.outcome", &event["outcome"]),
    ] {
        let v = value.as_str().unwrap_or_else(|| panic!("{field} missing"));
        assert!(
            allowed[field].get(v).is_some(),
            "{field}: {v} is not allowed"
        );
    }
    let categories: Vec<&str> = event["category"]
        .as_array()
        .expect("event.category")
        .iter()
        .map(|v| v.as_str().expect("category"))
        .collect();
    let mut expected: BTreeSet<&str> = BTreeSet::new();
    for c in &categories {
        let types = allowed["event.category"]
            .get(*c)
            .unwrap_or_else(|| panic!("event.category: {c} is not allowed"));
        expected.extend(
            types
                .as_array()
                .expect("expected types")
                .iter()
                .map(|t| t.as_str().unwrap()),
        );
    }
    for t in event["type"].as_array().expect("event.type") {
        let t = t.as_str().expect("type");
        assert!(allowed["event.type"].get(t).is_some(), "event.type: {t}");
        assert!(
            expected.contains(t),
            "event.type {t} is expected by none of {categories:?}"
        );
    }
    for required in [
        "@timestamp",
        "message",
        "ecs.version",
        "event.reason",
        "error.code",
        "error.message",
    ] {
        assert!(
            all.iter().any(|(n, _)| n == required),
            "{required} missing in {doc}"
        );
    }
}

#[test]
fn ecs_documents_use_ecs_fields_with_their_types_and_allowed_values() {
    let fields = ecs_fields();
    let allowed = ecs_allowed();
    let incident = root().join("fixtures/scan/incident");
    let scan = ["scan", incident.to_str().unwrap()];
    let docs = ecs_lines(
        &[&scan[..], &["--format", "ecs", "--now", "2026-11-21"]].concat(),
        "",
    );
    assert_eq!(docs.len(), 3, "one document per finding");
    for doc in &docs {
        check_ecs(doc, &fields, &allowed);
        crate::schemas::assert_valid("ecs.schema.json", doc);
        assert_eq!(doc["keydoctor"]["schema_version"], 1);
        assert_eq!(doc["event"]["created"], "2026-11-21T00:00:00Z");
        assert_eq!(doc["@timestamp"], doc["event"]["end"], "the last failure");
    }
    let classes: BTreeSet<&str> = docs
        .iter()
        .map(|d| d["error"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        BTreeSet::from(["expired", "invalidated", "under_privileged"])
    );
    let invalidated = docs
        .iter()
        .find(|d| d["error"]["code"] == "invalidated")
        .unwrap();
    assert_eq!(invalidated["keydoctor"]["key_id"], "VuaCfGcBCdbkQm-e5aOx");
    assert_eq!(invalidated["keydoctor"]["count"], 16);
    assert_eq!(
        invalidated["related"]["ip"],
        serde_json::json!(["10.0.0.7"])
    );

    // Pastes of every class, and one without a time: @timestamp is then the report's time.
    for paste in [
        "{\"error\":{\"type\":\"security_exception\",\"reason\":\"action [indices:data/write/bulk[s]] is unauthorized for API key id [j7c0WYIBqecB5CbVR6Oq] of user [metrics_owner] on indices [logs-app-default], this action is granted by the index privileges [create_doc,create,index,write,all]\"},\"status\":403}",
        "[2026-11-20T08:00:05,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key is expired",
        r#"{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"},"status":401}"#,
    ] {
        let docs = ecs_lines(&["explain", "--format", "ecs", "--now", "2026-11-21"], paste);
        assert!(!docs.is_empty(), "no ECS document for {paste}");
        for doc in &docs {
            check_ecs(doc, &fields, &allowed);
            crate::schemas::assert_valid("ecs.schema.json", doc);
            let when = if doc["event"]["end"].is_null() {
                &doc["event"]["created"]
            } else {
                &doc["event"]["end"]
            };
            assert_eq!(&doc["@timestamp"], when, "{doc}");
        }
    }
}

#[test]
fn an_ecs_document_has_the_same_id_each_time_it_is_exported() {
    let incident = root().join("fixtures/scan/incident");
    let args = ["scan", incident.to_str().unwrap(), "--format", "ecs"];
    let ids = |docs: Vec<Value>| -> Vec<String> {
        docs.iter()
            .map(|d| d["event"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let a = ids(ecs_lines(&args, ""));
    assert_eq!(a, ids(ecs_lines(&args, "")));
    assert_eq!(
        a.iter().collect::<BTreeSet<_>>().len(),
        a.len(),
        "ids tell findings apart"
    );
}

fn html(args: &[&str], stdin: &str) -> String {
    let out = keydoctor(args, stdin);
    assert!(out.code <= 1, "{args:?}: {}", out.stderr);
    out.stdout
}

/// `keydoctor scan` of the bundled incident with `args` after it.
fn scan_incident(args: &[&str]) -> crate::support::Output {
    let incident = root().join("fixtures/scan/incident");
    let mut argv = vec!["scan", incident.to_str().unwrap()];
    argv.extend_from_slice(args);
    keydoctor(&argv, "")
}

/// The values of `attr="…"` in `text`, in order.
fn attrs<'a>(text: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    text.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &text[at + needle.len()..];
            &rest[..rest.find('"').expect("closing quote")]
        })
        .collect()
}

#[test]
fn the_html_page_is_self_contained_and_draws_every_key_s_failures_and_markers() {
    let page = scan_incident(&["--format", "html", "--now", "2026-11-21"]).stdout;
    let json = scan_incident(&["--format", "json", "--now", "2026-11-21"]);
    let report: Value = serde_json::from_str(&json.stdout).expect("json report");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    // Nothing the browser would fetch or run: no script, no external style, image or frame.
    for banned in [
        "<script", "<link", "<img", "<iframe", "@import", "url(", " src=",
    ] {
        assert!(!page.contains(banned), "{banned} in the page");
    }
    for href in attrs(&page, "href") {
        assert!(
            href.starts_with('#') || href.starts_with("https://"),
            "href {href}"
        );
    }
    let sections: Vec<&str> = page.split("<section class=\"finding").skip(1).collect();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(sections.len(), findings.len());
    for (section, finding) in sections.iter().zip(findings) {
        let section = &section[..section.find("</section>").unwrap()];
        let svg = &section[section.find("<svg class=\"timeline\"").expect("a timeline")..];
        let svg = &svg[..svg.find("</svg>").unwrap()];
        // Every failure is in one lane and one bar.
        let lanes: usize = attrs(svg, "data-total")
            .iter()
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        let bars: usize = attrs(svg, "data-count")
            .iter()
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        assert_eq!(
            lanes,
            finding["count"].as_u64().unwrap() as usize,
            "{}",
            finding["key_id"]
        );
        assert_eq!(bars, lanes);
        // One marker in the key's life per event of its timeline that is not a failure.
        let events: Vec<&str> = finding["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["event"].as_str().unwrap())
            .filter(|e| !e.ends_with("_failure"))
            .collect();
        let markers: Vec<&str> = svg
            .split("<g class=\"marker")
            .skip(1)
            .filter(|g| !g[..g.find('>').unwrap()].contains("data-panel"))
            .map(|g| attrs(g, "data-event")[0])
            .collect();
        assert_eq!(markers, events, "{}", finding["key_id"]);
    }
    // The invalidated key's incident window shows the last success and the invalidation, and
    // its lanes are the two nodes and filebeat's own log.
    let first = sections[0];
    assert!(first.contains("data-event=\"invalidated\" data-panel=\"incident\""));
    assert!(first.contains("data-event=\"last_success\" data-panel=\"incident\""));
    let nodes: BTreeSet<&str> = attrs(first, "data-node").into_iter().collect();
    assert_eq!(
        nodes,
        BTreeSet::from(["es-node-1", "es-node-2", "filebeat/"])
    );
}

#[test]
fn hostile_text_in_the_html_page_is_text() {
    let paste = "[2026-11-20T09:14:15,302][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [<img src=x onerror=alert(1)>] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated </pre><script>alert(2)</script>\u{1b}]8;;http://198.51.100.7/\u{7}x\u{1b}]8;;\u{7}\n";
    let page = html(&["explain", "--format", "html"], paste);
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "markup from the input"
    );
    assert!(page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert!(
        !page.contains('\u{1b}') && !page.contains('\u{7}'),
        "control characters"
    );
    assert!(page.contains("VuaCfGcBCdbkQm-e5aOx"));
}

#[test]
fn shared_html_has_pseudonyms_and_its_banner_and_no_secret() {
    let page = scan_incident(&["--format", "html", "--share"]).stdout;
    assert!(page.contains("<p class=\"banner\">Shared with <code>keydoctor --share</code>"));
    for real in ["es-node-1", "es-node-2", "10.0.0.7", "10.0.3.15"] {
        assert!(!page.contains(real), "{real} in a shared page");
    }
    assert!(page.contains("node-1") && page.contains("client-1"));
    // --share stays Markdown by default and refuses the formats it cannot make safe.
    let out = scan_incident(&["--share"]);
    assert!(
        out.stdout.starts_with("# keydoctor report"),
        "{}",
        out.stdout
    );
    let out = scan_incident(&["--share", "--format", "json"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--share writes Markdown"),
        "{}",
        out.stderr
    );
}

#[test]
fn html_and_ecs_are_formats_of_explain_and_scan_only() {
    for cmd in [&["key", "x"][..], &["expiring"][..], &["doctor"][..]] {
        for format in ["html", "ecs"] {
            let mut args = cmd.to_vec();
            args.extend(["--format", format]);
            let out = keydoctor(&args, "");
            assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
            assert!(
                crate::support::flat(&out.stderr).contains("html and ecs are for explain and scan"),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
}
