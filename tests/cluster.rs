//! The live cluster, against a replay server that answers as Elasticsearch 7.17 and 8.x do:
//! `key` and `expiring` with `--es-url`, keydoctor's own credentials, privileges, and every way
//! the connection can fail.

use std::time::Duration;

use serde_json::Value;

use crate::support::replay::{Replay, Route};
use crate::support::{keydoctor_env, keydoctor_env_stdin, NOW};

pub(crate) const SECRET_KEY: &str = "VG9vbEtleUlkQUFBQUFBQUFBQUE6dG9vbC1zZWNyZXQtMTIzNDU2";

pub(crate) fn root_8() -> String {
    r#"{
  "name" : "es-node-1",
  "cluster_name" : "prod-logs",
  "cluster_uuid" : "Zx8H2xAcR3yKXk5DkT0lUA",
  "version" : {
    "number" : "8.12.2",
    "build_flavor" : "default",
    "build_type" : "docker",
    "build_hash" : "48a287ab9497e852de30327444b0809e55d46466",
    "build_date" : "2024-02-19T10:04:32.774273190Z",
    "build_snapshot" : false,
    "lucene_version" : "9.9.2",
    "minimum_wire_compatibility_version" : "7.17.0",
    "minimum_index_compatibility_version" : "7.0.0"
  },
  "tagline" : "You Know, for Search"
}"#
    .into()
}

pub(crate) fn root_7() -> String {
    root_8()
        .replace("8.12.2", "7.17.10")
        .replace("9.9.2", "8.11.1")
        .replace("7.17.0", "6.8.0")
        .replace("\"7.0.0\"", "\"6.0.0-beta1\"")
}

/// The incident's Filebeat key as 8.12 returns it with `with_limited_by=true`.
fn filebeat_key() -> String {
    r#"{"api_keys":[{"id":"VuaCfGcBCdbkQm-e5aOx","name":"filebeat-prod","type":"rest","creation":1794297900000,"invalidated":true,"invalidation":1795166043247,"username":"ingest_owner","realm":"native1","metadata":{},"role_descriptors":{"filebeat_writer":{"cluster":["monitor"],"indices":[{"names":["filebeat-*"],"privileges":["create_doc"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}},"limited_by":[{"ingest_role":{"cluster":["monitor","manage_ilm"],"indices":[{"names":["filebeat-*","logs-*"],"privileges":["create_doc","create_index"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}}]}]}"#.into()
}

/// `GET /_security/api_key?id=VuaCf…&with_limited_by=true` answered with [`filebeat_key`].
fn filebeat_route() -> Route {
    Route::json(
        "GET",
        "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&with_limited_by=true",
        200,
        &filebeat_key(),
    )
}

fn unauthorized_401() -> Route {
    let mut r = Route::json(
        "GET",
        "/",
        401,
        r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: invalid credentials for API key [ToolKeyIdAAAAAAAAAAA]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}],"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: invalid credentials for API key [ToolKeyIdAAAAAAAAAAA]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}},"status":401}"#,
    );
    r.headers.push(("www-authenticate", "ApiKey".into()));
    r
}

pub(crate) fn forbidden(action: &str) -> String {
    format!(
        r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"action [{action}] is unauthorized for user [reader] with effective roles [own_keys], this action is granted by the cluster privileges [manage_api_key,manage_security,all]"}}],"type":"security_exception","reason":"action [{action}] is unauthorized for user [reader] with effective roles [own_keys], this action is granted by the cluster privileges [manage_api_key,manage_security,all]"}},"status":403}}"#
    )
}

fn run(replay_url: &str, args: &[&str]) -> crate::support::Output {
    let mut argv = args.to_vec();
    argv.extend_from_slice(&["--es-url", replay_url, "--now", NOW]);
    // A wide terminal: error messages are checked unwrapped.
    keydoctor_env(&argv, &[("ES_API_KEY", SECRET_KEY), ("COLUMNS", "400")])
}

fn assert_no_secret(out: &crate::support::Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(SECRET_KEY), "the tool's key leaked: {text}");
        assert!(
            !text.contains("tool-secret"),
            "the tool's secret leaked: {text}"
        );
    }
}

#[test]
fn key_from_an_8x_cluster_with_limited_by() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route(),
    ]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_no_secret(&out);
    let k: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(k["state"], "invalidated");
    assert_eq!(k["invalidation"], "2026-11-20T09:14:03Z");
    let source = k["sources"][0].as_str().unwrap();
    assert!(
        source.contains("Elasticsearch 8.12.2, cluster prod-logs"),
        "{source}"
    );
    let kinds: Vec<(&str, &str)> = k["privileges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["source"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("limited_by", "index")), "{kinds:?}");
    let seen = replay.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.method == "GET"
        && r.authorization.as_deref() == Some(&format!("ApiKey {SECRET_KEY}"))));
}

#[test]
fn key_from_a_7_17_cluster_asks_without_limited_by() {
    let body = filebeat_key().replace(r#""type":"rest","#, "");
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_7()),
        Route::json(
            "GET",
            "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx",
            200,
            &body,
        ),
    ]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let targets: Vec<String> = replay.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        vec!["/", "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx"]
    );
}

