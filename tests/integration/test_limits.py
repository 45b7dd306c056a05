"""Connection limits and timeouts, threads, concurrency, HTTP/1.0."""
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BASE, SITE_DIR, html, make_tree, run_tomed, site_file, site_files


def idle_until_closed(srv, payload, limit):
    """Open a connection, send payload (maybe a partial request), then wait for
    the server to close it; returns seconds until EOF, or None if still open."""
    s = socket.create_connection((srv.host, srv.port), timeout=limit)
    try:
        if payload:
            s.sendall(payload)
        t0 = time.monotonic()
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    return time.monotonic() - t0
        except ConnectionResetError:
            return time.monotonic() - t0
        except socket.timeout:
            return None
    finally:
        s.close()


def test_default_connection_timeout_is_set():
    cp = run_tomed("check", "--root", SITE_DIR)
    assert cp.returncode == 0
    line = [ln for ln in cp.stdout.splitlines() if ln.strip().startswith("connection_timeout:")]
    assert line, cp.stdout
    value = line[0].split(":", 1)[1].strip().strip('"')
    assert value not in ("0", "0s", ""), "libmicrohttpd's default timeout is never: tomed must set one"


@pytest.mark.parametrize("payload", [b"", b"GET /index.html HTTP/1.1\r\nHost: x\r\n"],
                         ids=["silent", "partial-headers"])
def test_idle_and_slow_clients_are_timed_out(tomed, tmp_path, payload):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--limits.connection-timeout", "1")
    took = idle_until_closed(srv, payload, limit=6)
    assert took is not None, "connection still open 6 s after a 1 s connection_timeout"
    assert srv.get("/").status == 200


def one_response(s, timeout=5):
    """Read from s until the server closes it (or timeout); the bytes."""
    s.settimeout(timeout)
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def test_max_connections_per_ip(tomed, tmp_path):
    """A direct client over the limit gets one 503 with Retry-After and the
    connection closed (libmicrohttpd's own limit closed it with no answer)."""
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--limits.max-connections-per-ip", "2")
    held = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(2)]
    try:
        for s in held:       # make sure both are accepted and alive
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(12).startswith(b"HTTP/1.1 200")
        extra = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = one_response(extra)
            assert data.startswith(b"HTTP/1.1 503"), data[:200]
            assert data.count(b"HTTP/1.1 ") == 1, data
            assert b"\r\nRetry-After: 1\r\n" in data, data
            assert b"limits.max_connections_per_ip" in data
        finally:
            extra.close()
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:       # slots free up once the held ones are closed
        try:
            if srv.get("/").status == 200:
                break
        except (ConnectionError, OSError):
            time.sleep(0.05)
    else:
        pytest.fail("no request succeeded after the held connections were closed")


def test_per_ip_limit_counts_clients_behind_a_trusted_proxy(tomed, tmp_path):
    """Behind an ingress every connection is the proxy's: the proxy is never
    counted (it carries everyone), and the client its X-Forwarded-For names
    is limited by its requests in progress."""
    root = make_tree(tmp_path / "s", {"index.html": html("i"), "big.bin": "x" * (8 << 20)})
    srv = tomed.serve(root, "--limits.max-connections-per-ip", "1",
                      "--server.trusted-proxies", "127.0.0.1/32")

    def send(s, client, path="/"):
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\n\r\n".encode())

    def read_response(s):
        """One whole response (head and Content-Length body) off s."""
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"closed after {data!r}"
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(ln.split(b":", 1)[1] for ln in head.split(b"\r\n")
                          if ln.lower().startswith(b"content-length:")))
        while len(body) < length:
            chunk = s.recv(65536)
            assert chunk
            body += chunk
        return head

    # five proxy connections open at once, each for another client: all served
    conns = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(5)]
    try:
        for i, s in enumerate(conns):
            send(s, f"203.0.113.{i + 1}")
            assert read_response(s).startswith(b"HTTP/1.1 200"), "the proxy itself was limited"
        # a client's large download is in progress (its reader stalls, so the
        # request stays in flight); the same client's next request, on the
        # proxy's other connection, is over its limit: 503, and that
        # connection stays open for other clients
        send(conns[0], "198.51.100.7", "/big.bin")
        assert conns[0].recv(12).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)
        send(conns[1], "198.51.100.7")
        head = read_response(conns[1])
        assert head.startswith(b"HTTP/1.1 503"), head
        assert b"Connection: close" not in head and b"Retry-After: 1" in head, head
        send(conns[1], "198.51.100.8")
        assert read_response(conns[1]).startswith(b"HTTP/1.1 200"), "another client was refused"
    finally:
        for s in conns:
            s.close()
    # the download's count is given back when it ends (here: cut off)
    deadline = time.monotonic() + 5
    while True:
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            send(s, "198.51.100.7")
            if read_response(s).startswith(b"HTTP/1.1 200"):
                break
        finally:
            s.close()
        assert time.monotonic() < deadline, "the client's count was never given back"
        time.sleep(0.1)


