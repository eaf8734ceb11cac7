//! Message shapes the corpus does not have: other clients, renderings and versions (7.0's
//! terminate path, 7.x plain logs, 8.x ECS, 9.x), built from shared/reference sections 2, 3, 4
//! and 8. `None` means a look-alike: no finding.

use crate::support::{classes, explain_json};

const CASES: &[(&str, &str, Option<&str>)] = &[
    (
        "go client missing",
        r#"[401 Unauthorized] {"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: unable to find apikey with id abcDEF1234567890xyzA"}]},"status":401}"#,
        Some("missing"),
    ),
    (
        "java api client generic",
        r#"co.elastic.clients.elasticsearch._types.ElasticsearchException: [es/search] failed: [security_exception] unable to authenticate with provided credentials and anonymous access is not allowed for this request"#,
        Some("authentication_unresolved"),
    ),
    (
        "java api client 403",
        r#"[es/search] failed: [security_exception] action [indices:data/read/search] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [svc] on indices [orders], this action is granted by the index privileges [read,all]"#,
        Some("under_privileged"),
    ),
    (
        "LLRC",
        r#"org.elasticsearch.client.ResponseException: method [GET], host [https://es01:9200], URI [/_security/_authenticate], status line [HTTP/1.1 401 Unauthorized]
{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: invalid credentials for API key [Hx1cN2oBqZ-3kLmPr7sT]"}]},"status":401}"#,
        Some("malformed_credentials"),
    ),
    (
        "array of unsuccessful",
        r#"{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":["API key: api key is expired","oauth2 token: invalid token"]},"status":401}"#,
        Some("expired"),
    ),
    (
        "restricted indices",
        r#"action [indices:data/write/bulk[s]] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [elastic] on restricted indices [.kibana_task_manager_8.11.0_001], this action is granted by the index privileges [create_doc,create,delete,index,write,all]"#,
        Some("under_privileged"),
    ),
    (
        "run as",
        r#"action [indices:data/read/search] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [admin] run as [bob] on indices [x], this action is granted by the index privileges [read,all]"#,
        Some("under_privileged"),
    ),
    (
        "7.0 terminate expired",
        r#"{"error":{"root_cause":[{"type":"security_exception","reason":"api key is expired","header":{"WWW-Authenticate":"ApiKey"}}],"type":"security_exception","reason":"api key is expired"},"status":401}"#,
        Some("expired"),
    ),
    (
        "pem illegal base64",
        r#"java.lang.IllegalArgumentException: Illegal base64 character 2d
	at java.base/java.util.Base64$Decoder.decode0(Base64.java:746)
	at org.elasticsearch.common.ssl.PemUtils.readPrivateKey"#,
        None,
    ),
    (
        "basic wrong pw 8x",
        r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/_security/_authenticate]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}]},"status":401}"#,
        None,
    ),
    (
        "saml token expired",
        r#"{"error":{"root_cause":[{"type":"security_exception","reason":"token expired","header":{"WWW-Authenticate":"Bearer realm=\"security\", error=\"invalid_token\", error_description=\"The access token expired\""}}],"type":"security_exception","reason":"token expired"},"status":401}"#,
        None,
    ),
    (
        "service acct",
        r#"[security_exception]: unable to authenticate with provided credentials and anonymous access is not allowed for this request, with { additional_unsuccessful_credentials="service account: failed to authenticate service account [elastic/kibana] with token name [kibana-token]" }"#,
        None,
    ),
    (
        "remote down",
        r#"[2024-01-01T00:00:00,000][WARN ][o.e.t.SniffConnectionStrategy] [n1] fetching nodes from external cluster [prod] failed
org.elasticsearch.transport.ConnectTransportException: [][10.0.0.5:9300] connect_exception
Caused by: java.net.ConnectException: Connection refused"#,
        None,
    ),
    (
        "searchguard",
        r#"Search Guard not initialized (SG11). See https://docs.search-guard.com/latest/sgadmin"#,
        None,
    ),
    (
        "kibana fleet 500 unresolved",
        r#"An internal server error occurred: ResponseError: security_exception"#,
        Some("authentication_unresolved"),
    ),
    (
        "kibana 8 js error root causes 403",
        r#"ResponseError: security_exception
	Root causes:
		security_exception: action [cluster:monitor/main] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [u], this action is granted by the cluster privileges [monitor,manage,all]"#,
        Some("under_privileged"),
    ),
    (
        "ECS 9.x invalidated",
        r#"{"@timestamp":"2025-06-01T10:00:00.000Z", "log.level": "WARN", "message":"Authentication using apikey failed - api key [Hx1cN2oBqZ-3kLmPr7sT] has been invalidated", "ecs.version": "1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server","log.logger":"org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator","elasticsearch.node.name":"es-1"}"#,
        Some("invalidated"),
    ),
    (
        "logstash double encoded",
        r#"[ERROR][logstash.outputs.elasticsearch] Encountered a retryable error {:code=>401, :url=>"https://es:9200/_bulk", :body=>"{\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\",\"additional_unsuccessful_credentials\":\"API key: invalid ApiKey value\"}]},\"status\":401}"}"#,
        Some("malformed_credentials"),
    ),
    (
        "curl bearer wrong scheme 7.x",
        r#"> Authorization: Bearer VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==
< HTTP/1.1 401 Unauthorized
{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/]"}]},"status":401}"#,
        Some("malformed_credentials"),
    ),
    (
        "apikey header no space",
        r#"> Authorization: ApiKeyVnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==
< HTTP/1.1 401 Unauthorized
{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/]"}]},"status":401}"#,
        Some("malformed_credentials"),
    ),
    (
        "python raw 403 ilm",
        r#"elasticsearch.AuthorizationException: AuthorizationException(403, 'security_exception', 'action [cluster:admin/ilm/put] is unauthorized for API key id [Hx1cN2oBqZ-3kLmPr7sT] of user [beats_setup], this action is granted by the cluster privileges [manage_ilm,manage,all]')"#,
        Some("under_privileged"),
    ),
    (
        "fleet enroll 401",
        r#"Error: fail to enroll: fail to execute request to fleet-server: status code: 401, fleet-server returned an error: ErrUnauthorized, message: unauthorized"#,
        Some("authentication_unresolved"),
    ),
    (
        "ccs key update w/ api key",
        r#"{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"authentication via API key not supported: An API key cannot be used to create a cross-cluster API key"}]},"status":400}"#,
        Some("wrong_key_type"),
    ),
    (
        "rest key type via js",
        r#"ResponseError: security_exception
	Root causes:
		security_exception: authentication expected API key type of [rest], but API key [Hx1cN2oBqZ-3kLmPr7sT] has type [cross_cluster]"#,
        Some("wrong_key_type"),
    ),
    (
        "unknown id 7x plain",
        r#"[2021-01-01T00:00:00,000][WARN ][o.e.x.s.a.AuthenticationService] [n] Authentication using apikey failed - unable to find apikey with id x7YqZ2oBqZ3kLmPr7sTa"#,
        Some("missing"),
    ),
    (
        "cluster block",
        r#"{"error":{"root_cause":[{"type":"cluster_block_exception","reason":"index [logs] blocked by: [FORBIDDEN/12/index read-only / allow delete (api)];"}]},"status":403}"#,
        None,
    ),
];

#[test]
fn every_variant_is_classified() {
    let mut failures = Vec::new();
    for (name, input, want) in CASES {
        let got = classes(&explain_json(input));
        let ok = match want {
            None => got.is_empty(),
            Some(class) => !got.is_empty() && got.iter().all(|c| c == class),
        };
        if !ok {
            failures.push(format!("{name:<34} want {want:?} got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} variants wrong:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
