#!/usr/bin/env python3
"""Write fixtures/two-cluster: one incident seen from both ends of an API-key remote cluster.

search-prod (8.15.1) is the querying cluster: it searches `eu:*` on logs-eu (8.15.1), the
fulfilling cluster, through a proxy at eu-proxy.internal:9443 with a cross-cluster API key in
its keystore. Message texts follow shared/reference sections 4.4, 5 and 8; API answers follow
sections 4.3 and 6.2. Deterministic.

The story (UTC):
- 2026-11-20 09:00: the cross-cluster key `search-prod-eu` (Xb4tQ5IBcF9aHj2kLm0N) expires. Each
  search-prod node logs the remote handshake refused every 30 s (`unable to authenticate user
  [<key id>] for action [cluster:internal/remote_cluster/handshake]`): the querying side alone
  cannot say why. The fulfilling side's ApiKeyAuthenticator logs `api key is expired` (no id)
  and its audit log `authentication_failed` for the key id.
- 10:14: a new key (r7PzQ5IBcF9aHj2kXq1s) is stored; the handshakes succeed (audited).
- 2026-11-21 14:03: analysts' searches of `eu:audit-eu-2026.11` fail 403 in the search API's
  log: the key's `access` covers logs-eu-* only, while the analysts' role grants
  `remote_indices` on both logs-eu-* and audit-eu-*: effective access lacks audit-eu-*.
- 2026-11-22 07:40-07:46: the proxy refuses connections (connect_exception to 10.2.0.10:9443);
  the fulfilling cluster's logs, which run on before and after, say nothing: the connections
  never reached it.
"""
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "two-cluster")
OLD = "Xb4tQ5IBcF9aHj2kLm0N"
NEW = "r7PzQ5IBcF9aHj2kXq1s"
LOCAL_NODES = [("es-search-1", "10.1.0.21"), ("es-search-2", "10.1.0.22")]
REMOTE_NODE = ("es-eu-1", "Hq3VtR8nS0GmW4pZcY2b1A", "10.2.0.11")
BUILD = "build[docker/aa1f6d1dcbf4c5bd4e5e0cc1b1bbbc4e2b8c1a10/2024-09-05T08:10:06.011Z]"


def ms(day, h, m, s, milli=0):
    import datetime
    t = datetime.datetime(2026, 11, day, h, m, s, milli * 1000, tzinfo=datetime.timezone.utc)
    return int(t.timestamp() * 1000)