def test_per_ip_limit_ignores_forwarding_headers_from_untrusted_peers(tomed, tmp_path):
    """A direct client cannot dodge its limit by naming other clients."""
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--limits.max-connections-per-ip", "1")
    held = socket.create_connection((srv.host, srv.port), timeout=5)
    try:
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n")
        assert held.recv(12).startswith(b"HTTP/1.1 200")
        extra = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.2\r\n\r\n")
            assert one_response(extra).startswith(b"HTTP/1.1 503")
        finally:
            extra.close()
    finally:
        held.close()


@pytest.mark.parametrize("threads", ["1", "4"])
def test_concurrent_requests(tomed, threads):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--server.threads", threads)
    files = site_files()

    def fetch(i):
        rel = files[i % len(files)]
        r = srv.get(BASE + "/" + rel)
        return rel, r.status, r.body

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(fetch, range(160)))
    for rel, status, body in results:
        assert status == 200, rel
        assert body == site_file(rel), rel


def test_http_1_0_request(site):
    data = site.raw(f"GET {BASE}/about HTTP/1.0\r\n\r\n".encode())
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")), head[:40]
    assert b"chunked" not in head.lower()
    assert body == site_file("about.html")


def test_pipelined_requests(site):
    req = (f"GET {BASE}/about HTTP/1.1\r\nHost: x\r\n\r\n"
           f"GET {BASE}/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    data = site.raw(req)
    a, s = site_file("about.html"), site_file("settings.html")
    assert data.count(b"HTTP/1.1 200") == 2, data[:300]
    assert data.index(a) < data.index(s)


def _with_headers(srv, target, field_bytes):
    """GET target with header fields of about field_bytes in 20 fields (a
    long Cookie split the way browsers send many cookies); the status line."""
    per = field_bytes // 20
    fields = b"".join(b"X-F%02d: " % i + b"c" * (per - 9) + b"\r\n" for i in range(20))
    data = srv.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + fields +
                   b"Connection: close\r\n\r\n")
    return data.split(b"\r\n", 1)[0]


def test_max_header_size(tomed):
    """limits.max_header_size is room for header fields next to a URL of
    max_url_length: both at once are served; far beyond it, 431."""
    target = f"{BASE}/about?q=".encode()
    target += b"a" * (4096 - len(target))                   # max_url_length, the default
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    assert _with_headers(srv, target, 15 * 1024) == b"HTTP/1.1 200 OK"
    assert _with_headers(srv, f"{BASE}/about".encode(), 30 * 1024).startswith(b"HTTP/1.1 431")

    small = tomed.serve(SITE_DIR, "--base", BASE, "--limits.max-header-size", "4KiB")
    assert _with_headers(small, target, 3 * 1024) == b"HTTP/1.1 200 OK"
    assert _with_headers(small, target, 15 * 1024).startswith(b"HTTP/1.1 431")
