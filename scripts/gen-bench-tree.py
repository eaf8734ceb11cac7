#!/usr/bin/env python3
"""Generate a deterministic log tree for the scan benchmarks (default: mixed, 1 GiB).

usage: gen-bench-tree.py DIR [SIZE_MB] [--shape SHAPE] [--keys N] [--files N]

Shapes (the rows of issue 20's table; `scripts/bench-table` runs them all):
  mixed        server logs plain and ECS, audit logs, rotated .gz copies, Logstash, Filebeat
  gzip         the same tree with every file gzipped
  dense        one plain server log, a failure every 5 lines across 7 keys (also `--dense`)
  single       one plain server log, mostly noise, a failure every 4000 lines
  audit        audit-heavy: 90% audit logs (access_granted, a denial every 4000 lines)
  every-other  one plain server log, every other line a failure, across --keys keys (10000)
  distinct     one plain server log, every other line a failure of a key never seen before, as
               probing with random ids writes (`unable to find apikey with id …`; --keys
               failures, default 1000000; SIZE_MB is then ignored)
  small        --files files of about 2 KB (default 100000), one in 100 with a failure

Per node: plain and ECS-JSON server logs, audit logs dominated by access_granted (as real audit
logs are), rotated .gz copies; plus Logstash and Filebeat logs. Known failures are injected at
fixed intervals and listed in DIR/EXPECTED.json, so a benchmark run can also be checked.
The same arguments always produce the same bytes (no clock, a fixed LCG, gzip mtime 0).
"""
import gzip
import json
import os
import sys

KEYS = ["VuaCfGcBCdbkQm-e5aOx", "zcwN3YEBBmnjw-K-hW5_", "j7c0WYIBqecB5CbVR6Oq", "T4Lav4QBuKu_zclXw8LG"]
INJECT_EVERY = 4000  # lines between two injected failures


class Lcg:
    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.x >> 33) % n


def ts(i):
    s = i // 50
    return f"2026-11-{20 + (s // 86400) % 8:02d}T{(s // 3600) % 24:02d}:{(s // 60) % 60:02d}:{s % 60:02d},{(i * 7) % 1000:03d}"


def server_plain(i, r, node):
    if i % INJECT_EVERY == 11:
        return f"[{ts(i)}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{KEYS[0]}] has been invalidated\n", "invalidated"
    k = r.next(6)
    msg = [
        "[gc][{0}] overhead, spent [310ms] collecting in the last [1s]".format(i),
        "[logs-app-2026.11.20][0] starting shard recovery from peer [{{es-node-2}}] took [{0}ms]".format(r.next(900)),
        "added {{{{es-node-3}}{{p3LQmB7zTgyWf2c9kHnA_w}}}}, term: 4, version: {0}, reason: ApplyCommitRequest".format(i),
        "[.ds-logs-nginx.access-default-2026.11.20-000001] update_mapping [_doc]",
        "low disk watermark [85%] exceeded on [0RMNyghkQYCc_gVd1G6tZQ][{0}] free: 41.2gb[14.1%], replicas will not be assigned to this node".format(node),
        "moving index [logs-app-2026.11.19] from [{{\"phase\":\"hot\"}}] to [{{\"phase\":\"warm\"}}] in policy [logs]",
    ][k]
    level = "WARN " if k in (0, 4) else "INFO "
    return f"[{ts(i)}][{level}][o.e.c.r.a.AllocationService] [{node}] {msg}\n", None


def server_json(i, r, node):
    if i % INJECT_EVERY == 23:
        msg, hit = "Authentication using apikey failed - api key is expired", "expired"
        logger, level = "org.elasticsearch.xpack.security.authc.ApiKeyAuthenticator", "WARN"
    else:
        msg, hit = f"[logs-app-2026.11.20][{r.next(3)}] primary-replica resync completed with {r.next(500)} operations", None
        logger, level = "org.elasticsearch.index.shard.PrimaryReplicaSyncer", "INFO"
    return json.dumps({"@timestamp": ts(i).replace(",", ".") + "Z", "log.level": level, "message": msg, "ecs.version": "1.2.0",
                       "service.name": "ES_ECS", "event.dataset": "elasticsearch.server",
                       "process.thread.name": f"elasticsearch[{node}][generic][T#{r.next(9)}]", "log.logger": logger,
                       "elasticsearch.cluster.uuid": "Zx8H2xAcR3yKXk5DkT0lUA", "elasticsearch.node.id": "p3LQmB7zTgyWf2c9kHnA_w",
                       "elasticsearch.node.name": node, "elasticsearch.cluster.name": "prod-logs"}, separators=(",", ":")) + "\n", hit


