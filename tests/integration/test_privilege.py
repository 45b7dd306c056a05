"""Started as root, tomed binds and then becomes server.user; container mode
refuses to serve as root unless told to; serve mode only warns."""
import os
import socket

import pytest

from conftest import SITE_DIR, make_tree, html, run_tomed

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")


def status_ids(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f if ":" in line)
    uid = fields["Uid"].split()
    gid = fields["Gid"].split()
    return int(uid[1]), int(gid[1]), fields["Groups"].split()


def free_privileged_port():
    for port in range(900, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


def test_run_as_root_without_user_is_refused(tmp_path):
    env = {"TOMED_SERVER_ALLOW_ROOT": "false"}
    cp = run_tomed("run", "--root", str(SITE_DIR), "--listen", "127.0.0.1:0", env=env)
    assert cp.returncode == 2, cp.stderr
    assert "refusing to serve as root" in cp.stderr
    assert "server.user" in cp.stderr


def test_root_binds_a_privileged_port_then_drops_to_the_user(tomed):
    port = free_privileged_port()
    srv = tomed.start(["run", "--root", str(SITE_DIR), "--base", "/tomeclicker",
                       "--server.user", "nobody", "--server.drain-delay", "0"],
                      env={"TOMED_SERVER_ALLOW_ROOT": "false",
                           "TOMED_LISTEN": f"127.0.0.1:{port}"})
    assert srv.port == port
    uid, gid, groups = status_ids(srv.proc.pid)
    assert (uid, gid) == (65534, 65534)
    assert groups == []
    # every thread, not just the main one
    for tid in os.listdir(f"/proc/{srv.proc.pid}/task"):
        with open(f"/proc/{srv.proc.pid}/task/{tid}/status") as f:
            assert "Uid:\t65534\t65534\t65534\t65534" in f.read()
    assert srv.get("/tomeclicker/about").status == 200
    assert "running as uid 65534" in srv.stderr


def test_numeric_uid_gid(tomed):
    srv = tomed.start(["run", "--root", str(SITE_DIR), "--server.user", "4242:4343",
                       "--server.drain-delay", "0", "--listen", "127.0.0.1:0"],
                      env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    uid, gid, _ = status_ids(srv.proc.pid)
    assert (uid, gid) == (4242, 4343)
    assert srv.get("/").status == 200


def test_unknown_user_is_a_config_error():
    cp = run_tomed("run", "--root", str(SITE_DIR), "--listen", "127.0.0.1:0",
                   "--server.user", "no-such-user-here")
    assert cp.returncode == 2, cp.stderr
    assert 'no such user "no-such-user-here"' in cp.stderr


def test_serve_as_root_warns(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("s")})
    srv = tomed.serve(root, env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    assert "[warn] serving as root" in srv.stderr
    assert srv.get("/").status == 200
