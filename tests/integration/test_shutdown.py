"""Graceful shutdown: SIGTERM stops accepting, lets in-flight downloads finish
(bounded by server.shutdown_timeout) and exits 0."""
import hashlib
import os
import signal
import socket
import threading
import time

import pytest

from conftest import make_tree, html


def _tcp_wmem_max():
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


# Big enough that most of it is still in the server, not in kernel buffers, when
# SIGTERM arrives.
BIG = min(4 * _tcp_wmem_max() + (4 << 20), 40 << 20)


@pytest.fixture(scope="module")
def big_data():
    return os.urandom(BIG)


@pytest.fixture
def big_root(tmp_path, big_data):
    return make_tree(tmp_path / "big", {"index.html": html("i"), "big.bin": big_data})


def open_download(srv, path, rcvbuf=32768):
    """Start GET path on a socket with a small receive buffer; return (socket,
    body bytes received so far) once the headers have arrived."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(30)
    s.connect((srv.host, srv.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {srv.host}\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        assert c, "connection closed before the headers"
        buf += c
    head, _, body = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return s, head, body


class SlowReader(threading.Thread):
    """Reads the rest of a response at about `rate` bytes per second."""

    def __init__(self, sock, already, expected, rate):
        super().__init__(daemon=True)
        self.sock, self.expected, self.rate = sock, expected, rate
        self.h = hashlib.sha256(already)
        self.n = len(already)
        self.done = threading.Event()
        self.error = None

    def run(self):
        start = time.monotonic()
        try:
            while self.n < self.expected:
                c = self.sock.recv(65536)
                if not c:
                    break
                self.h.update(c)
                self.n += len(c)
                ahead = self.n / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        except OSError as e:
            self.error = e
        finally:
            self.sock.close()
            self.done.set()


def connection_refused(srv, deadline):
    """Poll until a new TCP connection is refused; False if still accepted at deadline."""
    while time.monotonic() < deadline:
        try:
            c = socket.create_connection((srv.host, srv.port), timeout=0.5)
        except ConnectionRefusedError:
            return True
        except OSError:
            pass
        else:
            c.close()
        time.sleep(0.02)
    return False


def test_sigterm_finishes_slow_download_and_refuses_new_connections(tomed, big_root, big_data):
    srv = tomed.serve(big_root, "--limits.memory-file-max", "1KiB",
                      "--server.shutdown-timeout", "30")
    sock, head, body = open_download(srv, "/big.bin")
    while len(body) < 256 * 1024:
        body += sock.recv(65536)
    reader = SlowReader(sock, body, len(big_data), rate=BIG / 2.0)   # about 2 s in all
    reader.start()

    srv.send_signal(signal.SIGTERM)
    refused = connection_refused(srv, time.monotonic() + 3)
    still_downloading = not reader.done.is_set()
    assert refused, "new connections are still accepted after SIGTERM"
    assert still_downloading, "download finished before the test could observe the drain"

    reader.join(timeout=60)
    assert reader.error is None, reader.error
    assert reader.n == len(big_data), f"download cut short at {reader.n} of {len(big_data)} bytes"
    assert reader.h.hexdigest() == hashlib.sha256(big_data).hexdigest()
    rc = srv.wait(timeout=10)
    assert rc == 0, (rc, srv.stderr)


def test_shutdown_timeout_bounds_the_drain(tomed, big_root):
    srv = tomed.serve(big_root, "--limits.memory-file-max", "1KiB",
                      "--server.shutdown-timeout", "1")
    sock, _, _ = open_download(srv, "/big.bin")       # ... and never read again
    try:
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(timeout=8)
        assert rc is not None, "a stalled client kept tomed alive past server.shutdown_timeout"
        assert rc == 0, (rc, srv.stderr)
        assert time.monotonic() - t0 < 8
    finally:
        sock.close()


def test_idle_keep_alive_connection_does_not_delay_shutdown(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--server.shutdown-timeout", "30")
    conn = srv.connection()
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(timeout=5)
        assert rc is not None, "an idle keep-alive connection held up shutdown"
        assert rc == 0
        assert time.monotonic() - t0 < 5
    finally:
        conn.close()


def test_sigint_during_download_exits_0(tomed, big_root, big_data):
    srv = tomed.serve(big_root, "--limits.memory-file-max", "1KiB",
                      "--server.shutdown-timeout", "30")
    sock, _, body = open_download(srv, "/big.bin")
    reader = SlowReader(sock, body, len(big_data), rate=BIG / 0.5)
    reader.start()
    srv.send_signal(signal.SIGINT)
    reader.join(timeout=60)
    assert reader.n == len(big_data)
    assert srv.wait(timeout=10) == 0, srv.stderr
