"""Started as root, tomed binds, then becomes server.user, then loads the site
(so it reads the site as that user, at start as on every reload); container
mode refuses to serve as root unless told to, also when server.user is root
by name or number; serve mode only warns."""
import os
import shutil
import signal
import socket
import tempfile
import time

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


@pytest.fixture
def shared_tree():
    """A site directory that user nobody can traverse (pytest's tmp_path is
    mode 0700, root's alone). Yields a function making files in it."""
    top = tempfile.mkdtemp(prefix="tomed-priv-", dir="/tmp")
    os.chmod(top, 0o755)

    def make(files, private=()):
        root = make_tree(os.path.join(top, "site"), files)
        os.chmod(root, 0o755)
        for rel in files:
            os.chmod(root / rel, 0o600 if rel in private else 0o644)
        return root
    yield make
    shutil.rmtree(top, ignore_errors=True)


def test_site_is_read_as_server_user_not_as_root(shared_tree):
    """A file only root may read is not served by a process running as
    nobody: the site is loaded after the drop, so the load names the file it
    cannot read (as it does for any unreadable file) instead of serving it."""
    root = shared_tree({"index.html": html("i"), "secret.txt": "root only\n"},
                       private={"secret.txt"})
    cp = run_tomed("run", "--root", root, "--listen", "127.0.0.1:0", "--server.user", "nobody",
                   "--server.drain-delay", "0", env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    assert cp.returncode == 1, cp.stderr
    assert "secret.txt" in cp.stderr and "Permission denied" in cp.stderr, cp.stderr
    assert "serving" not in cp.stderr
    # dropped before loading: the notice comes before the load's error
    assert cp.stderr.index("running as uid 65534") < cp.stderr.index("secret.txt"), cp.stderr


def test_check_reads_the_site_as_server_user(shared_tree):
    """`tomed check` predicts what `run` will do: as root with server.user,
    it reads the site as that user too."""
    root = shared_tree({"index.html": html("i"), "secret.txt": "root only\n"},
                       private={"secret.txt"})
    cp = run_tomed("check", "--root", root, "--server.user", "nobody")
    assert cp.returncode == 1, cp.stderr
    assert "secret.txt" in cp.stderr and "Permission denied" in cp.stderr, cp.stderr
    os.chmod(root / "secret.txt", 0o644)
    cp = run_tomed("check", "--root", root, "--server.user", "nobody")
    assert cp.returncode == 0, cp.stderr


def test_reload_reads_like_the_first_load(tomed, shared_tree):
    root = shared_tree({"index.html": html("i"), "a.txt": "a\n"})
    srv = tomed.start(["run", "--root", str(root), "--listen", "127.0.0.1:0",
                       "--server.user", "nobody", "--server.drain-delay", "0",
                       "--reload.watch", "false"],
                      env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    assert srv.get("/a.txt").body == b"a\n"
    # a readable new file: the reload as nobody works
    (root / "b.txt").write_text("b\n")
    os.chmod(root / "b.txt", 0o644)
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded: generation 2" in srv.stderr), srv.stderr
    assert srv.get("/b.txt").body == b"b\n"
    # a root-only file: the reload fails like the first load would, and the
    # previous site stays
    (root / "c.txt").write_text("root only\n")
    os.chmod(root / "c.txt", 0o600)
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload (SIGHUP) failed" in srv.stderr), srv.stderr
    assert "c.txt" in srv.stderr and "Permission denied" in srv.stderr
    assert srv.get("/c.txt").status == 404
    assert srv.get("/b.txt").status == 200


@pytest.mark.parametrize("user", ["root", "0", "0:0"])
def test_server_user_root_is_refused(user):
    cp = run_tomed("run", "--root", str(SITE_DIR), "--listen", "127.0.0.1:0",
                   "--server.user", user, env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    assert cp.returncode == 2, cp.stderr
    assert "refusing to serve as root (server.user is uid 0)" in cp.stderr, cp.stderr
    assert "serving" not in cp.stderr


def test_server_user_root_with_allow_root_serves(tomed):
    srv = tomed.start(["run", "--root", str(SITE_DIR), "--server.user", "root",
                       "--server.drain-delay", "0", "--listen", "127.0.0.1:0"],
                      env={"TOMED_SERVER_ALLOW_ROOT": "true"})
    assert status_ids(srv.proc.pid)[0] == 0
    assert srv.get("/").status in (200, 301, 302, 308)


def test_serve_with_server_user_root_warns(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("s")})
    srv = tomed.serve(root, "--server.user", "0", env={"TOMED_SERVER_ALLOW_ROOT": "false"})
    assert "[warn] serving as root (server.user is uid 0)" in srv.stderr
    assert srv.get("/").status == 200


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()
