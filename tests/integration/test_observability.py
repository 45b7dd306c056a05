"""Observability: /metrics (Prometheus text format 0.0.4), /healthz and /readyz
through a SIGTERM drain, the admin listener split, and the access log (clf and
json) under hostile input.

Counting rule the exact-movement tests rely on: a request is counted (and
logged) when it completes, so a scrape never contains itself, and the next
scrape contains the previous one (+1 GET 200, +its body length in identity
bytes). Scrapes that must see every earlier request are made on one keep-alive
connection: libmicrohttpd finishes a request (completion callback included)
before it reads the next one from the same connection.

Everything that talks to tomed goes over loopback sockets; `promtool` (Debian's
prometheus package) checks the exposition.
"""
import codecs
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (BASE, SITE_DIR, VERSION, TomedServer, html, make_tree, parse_raw_response,
                      run_tomed)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
METRICS_CT = "text/plain; version=0.0.4; charset=utf-8"
ADMIN_RE = re.compile(r"tomed: \[notice\] admin endpoints \((\S+), (\S+), (\S+)\) on port (\d+)")
INFO_RE = re.compile(r"tomed: \[info\] compressed (\d+) of (\d+) compressible files \((\d+) bytes\)"
                     r" into (\d+) variants \((\d+) bytes[,)]")

FAMILIES = {
    "tomed_http_requests_total": "counter",
    "tomed_http_response_bytes_total": "counter",
    "tomed_http_request_duration_seconds": "histogram",
    "tomed_http_connections_open": "gauge",
    "tomed_snapshot_files": "gauge",
    "tomed_snapshot_bytes": "gauge",
    "tomed_snapshot_generation": "gauge",
    "tomed_reloads_total": "counter",
    "tomed_last_reload_timestamp_seconds": "gauge",
    "tomed_build_info": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}
# The status codes tomed's handler answers with: each must have its own series
# (not only "other") so a dashboard can tell them apart.
HANDLER_CODES = {"200", "206", "304", "308", "400", "404", "405", "414", "416", "503"}


# =========================================================================== helpers