#[test]
fn own_keys_only_credentials_are_explained() {
    let get = "cluster:admin/xpack/security/api_key/get";
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "GET",
            "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&with_limited_by=true",
            403,
            &forbidden(get),
        ),
        Route::json(
            "GET",
            "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx",
            403,
            &forbidden(get),
        ),
        Route::json(
            "GET",
            "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&owner=true",
            200,
            r#"{"api_keys":[]}"#,
        ),
    ]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--format", "json"],
    );
    assert_eq!(out.code, 1);
    let k: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(k["state"], "missing");
    let notes = k["notes"].to_string();
    assert!(notes.contains("limited_by is not visible"), "{notes}");
    assert!(notes.contains("only their own keys"), "{notes}");
}

#[test]
fn the_tools_own_credentials_rejected_is_said_so() {
    let replay = Replay::start(vec![unauthorized_401()]);
    let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2);
    assert_no_secret(&out);
    let err = out.stderr.replace('\n', " ");
    assert!(
        err.contains("rejected keydoctor's own credentials"),
        "{err}"
    );
    assert!(err.contains("not the key under study"), "{err}");
    assert!(err.contains("ES_API_KEY"), "{err}");
}

#[test]
fn forbidden_listing_says_which_privilege() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "POST",
            "/_security/_query/api_key",
            403,
            &forbidden("cluster:admin/xpack/security/api_key/query"),
        ),
    ]);
    let out = run(&replay.url, &["expiring"]);
    assert_eq!(out.code, 2);
    let err = out.stderr.replace('\n', " ");
    assert!(
        err.contains("may not POST /_security/_query/api_key"),
        "{err}"
    );
    assert!(err.contains("manage_own_api_key"), "{err}");
}