def audit(i, r, node):
    head = f'{{"type":"audit", "timestamp":"{ts(i)}+0000", "cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA", "node.id":"0RMNyghkQYCc_gVd1G6tZQ", '
    if i % INJECT_EVERY == 37:
        return head + f'"event.type":"transport", "event.action":"access_denied", "authentication.type":"API_KEY", "user.name":"metrics_owner", "user.realm":"native1", "user.roles":["metrics_role"], "apikey.id":"{KEYS[2]}", "apikey.name":"metrics-reader", "origin.type":"rest", "origin.address":"10.0.2.30:47000", "request.id":"q{i}", "action":"indices:data/read/search", "request.name":"SearchRequest", "indices":["logs-secret-2026.11.20"]}}\n', "under_privileged"
    key = KEYS[1 + r.next(3)]
    return head + f'"event.type":"transport", "event.action":"access_granted", "authentication.type":"API_KEY", "user.name":"ingest_owner", "user.realm":"native1", "user.roles":["ingest_role"], "apikey.id":"{key}", "apikey.name":"writer", "origin.type":"rest", "origin.address":"10.0.1.{r.next(250)}:{40000 + r.next(20000)}", "request.id":"r{i}", "action":"indices:data/write/bulk[s]", "request.name":"BulkShardRequest", "indices":["logs-app-2026.11.20"]}}\n', None


def logstash(i, r, node):
    if i % INJECT_EVERY == 51:
        return f'[{ts(i)}][ERROR][logstash.outputs.elasticsearch][main][7d6c1f0e] Encountered a retryable error (will retry with exponential backoff) {{:code=>401, :url=>"https://es-node-1:9200/_bulk", :content_length=>18231, :body=>"{{\\"error\\":{{\\"type\\":\\"security_exception\\",\\"reason\\":\\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\\",\\"additional_unsuccessful_credentials\\":\\"API key: unable to find apikey with id {KEYS[3]}\\"}},\\"status\\":401}}"}}\n', "missing"
    return f"[{ts(i)}][INFO ][logstash.outputs.elasticsearch][main] Pipeline worker {r.next(8)} flushed {r.next(500)} events in {r.next(90)}ms\n", None


def filebeat(i, r, node):
    msg = f"Non-zero metrics in the last 30s: monotonic counters events {r.next(10000)} acked, harvester open_files {r.next(40)}"
    return json.dumps({"log.level": "info", "@timestamp": ts(i).replace(",", ".") + "Z", "log.logger": "monitoring",
                       "log.origin": {"file.name": "log/log.go", "file.line": 187}, "message": msg,
                       "service.name": "filebeat", "ecs.version": "1.6.0"}, separators=(",", ":")) + "\n", None


KINDS = [
    ("es-node-{n}/elasticsearch-{k}.log", server_plain, 0.20),
    ("es-node-{n}/elasticsearch-{k}.json", server_json, 0.15),
    ("es-node-{n}/prod-logs_audit-{k}.json", audit, 0.45),
    ("logstash/logstash-plain-{k}.log", logstash, 0.10),
    ("filebeat/filebeat-{k}.ndjson", filebeat, 0.10),
]
FILE_MB = 32


ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def key_id(n):
    """The n-th of many distinct 20-character key ids: the last 10 characters are n times an odd
    number modulo 2^60, a bijection, so two n never share an id."""
    n += 1  # n = 0 would give a tail of one repeated letter, which reads as a placeholder
    head = (n * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64)
    tail = (n * 0xD1B54A32D192ED03) % (1 << 60)
    return "".join(ID_ALPHABET[(v >> (6 * j)) & 63] for v in (head, tail) for j in range(10))


def invalidated(t, node, key):
    return f"[{t}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - api key [{key}] has been invalidated\n"