# ---------------------------------------------------------------- exposition

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def _unescape_label(v):
    return re.sub(r'\\([\\"n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


class Exposition:
    """A parsed text-format 0.0.4 exposition: families with their TYPE, and
    samples keyed by (name, frozenset of label pairs). Fails on any line it
    cannot read."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.helps = {}
        self.samples = {}
        self.order = []
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("# TYPE "):
                _, _, name, typ = line.split(" ", 3)
                assert name not in self.types, f"second TYPE line for {name}"
                self.types[name] = typ
                continue
            if line.startswith("# HELP "):
                _, _, name, help_ = line.split(" ", 3)
                self.helps[name] = help_
                continue
            assert not line.startswith("#"), f"unexpected comment line: {line!r}"
            m = _SAMPLE_RE.match(line)
            assert m, f"unparseable sample line: {line!r}"
            name, labels_text, value = m.groups()
            labels = {}
            if labels_text:
                pos = 0
                while pos < len(labels_text):
                    lm = _LABEL_RE.match(labels_text, pos)
                    assert lm, f"bad labels in {line!r}"
                    labels[lm.group(1)] = _unescape_label(lm.group(2))
                    pos = lm.end()
            key = (name, frozenset(labels.items()))
            assert key not in self.samples, f"duplicate series: {line!r}"
            self.samples[key] = float(value)
            self.order.append((name, labels))

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return None

    def series(self, name):
        """[(labels dict, value)] of one sample name."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]

    def get(self, name, **labels):
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no series {name}{labels}; have {self.series(name)}"
        return self.samples[key]

    def total(self, name, **match):
        """Sum of the series of name whose labels include match."""
        return sum(v for lab, v in self.series(name)
                   if all(lab.get(k) == w for k, w in match.items()))

    def buckets(self, name):
        """[(le as float, cumulative count)] sorted by le."""
        out = [(float(lab["le"]), v) for lab, v in self.series(name + "_bucket")]
        return sorted(out)


def scrape(host, port, path="/metrics", conn=None):
    """GET /metrics; returns (Exposition, body length). With conn (a keep-alive
    http.client connection) the request goes on it, else on a fresh one."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body[:200])
        assert r.getheader("Content-Type") == METRICS_CT, r.getheader("Content-Type")
        assert r.getheader("Content-Encoding") is None
        assert int(r.getheader("Content-Length")) == len(body)
        return Exposition(body.decode("utf-8")), len(body)
    finally:
        if own:
            conn.close()


def admin_port(srv, timeout=5):
    """The admin port from the start-up line on stderr (it follows the banner)."""
    deadline = time.monotonic() + timeout
    while True:
        m = ADMIN_RE.search(srv.stderr)
        if m:
            return int(m.group(4))
        assert time.monotonic() < deadline, f"no admin endpoints line on stderr:\n{srv.stderr}"
        time.sleep(0.02)


def wait_for(pred, timeout=5.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def wait_compressed(srv, timeout=20):
    m = wait_for(lambda: INFO_RE.search(srv.stderr), timeout,
                 what=lambda: f"the [info] compressed line; stderr:\n{srv.stderr}")
    return tuple(int(g) for g in m.groups())


def http_get(host, port, path, method="GET", headers=None, timeout=10):
    """One request on a fresh connection; returns (status, headers dict lower-cased, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def refused(host, port):
    try:
        c = socket.create_connection((host, port), timeout=0.5)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    c.close()
    return False


def raw_exchange(host, port, data, timeout=10):
    """Send bytes as they are, read until the server closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    return b"".join(chunks)


def raw_http(srv, target, method=b"GET", headers=(), version=b"HTTP/1.1"):
    """A hand-written request, every byte as given (target and header values are
    bytes); Connection: close. Returns the parsed Response."""
    lines = [method + b" " + target + b" " + version, b"Host: 127.0.0.1",
             b"Connection: close"]
    lines += [k + b": " + v for k, v in headers]
    data = raw_exchange(srv.host, srv.port, b"\r\n".join(lines) + b"\r\n\r\n")
    assert data, f"no response to {method} {target!r}"
    return parse_raw_response(data)


# ------------------------------------------------------------- server with raw stdout

class RawStdoutServer(TomedServer):
    """TomedServer that also keeps stdout's lines as the bytes tomed wrote, so a
    test can see raw control bytes or invalid UTF-8 the decoded view would hide."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.stdout_raw = []

    def _pump(self, stream, sink, look_for_url):
        if sink is not self.stdout_lines:
            return super()._pump(stream, sink, look_for_url)
        for raw in iter(stream.readline, b""):
            with self._lock:
                self.stdout_raw.append(raw)
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def raw_lines(self):
        with self._lock:
            return list(self.stdout_raw)


def serve_raw(tomed, root, *flags, command="serve"):
    args = [command, str(root), "--listen", "127.0.0.1:0", *[str(f) for f in flags]]
    if command != "serve":
        args = [command, "--root", str(root), "--listen", "127.0.0.1:0", *[str(f) for f in flags]]
    srv = RawStdoutServer(args, cwd=tomed.tmp_path)
    tomed.servers.append(srv)   # stopped and checked (exit 0, no sanitizer lines) at teardown
    return srv.start()


def site_server(tomed, *flags):
    return serve_raw(tomed, SITE_DIR, "--base", BASE, *flags)


# ---------------------------------------------------------------- access log

# remote - - [dd/Mon/yyyy:HH:MM:SS +0000] "METHOD target PROTO" status bytes "referer" "ua"
_FIELD = r'(?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\x[0-9a-f]{2})*'   # printable, no raw " or \
CLF_RE = re.compile(
    r'^(?P<remote>[0-9a-fA-F.:]+|-) - - '
    r'\[(?P<time>\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    rf'"(?P<method>{_FIELD}) (?P<target>{_FIELD}) (?P<protocol>{_FIELD})" '
    r'(?P<status>\d{3}) (?P<bytes>\d+) '
    rf'"(?P<referer>{_FIELD})" "(?P<ua>{_FIELD})"$')
JSON_KEYS = {"time", "remote", "method", "path", "query", "protocol", "status", "bytes",
             "duration_us", "encoding", "user_agent", "referer"}
JSON_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def clf_unescape(s):
    """Undo the CLF escaping (\\xHH), giving back the client's bytes."""
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == "\\":
            assert s[i + 1] == "x", f"bad escape in {s!r}"
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(ord(s[i]))
            i += 1
    return bytes(out)


def _latin1_bytes(err):
    """Error handler: every byte of an invalid UTF-8 run as U+00HH (tomed's \\u00HH)."""
    return "".join(chr(b) for b in err.object[err.start:err.end]), err.end


codecs.register_error("tomed-u00", _latin1_bytes)


def json_expected(b):
    """What a JSON log field must decode to for client bytes b: valid UTF-8 as
    itself, every other byte as the code point of the same value."""
    return None if b is None else b.decode("utf-8", "tomed-u00")


def parse_clf(raw):
    """Check one raw CLF line strictly; return its match."""
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    body = raw[:-1]
    bad = [c for c in body if c < 0x20 or c >= 0x7f]
    assert not bad, f"raw control/non-ASCII bytes {bad} in CLF line {raw!r}"
    m = CLF_RE.match(body.decode("ascii"))
    assert m, f"not a strict combined-format line: {raw!r}"
    t = datetime.datetime.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z")
    assert abs(t.timestamp() - time.time()) < 120, m.group("time")
    return m


def parse_json_line(raw):
    """Check one raw JSON line strictly; return the object."""
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1, raw
    text = raw.decode("utf-8")          # strict: the line itself is valid UTF-8
    ctl = [hex(ord(c)) for c in text[:-1] if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f]
    assert not ctl, f"raw control characters {ctl} in JSON line {raw!r}"
    obj = json.loads(text)
    assert isinstance(obj, dict) and set(obj) == JSON_KEYS, obj
    assert JSON_TIME_RE.match(obj["time"]), obj["time"]
    t = datetime.datetime.strptime(obj["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs(t.timestamp() - time.time()) < 120, obj["time"]
    assert isinstance(obj["status"], int) and isinstance(obj["bytes"], int), obj
    assert isinstance(obj["duration_us"], int) and obj["duration_us"] >= 0, obj
    return obj


def next_log_line(srv, before, timeout=5):
    """Wait for exactly one new stdout line after `before` lines; returns its raw bytes."""
    wait_for(lambda: len(srv.raw_lines()) > before, timeout, what="an access log line")
    lines = srv.raw_lines()
    assert len(lines) == before + 1, f"one request gave {len(lines) - before} lines: {lines[before:]}"
    return lines[before]


def assert_no_more_lines(srv, count, settle=0.3):
    time.sleep(settle)
    lines = srv.raw_lines()
    assert len(lines) == count, f"expected {count} access log lines, got {len(lines)}: {lines[count:]}"


# =========================================================================== metrics

def test_every_family_present_at_start_with_zero_request_series(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    m, _ = scrape(srv.host, srv.port)
    for name, typ in FAMILIES.items():
        assert m.types.get(name) == typ, f"{name}: TYPE {m.types.get(name)!r}, expected {typ}"
        assert m.helps.get(name), f"{name} has no HELP"
        samples = [k for k in m.samples if m.family_of(k[0]) == name]
        assert samples, f"family {name} has no samples"
    for name, _ in m.order:
        assert m.family_of(name), f"sample {name} has no TYPE line"

    # requests: every method x every handler code exists from the first scrape,
    # at 0 (the scrape is not in its own output)
    req = m.series("tomed_http_requests_total")
    assert {frozenset(lab) for lab, _ in req} == {frozenset({"method", "code"})}
    methods = {lab["method"] for lab, _ in req}
    codes = {lab["code"] for lab, _ in req}
    assert methods == {"GET", "HEAD", "other"}, methods
    assert HANDLER_CODES | {"other"} <= codes, codes
    assert len(req) == len(methods) * len(codes), "not every method x code series exists"
    assert all(v == 0 for _, v in req), [x for x in req if x[1]]

    assert {lab["encoding"] for lab, _ in m.series("tomed_http_response_bytes_total")} == \
        {"br", "gzip", "identity"}
    assert all(v == 0 for _, v in m.series("tomed_http_response_bytes_total"))
    assert {lab["encoding"] for lab, _ in m.series("tomed_snapshot_bytes")} == \
        {"identity", "compressed"}
    assert {lab["result"] for lab, _ in m.series("tomed_reloads_total")} == {"success", "failure"}

    # histogram: ascending bounds from below 100 µs to at least 10 s, then +Inf
    b = m.buckets("tomed_http_request_duration_seconds")
    les = [le for le, _ in b]
    assert les[-1] == float("inf") and les[0] <= 0.0001 and les[-2] >= 10, les
    assert len(set(les)) == len(les)
    assert all(v == 0 for _, v in b)
    assert m.get("tomed_http_request_duration_seconds_count") == 0
    assert m.get("tomed_http_request_duration_seconds_sum") == 0
    # the scrape's own connection is open while it renders
    assert m.get("tomed_http_connections_open") >= 1


def test_promtool_check_metrics_reports_nothing(tomed, tmp_path):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    wait_compressed(srv)
    # some traffic first, so the checked text has non-zero samples
    for path in ("/tomeclicker/", "/tomeclicker/nope", "/healthz"):
        srv.get(path)
    srv.head("/tomeclicker/")
    srv.get("/tomeclicker/", {"Accept-Encoding": "br"})
    srv.raw_request("/tomeclicker/", method="POST")
    text = http_get(srv.host, srv.port, "/metrics")[2]
    (tmp_path / "metrics.txt").write_bytes(text)
    cp = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                        timeout=30)
    assert cp.returncode == 0, (cp.returncode, cp.stdout, cp.stderr)
    assert cp.stdout == b"" and cp.stderr == b"", \
        f"promtool check metrics complained:\n{cp.stdout.decode()}{cp.stderr.decode()}"
    Exposition(text.decode())   # and our own strict reading of it


def test_promtool_check_metrics_catches_a_broken_exposition():
    """The check above has teeth: promtool does report a lint problem."""
    bad = b"# HELP foo_seconds_total x\n# TYPE foo_seconds_total gauge\nfoo_seconds_total 1\n"
    cp = subprocess.run([PROMTOOL, "check", "metrics"], input=bad, capture_output=True,
                        timeout=30)
    assert cp.stdout + cp.stderr != b""


def test_counters_move_by_exactly_the_requests_made(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    wait_compressed(srv)
    keep = http.client.HTTPConnection(srv.host, srv.port, timeout=10)   # the scrape connection
    try:
        m0, len0 = scrape(srv.host, srv.port, conn=keep)

        # the requests, each on its own connection
        sent = []                                   # (method label, code, encoding, body bytes)
        for path in ("/tomeclicker/", "/tomeclicker/robots.txt", "/tomeclicker/favicon.png"):
            r = srv.get(path)
            assert r.status == 200 and "Content-Encoding" not in r.headers, (path, r)
            sent.append(("GET", "200", "identity", len(r.body)))
        r = srv.head("/tomeclicker/about")
        assert r.status == 200 and r.body == b""
        sent.append(("HEAD", "200", "identity", 0))      # HEAD sends no body
        for path in ("/tomeclicker/nope.html", "/elsewhere"):
            r = srv.get(path)
            assert r.status == 404, (path, r)
            sent.append(("GET", "404", "identity", len(r.body)))
        r = srv.raw_request("/tomeclicker/", method="POST")
        assert r.status == 405, r
        sent.append(("other", "405", "identity", len(r.body)))
        r = srv.get("/tomeclicker/about", {"Accept-Encoding": "br"})
        assert r.status == 200 and r.headers.get("Content-Encoding") == "br", r
        br_len = int(r.headers["Content-Length"])
        assert br_len == len(r.body) > 0
        sent.append(("GET", "200", "br", br_len))
        r = srv.get("/tomeclicker/", {"Range": "bytes=0-9"})
        assert r.status == 206 and len(r.body) == 10, r
        sent.append(("GET", "206", "identity", 10))
        r = srv.get("/tomeclicker/robots.txt")
        etag = r.headers["ETag"]
        sent.append(("GET", "200", "identity", len(r.body)))
        r = srv.get("/tomeclicker/robots.txt", {"If-None-Match": etag})
        assert r.status == 304, r
        sent.append(("GET", "304", "identity", 0))

        # the expected exposition after them: the scrapes on `keep` count too
        def expected(n_scrapes, scraped_bytes):
            req, byt = {}, {}
            for meth, code, enc, n in sent + [("GET", "200", "identity", b) for b in scraped_bytes]:
                req[(meth, code)] = req.get((meth, code), 0) + 1
                byt[enc] = byt.get(enc, 0) + n
            return req, byt, len(sent) + n_scrapes

        scraped = [len0]
        deadline = time.monotonic() + 3
        while True:
            m1, len1 = scrape(srv.host, srv.port, conn=keep)
            req, byt, count = expected(len(scraped), scraped)
            got_count = (m1.get("tomed_http_request_duration_seconds_count")
                         - m0.get("tomed_http_request_duration_seconds_count"))
            if got_count >= count or time.monotonic() > deadline:
                break
            scraped.append(len1)      # a request on another connection was still completing
            time.sleep(0.02)
    finally:
        keep.close()

    for lab, v in m1.series("tomed_http_requests_total"):
        key = (lab["method"], lab["code"])
        d = v - m0.get("tomed_http_requests_total", **lab)
        assert d == req.get(key, 0), f"requests_total{lab} moved by {d}, expected {req.get(key, 0)}"
    assert req[("GET", "200")] == 5 + len(scraped) and req[("HEAD", "200")] == 1
    assert req[("GET", "404")] == 2 and req[("other", "405")] == 1
    for enc in ("br", "gzip", "identity"):
        d = (m1.get("tomed_http_response_bytes_total", encoding=enc)
             - m0.get("tomed_http_response_bytes_total", encoding=enc))
        assert d == byt.get(enc, 0), f"response_bytes_total{{encoding={enc}}} moved by {d}, " \
                                     f"expected {byt.get(enc, 0)}"
    assert byt["br"] == br_len

    name = "tomed_http_request_duration_seconds"
    assert m1.get(name + "_count") - m0.get(name + "_count") == count
    b0, b1 = m0.buckets(name), m1.buckets(name)
    assert b1[-1][1] == m1.get(name + "_count"), "+Inf bucket != _count"
    assert all(x[1] <= y[1] for x, y in zip(b1, b1[1:])), f"buckets not cumulative: {b1}"
    assert all(b1[i][1] >= b0[i][1] for i in range(len(b1)))
    dsum = m1.get(name + "_sum") - m0.get(name + "_sum")
    assert 0 < dsum < count * 1.0, dsum   # loopback requests of a few KB: well under 1 s each


def test_connections_open_follows_a_keep_alive_connection(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    # scrape on one kept-alive connection: no scrape connections come and go
    scraper = http.client.HTTPConnection(srv.host, srv.port, timeout=10)

    def gauge():
        return scrape(srv.host, srv.port, conn=scraper)[0].get("tomed_http_connections_open")

    try:
        wait_for(lambda: gauge() == 1, what="connections_open == 1 (only the scraper)")
        conn = srv.connection()
        try:
            conn.request("GET", "/tomeclicker/")
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close
            wait_for(lambda: gauge() == 2, what="connections_open == 2 with one held")
            for _ in range(3):
                assert gauge() == 2, "a held keep-alive connection stopped being counted"
            extra = [socket.create_connection((srv.host, srv.port)) for _ in range(3)]
            try:
                wait_for(lambda: gauge() == 5, what="connections_open == 5")
            finally:
                for s in extra:
                    s.close()
            wait_for(lambda: gauge() == 2, what="connections_open back to 2")
            # the held connection still works and is still one connection
            conn.request("GET", "/tomeclicker/about")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            assert gauge() == 2
        finally:
            conn.close()
        wait_for(lambda: gauge() == 1, what="connections_open back to 1 after close")
    finally:
        scraper.close()
    # and a fresh connection after all that: only itself
    wait_for(lambda: scrape(srv.host, srv.port)[0].get("tomed_http_connections_open") == 1,
             what="connections_open == 1 on a fresh scrape")


def test_build_info_labels(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    m, _ = scrape(srv.host, srv.port)
    info = m.series("tomed_build_info")
    assert len(info) == 1, info
    labels, value = info[0]
    assert value == 1
    assert labels["version"] == VERSION
    assert {"version", "libmicrohttpd", "zlib", "brotli", "libyaml", "openssl"} <= set(labels)
    for k, v in labels.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+[0-9a-z.+-]*", v), f"{k}={v!r} is not a version"
    # the same versions `tomed version` prints
    out = run_tomed("version").stdout
    assert f"tomed {VERSION} " in out
    for k, word in (("libmicrohttpd", "libmicrohttpd"), ("zlib", "zlib"), ("libyaml", "libyaml"),
                    ("openssl", "OpenSSL")):
        assert f"{word} {labels[k]}" in out, (k, labels[k], out)


def _proc_stat(pid):
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()      # fields from 3 (state) on


def test_process_metrics_are_the_processes(tomed):
    import resource

    def lower_nofile():
        # soft and hard: tomed raises its soft limit to the hard one
        resource.setrlimit(resource.RLIMIT_NOFILE, (777, 777))

    srv = tomed.serve(SITE_DIR, "--base", BASE, preexec_fn=lower_nofile)
    pid = srv.proc.pid
    m, _ = scrape(srv.host, srv.port)

    assert m.get("process_max_fds") == 777
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    open_fds = m.get("process_open_fds")
    assert 3 <= open_fds < 777
    assert abs(open_fds - fds) <= 3, (open_fds, fds)   # our scrape's socket comes and goes

    hz = os.sysconf("SC_CLK_TCK")
    btime = int(re.search(r"^btime (\d+)", Path("/proc/stat").read_text(), re.M).group(1))
    start = btime + int(_proc_stat(pid)[19]) / hz
    assert abs(m.get("process_start_time_seconds") - start) <= 2, (m.get("process_start_time_seconds"), start)
    assert m.get("process_start_time_seconds") <= time.time()

    st = _proc_stat(pid)
    cpu_now = (int(st[11]) + int(st[12])) / hz
    cpu = m.get("process_cpu_seconds_total")
    assert 0 <= cpu <= cpu_now + 0.05, (cpu, cpu_now)
    rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(),
                           re.M).group(1))
    rss = m.get("process_resident_memory_bytes")
    assert 0.5 * rss_kb * 1024 <= rss <= 2 * rss_kb * 1024, (rss, rss_kb)
    assert m.get("process_virtual_memory_bytes") >= rss

    # the CPU counter does not go backwards
    for p in ("/tomeclicker/",) * 20:
        srv.get(p)
    assert scrape(srv.host, srv.port)[0].get("process_cpu_seconds_total") >= cpu


def test_snapshot_gauges_match_the_tree(tomed):
    files = [os.path.join(d, f) for d, _, fs in os.walk(SITE_DIR) for f in fs]
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    m, _ = scrape(srv.host, srv.port)
    assert m.get("tomed_snapshot_files") == len(files) == 27
    assert m.get("tomed_snapshot_bytes", encoding="identity") == sum(os.path.getsize(f) for f in files)
    assert m.get("tomed_snapshot_generation") == 1
    assert m.get("tomed_reloads_total", result="success") == 0
    assert m.get("tomed_reloads_total", result="failure") == 0
    assert m.get("tomed_last_reload_timestamp_seconds") == 0
    # compressed: set within about a second of the background compressor's line
    info = wait_compressed(srv)
    compressed = info[4]
    assert compressed > 0
    wait_for(lambda: scrape(srv.host, srv.port)[0].get("tomed_snapshot_bytes",
                                                       encoding="compressed") == compressed,
             timeout=3, what=f"snapshot_bytes{{encoding=compressed}} == {compressed}")


def test_snapshot_compressed_bytes_zero_without_compression(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("x" * 2000), "a.txt": "hello\n"})
    srv = tomed.serve(root, "--compression.memory-max", "0")
    m, _ = scrape(srv.host, srv.port)
    assert m.get("tomed_snapshot_files") == 2
    assert m.get("tomed_snapshot_bytes", encoding="identity") == \
        (root / "index.html").stat().st_size + 6
    assert m.get("tomed_snapshot_bytes", encoding="compressed") == 0


def test_snapshot_and_reload_gauges_follow_a_reload(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("one"), "a.txt": "a" * 1000}, mtime=None)
    srv = tomed.serve(root, "--reload.watch", "false", "--compression.memory-max", "0")

    def m():
        return scrape(srv.host, srv.port)[0]

    m0 = m()
    assert (m0.get("tomed_snapshot_files"), m0.get("tomed_snapshot_generation")) == (2, 1)
    (root / "b.txt").write_text("b" * 500)
    t0 = time.time()
    srv.send_signal(signal.SIGHUP)
    m1 = wait_for(lambda: (lambda x: x.get("tomed_snapshot_generation") == 2 and x)(m()),
                  what="generation 2 after SIGHUP")
    assert m1.get("tomed_snapshot_files") == 3
    assert m1.get("tomed_snapshot_bytes", encoding="identity") == \
        sum(p.stat().st_size for p in root.iterdir())
    assert m1.get("tomed_snapshot_bytes", encoding="compressed") == 0
    assert m1.get("tomed_reloads_total", result="success") == 1
    assert m1.get("tomed_reloads_total", result="failure") == 0
    last = m1.get("tomed_last_reload_timestamp_seconds")
    # time(2) reads the kernel's coarse clock, which may trail Python's
    # time.time() by a tick across a second boundary.
    assert int(t0) - 1 <= last <= time.time() + 1, (t0, last)

    os.remove(root / "index.html")                   # a broken build: the reload fails
    srv.send_signal(signal.SIGHUP)
    m2 = wait_for(lambda: (lambda x: x.get("tomed_reloads_total", result="failure") == 1 and x)(m()),
                  what="a failed reload counted")
    assert m2.get("tomed_reloads_total", result="success") == 1
    assert m2.get("tomed_snapshot_generation") == 2 and m2.get("tomed_snapshot_files") == 3
    assert m2.get("tomed_last_reload_timestamp_seconds") >= last
    assert srv.get("/readyz").status == 200, "still serving the previous snapshot: ready"
    assert srv.get("/").status == 200


# =========================================================================== probes

def test_healthz_and_readyz_while_serving(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    for path, body in (("/healthz", b"ok\n"), ("/readyz", b"ready\n")):
        r = srv.get(path)
        assert (r.status, r.body) == (200, body), (path, r)
        assert r.headers.get("Cache-Control") == "no-store", r
        h = srv.head(path)
        assert h.status == 200 and h.body == b""
        assert srv.get(path + "?probe=1").status == 200
    # outside the base, never under it
    assert srv.get("/tomeclicker/healthz").status == 404


def test_custom_paths_by_flag_and_environment(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--health_path", "/live", "--metrics-path",
                      "/stats", "--admin.listen", "127.0.0.1:0",
                      env={"TOMED_READINESS_PATH": "/ready"})
    m = ADMIN_RE.search(wait_for(lambda: ADMIN_RE.search(srv.stderr) and srv.stderr))
    assert m.groups()[:3] == ("/live", "/ready", "/stats"), m.group(0)
    for port in (srv.port, admin_port(srv)):
        assert http_get(srv.host, port, "/live")[0] == 200
        assert http_get(srv.host, port, "/ready")[2] == b"ready\n"
        scrape(srv.host, port, "/stats")
        for old in ("/healthz", "/readyz", "/metrics"):
            assert http_get(srv.host, port, old)[0] == 404, (port, old)


def test_drain_delay_readyz_503_while_still_serving_then_refused_and_exit_0(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--server.drain-delay", "2",
                      "--admin.listen", "127.0.0.1:0")
    aport = admin_port(srv)
    assert srv.get("/readyz").status == 200
    keep = srv.connection()
    keep.request("GET", "/tomeclicker/")
    keep.getresponse().read()

    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    r = wait_for(lambda: (lambda r: r.status == 503 and r)(srv.get("/readyz")), timeout=1.5,
                 what="/readyz 503 after SIGTERM")
    assert r.body == b"draining\n" and r.headers.get("Cache-Control") == "no-store"
    # during the delay: the site, liveness and metrics are still served, on new
    # connections and on a kept-alive one; the admin listener says the same
    assert srv.get("/tomeclicker/").status == 200
    assert srv.get("/tomeclicker/about").status == 200
    assert srv.get("/healthz").status == 200
    scrape(srv.host, srv.port)
    keep.request("GET", "/tomeclicker/robots.txt")
    kr = keep.getresponse()
    assert kr.status == 200 and kr.read()
    assert http_get(srv.host, aport, "/readyz")[0] == 503
    assert http_get(srv.host, aport, "/healthz")[0] == 200
    checked = time.monotonic() - t0
    assert checked < 1.8, f"the checks took {checked:.2f}s, too long to be inside the 2 s delay"
    assert srv.running()

    wait_for(lambda: refused(srv.host, srv.port), timeout=6, interval=0.02,
             what="the public listener to close after the delay")
    closed_after = time.monotonic() - t0
    assert closed_after >= 1.8, f"listener closed {closed_after:.2f}s after SIGTERM, before the 2 s delay"
    keep.close()
    assert srv.wait(10) == 0, srv.stderr
    assert "readiness now 503" in srv.stderr
    assert refused(srv.host, aport)


def test_second_sigterm_cuts_the_drain_delay_short(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--server.drain-delay", "30")
    srv.send_signal(signal.SIGTERM)
    wait_for(lambda: srv.get("/readyz").status == 503, timeout=1.5, what="/readyz 503")
    assert srv.get("/tomeclicker/").status == 200
    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    assert srv.wait(5) == 0, srv.stderr
    assert time.monotonic() - t0 < 3


def test_zero_drain_delay_still_lets_a_slow_download_finish(tomed, tmp_path):
    try:
        wmem = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, ValueError, IndexError):
        wmem = 4 << 20
    size = min(4 * wmem + (4 << 20), 40 << 20)      # more than the kernel buffers hold
    data = os.urandom(size)
    root = make_tree(tmp_path / "big", {"index.html": html("i"), "big.bin": data})
    srv = serve_raw(tomed, root, "--limits.memory-file-max", "1KiB", "--server.drain-delay", "0",
                    "--server.shutdown-timeout", "30")

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.settimeout(30)
    s.connect((srv.host, srv.port))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        assert c
        buf += c
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    h = hashlib.sha256(body)
    n = len(body)
    result = {}

    def reader():                       # about 1.5 s for the whole file
        t = time.monotonic()
        nonlocal n
        try:
            while n < size:
                c = s.recv(65536)
                if not c:
                    break
                h.update(c)
                n += len(c)
                ahead = n / (size / 1.5) - (time.monotonic() - t)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError as e:
            result["error"] = e
        finally:
            s.close()

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    srv.send_signal(signal.SIGTERM)
    wait_for(lambda: refused(srv.host, srv.port), timeout=1, what="the listener to close at once")
    assert th.is_alive(), "download finished before the drain could be observed"
    assert srv.running(), "tomed exited with a download in flight"
    th.join(30)
    assert "error" not in result, result
    assert n == size, f"download cut at {n} of {size} bytes"
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    assert srv.wait(10) == 0, srv.stderr
    line = srv.raw_lines()[-1]
    m = parse_clf(line)
    assert (m.group("target"), m.group("status"), m.group("bytes")) == ("/big.bin", "200", str(size))


# =========================================================================== admin split

SITE_PAGE = "/tomeclicker/"
ENDPOINTS = {"/metrics": None, "/healthz": b"ok\n", "/readyz": b"ready\n"}


def test_admin_listener_split_off_public(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--admin.listen", "127.0.0.1:0",
                      "--admin.on-public-listener", "false")
    aport = admin_port(srv)
    assert aport != srv.port
    # public: the site, and the three endpoints fall through to it -> 404
    assert http_get(srv.host, srv.port, SITE_PAGE)[0] == 200
    for path in ENDPOINTS:
        for method in ("GET", "HEAD"):
            st, _, _ = http_get(srv.host, srv.port, path, method)
            assert st == 404, f"public {method} {path}: {st}"
    # admin: only the three
    for path, body in ENDPOINTS.items():
        st, hdr, b = http_get(srv.host, aport, path)
        assert st == 200, (path, st)
        if body is not None:
            assert b == body
        else:
            assert hdr["content-type"] == METRICS_CT
    for path in (SITE_PAGE, BASE, "/", "/tomeclicker/about", "/tomeclicker/robots.txt", "/nope"):
        st, _, _ = http_get(srv.host, aport, path)
        assert st == 404, f"admin {path}: {st}"
    # one set of counters: the admin scrape sees the public requests
    m, _ = scrape(srv.host, aport)
    assert m.get("tomed_http_requests_total", method="GET", code="404") >= 3
    assert m.get("tomed_http_requests_total", method="HEAD", code="404") == 3
    assert m.get("tomed_http_requests_total", method="GET", code="200") >= 1


def test_admin_listener_with_public_endpoints_kept(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--admin.listen", "127.0.0.1:0",
                      "--admin.on_public_listener", "true")
    aport = admin_port(srv)
    for port in (srv.port, aport):
        for path, body in ENDPOINTS.items():
            st, _, b = http_get(srv.host, port, path)
            assert st == 200, (port, path, st)
            if body is not None:
                assert b == body
    assert http_get(srv.host, srv.port, SITE_PAGE)[0] == 200
    assert http_get(srv.host, aport, SITE_PAGE)[0] == 404


def test_no_admin_line_without_admin_listener(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    time.sleep(0.1)
    assert "admin endpoints" not in srv.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_endpoints_off_public_without_admin_listener_is_a_config_error(how, tmp_path):
    if how == "flag":
        cp = run_tomed("serve", SITE_DIR, "--listen", "127.0.0.1:0",
                       "--admin.on-public-listener", "false", cwd=tmp_path)
    else:
        cp = run_tomed("serve", SITE_DIR, "--listen", "127.0.0.1:0", cwd=tmp_path,
                       env={"TOMED_ADMIN_ON_PUBLIC_LISTENER": "false"})
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "admin.on_public_listener" in cp.stderr and "admin.listen" in cp.stderr, cp.stderr
    assert cp.stdout == ""


# =========================================================================== access log

UA_FORGE = b'x" 200 0 "-" "forged'
HOSTILE = [
    # (name, method, target, user agent, referer) -- bytes exactly as sent
    ("hostile query, ua, referer",
     b"GET", b'/tomeclicker/?q=%0d%0a%22"\\\x01\x1b\xff\xc3\xa9+x&y=\xe2\x82\xac',
     UA_FORGE + b"\x01\x1b\xff \\ \xc3\xa9 \xe2\x80\xa8end",
     b'http://e.example/"\\\x7f\xc2\x85\xc3\xa9?a=1'),
    ("hostile path",
     b"GET", b'/tomeclicker/%0d%0a%22"\\\x01\x1b\xff\xc3\xa9/x"\'<>',
     b"Mozilla/5.0 \xf0\x9f\x98\x80", None),
    ("forged line in the path",
     b"GET", b'/tomeclicker/"%0a127.0.0.1\\x20-\\x20-',
     UA_FORGE, b'-" "x'),
    ("invalid utf-8: overlong, surrogate, beyond U+10FFFF, truncated",
     b"GET", b"/tomeclicker/?\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82",
     b"\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82", b"\xfe\xff\x80"),
    ("head with hostile ua", b"HEAD", b"/tomeclicker/about", b"\x1b]0;pwned\x07" + UA_FORGE, None),
    ("nothing sent", b"GET", b"/tomeclicker/robots.txt", None, None),
    ("post", b"POST", b"/tomeclicker/?x=%22", b"\\\\", b"\\"),
]


def _send_hostile(srv, method, target, ua, referer, extra=()):
    headers = list(extra)
    if ua is not None:
        headers.append((b"User-Agent", ua))
    if referer is not None:
        headers.append((b"Referer", referer))
    return raw_http(srv, target, method, headers)


def _body_bytes(method, resp):
    return 0 if method == b"HEAD" or resp.status == 304 else len(resp.body)


@pytest.mark.parametrize("fmt", ["clf", "common"])
def test_clf_access_log_escapes_hostile_input(tomed, fmt):
    srv = site_server(tomed, "--log.access", fmt)
    count = 0
    for name, method, target, ua, referer in HOSTILE:
        resp = _send_hostile(srv, method, target, ua, referer)
        raw = next_log_line(srv, count)
        count += 1
        m = parse_clf(raw)
        assert m.group("remote") == "127.0.0.1"
        assert m.group("method") == method.decode()
        assert m.group("protocol") == "HTTP/1.1"
        # the escaping is reversible: every client byte comes back exactly
        assert clf_unescape(m.group("target")) == target, name
        assert clf_unescape(m.group("ua")) == (ua if ua is not None else b"-"), name
        assert clf_unescape(m.group("referer")) == (referer if referer is not None else b"-"), name
        assert int(m.group("status")) == resp.status, name
        assert int(m.group("bytes")) == _body_bytes(method, resp), name
    assert_no_more_lines(srv, count)


def test_json_access_log_escapes_hostile_input(tomed):
    srv = site_server(tomed, "--log.access", "json")
    count = 0
    for name, method, target, ua, referer in HOSTILE:
        resp = _send_hostile(srv, method, target, ua, referer)
        obj = parse_json_line(next_log_line(srv, count))
        count += 1
        path, sep, query = target.partition(b"?")
        assert obj["remote"] == "127.0.0.1"
        assert obj["method"] == method.decode()
        assert obj["protocol"] == "HTTP/1.1"
        assert obj["path"] == json_expected(path), name
        assert obj["query"] == (json_expected(query) if query else None), name
        assert obj["user_agent"] == json_expected(ua), name
        assert obj["referer"] == json_expected(referer), name
        for field, value in (("path", path), ("query", query), ("user_agent", ua),
                             ("referer", referer)):
            try:
                valid = value.decode("utf-8") if value else None
            except UnicodeDecodeError:
                continue
            if valid:   # valid UTF-8 round-trips exactly, hostile or not
                assert obj[field] == valid, (name, field)
        assert obj["status"] == resp.status, name
        assert obj["bytes"] == _body_bytes(method, resp), name
        assert obj["encoding"] == "identity"
    assert_no_more_lines(srv, count)


def test_json_access_log_fields_for_encoded_conditional_and_range_answers(tomed):
    srv = site_server(tomed, "--log.access", "json")
    wait_compressed(srv)
    count = 0
    cases = []
    r = _send_hostile(srv, b"GET", b"/tomeclicker/about", b"ua", None,
                      [(b"Accept-Encoding", b"br")])
    assert r.headers.get("Content-Encoding") == "br"
    cases.append((r, "br", len(r.body), 200))
    r = _send_hostile(srv, b"GET", b"/tomeclicker/about", None, b"https://ref.example/",
                      [(b"Accept-Encoding", b"gzip")])
    assert r.headers.get("Content-Encoding") == "gzip"
    cases.append((r, "gzip", len(r.body), 200))
    etag = r.headers["ETag"]
    r = _send_hostile(srv, b"GET", b"/tomeclicker/about", None, None,
                      [(b"Accept-Encoding", b"gzip"), (b"If-None-Match", etag.encode())])
    assert r.status == 304
    cases.append((r, None, 0, 304))
    r = _send_hostile(srv, b"GET", b"/tomeclicker/", None, None, [(b"Range", b"bytes=5-14")])
    assert r.status == 206
    cases.append((r, "identity", 10, 206))
    objs = []
    for _ in cases:
        wait_for(lambda: len(srv.raw_lines()) > count, what="a log line")
        objs.append(parse_json_line(srv.raw_lines()[count]))
        count += 1
    assert_no_more_lines(srv, count)
    for (r, enc, nbytes, status), obj in zip(cases, objs):
        assert obj["status"] == status
        assert obj["bytes"] == nbytes
        if enc is not None:
            assert obj["encoding"] == enc
        else:
            assert obj["encoding"] in ("identity", "gzip")
    assert objs[0]["user_agent"] == "ua" and objs[0]["referer"] is None
    assert objs[1]["user_agent"] is None and objs[1]["referer"] == "https://ref.example/"


def test_very_long_header_gives_one_capped_line(tomed):
    # 21 KB of User-Agent: more than the default limits.max_header_size
    srv = site_server(tomed, "--log.access", "json", "--limits.max-header-size", "32KiB")
    ua = (b'\x01"\\' + "é".encode() + b"\xff") * 3000      # escapes to ~50 KB
    r = _send_hostile(srv, b"GET", b"/tomeclicker/?q=1", ua, b"r")
    assert r.status == 200
    raw = next_log_line(srv, 0)
    assert len(raw) <= 4096, len(raw)
    obj = parse_json_line(raw)
    assert obj["user_agent"].endswith("...")
    assert json_expected(ua).startswith(obj["user_agent"][:-3])
    assert obj["path"] == "/tomeclicker/" and obj["query"] == "q=1" and obj["referer"] == "r"


def test_access_log_off_writes_nothing(tomed):
    srv = site_server(tomed, "--log.access", "off")
    for name, method, target, ua, referer in HOSTILE:
        _send_hostile(srv, method, target, ua, referer)
    srv.get("/metrics")
    srv.get("/tomeclicker/nope")
    time.sleep(0.3)
    assert srv.stop() == 0
    assert srv.raw_lines() == []


def test_serve_defaults_to_clf(tomed):
    srv = site_server(tomed)
    srv.get("/tomeclicker/")
    m = parse_clf(next_log_line(srv, 0))
    assert m.group("target") == "/tomeclicker/" and m.group("status") == "200"


def test_run_defaults_to_json_and_a_drain_delay(tomed):
    srv = serve_raw(tomed, SITE_DIR, "--base", BASE, command="run")
    assert srv.get("/tomeclicker/").status == 200
    obj = parse_json_line(next_log_line(srv, 0))
    assert obj["path"] == "/tomeclicker/" and obj["status"] == 200
    srv.send_signal(signal.SIGTERM)
    wait_for(lambda: srv.get("/readyz").status == 503, timeout=1.5, what="/readyz 503")
    time.sleep(0.5)
    assert srv.get("/tomeclicker/").status == 200, "run's default drain delay should still serve"
    assert "serving 5s more" in srv.stderr
    srv.send_signal(signal.SIGTERM)      # cut the default 5 s short
    assert srv.wait(5) == 0
    for raw in srv.raw_lines():
        parse_json_line(raw)


def test_errors_go_to_stderr_and_stdout_holds_only_log_lines(tomed, tmp_path):
    big = os.urandom(64 * 1024)
    root = make_tree(tmp_path / "s", {"index.html": html("i"), "big.bin": big})
    for fmt, parse in (("clf", parse_clf), ("json", parse_json_line)):
        srv = serve_raw(tomed, root, "--limits.memory-file-max", "1KiB", "--log.access", fmt)
        assert srv.get("/big.bin").status == 200
        # a file rewritten in place: tomed's own [error] line
        with open(root / "big.bin", "r+b") as f:
            f.write(b"changed")
            f.truncate(1000)
        assert srv.get("/big.bin").status == 503
        assert srv.get("/big.bin").status == 503
        # libmicrohttpd's complaints: a header too large, an unknown HTTP version
        raw_exchange(srv.host, srv.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300000 +
                     b"\r\n\r\n")
        raw_exchange(srv.host, srv.port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        assert srv.get("/").status == 200
        wait_for(lambda: len(srv.raw_lines()) >= 3, what="3 log lines")
        assert srv.stop() == 0
        err = srv.stderr
        assert "[error]" in err and "changed on disk" in err, err
        assert err.count("changed on disk") == 1, "reported once per file, not per request"
        assert "[warn] libmicrohttpd" in err, err
        for raw in srv.raw_lines():
            parse(raw)                   # every stdout line is an access log line
        out = b"".join(srv.raw_lines())
        assert b"tomed:" not in out and b"libmicrohttpd" not in out
        assert b"changed on disk" not in out
        make_tree(root, {"big.bin": big})


# =========================================================================== bugs

@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /tomeclicker/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300000 + b"\r\n\r\n", 431),
    # before the request line is complete: no handler or completion callback runs
    (b"GET /tomeclicker/ HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /tomeclicker/ HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /" + b"a" * 300000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
], ids=["431", "505", "505-v3", "414-request-line"])
def test_libmicrohttpd_answers_are_counted_and_logged(tomed, request_bytes, status):
    srv = site_server(tomed, "--log.access", "json")
    keep = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        m0, _ = scrape(srv.host, srv.port, conn=keep)
        data = raw_exchange(srv.host, srv.port, request_bytes)
        assert data.startswith(b"HTTP/1.1 %d" % status), data[:80]
        time.sleep(0.3)
        m1, _ = scrape(srv.host, srv.port, conn=keep)
    finally:
        keep.close()
    lines = [parse_json_line(r) for r in srv.raw_lines()]
    assert [o["status"] for o in lines if o["path"] != "/metrics"] == [status]
    d = m1.total("tomed_http_requests_total") - m0.total("tomed_http_requests_total")
    assert d == 2, f"requests_total moved by {d}: the first scrape and the {status}"


@pytest.mark.parametrize("query", [b"a&", b"&a", b"&", b"a&&"])
def test_query_logged_as_received(tomed, query):
    srv = site_server(tomed, "--log.access", "json")
    assert raw_http(srv, b"/tomeclicker/?" + query).status == 200
    obj = parse_json_line(next_log_line(srv, 0))
    assert obj["query"] == query.decode()


def test_long_query_is_logged(tomed):
    srv = site_server(tomed, "--log.access", "json")
    query = b"q=" + b"x" * 2500
    assert raw_http(srv, b"/tomeclicker/?" + query).status == 200
    obj = parse_json_line(next_log_line(srv, 0))
    assert obj["query"] is not None, "a 2502-byte query was logged as query: null"
    assert query.decode().startswith(obj["query"].rstrip("."))


def test_aborted_download_counts_bytes_sent(tomed, tmp_path):
    size = 24 << 20
    root = make_tree(tmp_path / "big", {"index.html": html("i"), "big.bin": os.urandom(size)})
    srv = serve_raw(tomed, root, "--limits.memory-file-max", "1KiB", "--log.access", "json")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect((srv.host, srv.port))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()                                   # RST: the client is gone
    obj = parse_json_line(next_log_line(srv, 0))
    m, _ = scrape(srv.host, srv.port)
    sent = m.get("tomed_http_response_bytes_total", encoding="identity")
    assert obj["bytes"] < size and sent < size, \
        f"logged {obj['bytes']} and counted {sent} bytes of a {size}-byte download the " \
        f"client aborted after a few KB"


def test_an_empty_site_is_not_ready(tomed, tmp_path):
    """A pod whose site layer or volume is missing must not receive traffic:
    /readyz answers 503 until a site is loaded; liveness stays 200."""
    import signal as _signal
    root = tmp_path / "empty"
    root.mkdir()
    srv = tomed.serve(root, "--reload.watch", "false")
    assert "holds no files" in srv.stderr
    assert srv.get("/readyz").status == 503
    assert srv.get("/healthz").status == 200
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    srv.send_signal(_signal.SIGHUP)
    deadline = time.monotonic() + 5
    while srv.get("/readyz").status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.get("/readyz").status == 200


def test_kubernetes_service_link_variables_are_not_settings(tomed):
    """A Service named "tomed" makes Kubernetes inject TOMED_SERVICE_HOST,
    TOMED_PORT... into every pod of its namespace; they must not be refused as
    unknown settings (the pod would crash-loop)."""
    env = {"TOMED_SERVICE_HOST": "10.43.0.7", "TOMED_SERVICE_PORT": "80",
           "TOMED_SERVICE_PORT_HTTP": "80", "TOMED_PORT": "tcp://10.43.0.7:80",
           "TOMED_PORT_80_TCP": "tcp://10.43.0.7:80", "TOMED_PORT_80_TCP_ADDR": "10.43.0.7"}
    srv = tomed.serve(SITE_DIR, env=env)
    assert srv.get(BASE + "/").status == 200