#[test]
fn expiring_from_the_query_api() {
    let body = r#"{"total":2,"count":2,"api_keys":[{"id":"SoonKeyAAAAAAAAAAAAA","name":"grafana","type":"rest","creation":1793491200000,"expiration":1795824000000,"invalidated":false,"username":"grafana","realm":"native1","realm_type":"native","metadata":{},"role_descriptors":{},"_sort":[1795824000000,1793491200000]},{"id":"LaterKeyAAAAAAAAAAAA","name":"later","type":"rest","creation":1793491200000,"expiration":1819756800000,"invalidated":false,"username":"u","realm":"native1","metadata":{},"role_descriptors":{},"_sort":[1819756800000,1793491200000]}]}"#;
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json("POST", "/_security/_query/api_key", 200, body),
    ]);
    let out = run(
        &replay.url,
        &["expiring", "--within", "14d", "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["keys"][0]["id"], "SoonKeyAAAAAAAAAAAAA");
    assert_eq!(r["keys"].as_array().unwrap().len(), 1);
    let query = &replay.requests()[1];
    let sent: Value = serde_json::from_str(&query.body).unwrap();
    assert_eq!(
        sent["query"]["bool"]["filter"][0]["term"]["invalidated"],
        false
    );
}

#[test]
fn connection_failures_are_named() {
    // Nothing listens on this port (bound, then dropped).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &format!("http://127.0.0.1:{port}"),
        &["key", "VuaCfGcBCdbkQm-e5aOx"],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot connect to"), "{}", out.stderr);
    // An HTML error page from a proxy, twice (one retry): its status and first lines.
    let mut page = Route::json(
        "GET",
        "/",
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
    );
    page.headers = vec![("content-type", "text/html".into())];
    let replay = Replay::start(vec![page]);
    let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2);
    let err = out.stderr.replace('\n', " ");
    assert!(
        err.contains("unexpected answer to GET /: HTTP 502 (text/html)"),
        "{err}"
    );
    assert!(err.contains("502 Bad Gateway"), "{err}");
    assert_eq!(replay.requests().len(), 2, "one retry on a 502");
    // TLS spoken to a plain-HTTP port.
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8())]);
    let https = replay.url.replace("http://", "https://");
    let out = run(&https, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("TLS with"), "{}", out.stderr);
    assert!(
        out.stderr.contains("does not speak TLS on this port")
            || out
                .stderr
                .contains("closed the connection during the TLS handshake"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_dropped_connection_is_retried_once_and_a_slow_one_times_out() {
    let mut drop_once = Route::json("GET", "/", 200, &root_8());
    drop_once.hang_up = true;
    drop_once.times = Some(1);
    let replay = Replay::start(vec![
        drop_once,
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route(),
    ]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let mut slow = Route::json("GET", "/", 200, &root_8());
    slow.delay = Some(Duration::from_secs(3));
    let replay = Replay::start(vec![slow]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--timeout", "1"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did not answer within 1 s"),
        "{}",
        out.stderr
    );
}

/// `GET /` answered by something that is not Elasticsearch, or by an old node (no header).
fn root_without_product(body: &str) -> Route {
    let mut route = Route::json("GET", "/", 200, body);
    route
        .headers
        .retain(|(name, _)| *name != "x-elastic-product");
    route
}

#[test]
fn a_server_that_is_not_elasticsearch_is_refused_by_name() {
    let cases = [
        (
            root_without_product(r#"{"hello":"world"}"#),
            "is not Elasticsearch: GET / answered HTTP 200 without the X-elastic-product header and without version.number",
        ),
        (
            root_without_product(&root_8()),
            "answers like Elasticsearch 8.12.2 but without the X-elastic-product header",
        ),
        (
            root_without_product(
                r#"{"name":"os-1","cluster_name":"os","version":{"distribution":"opensearch","number":"2.11.0"},"tagline":"The OpenSearch Project: https://opensearch.org/"}"#,
            ),
            "it is OpenSearch 2.11.0",
        ),
        (
            Route::json("GET", "/", 200, &root_8()).with_product("Kibana"),
            "its X-elastic-product header says `Kibana`",
        ),
    ];
    for (route, expected) in cases {
        let replay = Replay::start(vec![route]);
        let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
        assert_eq!(out.code, 2, "{expected}: {}", out.stdout);
        let err = out.stderr.replace('\n', " ");
        assert!(err.contains(expected), "{expected}\n{err}");
        assert!(
            err.contains("keydoctor::cluster::not_elasticsearch"),
            "{err}"
        );
        assert_eq!(replay.requests().len(), 1, "nothing else is asked of it");
        assert_no_secret(&out);
    }
    // A 7.10 node sends no product header: accepted for what it says it is.
    let old = root_7().replace("7.17.10", "7.10.2");
    let replay = Replay::start(vec![
        root_without_product(&old),
        Route::json("GET", "/_security/api_key", 200, &filebeat_key()),
    ]);
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn a_cut_off_or_trickling_answer_is_named_and_never_hangs() {
    let key_path = "/_security/api_key";
    // A body cut short by a proxy, length consistent: the JSON ends mid-document.
    let full = filebeat_route().body;
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route().with_body(&full[..full.len() / 2]),
    ]);
    let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2);
    let err = out.stderr.replace('\n', " ");
    assert!(
        err.contains(&format!("the answer to GET {key_path}")),
        "{err}"
    );
    assert!(
        err.contains("the JSON ends mid-document (HTTP 200"),
        "{err}"
    );
    // The connection closes before the announced length has arrived.
    let mut short = filebeat_route();
    short.announce = Some(full.len() + 500);
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8()), short]);
    let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2);
    let err = out.stderr.replace('\n', " ");
    assert!(
        err.contains(&format!("was cut off after {} bytes", full.len())),
        "{err}"
    );
    // Headers at once, then a byte every 50 ms: the timeout covers the body too.
    let mut slow = filebeat_route();
    slow.trickle = Some(Duration::from_millis(50));
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8()), slow]);
    let started = std::time::Instant::now();
    let out = run(
        &replay.url,
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--timeout", "1"],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did not answer within 1 s"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the answer to GET /_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&with_limited_by=true was still arriving after"),
        "{}",
        out.stderr
    );
    // Bounded by the timeout (twice: one retry), not by the body's 30 s of trickle.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn credentials_never_go_over_plain_http_to_another_host() {
    let out = keydoctor_env(
        &[
            "key",
            "VuaCfGcBCdbkQm-e5aOx",
            "--es-url",
            "http://es.example.invalid:9200",
        ],
        &[("ES_API_KEY", SECRET_KEY)],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("refusing to send"), "{}", out.stderr);
    assert_no_secret(&out);
    // ELASTICSEARCH_URL is read when --es-url is not given; --insecure warns.
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json("GET", "/_security/api_key", 200, r#"{"api_keys":[]}"#),
    ]);
    let out = keydoctor_env(
        &["key", "VuaCfGcBCdbkQm-e5aOx", "--insecure", "--now", NOW],
        &[
            ("ELASTICSEARCH_URL", replay.url.as_str()),
            ("ES_USERNAME", "elastic"),
            ("ES_PASSWORD", "hunter2hunter2"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("warning: --insecure"), "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
    assert_eq!(
        replay.requests()[0].authorization.as_deref(),
        Some("Basic ZWxhc3RpYzpodW50ZXIyaHVudGVyMg==")
    );
    // Neither a file nor a URL: a usage error that says what is needed.
    let out = keydoctor_env(&["key", "VuaCfGcBCdbkQm-e5aOx"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("key metadata is needed"),
        "{}",
        out.stderr
    );
}

/// Opt-in: a real cluster, when `KEYDOCTOR_TEST_ES_URL` and credentials (`ES_API_KEY`, or
/// `ES_USERNAME` and `ES_PASSWORD`) are set (`KEYDOCTOR_TEST_CA_CERT` for a private CA); without
/// them it checks nothing. Read-only.
#[test]
fn real_cluster_when_configured() {
    let Ok(url) = std::env::var("KEYDOCTOR_TEST_ES_URL") else {
        return;
    };
    let vars: Vec<(String, String)> = ["ES_API_KEY", "ES_USERNAME", "ES_PASSWORD"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ca = std::env::var("KEYDOCTOR_TEST_CA_CERT").ok();
    let run = |command: &[&str]| {
        let mut args = command.to_vec();
        args.extend_from_slice(&["--es-url", url.as_str(), "--format", "json"]);
        if let Some(ca) = &ca {
            args.extend_from_slice(&["--ca-cert", ca.as_str()]);
        }
        keydoctor_env(&args, &env)
    };
    // A key id that cannot exist: missing, exit 1.
    let out = run(&["key", "KeydoctorNoSuchKey00"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let k: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(k["state"], "missing");
    let out = run(&["expiring", "--within", "3650d"]);
    assert!(out.code < 2, "{}", out.stderr);
    let _: Value = serde_json::from_str(&out.stdout).unwrap();
    // doctor: every check answered (a fresh 8.x cluster has security, TLS and the service on).
    let out = run(&["doctor"]);
    assert!(out.code < 2, "{}", out.stderr);
    let d: Value = serde_json::from_str(&out.stdout).unwrap();
    for id in ["security", "tls_http", "api_key_service"] {
        let check = d["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap();
        assert_ne!(check["status"], "unknown", "{check}");
    }
}

/// `explain`/`scan` with `--es-url`: each finding's key is looked up; a hidden 401 is decided
/// by the cluster's view of the key given with `--with-key-env`.
fn explain_with_cluster(
    routes: Vec<Route>,
    input_fixture: &str,
    extra: &[&str],
) -> (u8, Value, crate::support::Output) {
    let replay = Replay::start(routes);
    let path = crate::support::fixture(input_fixture);
    let mut args = vec![
        "explain",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--es-url",
        replay.url.as_str(),
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    let client_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6Y2xpZW50LXNlY3JldC05OTk5";
    let out = keydoctor_env(
        &args,
        &[
            ("ES_API_KEY", SECRET_KEY),
            ("CLIENT_KEY", client_key),
            ("COLUMNS", "400"),
        ],
    );
    assert!(out.code < 2, "{}", out.stderr);
    assert!(!out.stdout.contains(client_key) && !out.stdout.contains("client-secret"));
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    (out.code, report, out)
}

#[test]
fn a_hidden_401_is_decided_by_the_key_the_client_uses() {
    let key_route = |body: &str| {
        Route::json(
            "GET",
            "/_security/api_key?id=VuaCfGcBCdbkQm-e5aOx&with_limited_by=true",
            200,
            body,
        )
    };
    let (_, r, _) = explain_with_cluster(
        vec![
            Route::json("GET", "/", 200, &root_8()),
            key_route(&filebeat_key()),
            authenticate_401("api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated"),
        ],
        "explain/python-generic-401.txt",
        &["--with-key-env", "CLIENT_KEY"],
    );
    let f = &r["findings"][0];
    assert_eq!(f["class"], "invalidated", "{f:#}");
    assert_eq!(f["key_id"], "VuaCfGcBCdbkQm-e5aOx");
    assert_eq!(f["key_id_source"], "key given with --with-key-env");
    assert!(f["details"]["cluster_view"]
        .as_str()
        .unwrap()
        .starts_with("confirmed: the cluster at http://"));
    let (_, r, _) = explain_with_cluster(
        vec![
            Route::json("GET", "/", 200, &root_8()),
            key_route(r#"{"api_keys":[]}"#),
        ],
        "explain/python-generic-401.txt",
        &["--with-key-env", "CLIENT_KEY"],
    );
    let f = &r["findings"][0];
    assert_eq!(f["class"], "missing", "{f:#}");
    assert!(f["details"]["cluster_view"]
        .as_str()
        .unwrap()
        .starts_with("decided: "));
    // Not set, or not a key: usage errors that never echo the value.
    let out = keydoctor_env(&["explain", "--with-key-env", "NOPE"], &[]);
    assert_eq!(out.code, 2);
}

/// `--with-key-env` judges the value offline as a pasted `Authorization: ApiKey` value is
/// judged, and that judgment decides the failures read (issue 14, item 6): in `explain` and in
/// `scan`, in every format, the value itself never shown.
#[test]
fn with_key_env_judges_the_value_as_a_pasted_header_is_judged() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let pair = "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw";
    let body = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"}],"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"},"status":401}"#;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("client.log");
    std::fs::write(&log, format!("{body}\n")).unwrap();
    let cases: [(String, &str, Option<&str>, &str); 6] = [
        (
            pair.to_string(),
            "credential-raw-id-secret",
            Some("VuaCfGcBCdbkQm-e5aOx"),
            "raw-id-secret",
        ),
        (
            b64(&format!("{pair}\n")),
            "credential-trailing-newline",
            Some("VuaCfGcBCdbkQm-e5aOx"),
            "trailing-newline",
        ),
        (
            b64(&b64(pair)),
            "credential-double-encoded",
            Some("VuaCfGcBCdbkQm-e5aOx"),
            "double-encoded",
        ),
        (
            "hunter2hunter2".to_string(),
            "credential-secret-instead-of-key",
            None,
            "not-base64",
        ),
        (
            b64("ui2lp2axTNmsyakw9tvNnw"),
            "credential-secret-instead-of-key",
            None,
            "no-colon",
        ),
        (b64(pair), "generic-401", Some("VuaCfGcBCdbkQm-e5aOx"), ""),
    ];
    for (value, rule, key, said) in &cases {
        let secret_parts = [value.as_str(), "ui2lp2axTNmsyakw9tvNnw", "hunter2hunter2"];
        for command in ["explain", "scan"] {
            for format in ["json", "human", "markdown"] {
                let path = log.to_str().unwrap();
                let input = if command == "explain" { "-" } else { path };
                let args = [
                    command,
                    "--with-key-env",
                    "CLIENT_KEY",
                    "--format",
                    format,
                    input,
                ];
                let out = keydoctor_env_stdin(&args, body, &[("CLIENT_KEY", value)]);
                assert_eq!(out.code, 1, "{command} {format} {rule}: {}", out.stderr);
                for part in secret_parts {
                    assert!(
                        !out.stdout.contains(part) && !out.stderr.contains(part),
                        "{command} {format}: the value leaked"
                    );
                }
                if said.is_empty() {
                    assert!(!out.stderr.contains("is not the base64"), "{}", out.stderr);
                } else {
                    assert!(out.stderr.contains(&format!("({said})")), "{}", out.stderr);
                }
                if format != "json" {
                    assert!(out.stdout.contains(key.unwrap_or("")));
                    continue;
                }
                let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
                let f = &r["findings"][0];
                assert_eq!(r["findings"].as_array().unwrap().len(), 1, "{r:#}");
                assert_eq!(f["rule_id"], *rule, "{command} {value}: {f:#}");
                assert_eq!(f["key_id"].as_str(), *key, "{command}: {f:#}");
            }
        }
    }
    // A line break around the value is said; the value is tested without it.
    let out = keydoctor_env_stdin(
        &[
            "explain",
            "--with-key-env",
            "CLIENT_KEY",
            "--format",
            "json",
            "-",
        ],
        body,
        &[("CLIENT_KEY", &format!("{}\n", b64(pair)))],
    );
    assert!(
        out.stderr.contains("ends with a line break"),
        "{}",
        out.stderr
    );
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["findings"][0]["rule_id"], "generic-401");
}

#[test]
fn a_missing_key_the_cluster_has_is_contradicted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    std::fs::write(&log, "[2026-11-21T10:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - unable to find apikey with id VuaCfGcBCdbkQm-e5aOx\n").unwrap();
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route(),
    ]);
    for command in ["explain", "scan"] {
        let out = keydoctor_env(
            &[
                command,
                log.to_str().unwrap(),
                "--format",
                "json",
                "--es-url",
                replay.url.as_str(),
                "--now",
                NOW,
            ],
            &[("ES_API_KEY", SECRET_KEY)],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        let r: Value = serde_json::from_str(&out.stdout).unwrap();
        let f = &r["findings"][0];
        assert_eq!(f["class"], "missing");
        let view = f["details"]["cluster_view"].as_str().unwrap();
        assert!(view.starts_with("contradicted: the cluster at"), "{view}");
        assert!(view.contains("talks to another cluster"), "{view}");
    }
}

/// The incident key as 8.12 shows it, active, of `key_type`.
fn active_key(key_type: &str) -> String {
    filebeat_key()
        .replace(
            r#""invalidated":true,"invalidation":1795166043247"#,
            r#""invalidated":false"#,
        )
        .replace(r#""type":"rest""#, &format!(r#""type":"{key_type}""#))
}

/// `GET /_security/_authenticate` refused with the hidden reason in
/// `additional_unsuccessful_credentials`, as 8.x answers.
fn authenticate_401(why: &str) -> Route {
    let body = format!(
        r#"{{"error":{{"root_cause":[{{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: {why}","header":{{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}}}],"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: {why}","header":{{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}}},"status":401}}"#
    );
    let mut r = Route::json("GET", "/_security/_authenticate", 401, &body);
    r.headers.push(("www-authenticate", "ApiKey".into()));
    r
}

#[test]
fn the_key_itself_decides_wrong_type_and_wrong_secret() {
    // The cluster shows the key `key_type`, and answers `_authenticate` with the key as `auth`.
    let with_key = |key_type: &str, auth: Route| {
        explain_with_cluster(
            vec![
                Route::json("GET", "/", 200, &root_8()),
                filebeat_route().with_body(&active_key(key_type)),
                auth,
            ],
            "explain/python-generic-401.txt",
            &["--with-key-env", "CLIENT_KEY"],
        )
    };
    // An active cross-cluster key used on REST: wrong_key_type, from its type alone.
    let (_, r, _) = with_key(
        "cross_cluster",
        authenticate_401("authentication expected API key type of [rest], but API key [VuaCfGcBCdbkQm-e5aOx] has type [cross_cluster]"),
    );
    let f = &r["findings"][0];
    assert_eq!(f["class"], "wrong_key_type", "{f:#}");
    assert_eq!(f["rule_id"], "cross-cluster-key-on-rest");
    let view = f["details"]["cluster_view"].as_str().unwrap();
    assert!(view.starts_with("decided: "), "{view}");
    assert!(view.contains("has type [cross_cluster]"), "{view}");
    // An active REST key the cluster rejects: the secret is wrong.
    let (_, r, out) = with_key(
        "rest",
        authenticate_401("invalid credentials for API key [VuaCfGcBCdbkQm-e5aOx]"),
    );
    let f = &r["findings"][0];
    assert_eq!(f["class"], "malformed_credentials", "{f:#}");
    assert_eq!(f["rule_id"], "wrong-secret");
    assert!(f["explanation"]
        .as_str()
        .unwrap()
        .contains("the id is right, the secret is not"));
    assert!(!out.stdout.contains("client-secret") && !out.stderr.contains("client-secret"));
    // An active key the cluster accepts: not what fails; the finding stays open and says so.
    let (_, r, _) = with_key("rest", authenticated_route());
    let f = &r["findings"][0];
    assert_eq!(f["class"], "authentication_unresolved", "{f:#}");
    let view = f["details"]["cluster_view"].as_str().unwrap();
    assert!(
        view.contains("contradicted: the key in CLIENT_KEY authenticates"),
        "{view}"
    );
    // The cluster's view and the probe's answer are two facts, neither overwriting the other;
    // the deprecated `cluster_view` joins them in the order they were stated.
    let codes: Vec<&str> = f["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["cluster.shows", "probe.contradicts_failure"],
        "{:#}",
        f["facts"]
    );
    assert_eq!(f["facts"][1]["fields"]["var"], "CLIENT_KEY");
    let texts: Vec<&str> = f["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["text"].as_str().unwrap())
        .collect();
    assert_eq!(view, texts.join("; "));
}

/// `GET /_security/_authenticate` accepting the client's key, as 8.x answers.
fn authenticated_route() -> Route {
    Route::json(
        "GET",
        "/_security/_authenticate",
        200,
        r#"{"username":"ingest_owner","roles":[],"full_name":null,"email":null,"metadata":{},"enabled":true,"authentication_realm":{"name":"_es_api_key","type":"_es_api_key"},"lookup_realm":{"name":"_es_api_key","type":"_es_api_key"},"authentication_type":"api_key","api_key":{"id":"VuaCfGcBCdbkQm-e5aOx","name":"filebeat-prod"}}"#,
    )
}

#[test]
fn has_privileges_is_asked_with_the_key_itself() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route().with_body(&active_key("rest")),
        authenticated_route(),
        Route::json(
            "POST",
            "/_security/user/_has_privileges",
            200,
            r#"{"username":"ingest_owner","has_all_requested":false,"cluster":{},"index":{"logs-payments-default":{"create_doc":false}},"application":{}}"#,
        ),
    ]);
    let path = crate::support::fixture("explain/bulk-403-with-metadata.txt");
    let client_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6Y2xpZW50LXNlY3JldC05OTk5";
    let out = keydoctor_env(
        &[
            "explain",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--es-url",
            &replay.url,
            "--now",
            NOW,
            "--with-key-env",
            "CLIENT_KEY",
        ],
        &[("ES_API_KEY", SECRET_KEY), ("CLIENT_KEY", client_key)],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let f = &r["findings"][0];
    assert_eq!(f["class"], "under_privileged");
    let view = f["details"]["cluster_view"].as_str().unwrap();
    assert!(view.contains("confirmed: _has_privileges with the key in CLIENT_KEY says it lacks `create_doc` on logs-payments-default"), "{view}");
    let requests = replay.requests();
    let asked = requests
        .iter()
        .find(|r| r.target == "/_security/user/_has_privileges")
        .unwrap();
    assert_eq!(
        asked.authorization.as_deref(),
        Some(format!("ApiKey {client_key}").as_str())
    );
    let body: Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"index": [{"names": ["logs-payments-default"], "privileges": ["create_doc"]}]})
    );
    // keydoctor's own calls carry its own key, never the client's.
    for r in requests
        .iter()
        .filter(|r| r.target.starts_with("/_security/api_key"))
    {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("ApiKey {SECRET_KEY}").as_str())
        );
    }
}

