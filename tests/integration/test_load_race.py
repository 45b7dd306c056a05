"""What the site loader opens is what it vetted.

The loader checks a symlink's target (inside the root, not a dot-directory)
and then opens it. If the open follows the link again, a link swapped between
the check and the open is followed to wherever it points then: a file outside
the root served, a directory outside the root walked (issue 11, fault 1: 3 and
26 of 20,000 loads). tomed now opens the canonical path it vetted, below the
root's descriptor, with no symlink followed (openat2 RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk where openat2 is missing).

The race test swaps two links (one to a file, one to a directory) between an
inside and an outside target as fast as one process can (renameat2
RENAME_EXCHANGE: the link is never missing), while tomed reloads again and
again, and checks every reload's snapshot for any outside byte. The targets
lie 40 directories deep, so realpath's walk of them, which is the window
between the check and the open, is long enough for the swap to land in it.

Also: a symlink inside the root to a dot-directory (.git) or a dot-file is not
served (issue 11, item 8), while Kubernetes' ..data layout still is.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import html, make_tree

SECRET = b"OUTSIDE-SECRET-7f3a"
DEEP = "/".join(f"d{i}" for i in range(40))
RELOADS = 300          # at most this many reloads...
BUDGET_S = 45          # ...or this long, whichever comes first

FLIPPER = textwrap.dedent("""
    import ctypes, sys, time
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    pairs = [(b"root/f", b"f-alt"), (b"root/d", b"d-alt")]
    end = time.monotonic() + float(sys.argv[1])
    n = 0
    print("ready", flush=True)
    while True:
        for a, b in pairs:
            if renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
                sys.exit("renameat2: errno %d" % ctypes.get_errno())
        n += 1
        if n % 4096 == 0 and time.monotonic() > end:
            break
    print(n, flush=True)
""")


def race_tree(top):
    root = make_tree(top / "root", {
        "index.html": html("race"),
        f"{DEEP}/target.txt": "inside\n",
        f"{DEEP}/dir/walked.txt": "inside dir\n",
    })
    make_tree(top / "outside", {
        f"{DEEP}/target.txt": SECRET,
        f"{DEEP}/dir/walked.txt": SECRET,
        f"{DEEP}/dir/only-outside.txt": SECRET,
    })
    # root/f and root/d start inside; f-alt and d-alt (next to the root, in
    # the same file system) hold the outside targets. Exchanging the names
    # flips each link; relative targets resolve from the link's place, which
    # is always root/.
    os.symlink(f"{DEEP}/target.txt", root / "f")
    os.symlink(f"{DEEP}/dir", root / "d")
    os.symlink(f"../outside/{DEEP}/target.txt", top / "f-alt")
    os.symlink(f"../outside/{DEEP}/dir", top / "d-alt")
    return root


def reload_events(srv):
    err = srv.stderr
    return err.count("reloaded: generation") + err.count("reload (SIGHUP) failed")


def test_symlink_swapped_during_reloads_never_serves_outside(tomed, tmp_path):
    root = race_tree(tmp_path)
    srv = tomed.serve(root, "--reload.watch", "false")
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(BUDGET_S + 5)], cwd=tmp_path,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert flipper.stdout.readline().strip() == "ready"
        seen = {"inside": 0, "skipped": 0}
        deadline = time.monotonic() + BUDGET_S
        done = 0
        while done < RELOADS and time.monotonic() < deadline:
            before = reload_events(srv)
            srv.send_signal(signal.SIGHUP)
            end = time.monotonic() + 10
            while reload_events(srv) == before:
                assert time.monotonic() < end, f"reload {done + 1} did not finish:\n{srv.stderr[-2000:]}"
                time.sleep(0.002)
            done += 1
            for path in ("/f", "/d/walked.txt", "/d/only-outside.txt"):
                r = srv.get(path)
                assert SECRET not in r.body, (
                    f"reload {done}: {path} served a file from outside the root "
                    f"(status {r.status})")
                if path == "/d/only-outside.txt":
                    assert r.status == 404, f"reload {done}: a directory outside the root was walked"
            seen["inside" if srv.get("/f").status == 200 else "skipped"] += 1
    finally:
        flipper.kill()
        flipper.wait()
    assert done >= 50, f"only {done} reloads in {BUDGET_S}s"
    # the swap really raced the loads: both outcomes happened
    assert seen["inside"] and seen["skipped"], seen
    assert "symlink leads outside the root" in srv.stderr


def test_symlink_to_dot_directory_not_served(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {
        "index.html": html("dots"),
        ".git/config": "[core]\n\trepositoryformatversion = 0\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".env": "TOKEN=hunter2\n",
        "sub/.secret/key.txt": "key\n",
        ".well-known/security.txt": "Contact: mailto:security@example.org\n",
        "real/page.txt": "a real page\n",
    })
    os.symlink(".git", root / "git")                      # directory link to .git
    os.symlink(".git/config", root / "config")            # file link into .git
    os.symlink(".env", root / "env.txt")                  # link to a dot-file
    os.symlink("sub/.secret", root / "secret")            # a dot-directory deeper down
    os.symlink("../.git/HEAD", root / "real" / "head")    # from a subdirectory
    os.symlink(".well-known/security.txt", root / "security.txt")  # the one exception
    os.symlink("real", root / "alias")                    # an ordinary directory link
    srv = tomed.serve(root, "--reload.watch", "false")
    for path in ("/git/config", "/git/HEAD", "/config", "/env.txt", "/secret/key.txt",
                 "/real/head", "/.git/config", "/.env"):
        r = srv.get(path)
        assert r.status == 404, (path, r.status, r.body[:100])
    assert srv.get("/security.txt").body.startswith(b"Contact:")
    assert srv.get("/alias/page.txt").body == b"a real page\n"
    assert srv.get("/real/page.txt").body == b"a real page\n"
    assert "skipping /git: symlink leads to a dot-file" in srv.stderr


def test_kubernetes_configmap_layout_served(tomed, tmp_path):
    """A ConfigMap volume: every file is a link through ..data into a
    ..<timestamp> directory, whose name starts with a dot."""
    vol = tmp_path / "vol"
    make_tree(vol / "..2026_12_06_02_00_00.123456789", {
        "index.html": html("configmap"), "app.js": "console.log(1);\n"})
    os.symlink("..2026_12_06_02_00_00.123456789", vol / "..data")
    os.symlink("..data/index.html", vol / "index.html")
    os.symlink("..data/app.js", vol / "app.js")
    srv = tomed.serve(vol, "--reload.watch", "false")
    assert srv.get("/app.js").body == b"console.log(1);\n"
    assert b"configmap" in srv.get("/").body
    assert srv.get("/..data/app.js").status in (400, 404)
