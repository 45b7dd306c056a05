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


def test_max_connections_per_ip(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--limits.max-connections-per-ip", "2")
    held = [socket.create_connection((srv.host, srv.port), timeout=5) for _ in range(2)]
    try:
        for s in held:       # make sure both are accepted and alive
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(12).startswith(b"HTTP/1.1 200")
        extra = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                data = extra.recv(65536)
            except ConnectionResetError:
                data = b""
            assert not data.startswith(b"HTTP/1.1 200"), "third connection from one IP was served"
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