/// One `_search` hit as 8.x returns it under a point in time (`sort` ends with the implicit
/// `_shard_doc` tiebreaker).
fn audit_hit(n: usize, ms: i64, source: Value) -> Value {
    serde_json::json!({
        "_index": ".ds-logs-elasticsearch.audit-default-2026.11.20-000001",
        "_id": format!("doc{n}"),
        "_score": null,
        "_source": source,
        "sort": [ms, n]
    })
}

fn search_page(pit: &str, hits: Vec<Value>) -> String {
    serde_json::json!({
        "pit_id": pit,
        "took": 4,
        "timed_out": false,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"max_score": null, "hits": hits}
    })
    .to_string()
}

#[test]
fn audit_events_are_read_from_an_index_page_by_page() {
    let base = 1_795_164_000_000_i64; // 2026-11-20T08:40:00Z
                                      // Page one: 1,000 successes of the key (shipped raw: dotted names became objects).
    let page1: Vec<Value> = (0..1000)
        .map(|n| {
            audit_hit(n, base + n as i64, serde_json::json!({
                "@timestamp": "2026-11-20T08:40:00.000Z", "type": "audit",
                "event": {"type": "transport", "action": "access_granted"},
                "authentication": {"type": "API_KEY"},
                "user": {"name": "ingest_owner", "realm": "_es_api_key"},
                "apikey": {"id": "VuaCfGcBCdbkQm-e5aOx", "name": "filebeat-prod"},
                "action": "indices:data/write/bulk", "origin": {"type": "rest", "address": "10.1.4.7:50000"}
            }))
        })
        .collect();
    // Page two: the invalidation, as the Elasticsearch integration maps it.
    let page2 = vec![audit_hit(
        1000,
        1_795_166_043_247,
        serde_json::json!({
            "@timestamp": "2026-11-20T09:14:03.247Z",
            "event": {"type": "security_config_change", "action": "invalidate_apikeys"},
            "user": {"name": "jdoe"},
            "source": {"ip": "10.20.3.44", "port": 51522},
            "elasticsearch": {"audit": {"user": {"realm": "corp_ldap"}, "invalidate": {"apikeys": {"ids": ["VuaCfGcBCdbkQm-e5aOx"], "owned_by_authenticated_user": false}}}}
        }),
    )];
    let mut first = Route::json("POST", "/_search", 200, &search_page("pit-2", page1));
    first.times = Some(1);
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "POST",
            "/logs-elasticsearch.audit-*/_pit?keep_alive=2m",
            200,
            r#"{"id":"pit-1"}"#,
        ),
        first,
        Route::json("POST", "/_search", 200, &search_page("pit-3", page2)),
        Route::json(
            "DELETE",
            "/_pit",
            200,
            r#"{"succeeded":true,"num_freed":1}"#,
        ),
        filebeat_route(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("elasticsearch.log"),
        "[2026-11-20T09:14:10,112][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n",
    )
    .unwrap();
    let out = keydoctor_env(
        &[
            "scan",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--es-url",
            &replay.url,
            "--now",
            NOW,
            "--since",
            "2026-11-20",
            "--audit-index",
            "logs-elasticsearch.audit-*",
        ],
        &[("ES_API_KEY", SECRET_KEY)],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("read 1001 audit events from index logs-elasticsearch.audit-*"),
        "{}",
        out.stderr
    );
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let f = &r["findings"][0];
    assert_eq!(f["class"], "invalidated");
    let by = &f["details"]["invalidated_by"];
    assert_eq!(by["user"], "jdoe", "{f:#}");
    assert_eq!(by["realm"], "corp_ldap");
    assert_eq!(by["origin"], "10.20.3.44:51522");
    assert!(
        by["source"]
            .as_str()
            .unwrap()
            .starts_with("audit index logs-elasticsearch.audit-*"),
        "{by}"
    );
    let timeline = f["timeline"].as_array().unwrap();
    assert!(
        timeline.iter().any(|t| t["event"] == "last_success"),
        "{timeline:#?}"
    );
    // The paging: the second page asks after the first page's last sort values, with the
    // point-in-time id the first answer gave; the point in time is released at the end.
    let requests = replay.requests();
    let searches: Vec<Value> = requests
        .iter()
        .filter(|r| r.target == "/_search")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(searches.len(), 2);
    assert_eq!(searches[0]["pit"]["id"], "pit-1");
    assert!(searches[0].get("search_after").is_none());
    assert_eq!(searches[1]["pit"]["id"], "pit-2");
    assert_eq!(
        searches[1]["search_after"],
        serde_json::json!([base + 999, 999])
    );
    assert_eq!(
        searches[0]["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"],
        1_795_132_800_000_i64
    );
    let close = requests.iter().find(|r| r.method == "DELETE").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&close.body).unwrap(),
        serde_json::json!({"id": "pit-3"})
    );
}

