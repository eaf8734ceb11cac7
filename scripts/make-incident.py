#!/usr/bin/env python3
"""Write fixtures/scan/incident: a two-node support bundle with three failing API keys.

Deterministic (no clock, no randomness, gzip mtime 0): run it again and git sees no change.
Line shapes follow shared/reference (sections 2.3, 5.4, 8.1, 8.2); the story is in the
bundle's README.md, and tests/scan.rs asserts exactly what keydoctor must find in it.
"""
import gzip
import io
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "scan", "incident")

CLUSTER = "prod-logs"
N1, N1_ID = "es-node-1", "0RMNyghkQYCc_gVd1G6tZQ"
N2, N2_ID = "es-node-2", "p3LQmB7zTgyWf2c9kHnA_w"
FILEBEAT = "VuaCfGcBCdbkQm-e5aOx"
LOGSTASH = "zcwN3YEBBmnjw-K-hW5_"
METRICS = "j7c0WYIBqecB5CbVR6Oq"
OTHER = "T4Lav4QBuKu_zclXw8LG"


def ts(day, h, m, s, ms=0):
    return f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def audit(day, h, m, s, ms, node_id, fields):
    head = {"type": "audit", "timestamp": ts(day, h, m, s, ms) + "+0000", "cluster.uuid": "Zx8H2xAcR3yKXk5DkT0lUA", "node.id": node_id}
    head.update(fields)
    return ", ".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in head.items())
    

def audit_line(*a):
    return "{" + audit(*a) + "}"


def granted(day, h, m, s, ms, node_id, key, name, owner, origin, action, index=None):
    f = {"event.type": "transport", "event.action": "access_granted", "authentication.type": "API_KEY",
         "user.name": owner, "user.realm": "native1", "user.roles": ["ingest_role"], "apikey.id": key,
         "apikey.name": name, "origin.type": "rest", "origin.address": origin,
         "request.id": f"r{day}{h}{m}{s}{ms}", "action": action, "request.name": "BulkRequest"}
    if index:
        f["indices"] = [index]
    return audit_line(day, h, m, s, ms, node_id, f)


def anonymous_denied(day, h, m, s, ms, node_id, origin, path="/_bulk"):
    return audit_line(day, h, m, s, ms, node_id, {
        "event.type": "rest", "event.action": "anonymous_access_denied", "origin.type": "rest",
        "origin.address": origin, "url.path": path, "request.method": "POST", "request.id": f"d{h}{m}{s}{ms}"})


def plain(day, h, m, s, ms, level, logger, node, msg):
    return f"[{ts(day, h, m, s, ms)}][{level:<5}][{logger:<25}] [{node}] {msg}"


def ecs(day, h, m, s, ms, level, logger, msg):
    return json.dumps({"@timestamp": f"2026-11-{day:02d}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z", "log.level": level,
                       "message": msg, "ecs.version": "1.2.0", "service.name": "ES_ECS",
                       "event.dataset": "elasticsearch.server", "process.thread.name": f"elasticsearch[{N2}][transport_worker][T#3]",
                       "log.logger": logger, "elasticsearch.cluster.uuid": "Zx8H2xAcR3yKXk5DkT0lUA",
                       "elasticsearch.node.id": N2_ID, "elasticsearch.node.name": N2,
                       "elasticsearch.cluster.name": CLUSTER}, separators=(",", ":"))


AUTH = "org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator"
WRAPPED = ("unable to authenticate with provided credentials and anonymous access is not allowed for this request")


def body_401(inner):
    rc = {"type": "security_exception", "reason": WRAPPED, "additional_unsuccessful_credentials": f"API key: {inner}",
          "header": {"WWW-Authenticate": ["Basic realm=\"security\", charset=\"UTF-8\"", "Bearer realm=\"security\"", "ApiKey"]}}
    return json.dumps({"error": {"root_cause": [rc], **rc}, "status": 401}, separators=(",", ":"))


# Failure schedule.
EXPIRED = [(1 if i % 3 else 2, 8, 0, 5 + 10 * i, 117 + i) for i in range(10)]        # Logstash, from 08:00:05
INVALID = [(1 if i % 2 else 2, 9, 14, 10 + 5 * i, 301 + i) for i in range(8)]         # Filebeat, from 09:14:10
DENIED = [(0, 12 + 50 * i, 400 + i) for i in range(5)]                            # metrics reader, on node 2


