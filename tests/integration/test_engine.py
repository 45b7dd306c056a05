"""The HTTP engine under load shapes that once stalled it: many kept-alive
connections on one worker thread in epoll mode (src/epolldrain.c).

libmicrohttpd's epoll loop drains the epoll set 128 events at a time and calls
epoll_wait again, with its blocking timeout, after every full batch; with 128,
256, ... connections ready at once the call after the last full batch blocked
while those requests waited, until some other event or the connection timeout.
On 0.9.75 and 1.0.1 alike. Whether a run meets an exact full batch depends on
timing: the same closed loop as a pinned standalone probe stalled for the whole
connection timeout in 5 of 6 runs on an unfixed build, but passed under pytest
on this (loaded) machine, so this is the end-to-end fault check with a generous
bound, not the proof: tests/unit/test_epolldrain.c checks the non-blocking
call itself, deterministically, and fails without the fix.
"""
import os
import selectors
import socket
import time

import pytest

from conftest import BASE, SITE_DIR

ROUNDS = 30
BOUND_S = 20  # a healthy run takes well under 2 s even under emulation's load


def closed_loop(srv, conns, rounds, path, bound):
    """conns kept-alive connections, each sending its next request as soon as its
    previous response is complete, rounds requests each. Returns (responses, seconds)."""
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    state = {}
    try:
        for _ in range(conns):
            s = socket.create_connection((srv.host, srv.port), timeout=5)
            s.setblocking(False)
            state[s] = [0, b""]
            sel.register(s, selectors.EVENT_READ)
        t0 = time.monotonic()
        for s in state:
            s.send(req)
        done = 0
        while done < conns and time.monotonic() - t0 < bound:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                st = state[s]
                data = s.recv(65536)
                assert data, "tomed closed a kept-alive connection"
                st[1] += data
                while b"\r\n\r\n" in st[1]:
                    head, rest = st[1].split(b"\r\n\r\n", 1)
                    assert head.startswith(b"HTTP/1.1 200"), head[:60]
                    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(rest) < n:
                        break
                    st[1] = rest[n:]
                    st[0] += 1
                    if st[0] == rounds:
                        done += 1
                        sel.unregister(s)
                        break
                    s.send(req)
        return sum(v[0] for v in state.values()), time.monotonic() - t0
    finally:
        for s in state:
            s.close()


@pytest.fixture
def two_cpus():
    """The server's thread on one CPU, this client on another, as the stall was
    measured (wrk and tomed pinned with taskset): requests pile up while the
    server works, so it meets full batches of 128. Restores the client's CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip(f"needs two CPUs to put the server and the client apart, has {cpus}")
    os.sched_setaffinity(0, {cpus[0]})
    try:
        yield lambda: os.sched_setaffinity(0, {cpus[1]})
    finally:
        os.sched_setaffinity(0, cpus)


@pytest.mark.parametrize("conns", [128, 256])
def test_epoll_one_thread_never_sleeps_with_requests_ready(tomed, two_cpus, conns):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--server.epoll", "true", "--server.threads", "1",
                      "--limits.connection-timeout", "120", "--log.access", "off",
                      preexec_fn=two_cpus)
    got, took = closed_loop(srv, conns, ROUNDS, BASE + "/about", BOUND_S)
    assert got == conns * ROUNDS, f"{got} of {conns * ROUNDS} responses after {took:.1f} s: stalled"