#[test]
fn an_audit_index_that_matches_nothing_is_said_so() {
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        Route::json(
            "POST",
            "/audit-nope*/_pit?keep_alive=2m",
            404,
            r#"{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [audit-nope*]","index_uuid":"_na_","index":"audit-nope*"}],"type":"index_not_found_exception","reason":"no such index [audit-nope*]","index_uuid":"_na_","index":"audit-nope*"},"status":404}"#,
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.log"), "nothing here\n").unwrap();
    let args = [
        "scan",
        dir.path().to_str().unwrap(),
        "--audit-index",
        "audit-nope*",
    ];
    let out = keydoctor_env(&args, &[("ES_API_KEY", SECRET_KEY)]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--audit-index reads from the cluster"),
        "{}",
        out.stderr
    );
    let mut with_url = args.to_vec();
    with_url.extend_from_slice(&["--es-url", &replay.url]);
    let out = keydoctor_env(&with_url, &[("ES_API_KEY", SECRET_KEY), ("COLUMNS", "400")]);
    // The cluster answered the pre-check: a failing audit index enriches nothing, and the
    // report says so, with the offline result's exit status.
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("audit index unavailable")
            && out.stdout.contains("does `audit-nope*` match an index?"),
        "{}",
        out.stdout
    );
}

const INCIDENT_LINE: &str = "[2026-11-20T09:14:10,123][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n";