def not_found(t, node, key):
    return f"[{t}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [{node}] Authentication using apikey failed - unable to find apikey with id {key}\n"


def routine(t, i):
    return f"[{t}][INFO ][o.e.c.r.a.AllocationService] [es-node-1] routine line {i} with padding padding padding\n"


def one_log(out, total, every, key, limit=None, failure=invalidated):
    """One plain server log: a failure of key(i) every `every` lines, routine lines between;
    `total` MiB, or `limit` failures."""
    os.makedirs(out, exist_ok=True)
    size, i, expected = total << 20, 0, 0
    with open(os.path.join(out, "elasticsearch.log"), "w", buffering=1 << 20) as f:
        written = 0
        while (expected < limit) if limit is not None else (written < size):
            t = ts(i)
            line = failure(t, f"es-node-{i % 3}", key(i)) if i % every == 0 else routine(t, i)
            expected += i % every == 0
            f.write(line)
            written += len(line)
            i += 1
    megabytes = round(written / (1 << 20))
    write_expected(out, {"missing" if failure is not_found else "invalidated": expected}, 1, megabytes)


def small(out, n):
    line = routine("2026-11-20T00:00:00,000", 0)
    fail = invalidated("2026-11-20T00:00:01,000", "es-node-2", "Key5AAAAAAAAAAAAAAA")
    for i in range(n):
        d = os.path.join(out, f"d{i // 1000}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i % 1000}.log"), "w") as f:
            f.write(line * 17 + (fail if i % 100 == 0 else ""))
    write_expected(out, {"invalidated": (n + 99) // 100}, n, round(n * len(line) * 17 / (1 << 20)))


def write_expected(out, failures, files, megabytes):
    with open(os.path.join(out, "EXPECTED.json"), "w") as f:
        json.dump({"failure_lines": failures, "files": files, "megabytes": megabytes}, f, indent=2, sort_keys=True)
    print(f"{out}: {files} files, {megabytes} MiB uncompressed, failures {failures}", file=sys.stderr)


def option(name, default):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def main():
    out = sys.argv[1]
    total = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 1024
    shape = "dense" if "--dense" in sys.argv else option("--shape", "mixed")
    if shape == "dense":
        return one_log(out, total, 5, lambda i: f"Key{i % 7}AAAAAAAAAAAAAAA")
    if shape == "single":
        return one_log(out, total, 4000, lambda i: KEYS[0])
    if shape == "every-other":
        keys = int(option("--keys", "10000"))
        return one_log(out, total, 2, lambda i: key_id((i // 2) % keys))
    if shape == "distinct":
        # What probing with random key ids writes: each id is unknown to the cluster.
        return one_log(out, total, 2, lambda i: key_id(i // 2), limit=int(option("--keys", "1000000")), failure=not_found)
    if shape == "small":
        return small(out, int(option("--files", "100000")))
    if shape not in ("mixed", "gzip", "audit"):
        sys.exit(f"gen-bench-tree: unknown shape {shape}")
    kinds = KINDS
    if shape == "audit":
        kinds = [(p, make, 0.90 if make is audit else 0.10 / (len(KINDS) - 1)) for p, make, _ in KINDS]
    expected = {}
    files = 0
    for kind_idx, (pattern, make, share) in enumerate(kinds):
        budget = int(total * share * (1 << 20))
        k = 0
        while budget > 0:
            n = 1 + k % 2
            size = min(budget, FILE_MB << 20)
            gz = shape == "gzip" or k % 4 == 3
            path = os.path.join(out, pattern.format(n=n, k=k) + (".gz" if gz else ""))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            r = Lcg(kind_idx * 1000 + k)
            parts, written, i = [], 0, k * 10_000_000
            while written < size:
                line, hit = make(i, r, f"es-node-{n}")
                parts.append(line)
                written += len(line)
                if hit:
                    expected[hit] = expected.get(hit, 0) + 1
                i += 1
            data = "".join(parts).encode()
            if gz:
                with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="", compresslevel=6) as g:
                    g.write(data)
            else:
                with open(path, "wb") as f:
                    f.write(data)
            budget -= size
            k += 1
            files += 1
    write_expected(out, expected, files, total)


if __name__ == "__main__":
    main()
