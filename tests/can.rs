//! `keydoctor can`: each answer the privilege atlas gives on fixtures/can/api_keys.json, with
//! the entry that decided, and for each denial a patch that, applied to the metadata, makes
//! `can` say allowed.

use serde_json::Value;

use crate::support::{fixture, keydoctor, root};

fn metadata() -> String {
    fixture("can/api_keys.json").display().to_string()
}

/// `can ID REQUEST --format json` on `file` for `version`: (exit code, answer).
fn ask_in(file: &str, id: &str, request: &str, version: &str) -> (u8, Value) {
    let out = keydoctor(
        &[
            "can",
            id,
            request,
            "--metadata",
            file,
            "--es-version",
            version,
            "--format",
            "json",
        ],
        "",
    );
    assert!(out.code != 2, "exit 2: {}", out.stderr);
    let answer: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    (out.code, answer)
}

fn ask(id: &str, request: &str, version: &str) -> (u8, Value) {
    ask_in(&metadata(), id, request, version)
}

/// The metadata with each of the answer's patches applied to key `id` (the side's `after`).
fn patched(id: &str, answer: &Value) -> tempfile::NamedTempFile {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("can/api_keys.json")).unwrap())
            .unwrap();
    let patches = answer["patches"].as_array().expect("patches");
    assert!(!patches.is_empty(), "a denial without a patch: {answer:#}");
    for key in doc["api_keys"].as_array_mut().unwrap() {
        if key["id"] == id {
            for p in patches {
                let side = p["side"].as_str().unwrap();
                key[side] = p["after"].clone();
            }
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    file
}

/// A denial: its verdict and deciding entry, and a patch after which the request is allowed.
fn denied_then_fixed(
    id: &str,
    request: &str,
    version: &str,
    verdict: &str,
    deciding: Option<&str>,
) -> Value {
    let (code, answer) = ask(id, request, version);
    assert_eq!(code, 1, "{answer:#}");
    assert_eq!(answer["verdict"], verdict, "{answer:#}");
    if let Some(path) = deciding {
        assert_eq!(answer["deciding"]["path"], path, "{answer:#}");
    }
    let file = patched(id, &answer);
    let (code, after) = ask_in(&file.path().display().to_string(), id, request, version);
    assert_eq!(after["verdict"], "allowed", "patched: {after:#}");
    assert_eq!(code, 0);
    answer
}

fn trace_has(answer: &Value, words: &str) -> bool {
    answer["trace"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains(words))
}

#[test]
fn an_index_action_the_key_and_its_owner_grant_is_allowed() {
    let (code, a) = ask(
        "Ab3dEf6hIj9kLm2nOp5q",
        "POST /logs-app-default/_bulk",
        "8.15",
    );
    assert_eq!((code, a["verdict"].as_str()), (0, Some("allowed")), "{a:#}");
    assert_eq!(a["action"], "indices:data/write/bulk[s]");
    assert_eq!(a["deciding"]["path"], "role_descriptors.writer.indices[0]");
    assert_eq!(a["least_privilege"], "create_doc");
    assert!(a["patches"].as_array().unwrap().is_empty());
}

#[test]
fn denied_by_the_keys_descriptors_and_the_patch_names_exactly_the_index() {
    let a = denied_then_fixed(
        "Mx7TqW2rLp9sKd4vBn6c",
        "POST /logs-app-default/_bulk",
        "8.15",
        "denied_by_descriptors",
        None,
    );
    let p = &a["patches"][0];
    assert_eq!(p["side"], "role_descriptors");
    assert_eq!(p["privilege"], "create_doc");
    assert!(p["diff"]
        .as_str()
        .unwrap()
        .contains("+        \"names\": [\"logs-app-default\"],"));
    // Updated by the owner, with a password: never an API key.
    assert_eq!(p["requests"][0]["run_as"], "owner");
    assert!(p["requests"][0]["request"]
        .as_str()
        .unwrap()
        .starts_with("PUT /_security/api_key/Mx7TqW2rLp9sKd4vBn6c\n"));
}

#[test]
fn denied_by_the_owners_snapshot_names_the_owner_entry_and_refreshes_the_key() {
    let a = denied_then_fixed(
        "Qz8YhN3jRf5tGb1wVc7x",
        "POST /logs-app-default/_bulk",
        "8.15",
        "denied_by_owner",
        Some("limited_by.logs_reader.indices[0]"),
    );
    // A new role with the grant alone: the owner's role is never rewritten from the snapshot.
    let requests = &a["patches"][0]["requests"];
    assert_eq!(requests[0]["run_as"], "admin");
    let role = requests[0]["request"].as_str().unwrap();
    assert!(
        role.starts_with("PUT /_security/role/key-Qz8YhN3jRf5tGb1wVc7x-grant\n"),
        "{role}"
    );
    assert!(
        !role.contains("view_index_metadata"),
        "only the grant: {role}"
    );
    assert_eq!(requests[1]["request"], "GET /_security/user/ingest_bot");
    assert_eq!(requests[2]["run_as"], "owner");
    // Before 8.4 there is no update API: the note says to rotate instead, and no update is printed.
    let (_, old) = ask(
        "Qz8YhN3jRf5tGb1wVc7x",
        "POST /logs-app-default/_bulk",
        "8.3",
    );
    assert_eq!(old["patches"][0]["requests"].as_array().unwrap().len(), 2);
    assert!(old["notes"].to_string().contains("no update API key API"));
}

#[test]
fn a_restricted_index_needs_allow_restricted_indices() {
    let a = denied_then_fixed(
        "Rk2PwS9dFm4hJn7bXq1z",
        "GET /.security-7/_search",
        "8.15",
        "denied_by_descriptors",
        Some("role_descriptors.auditor.indices[0]"),
    );
    assert!(trace_has(&a, "restricted index"), "{a:#}");
    assert!(
        a["reasons"]
            .to_string()
            .contains("allow_restricted_indices: true"),
        "{a:#}"
    );
    assert!(a["patches"][0]["diff"]
        .as_str()
        .unwrap()
        .contains("\"allow_restricted_indices\": true"));
    // An ordinary index under the same pattern is allowed.
    let (code, _) = ask("Rk2PwS9dFm4hJn7bXq1z", "GET /audit-2026/_search", "8.15");
    assert_eq!(code, 0);
}

#[test]
fn a_data_streams_backing_index_is_granted_by_the_stream() {
    let (code, a) = ask(
        "Tb5NcV8xZq3mLw6rHk2j",
        "GET /.ds-logs-app-default-2026.11.30-000004/_search",
        "8.15",
    );
    assert_eq!((code, a["verdict"].as_str()), (0, Some("allowed")), "{a:#}");
    assert!(trace_has(
        &a,
        "backing index of data stream [logs-app-default]"
    ));
    assert_eq!(a["targets"][0]["data_stream"], "logs-app-default");
    // Another stream's backing index is not.
    let (code, _) = ask(
        "Tb5NcV8xZq3mLw6rHk2j",
        "GET /.ds-logs-web-default-2026.11.30-000004/_search",
        "8.15",
    );
    assert_eq!(code, 1);
}

#[test]
fn a_failure_store_read_needs_read_failure_store_from_9_1() {
    let a = denied_then_fixed(
        "Tb5NcV8xZq3mLw6rHk2j",
        "GET /logs-app-default::failures/_search",
        "9.1",
        "denied_by_descriptors",
        Some("role_descriptors.reader.indices[0]"),
    );
    assert_eq!(a["least_privilege"], "read_failure_store");
    assert_eq!(a["granted_by"][0], "read_failure_store");
    assert!(trace_has(&a, "other component"), "{a:#}");
    // 9.0 has no failure-store selector: nothing to grant, the request is refused as such.
    let (code, old) = ask(
        "Tb5NcV8xZq3mLw6rHk2j",
        "GET /logs-app-default::failures/_search",
        "9.0",
    );
    assert_eq!((code, old["verdict"].as_str()), (3, Some("undecidable")));
}

#[test]
fn a_cross_cluster_search_is_denied_by_remote_indices() {
    let a = denied_then_fixed(
        "Wd1GfH4jKl7mNp0qRs3t",
        "indices:data/read/search us-east:logs-app-*",
        "8.15",
        "denied_by_remote_indices",
        None,
    );
    let diff = a["patches"][0]["diff"].as_str().unwrap();
    assert!(diff.contains("\"clusters\": [\"us-east\"]"), "{diff}");
    assert!(diff.contains("\"read_cross_cluster\""), "{diff}");
    // The cluster it has remote_indices for is allowed.
    let (code, _) = ask(
        "Wd1GfH4jKl7mNp0qRs3t",
        "indices:data/read/search eu-west:logs-app-*",
        "8.15",
    );
    assert_eq!(code, 0);
}

#[test]
fn a_document_behind_a_dls_query_is_undecidable_its_patch_grants_only_it_and_a_search_is_filtered()
{
    let (code, a) = ask("Yh6JkL9mNq2rSt5vWx8z", "GET /logs-shared/_doc/42", "8.15");
    assert_eq!(
        (code, a["verdict"].as_str()),
        (3, Some("undecidable")),
        "{a:#}"
    );
    assert_eq!(a["deciding"]["path"], "role_descriptors.tenant.indices[0]");
    assert!(a["reasons"]
        .to_string()
        .contains("document-level security query"));
    // The one step that decides it: that document counted under the key's query.
    let fetch = a["fetch"]["request"].as_str().unwrap_or_default();
    assert!(fetch.starts_with("GET /logs-shared/_count"), "{fetch}");
    assert!(
        fetch.contains(r#""values": ["42"]"#) && fetch.contains(r#""tenant": "a""#),
        "{fetch}"
    );
    assert_eq!(a["fetch"]["run_as"], "user");
    // For a count of 0, the patch grants exactly that document beside the query, which stays.
    let p = &a["patches"][0];
    assert_eq!(p["side"], "role_descriptors", "{a:#}");
    let added = p["after"]["tenant"]["indices"].as_array().unwrap();
    assert_eq!(added[0]["query"], "{\"term\": {\"tenant\": \"a\"}}");
    assert_eq!(
        added.last().unwrap()["query"],
        serde_json::json!({"ids": {"values": ["42"]}})
    );
    assert!(a["notes"].to_string().contains("count of 0"), "{a:#}");
    assert_eq!(
        p["only_if"],
        "if the count above is 0 and the key must read it"
    );
    let file = patched("Yh6JkL9mNq2rSt5vWx8z", &a);
    let file = file.path().display().to_string();
    let (code, after) = ask_in(
        &file,
        "Yh6JkL9mNq2rSt5vWx8z",
        "GET /logs-shared/_doc/42",
        "8.15",
    );
    assert_eq!(
        (code, after["verdict"].as_str()),
        (0, Some("allowed")),
        "{after:#}"
    );
    assert!(after["patches"].as_array().unwrap().is_empty());
    // Any other document is still the query's to decide.
    let (code, other) = ask_in(
        &file,
        "Yh6JkL9mNq2rSt5vWx8z",
        "GET /logs-shared/_doc/43",
        "8.15",
    );
    assert_eq!((code, other["verdict"].as_str()), (3, Some("undecidable")));
    let (code, s) = ask("Yh6JkL9mNq2rSt5vWx8z", "GET /logs-shared/_search", "8.15");
    assert_eq!(code, 0);
    assert!(s["notes"].to_string().contains("filtered"));
}

#[test]
fn a_built_in_owner_role_gets_a_new_role_too() {
    let a = denied_then_fixed(
        "Vn4BzX7cQw1eRt8yUi5o",
        "PUT /reports-2026/_doc/1",
        "8.15",
        "denied_by_owner",
        Some("limited_by.viewer.indices[0]"),
    );
    let role = a["patches"][0]["requests"][0]["request"].as_str().unwrap();
    assert!(
        role.starts_with("PUT /_security/role/key-Vn4BzX7cQw1eRt8yUi5o-grant\n"),
        "{role}"
    );
    assert!(
        !role.contains("view_index_metadata"),
        "only the grant: {role}"
    );
}

#[test]
fn missing_limited_by_is_undecidable_and_the_answer_says_how_to_get_it() {
    let (code, a) = ask(
        "Pe3RtY6uIo9pAs2dFg5h",
        "POST /logs-app-default/_bulk",
        "8.15",
    );
    assert_eq!(
        (code, a["verdict"].as_str()),
        (3, Some("undecidable")),
        "{a:#}"
    );
    assert_eq!(
        a["fetch"]["request"],
        "GET /_security/api_key?id=Pe3RtY6uIo9pAs2dFg5h&with_limited_by=true"
    );
    assert_eq!(a["fetch"]["run_as"], "admin");
    // A key without descriptors of its own: the owner's snapshot alone decides.
    let (code, _) = ask(
        "Jk8LzX1cVb4nMq7wEr0t",
        "POST /logs-app-default/_bulk",
        "8.15",
    );
    assert_eq!(code, 0);
    let (code, b) = ask(
        "Jk8LzX1cVb4nMq7wEr0t",
        "GET /logs-app-default/_search",
        "8.15",
    );
    assert_eq!((code, b["verdict"].as_str()), (1, Some("denied_by_owner")));
}

#[test]
fn cluster_actions_are_checked_against_cluster_privileges() {
    let (code, a) = ask("Ab3dEf6hIj9kLm2nOp5q", "GET /", "8.15");
    assert_eq!((code, a["verdict"].as_str()), (0, Some("allowed")), "{a:#}");
    assert_eq!(a["deciding"]["path"], "role_descriptors.writer.cluster");
    let a = denied_then_fixed(
        "Qz8YhN3jRf5tGb1wVc7x",
        "GET /_cluster/health",
        "8.15",
        "denied_by_descriptors",
        None,
    );
    // Neither the key nor its owner has monitor: both sides are patched.
    assert_eq!(a["patches"].as_array().unwrap().len(), 2, "{a:#}");
    assert!(a["reasons"].to_string().contains("both need the change"));
}

#[test]
fn the_human_answer_names_the_verdict_entry_and_steps() {
    let out = keydoctor(
        &[
            "can",
            "Qz8YhN3jRf5tGb1wVc7x",
            "POST /logs-app-default/_bulk",
            "--metadata",
            &metadata(),
            "--es-version",
            "8.15",
            "--explain",
            "--curl",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.contains("DENIED (the owner's snapshot, limited_by)"),
        "{text}"
    );
    assert!(
        text.contains("nearest entry: limited_by.logs_reader.indices[0]"),
        "{text}"
    );
    assert!(
        text.contains("1. Run as a user with manage_security"),
        "{text}"
    );
    assert!(text.contains("-u \"$ES_USERNAME:$ES_PASSWORD\""), "{text}");
    assert!(text.contains("How it was decided:"), "{text}");
    // Unknown requests are a usage error that says what to write instead.
    let out = keydoctor(
        &[
            "can",
            "Qz8YhN3jRf5tGb1wVc7x",
            "GET /_frob/x/y",
            "--metadata",
            &metadata(),
        ],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("name the action instead"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_readme_answer_is_what_can_prints() {
    // README's `can` section shows the answer to its first command; keep them in step.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let block = &readme[readme
        .find("<!-- can-output -->")
        .expect("README can marker")..];
    let start = block.find("```text\n").expect("fenced block") + "```text\n".len();
    let end = block[start..].find("\n```").expect("fence end") + start;
    let shown = &block[start..end];
    let shown = &shown[..shown.rfind("\n[…").unwrap_or(shown.len())];
    let section = &readme[..readme.find("<!-- can-output -->").unwrap()];
    let command = section
        .lines()
        .rev()
        .find(|l| l.starts_with("keydoctor can Qz8"))
        .expect("the command");
    let args: Vec<String> = command
        .split_whitespace()
        .skip(1)
        .map(|w| w.trim_matches('\'').to_string())
        .collect();
    // `'POST /logs-app-default/_bulk'` is one argument.
    let mut argv: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for (raw, word) in command.split_whitespace().skip(1).zip(&args) {
        match open.take() {
            Some(mut acc) => {
                acc.push(' ');
                acc.push_str(word);
                if raw.ends_with('\'') {
                    argv.push(acc);
                } else {
                    open = Some(acc);
                }
            }
            None if raw.starts_with('\'') && !raw.ends_with('\'') => open = Some(word.clone()),
            None => argv.push(word.clone()),
        }
    }
    let mut argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    argv.extend(["--color", "never"]);
    let out = keydoctor(&argv, "");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(shown.trim_end()),
        "README's can answer is stale: update it from `{command}`\n{}",
        out.stdout
    );
}

#[test]
fn with_key_env_the_clusters_has_privileges_answer_decides() {
    use crate::support::keydoctor_env;
    use crate::support::replay::{Replay, Route};
    let encoded = "UXo4WWhOM2pSZjV0R2Ixd1ZjN3g6Y2FuLXNlY3JldC01Njc4";
    let ask = |granted: bool| {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(metadata()).unwrap()).unwrap();
        let key = doc["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == "Qz8YhN3jRf5tGb1wVc7x")
            .unwrap()
            .clone();
        let replay = Replay::start(vec![
            Route::json("GET", "/", 200, &crate::cluster::root_8()),
            Route::json(
                "GET",
                "/_security/api_key?id=Qz8YhN3jRf5tGb1wVc7x&with_limited_by=true",
                200,
                &serde_json::json!({"api_keys": [key]}).to_string(),
            ),
            Route::json(
                "POST",
                "/_security/user/_has_privileges",
                200,
                &format!(
                    r#"{{"username":"ingest_bot","has_all_requested":{granted},"cluster":{{}},"index":{{"logs-app-default":{{"indices:data/write/bulk[s]":{granted}}}}},"application":{{}}}}"#
                ),
            ),
        ]);
        let out = keydoctor_env(
            &[
                "can",
                "Qz8YhN3jRf5tGb1wVc7x",
                "indices:data/write/bulk[s] logs-app-default",
                "--es-version",
                "8.15",
                "--es-url",
                &replay.url,
                "--with-key-env",
                "CLIENT_KEY",
                "--format",
                "json",
            ],
            &[
                ("CLIENT_KEY", encoded),
                ("ES_API_KEY", crate::cluster::SECRET_KEY),
            ],
        );
        (out, replay.requests())
    };
    // The atlas says the owner's snapshot denies it; the cluster, asked with the key, agrees.
    let (out, requests) = ask(false);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let a: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(a["cluster_grants"], false);
    assert!(a["cluster_said"][0]
        .as_str()
        .unwrap()
        .starts_with("confirmed on the cluster"));
    // keydoctor's own calls carry its own key, never the client's.
    for r in requests
        .iter()
        .filter(|r| r.target != "/_security/user/_has_privileges")
    {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("ApiKey {}", crate::cluster::SECRET_KEY).as_str()),
            "{}",
            r.target
        );
    }
    let requests: Vec<_> = requests
        .into_iter()
        .filter(|r| r.target == "/_security/user/_has_privileges")
        .collect();
    assert_eq!(requests.len(), 1, "one target, one question");
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some(format!("ApiKey {encoded}").as_str()),
        "sent with the key itself"
    );
    let body: Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"index": [{"names": ["logs-app-default"], "privileges": ["indices:data/write/bulk[s]"]}]})
    );
    // The cluster says it holds it: its answer stands (exit 0), and the disagreement is said.
    let (out, _) = ask(true);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let a: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        a["verdict"], "denied_by_owner",
        "the atlas's answer is kept beside it"
    );
    assert!(a["cluster_said"][0]
        .as_str()
        .unwrap()
        .contains("the cluster disagrees"));
    assert!(!out.stdout.contains("can-secret") && !out.stderr.contains("can-secret"));
    // Another key's value is refused before anything is sent.
    let other = keydoctor_env(
        &[
            "can",
            "Ab3dEf6hIj9kLm2nOp5q",
            "GET /",
            "--es-url",
            "http://127.0.0.1:9",
            "--with-key-env",
            "CLIENT_KEY",
        ],
        &[("CLIENT_KEY", encoded)],
    );
    assert_eq!(other.code, 2);
    assert!(
        other.stderr.contains("holds key Qz8YhN3jRf5tGb1wVc7x"),
        "{}",
        other.stderr
    );
}

#[test]
fn a_second_entry_without_a_query_lifts_the_document_filter_as_elasticsearch_unites_them() {
    // Elasticsearch applies a side's document queries only when every entry granting the
    // action has one: the tenant entry's query does not hide document 42 from the second.
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("can/api_keys.json")).unwrap())
            .unwrap();
    for key in doc["api_keys"].as_array_mut().unwrap() {
        if key["id"] == "Yh6JkL9mNq2rSt5vWx8z" {
            key["role_descriptors"]["viewer"] =
                serde_json::json!({"indices": [{"names": ["logs-*"], "privileges": ["read"]}]});
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&doc).unwrap()).unwrap();
    let file = file.path().display().to_string();
    let (code, a) = ask_in(
        &file,
        "Yh6JkL9mNq2rSt5vWx8z",
        "GET /logs-shared/_doc/42",
        "8.15",
    );
    assert_eq!((code, a["verdict"].as_str()), (0, Some("allowed")), "{a:#}");
    assert_eq!(a["deciding"]["path"], "role_descriptors.viewer.indices[0]");
    assert!(!a["notes"].to_string().contains("filtered"), "{a:#}");
}