#[test]
fn a_wrong_password_is_found_before_any_file_is_read() {
    let replay = Replay::start(vec![unauthorized_401()]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es.log"), INCIDENT_LINE).unwrap();
    for command in ["scan", "explain"] {
        let out = keydoctor_env(
            &[
                command,
                dir.path().join("es.log").to_str().unwrap(),
                "--es-url",
                &replay.url,
                "--now",
                NOW,
            ],
            &[
                ("ES_USERNAME", "elastic"),
                ("ES_PASSWORD", "wrong-password-1"),
                ("COLUMNS", "400"),
            ],
        );
        assert_eq!(out.code, 2, "{command}: {}", out.stdout);
        assert!(
            out.stdout.is_empty(),
            "{command}: no report before the cluster is fixed"
        );
        assert!(!out.stderr.contains("wrong-password-1"));
    }
    assert!(
        replay.requests().iter().all(|r| r.target == "/"),
        "only the pre-check was sent"
    );
}

#[test]
fn a_cluster_failing_after_the_check_keeps_the_offline_findings() {
    let mut gone = Route::json("GET", "/_security/api_key", 500, "{}");
    gone.hang_up = true;
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8()), gone]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("es.log"), INCIDENT_LINE).unwrap();
    for format in ["json", "human", "markdown"] {
        let out = run(
            &replay.url,
            &["scan", dir.path().to_str().unwrap(), "--format", format],
        );
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        assert!(
            out.stdout.contains("invalidated"),
            "{format}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("cluster view unavailable"),
            "{format}: {}",
            out.stdout
        );
        assert_no_secret(&out);
    }
}