def plain_ts(t):
    import datetime
    d = datetime.datetime.fromtimestamp(t / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S,") + "%03d" % (t % 1000)


def iso(t):
    import datetime
    d = datetime.datetime.fromtimestamp(t / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t % 1000)


def audit_ts(t):
    import datetime
    d = datetime.datetime.fromtimestamp(t / 1000, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S,") + "%03d+0000" % (t % 1000)


def write(rel, data):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=2) + "\n"
    with open(path, "w", newline="\n") as f:
        f.write(data)


def local_log(node, ip, offset):
    out = []

    def line(t, level, logger, msg):
        out.append("[%s][%-5s][%-25s] [%s] %s\n" % (plain_ts(t), level, logger, node, msg))

    line(ms(20, 6, 0, 1, 7), "INFO", "o.e.n.Node",
         "version[8.15.1], pid[7], %s, OS[Linux/6.1.0-1021-aws/amd64], JVM[Oracle Corporation/OpenJDK 64-Bit Server VM/22.0.1/22.0.1+8-16]" % BUILD)
    line(ms(20, 6, 0, 9, 311), "INFO", "o.e.n.Node", "started {%s}{%s}" % (node, ip))
    # The expired cross-cluster key: the remote refuses every handshake.
    t = ms(20, 9, 0, 31, 204) + offset
    while t < ms(20, 10, 14, 0):
        line(t, "WARN", "o.e.t.ProxyConnectionStrategy", "failed to open any proxy connections to cluster [eu]")
        out.append("org.elasticsearch.transport.RemoteTransportException: [es-eu-1][10.2.0.11:9443][cluster:internal/remote_cluster/handshake]\n")
        out.append("Caused by: org.elasticsearch.ElasticsearchSecurityException: unable to authenticate user [%s] for action [cluster:internal/remote_cluster/handshake]\n" % OLD)
        out.append("\tat org.elasticsearch.xpack.core.security.support.Exceptions.authenticationError(Exceptions.java:47) ~[?:?]\n")
        out.append("\tat org.elasticsearch.xpack.security.authc.AuthenticatorChain.handleNullToken(AuthenticatorChain.java:257) ~[?:?]\n")
        t += 30_000
    for h in (12, 18):
        line(ms(20, h, 0, 0, 42) + offset, "INFO", "o.e.c.m.MetadataCreateIndexService",
             "[.ds-logs-search-default-2026.11.20-000%d] creating index, cause [rollover_data_stream], templates [logs], shards [1]/[1]" % (h // 6))
    for day in (21, 22):
        for h in (0, 6, 12, 18):
            line(ms(day, h, 0, 0, 42) + offset, "INFO", "o.e.x.i.IndexLifecycleRunner",
                 "policy [logs] for index [.ds-logs-search-default-2026.11.%02d-000001] on an error step due to a transient error, moving back to the failed step [check-rollover-ready] for execution. retry attempt [1]" % day)
            if day == 22 and h == 6:
                # The proxy refuses connections for six minutes.
                t = ms(22, 7, 40, 12, 530) + offset
                while t < ms(22, 7, 46, 50):
                    line(t, "WARN", "o.e.t.ProxyConnectionStrategy", "failed to open any proxy connections to cluster [eu]")
                    out.append("org.elasticsearch.transport.ConnectTransportException: [][10.2.0.10:9443] connect_exception\n")
                    out.append("\tat org.elasticsearch.transport.TcpTransport$ChannelsConnectedListener.onFailure(TcpTransport.java:1146) ~[elasticsearch-8.15.1.jar:?]\n")
                    out.append("Caused by: java.net.ConnectException: Connection refused\n")
                    t += 30_000
    line(ms(23, 0, 0, 0, 42) + offset, "INFO", "o.e.x.i.IndexLifecycleRunner",
         "policy [logs] for index [.ds-logs-search-default-2026.11.23-000001] moving to step [check-rollover-ready]")
    return "".join(out)


def remote_json(t, level, logger, msg):
    node, node_id, _ = REMOTE_NODE
    return json.dumps({
        "@timestamp": iso(t), "log.level": level, "message": msg, "ecs.version": "1.2.0",
        "service.name": "ES_ECS", "event.dataset": "elasticsearch.server",
        "process.thread.name": "elasticsearch[%s][transport_worker][T#2]" % node,
        "log.logger": logger, "elasticsearch.cluster.uuid": "k2cXh5dWQyC0aTnB7uVj8w",
        "elasticsearch.node.id": node_id, "elasticsearch.node.name": node,
        "elasticsearch.cluster.name": "logs-eu",
    }, separators=(",", ":")) + "\n"


def audit(t, fields):
    node, node_id, _ = REMOTE_NODE
    head = {"type": "audit", "timestamp": audit_ts(t), "cluster.uuid": "k2cXh5dWQyC0aTnB7uVj8w",
            "node.name": node, "node.id": node_id}
    head.update(fields)
    return json.dumps(head, separators=(", ", ":")) + "\n"


def main():
    if os.path.isdir(ROOT):
        for entry in os.listdir(ROOT):
            if entry != "README.md":
                shutil.rmtree(os.path.join(ROOT, entry))
    # --- the querying cluster ---
    for i, (node, ip) in enumerate(LOCAL_NODES):
        write("search-prod/%s/search-prod.log" % node, local_log(node, ip, i * 7))
    write("search-prod/remote_info.json", {
        "eu": {
            "connected": True, "mode": "proxy", "proxy_address": "eu-proxy.internal:9443",
            "server_name": "eu-proxy.internal", "num_proxy_sockets_connected": 18,
            "max_proxy_socket_connections": 18, "initial_connect_timeout": "30s",
            "skip_unavailable": True, "cluster_credentials": "::es_redacted::",
        }
    })
    write("search-prod/roles.json", {
        "eu-analyst": {
            "cluster": ["monitor"],
            "indices": [{"names": ["logs-search-*"], "privileges": ["read", "view_index_metadata"],
                         "allow_restricted_indices": False}],
            "applications": [], "run_as": [], "metadata": {},
            "remote_indices": [{"names": ["logs-eu-*", "audit-eu-*"],
                                "privileges": ["read", "read_cross_cluster", "view_index_metadata"],
                                "allow_restricted_indices": False, "clusters": ["eu"]}],
            "transient_metadata": {"enabled": True},
        }
    })
    app = []
    for k, (m, s) in enumerate([(3, 12), (3, 41), (9, 5), (27, 33)]):
        t = ms(21, 14, m, s, 481 + k)
        app.append("%s ERROR search_api.views: eu search failed for analyst: AuthorizationException(403, 'security_exception', 'action [indices:data/read/search] towards remote cluster is unauthorized for user [analyst] with assigned roles [eu-analyst] authenticated by API key id [%s] of user [elastic-admin] on indices [audit-eu-2026.11], this action is granted by the index privileges [read,all]')\n"
                   % (plain_ts(t).replace("T", " "), NEW))
    write("search-prod/search-api/search-api.log", "".join(app))

    # --- the fulfilling cluster ---
    node, node_id, ip = REMOTE_NODE
    log = [remote_json(ms(20, 5, 58, 2, 118), "INFO", "org.elasticsearch.node.Node",
                       "node name [%s], node ID [%s], cluster name [logs-eu], roles [data_hot, ingest, master, remote_cluster_client]" % (node, node_id)),
           remote_json(ms(20, 5, 58, 2, 120), "INFO", "org.elasticsearch.node.Node",
                       "version[8.15.1], pid[9], %s, OS[Linux/6.1.0-1021-aws/amd64], JVM[Oracle Corporation/OpenJDK 64-Bit Server VM/22.0.1/22.0.1+8-16]" % BUILD)]
    aud = []
    for i, (lnode, lip) in enumerate(LOCAL_NODES):
        t = ms(20, 9, 0, 31, 200) + i * 7
        port = 50112 + i
        while t < ms(20, 10, 14, 0):
            log.append((t, remote_json(t, "WARN", "org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator",
                                       "Authentication using apikey failed - api key is expired")))
            aud.append((t, audit(t + 1, {
                "event.type": "transport", "event.action": "authentication_failed",
                "user.name": OLD, "origin.type": "transport",
                "origin.address": "%s:%d" % (lip, port), "request.id": "hs%d%d" % (i, t % 100000),
                "action": "cluster:internal/remote_cluster/handshake", "request.name": "RemoteClusterHandshakeRequest"})))
            t += 30_000
        for k, t in enumerate([ms(20, 10, 14, 2, 5), ms(21, 8, 0, 1, 9), ms(22, 7, 47, 13, 2), ms(22, 19, 30, 0, 77)]):
            aud.append((t + i, audit(t + i, {
                "event.type": "transport", "event.action": "access_granted",
                "authentication.type": "API_KEY", "user.name": "elastic-admin", "user.realm": "_es_api_key",
                "user.roles": [], "apikey.id": NEW, "apikey.name": "search-prod-eu-2",
                "origin.type": "transport", "origin.address": "%s:%d" % (lip, port + 10 + k),
                "request.id": "ok%d%d" % (i, k), "action": "cluster:internal/remote_cluster/handshake",
                "request.name": "RemoteClusterHandshakeRequest"})))
    for day in (20, 21, 22, 23):
        for h in range(0, 24, 2) if day < 23 else (0,):
            if day == 20 and h < 6:
                continue
            t = ms(day, h, 30, 0, 5)
            log.append((t, remote_json(t, "INFO", "org.elasticsearch.cluster.metadata.MetadataCreateIndexService",
                                       "[logs-eu-2026.11.%02d-%02d] creating index, cause [auto(bulk api)], templates [logs-eu], shards [1]/[1]" % (day, h))))
    body = log[:2] + [l for _, l in sorted(log[2:])]
    write("logs-eu/%s/logs-eu_server.json" % node, "".join(body))
    write("logs-eu/%s/logs-eu_audit.json" % node, "".join(l for _, l in sorted(aud)))
    descriptor = lambda names: {"cross_cluster": {
        "cluster": ["cross_cluster_search", "monitor_enrich"],
        "indices": [{"names": names, "privileges": ["read", "read_cross_cluster", "view_index_metadata"],
                     "allow_restricted_indices": False}],
        "applications": [], "run_as": [], "metadata": {}, "transient_metadata": {"enabled": True}}}
    write("logs-eu/api_keys.json", {"api_keys": [
        {"id": OLD, "name": "search-prod-eu", "type": "cross_cluster",
         "creation": ms(20, 9, 0, 0) - 365 * 86_400_000, "expiration": ms(20, 9, 0, 0),
         "invalidated": False, "username": "elastic-admin", "realm": "native1", "realm_type": "native",
         "metadata": {}, "role_descriptors": descriptor(["logs-eu-*"]),
         "access": {"search": [{"names": ["logs-eu-*"]}]}},
        {"id": NEW, "name": "search-prod-eu-2", "type": "cross_cluster",
         "creation": ms(20, 10, 12, 40), "expiration": ms(20, 10, 12, 40) + 365 * 86_400_000,
         "invalidated": False, "username": "elastic-admin", "realm": "native1", "realm_type": "native",
         "metadata": {}, "role_descriptors": descriptor(["logs-eu-*"]),
         "access": {"search": [{"names": ["logs-eu-*"]}]}},
    ]})


if __name__ == "__main__":
    main()
