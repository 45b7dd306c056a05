"""Where /metrics is answered by default (issue 11, item 8).

Metrics name exact library versions (tomed_build_info) and the site's
traffic. `tomed run`, what a pod or systemd starts with its port open to the
world, answers them only on the admin listener (admin.public_metrics: false),
like nginx's stub_status or static-web-server's metrics: opt-in. Health and
readiness stay on the public port (simple probes keep working). `tomed serve`,
a preview on 127.0.0.1, keeps one port for everything.
"""
import http.client
import re
import time

from conftest import html, make_tree

ADMIN_RE = re.compile(r"admin endpoints \(\S+, \S+, \S+\) on port (\d+)")


def run(tomed, root, *flags):
    return tomed.start(["run", "--root", str(root), "--listen", "127.0.0.1:0",
                        "--server.drain-delay", "0", *flags])


def site(tmp_path):
    return make_tree(tmp_path / "s", {"index.html": html("i")})


def test_run_keeps_metrics_off_the_public_port(tomed, tmp_path):
    srv = run(tomed, site(tmp_path))
    r = srv.get("/metrics")
    assert r.status == 404, r.status
    assert b"tomed_build_info" not in r.body
    assert srv.get("/healthz").status == 200
    assert srv.get("/readyz").status == 200
    deadline = time.monotonic() + 10
    while "/metrics is answered on admin.listen only, and none is set" not in srv.stderr:
        assert time.monotonic() < deadline, srv.stderr
        time.sleep(0.02)


def test_run_answers_metrics_on_the_admin_port(tomed, tmp_path):
    srv = run(tomed, site(tmp_path), "--admin.listen", "127.0.0.1:0")
    deadline = time.monotonic() + 10
    while not ADMIN_RE.search(srv.stderr):  # the line follows the banner
        assert time.monotonic() < deadline, srv.stderr
        time.sleep(0.02)
    port = int(ADMIN_RE.search(srv.stderr).group(1))
    c = http.client.HTTPConnection(srv.host, port, timeout=10)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    assert r.status == 200 and b"tomed_build_info" in body
    assert srv.get("/metrics").status == 404
    assert "metrics are off" not in srv.stderr


def test_run_public_metrics_on_request(tomed, tmp_path):
    srv = run(tomed, site(tmp_path), "--admin.public-metrics", "true")
    r = srv.get("/metrics")
    assert r.status == 200 and b"tomed_build_info" in r.body


def test_serve_keeps_metrics_on_its_one_port(tomed, tmp_path):
    srv = tomed.serve(site(tmp_path))
    r = srv.get("/metrics")
    assert r.status == 200 and b"tomed_build_info" in r.body
