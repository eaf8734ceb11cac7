#!/usr/bin/env python3
"""Write fixtures/bundle/api-diagnostics-20261120-101500: an Elastic support-diagnostics bundle
as the tool lays it out (file names are the request labels of its src/main/resources/
elastic-rest.yml: version.json, cluster_settings.json, remote_cluster_info.json, nodes.json,
commercial/xpack.json, commercial/security_*.json; logs/<cluster>.log and the newest rotated
<cluster>-<date>-1.log.gz, as its CollectLogs copies them).

Deterministic (gzip mtime 0). API answers follow shared/reference sections 4.3 and 6; the story:
API keys disabled on the nodes (the usage says so), a remote cluster with API-key credentials
on the transport port, a Logstash key invalidated in the rotated log, an unknown key today.
"""
import gzip
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "bundle")
OUT = os.path.join(ROOT, "api-diagnostics-20261120-101500")
CLUSTER = "prod-logs"


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=2) + "\n"
    with open(path, "w", newline="\n") as f:
        f.write(data)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    write("manifest.json", {
        "diagToolVersion": {"version": "9.1.2"},
        "collectionDate": "2026-11-20T10:15:00.000Z",
        "diagType": "api",
        "product": "Elasticsearch",
    })
    write("version.json", {
        "name": "es-node-1", "cluster_name": CLUSTER, "cluster_uuid": "Zx8H2xAcR3yKXk5DkT0lUA",
        "version": {"number": "8.12.2", "build_flavor": "default", "build_type": "docker",
                    "lucene_version": "9.9.2", "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0"},
        "tagline": "You Know, for Search",
    })
    write("cluster_settings.json", {
        "persistent": {
            "cluster.remote.legacy.seeds": ["10.0.4.21:9300", "10.0.4.22:9300"],
            "xpack.security.audit.enabled": "false",
        },
        "transient": {},
    })
    write("remote_cluster_info.json", {
        "legacy": {
            "connected": False, "mode": "sniff", "seeds": ["10.0.4.21:9300", "10.0.4.22:9300"],
            "num_nodes_connected": 0, "max_connections_per_cluster": 3,
            "initial_connect_timeout": "30s", "skip_unavailable": False,
            "cluster_credentials": "::es_redacted::",
        }
    })
    write("commercial/xpack.json", {
        "security": {
            "available": True, "enabled": True,
            "ssl": {"http": {"enabled": True}, "transport": {"enabled": True}},
            "api_key_service": {"enabled": False},
            "audit": {"enabled": False},
            "realms": {"native": {"available": True, "enabled": True, "name": ["native1"]}},
        }
    })
    write("commercial/security_roles.json", {
        "ingest_role": {"cluster": ["monitor", "manage_ilm"], "indices": [
            {"names": ["logs-*"], "privileges": ["create_doc", "create_index"], "allow_restricted_indices": False}],
            "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": True}}
    })
    write("commercial/security_role_mappings.json", {})
    write("commercial/security_users.json", {
        "ingest_owner": {"username": "ingest_owner", "roles": ["ingest_role"], "full_name": None,
                         "email": None, "metadata": {}, "enabled": True}
    })
    write("nodes.json", {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": CLUSTER,
                         "nodes": {"0RMNyghkQYCc_gVd1G6tZQ": {"name": "es-node-1", "version": "8.12.2",
                                   "settings": {"xpack": {"security": {"authc": {"api_key": {"enabled": "false"}}}}}}}})
    write("cat/cat_health.txt", "epoch      timestamp cluster   status node.total node.data shards pri relo init unassign\n1795169700 10:15:00  prod-logs green           1         1     12   6    0    0        0\n")
    log = (
        "[2026-11-20T06:00:00,012][INFO ][o.e.n.Node               ] [es-node-1] version[8.12.2], pid[7], build[docker/48a287ab9497e852de30327444b0809e55d46466/2024-02-19T10:04:32.774273190Z], OS[Linux/5.15.0-1057-aws/amd64], JVM[Oracle Corporation/OpenJDK 64-Bit Server VM/21.0.2/21.0.2+13-58]\n"
        "[2026-11-20T09:02:11,508][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - unable to find apikey with id Zq8rTm4BpS-1XhWcYd0k\n"
        "[2026-11-20T09:02:41,511][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - unable to find apikey with id Zq8rTm4BpS-1XhWcYd0k\n"
    )
    write(f"logs/{CLUSTER}.log", log)
    rotated = (
        "[2026-11-19T14:20:00,100][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [zcwN3YEBBmnjw-K-hW5_] has been invalidated\n"
        "[2026-11-19T14:20:30,104][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [zcwN3YEBBmnjw-K-hW5_] has been invalidated\n"
    )
    path = os.path.join(OUT, "logs", f"{CLUSTER}-2026-11-19-1.log.gz")
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            gz.write(rotated.encode())

    # Beside the bundle (support-diagnostics does not collect it): the Logstash log of the
    # pipelines whose keys ingest_owner owns. One writes to metrics-app-default, which
    # ingest_role does not grant (the owner's limit); the other to logs-app-default, which it
    # does (the key's own descriptors, or an old snapshot).
    deny = (
        '[{ts}][INFO ][logstash.outputs.elasticsearch][{pipe}][{plugin}] Retrying failed action '
        '{{:status=>403, :action=>["index", {{:_id=>nil, :_index=>"{index}", :routing=>nil}}, {{"message"=>"{msg}"}}], '
        ':error=>{{"type"=>"security_exception", "reason"=>"action [indices:data/write/bulk[s]] is unauthorized for API key id [{key}] of user [ingest_owner] on indices [{index}], '
        'this action is granted by the index privileges [create_doc,create,delete,index,write,all]"}}}}\n'
    )
    lines = "[2026-11-20T09:30:00,001][INFO ][logstash.outputs.elasticsearch][metrics] Elasticsearch version determined (8.12.2) {:es_version=>8}\n"
    for i, ts in enumerate(["09:31:02,118", "09:31:34,502", "09:32:06,877"]):
        lines += deny.format(ts=f"2026-11-20T{ts}", pipe="metrics", plugin="3f9a0c1e", index="metrics-app-default",
                             msg=f"cpu.pct=0.{41 + i}", key="Lg5kR5IBcF9aHj2kMt01")
        lines += deny.format(ts=f"2026-11-20T{ts[:-3]}{int(ts[-3:]) + 7:03d}", pipe="applogs", plugin="8b2d4e6f",
                             index="logs-app-default", msg=f"GET /health 200 {i}", key="Lg5kR5IBcF9aHj2kLg02")
    os.makedirs(os.path.join(ROOT, "logstash"), exist_ok=True)
    with open(os.path.join(ROOT, "logstash", "logstash-plain.log"), "w", newline="\n") as f:
        f.write(lines)


if __name__ == "__main__":
    main()