def node1_server():
    out = [plain(20, 6, 0, 0, 12, "INFO", "o.e.n.Node", N1, f"version[8.12.2], pid[7], build[docker/48a287ab9497e852de30327444b0809e55d46466/2024-02-19T10:04:32.774273190Z], OS[Linux/5.15.0-1057-aws/amd64], JVM[Oracle Corporation/OpenJDK 64-Bit Server VM/21.0.2/21.0.2+13-58]"),
           plain(20, 6, 0, 1, 300, "INFO", "o.e.n.Node", N1, f"node name [{N1}], node ID [{N1_ID}], cluster name [{CLUSTER}], roles [data_hot, ingest, master, remote_cluster_client]"),
           plain(20, 6, 0, 9, 881, "INFO", "o.e.n.Node", N1, "started {es-node-1}{0RMNyghkQYCc_gVd1G6tZQ}{hV1y1ZZ7QeC2mNL8YYyItw}{es-node-1}{10.0.4.11}{10.0.4.11:9300}"),
           plain(20, 7, 30, 0, 5, "WARN", "o.e.m.j.JvmGcMonitorService", N1, "[gc][5400] overhead, spent [512ms] collecting in the last [1s]")]
    for node, h, m, s, ms in EXPIRED:
        if node == 1:
            out.append(plain(20, h, m + s // 60, s % 60, ms, "WARN", "o.e.x.s.a.ApiKeyAuthenticator", N1, "Authentication using apikey failed - api key is expired"))
    for node, h, m, s, ms in INVALID:
        if node == 1:
            out.append(plain(20, h, m + s // 60, s % 60, ms, "WARN", "o.e.x.s.a.ApiKeyAuthenticator", N1, f"Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated"))
    out.append(plain(20, 9, 30, 0, 0, "INFO", "o.e.c.m.MetadataCreateIndexService", N1, "[logs-app-2026.11.20] creating index, cause [auto(bulk api)], templates [logs], shards [1]/[1]"))
    out.sort()
    return "\n".join(out) + "\n"


def node2_server():
    out = [ecs(20, 6, 0, 2, 10, "INFO", "org.elasticsearch.node.Node", f"node name [{N2}], node ID [{N2_ID}], cluster name [{CLUSTER}], roles [data_hot, ingest, master]")]
    for node, h, m, s, ms in EXPIRED:
        if node == 2:
            out.append(ecs(20, h, m + s // 60, s % 60, ms, "WARN", AUTH, "Authentication using apikey failed - api key is expired"))
    for node, h, m, s, ms in INVALID:
        if node == 2:
            out.append(ecs(20, h, m + s // 60, s % 60, ms, "WARN", AUTH, f"Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated"))
    out.append(ecs(20, 9, 40, 0, 0, "INFO", "org.elasticsearch.cluster.routing.allocation.AllocationService", "current.health=\"GREEN\" message=\"Cluster health status changed from [YELLOW] to [GREEN].\""))
    out.sort()
    return "\n".join(out) + "\n"


def node_audit(node, node_id):
    lines = []
    # Successful use before the failures.
    for i in range(30):
        lines.append((ts(20, 7, 0, i), granted(20, 7, 0, i, 5, node_id, LOGSTASH, "logstash-writer", "ingest_owner", "10.0.1.20:40112", "indices:data/write/bulk")))
        lines.append((ts(20, 9, 13, 28 + i), granted(20, 9, 13, 28 + i, 7, node_id, FILEBEAT, "filebeat-prod", "ingest_owner", "10.0.0.7:52434", "indices:data/write/bulk")))
        lines.append((ts(20, 9, 50, i), granted(20, 9, 50, i, 9, node_id, OTHER, "apm-server", "apm_owner", "10.0.5.2:33000", "indices:data/write/bulk")))
    for n, h, m, s, ms in EXPIRED:
        if n == node:
            lines.append((ts(20, h, m + s // 60, s % 60, ms), anonymous_denied(20, h, m + s // 60, s % 60, ms + 1, node_id, f"10.0.1.20:{41000 + ms}")))
    for n, h, m, s, ms in INVALID:
        if n == node:
            lines.append((ts(20, h, m + s // 60, s % 60, ms), anonymous_denied(20, h, m + s // 60, s % 60, ms + 2, node_id, f"10.0.0.7:{52000 + ms}")))
    # A browser without credentials: an anonymous denial no key failure explains.
    lines.append((ts(20, 9, 20, 0), anonymous_denied(20, 9, 20, 0, 0, node_id, "10.0.9.9:60000", "/")))
    if node == 2:
        lines.append((ts(20, 9, 14, 3), audit_line(20, 9, 14, 3, 247, node_id, {
            "event.type": "security_config_change", "event.action": "invalidate_apikeys", "user.name": "jsmith",
            "user.realm": "native1", "user.roles": ["superuser"], "origin.type": "rest", "origin.address": "10.0.3.15:51802",
            "request.id": "7lyIQU9QTFqSrTxD0CqnTQ",
            "invalidate": {"apikeys": {"ids": [FILEBEAT], "owned_by_authenticated_user": False}}})))
        for i, (m, s, ms) in enumerate(DENIED):
            lines.append((ts(20, 10, m + s // 60, s % 60, ms), audit_line(20, 10, m + s // 60, s % 60, ms, node_id, {
                "event.type": "transport", "event.action": "access_denied", "authentication.type": "API_KEY",
                "user.name": "metrics_owner", "user.realm": "native1", "user.roles": ["metrics_role"],
                "apikey.id": METRICS, "apikey.name": "metrics-reader", "origin.type": "rest",
                "origin.address": f"10.0.2.30:{47000 + i}", "request.id": f"q{i}", "action": "indices:data/read/search",
                "request.name": "SearchRequest", "indices": ["logs-secret-2026.11.20"]})))
        for i in range(3):
            lines.append((ts(20, 9, 58, i), granted(20, 9, 58, i, 1, node_id, METRICS, "metrics-reader", "metrics_owner", "10.0.2.30:46000", "indices:data/read/search", "metrics-system-2026.11.20")))
    lines.sort()
    return "\n".join(l for _, l in lines) + "\n"


def rotated_audit():
    lines = [
        audit_line(10, 8, 0, 0, 120, N1_ID, {"event.type": "security_config_change", "event.action": "create_apikey", "user.name": "ingest_owner", "user.realm": "native1", "origin.type": "rest", "origin.address": "10.0.3.15:50001", "request.id": "c1",
                   "create": {"apikey": {"id": LOGSTASH, "name": "logstash-writer", "type": "rest", "expiration": "10d", "role_descriptors": [{"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["create_doc", "create_index"]}], "applications": [], "run_as": []}]}}}),
        audit_line(10, 8, 5, 0, 0, N1_ID, {"event.type": "security_config_change", "event.action": "create_apikey", "user.name": "ingest_owner", "user.realm": "native1", "origin.type": "rest", "origin.address": "10.0.3.15:50002", "request.id": "c2",
                   "create": {"apikey": {"id": FILEBEAT, "name": "filebeat-prod", "type": "rest", "expiration": None, "role_descriptors": [{"cluster": ["monitor", "read_ilm", "read_pipeline"], "indices": [{"names": ["filebeat-*", "logs-*"], "privileges": ["create_doc", "view_index_metadata"]}], "applications": [], "run_as": []}]}}}),
        audit_line(10, 8, 10, 0, 0, N1_ID, {"event.type": "security_config_change", "event.action": "create_apikey", "user.name": "metrics_owner", "user.realm": "native1", "origin.type": "rest", "origin.address": "10.0.3.15:50003", "request.id": "c3",
                   "create": {"apikey": {"id": METRICS, "name": "metrics-reader", "type": "rest", "expiration": "90d", "role_descriptors": [{"cluster": [], "indices": [{"names": ["metrics-*"], "privileges": ["read"]}], "applications": [], "run_as": []}]}}}),
    ]
    for i in range(40):
        lines.append(granted(10, 8, 30, i, 0, N1_ID, LOGSTASH, "logstash-writer", "ingest_owner", "10.0.1.20:40112", "indices:data/write/bulk"))
    lines.sort()
    return "\n".join(lines) + "\n"


def logstash():
    out = [f"[{ts(20, 6, 30, 0, 1)}][INFO ][logstash.outputs.elasticsearch][main] Elasticsearch version determined (8.12.2) {{:es_version=>8}}"]
    for node, h, m, s, ms in EXPIRED:
        body = body_401("api key is expired").replace('"', '\\"')
        host = "es-node-1" if node == 1 else "es-node-2"
        out.append(f"[{ts(20, h, m + s // 60, s % 60, ms + 3)}][ERROR][logstash.outputs.elasticsearch][main][7d6c1f0e] Encountered a retryable error (will retry with exponential backoff) {{:code=>401, :url=>\"https://{host}:9200/_bulk\", :content_length=>18231, :body=>\"{body}\"}}")
    out.append(f"[{ts(20, 8, 3, 0, 0)}][INFO ][logstash.outputs.elasticsearch][main] Retrying individual bulk actions that failed or were rejected by the previous bulk request {{:count=>125}}")
    return "\n".join(out) + "\n"


def filebeat():
    out = [json.dumps({"log.level": "info", "@timestamp": "2026-11-20T09:13:00.000Z", "log.logger": "publisher_pipeline_output", "log.origin": {"function": "github.com/elastic/beats/v7/libbeat/publisher/pipeline.(*netClientWorker).run", "file.name": "pipeline/client_worker.go", "file.line": 138}, "message": "Connection to backoff(elasticsearch(https://es-node-1:9200)) established", "service.name": "filebeat", "ecs.version": "1.6.0"}, separators=(",", ":"))]
    for node, h, m, s, ms in INVALID:
        host = "es-node-1" if node == 1 else "es-node-2"
        msg = f"Failed to connect to backoff(elasticsearch(https://{host}:9200)): 401 Unauthorized: {body_401(f'api key [{FILEBEAT}] has been invalidated')}"
        out.append(json.dumps({"log.level": "error", "@timestamp": f"2026-11-20T{h:02d}:{m + s // 60:02d}:{s % 60:02d}.{ms + 5:03d}Z", "log.logger": "publisher_pipeline_output", "log.origin": {"function": "github.com/elastic/beats/v7/libbeat/publisher/pipeline.(*netClientWorker).run", "file.name": "pipeline/client_worker.go", "file.line": 148}, "message": msg, "service.name": "filebeat", "ecs.version": "1.6.0"}, separators=(",", ":")))
    return "\n".join(out) + "\n"


def api_keys():
    ms = lambda day, h, m: int(__import__("datetime").datetime(2026, 11, day, h, m, tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000)
    keys = [
        {"id": FILEBEAT, "name": "filebeat-prod", "type": "rest", "creation": ms(10, 8, 5), "invalidated": True, "invalidation": ms(20, 9, 14) + 3247,
         "username": "ingest_owner", "realm": "native1", "realm_type": "native", "metadata": {},
         "role_descriptors": {"filebeat_writer": {"cluster": ["monitor", "read_ilm", "read_pipeline"], "indices": [{"names": ["filebeat-*", "logs-*"], "privileges": ["create_doc", "view_index_metadata"], "allow_restricted_indices": False}], "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": True}}}},
        {"id": LOGSTASH, "name": "logstash-writer", "type": "rest", "creation": ms(10, 8, 0) + 120, "expiration": ms(20, 8, 0) + 120, "invalidated": False,
         "username": "ingest_owner", "realm": "native1", "realm_type": "native", "metadata": {},
         "role_descriptors": {"logstash_writer": {"cluster": ["monitor"], "indices": [{"names": ["logs-*"], "privileges": ["create_doc", "create_index"], "allow_restricted_indices": False}], "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": True}}}},
        {"id": METRICS, "name": "metrics-reader", "type": "rest", "creation": ms(10, 8, 10), "expiration": ms(10, 8, 10) + 90 * 86400000, "invalidated": False,
         "username": "metrics_owner", "realm": "native1", "realm_type": "native", "metadata": {},
         "role_descriptors": {"metrics_read": {"cluster": [], "indices": [{"names": ["metrics-*"], "privileges": ["read"], "allow_restricted_indices": False}], "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": True}}}},
    ]
    return json.dumps({"api_keys": keys}, indent=2) + "\n"


def gz(text):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        f.write(text.encode())
    return buf.getvalue()


def main():
    files = {
        "es-node-1/elasticsearch.log": node1_server(),
        f"es-node-1/{CLUSTER}_audit.json": node_audit(1, N1_ID),
        f"es-node-1/{CLUSTER}_audit-2026-11-10-1.json.gz": gz(rotated_audit()),
        "es-node-2/elasticsearch.json": node2_server(),
        f"es-node-2/{CLUSTER}_audit.json": node_audit(2, N2_ID),
        "logstash/logstash-plain.log": logstash(),
        "filebeat/filebeat-20261120.ndjson": filebeat(),
        "api_keys.json": api_keys(),
    }
    for name, content in files.items():
        path = os.path.join(OUT, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    print(f"wrote {len(files)} files under {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