#[test]
fn credentials_in_the_url_are_refused_and_never_printed() {
    for url in [
        "https://elastic:hunter2hunter2@es.example:9200",
        "http://elastic:hunter2hunter2@127.0.0.1:9",
    ] {
        let out = keydoctor_env(&["key", "VuaCfGcBCdbkQm-e5aOx", "--es-url", url], &[]);
        assert_eq!(out.code, 2, "{url}: {}", out.stderr);
        assert!(
            out.stderr.contains("carries credentials in the URL"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"));
        let out = keydoctor_env(&["doctor"], &[("ELASTICSEARCH_URL", url)]);
        assert_eq!(out.code, 2, "{url}: {}", out.stderr);
        assert!(!out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"));
    }
}

#[test]
fn a_proxy_from_the_environment_never_sees_a_plain_http_call() {
    // The "proxy": a listener that counts whoever connects to it.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    proxy.set_nonblocking(true).unwrap();
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route(),
    ]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keydoctor"))
        .args([
            "key",
            "VuaCfGcBCdbkQm-e5aOx",
            "--es-url",
            &replay.url,
            "--now",
            NOW,
        ])
        .env_clear()
        .env("ES_API_KEY", SECRET_KEY)
        .env("HTTP_PROXY", &proxy_url)
        .env("http_proxy", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .env("all_proxy", &proxy_url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(replay.requests().len(), 2, "the cluster was asked directly");
    assert!(
        proxy.accept().is_err(),
        "the proxy was connected to: it would have seen the credentials"
    );
}

/// The incident's audit log and server JSON lines carry `cluster.uuid` Zx8H2xAcR3yKXk5DkT0lUA
/// (cluster `prod-logs`); `--es-url` here reaches cluster `prod`, another uuid.
fn root_of_another_cluster() -> String {
    root_8()
        .replace("prod-logs", "prod")
        .replace("Zx8H2xAcR3yKXk5DkT0lUA", "k2cXh5dWQyC0aTnB7uVj8w")
}

#[test]
fn a_cluster_other_than_the_logs_is_said_first_and_its_answers_are_not_used() {
    let incident = crate::support::fixture("scan/incident");
    let offline = keydoctor_env(
        &[
            "scan",
            incident.to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        &[],
    );
    let offline: Value = serde_json::from_str(&offline.stdout).unwrap();
    // The other cluster would say the invalidated key is active and the others unknown.
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_of_another_cluster()),
        filebeat_route(),
    ]);
    for format in ["json", "human", "markdown"] {
        let out = run(
            &replay.url,
            &[
                "scan",
                incident.to_str().unwrap(),
                "--format",
                format,
                "--audit-index",
                "logs-elasticsearch.audit-*",
            ],
        );
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        // First in the human and Markdown reports; a field of the JSON one.
        let head: String = if format == "json" {
            out.stdout.clone()
        } else {
            out.stdout.lines().take(8).collect::<Vec<_>>().join(" ")
        };
        assert!(
            head.contains("`prod` (uuid k2cXh5dWQyC0aTnB7uVj8w)")
                && head.contains("`prod-logs` (uuid Zx8H2xAcR3yKXk5DkT0lUA)"),
            "{format}: the mismatch is not said first:\n{}",
            out.stdout
        );
        assert_no_secret(&out);
        if format == "json" {
            let r: Value = serde_json::from_str(&out.stdout).unwrap();
            assert!(r["cluster_mismatch"].as_str().unwrap().contains("not used"));
            // The same findings as without the cluster: nothing it says decided anything.
            let classes = |r: &Value| -> Vec<(String, String)> {
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| (f["class"].to_string(), f["key_id"].to_string()))
                    .collect()
            };
            assert_eq!(classes(&r), classes(&offline));
            for f in r["findings"].as_array().unwrap() {
                assert!(f["details"].get("cluster_view").is_none(), "{f}");
            }
        }
    }
    assert!(
        replay.requests().iter().all(|r| r.target == "/"),
        "only GET / was sent: {:?}",
        replay
            .requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_same_cluster_is_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prod-logs_server.json"),
        r#"{"@timestamp":"2026-11-20T09:14:10.123Z","log.level":"WARN","message":"Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated","ecs.version":"1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server","log.logger":"org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator","elasticsearch.cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA","elasticsearch.node.name":"es-node-1","elasticsearch.cluster.name":"prod-logs"}
"#,
    )
    .unwrap();
    let replay = Replay::start(vec![
        Route::json("GET", "/", 200, &root_8()),
        filebeat_route(),
    ]);
    let out = run(
        &replay.url,
        &["scan", dir.path().to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(r.get("cluster_mismatch").is_none(), "{r}");
    assert!(
        replay
            .requests()
            .iter()
            .any(|q| q.target.starts_with("/_security/api_key")),
        "the key was looked up"
    );
    assert!(
        r["findings"][0]["details"]["cluster_view"].is_string(),
        "{}",
        r["findings"][0]
    );
}

#[test]
fn an_endless_answer_ends_with_a_clear_error() {
    let mut endless = Route::json("GET", "/_security/api_key", 200, "[1,2,3,4,5,6,7,8,9,10,");
    endless.announce = Some(1 << 40);
    endless.endless = true;
    let replay = Replay::start(vec![Route::json("GET", "/", 200, &root_8()), endless]);
    let start = std::time::Instant::now();
    let out = run(&replay.url, &["key", "VuaCfGcBCdbkQm-e5aOx"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("larger than 256 MiB"), "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_no_secret(&out);
}
