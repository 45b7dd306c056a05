"""storage.dir: the bytes tomed serves live in unlinked files mapped from
there (page cache the kernel may drop and read again), not in tomed's own
memory. Dropped pages are read back right; a site file rewritten or
truncated in place while served never tears a response nor crashes tomed;
an unusable storage.dir is a clear error at start; leftovers there are
never served; and anonymous memory does not grow with the site's bytes."""
import os
import re
import signal
import stat
import threading

import pytest

from conftest import html, make_tree, run_tomed, sha256, tomed_bin
from test_reload import wait_for


def body_for(i, size=4000):
    return (f"/* file {i} */ export const v{i} = '" + "x" * size)[:size] + "';\n"


def pack_fds(pid, storage):
    """The descriptors of pid that are files in storage (unlinked packs)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(storage) + "/"):
            out.append((fd, target))
    return out


def test_bodies_are_in_unlinked_files_in_storage_dir(tomed, tmp_path):
    root = make_tree(tmp_path / "site", {"index.html": html("home"), "a.js": body_for(1)})
    storage = tmp_path / "store"
    srv = tomed.serve(root, "--storage.dir", storage)
    assert srv.get("/a.js").body == body_for(1).encode()
    assert stat.S_IMODE(os.stat(storage).st_mode) == 0o700, "created private"
    fds = pack_fds(srv.proc.pid, storage)
    assert fds, "the bodies come from a file in storage.dir"
    assert all(t.endswith("(deleted)") for _, t in fds), fds
    assert os.listdir(storage) == [], "nothing to go stale: packs have no name"


def test_dropped_pages_are_read_again(tomed, tmp_path):
    files = {"index.html": html("home")}
    files.update({f"_app/c{i}.js": body_for(i) for i in range(50)})
    root = make_tree(tmp_path / "site", files)
    storage = tmp_path / "store"
    srv = tomed.serve(root, "--storage.dir", storage)
    first = {i: srv.get(f"/_app/c{i}.js") for i in range(50)}
    # drop every page of the packs and of the site's files from the page cache
    for fd, _ in pack_fds(srv.proc.pid, storage):
        f = os.open(f"/proc/{srv.proc.pid}/fd/{fd}", os.O_RDONLY)
        try:
            os.posix_fadvise(f, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(f)
    for p in root.rglob("*"):
        if p.is_file():
            f = os.open(p, os.O_RDONLY)
            os.posix_fadvise(f, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(f)
    for i in range(50):
        r = srv.get(f"/_app/c{i}.js")
        assert r.status == 200 and r.body == body_for(i).encode()
        assert r.headers["ETag"] == first[i].headers["ETag"] == f'"{sha256(r.body)[:32]}"'


def test_site_file_rewritten_in_place_while_served(tomed, tmp_path):
    """The loaded bytes are tomed's own copy: a deploy that truncates and
    rewrites a file in place (no rename) under load never sends bytes that
    do not match the ETag, and never kills tomed (a mapping of the site's
    file would SIGBUS on the truncation)."""
    original = body_for(7).encode()
    root = make_tree(tmp_path / "site", {"index.html": html("home"), "app.js": original})
    srv = tomed.serve(root, "--reload.watch", "false")
    etag = srv.get("/app.js").headers["ETag"]
    stop = threading.Event()

    def rewrite():
        n = 0
        while not stop.is_set():
            with open(root / "app.js", "r+b") as f:  # same inode, in place
                f.truncate(0)
                f.flush()
                f.write(b"y" * (n % 5000))
            n += 1

    t = threading.Thread(target=rewrite)
    t.start()
    try:
        for _ in range(200):
            r = srv.get("/app.js")
            assert r.status == 200
            assert r.headers["ETag"] == etag and r.body == original
    finally:
        stop.set()
        t.join()
    assert srv.running()


def test_unwritable_storage_dir_is_an_error(tmp_path):
    root = make_tree(tmp_path / "site", {"index.html": html("home")})
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    bad = blocker / "store"
    out = run_tomed("serve", root, "--listen", "127.0.0.1:0", "--storage.dir", bad)
    assert out.returncode == 1, out.stderr
    assert f'storage.dir: "{bad}"' in out.stderr, out.stderr


def test_storage_dir_that_cannot_take_files(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into a mode-0500 directory anyway; the ENOTDIR case covers "
                    "the error path")
    root = make_tree(tmp_path / "site", {"index.html": html("home")})
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    out = run_tomed("serve", root, "--listen", "127.0.0.1:0", "--storage.dir", ro)
    assert out.returncode == 1 and f'storage.dir: "{ro}"' in out.stderr, out.stderr


def test_stale_files_in_storage_dir_are_never_served(tomed, tmp_path):
    root = make_tree(tmp_path / "site", {"index.html": html("home"), "a.js": body_for(2)})
    storage = tmp_path / "store"
    storage.mkdir()
    # what a tomed killed mid-way could leave, and someone else's file
    (storage / "tomed-pack-AbC123").write_bytes(b"stale bytes " * 1000)
    (storage / "unrelated.txt").write_text("keep me")
    srv = tomed.serve(root, "--storage.dir", storage)
    r = srv.get("/a.js")
    assert r.body == body_for(2).encode() and r.headers["ETag"] == f'"{sha256(r.body)[:32]}"'
    assert sorted(os.listdir(storage)) == ["unrelated.txt"], "leftover packs are removed"


def test_reload_shares_unchanged_files(tomed, tmp_path):
    files = {"index.html": html("home")}
    files.update({f"_app/c{i}.js": body_for(i, 500) for i in range(20)})
    root = make_tree(tmp_path / "site", files)
    srv = tomed.serve(root, "--reload.watch", "false")
    (root / "_app/c3.js").write_text("changed")
    srv.send_signal(signal.SIGHUP)
    line = wait_for(lambda: re.search(r"reloaded: .*\((\d+) added, (\d+) removed, (\d+) changed\), "
                                      r"(\d+) shared", srv.stderr))
    assert line, srv.stderr
    assert line.groups() == ("0", "0", "1", "20"), line.group(0)
    assert srv.get("/_app/c3.js").body == b"changed"
    assert srv.get("/_app/c4.js").body == body_for(4, 500).encode()


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^RssAnon:\s+(\d+) kB", f.read(), re.M).group(1))


@pytest.mark.skipif("asan" in tomed_bin(), reason="ASan's shadow memory and quarantine dwarf it")
def test_anonymous_memory_does_not_grow_with_the_bytes(tomed, tmp_path):
    """4,000 files of 4 KB (16 MB): their bytes are in the page cache, and
    responses are built for the files asked for, so anonymous memory stays
    near that of a tiny site (before: ~6 KB per file, about 24 MB here)."""
    small = make_tree(tmp_path / "small", {"index.html": html("home")})
    files = {"index.html": html("home")}
    files.update({f"_app/c{i}.js": body_for(i) for i in range(4000)})
    big = make_tree(tmp_path / "big", files)
    flags = ("--compression.memory_max", "0")  # the compressor's work is not the question
    base = rss_anon_kb(tomed.serve(small, *flags).proc.pid)
    srv = tomed.serve(big, *flags)
    for i in range(0, 4000, 40):
        assert srv.get(f"/_app/c{i}.js").status == 200
    grown = rss_anon_kb(srv.proc.pid) - base
    assert grown < 4000 * 1.0, f"{grown} KiB of anonymous memory for 4,000 files"


def test_files_past_the_kept_responses_are_answered_alike(tomed, tmp_path):
    """Responses are kept for the first 2,048 representations asked for; the
    rest get theirs built per request: the same status, headers and bytes,
    and a 304 for their ETag."""
    n = 2100
    files = {"index.html": html("home")}
    files.update({f"f/{i}.txt": f"file {i}\n" for i in range(n)})
    root = make_tree(tmp_path / "site", files)
    srv = tomed.serve(root, "--compression.memory_max", "0", "--log.access", "off")
    conn = srv.connection()
    seen = {}
    for i in range(n):
        conn.request("GET", f"/f/{i}.txt")
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200 and body == f"file {i}\n".encode(), i
        seen[i] = dict(r.getheaders())
    conn.close()
    first, last = seen[0], seen[n - 1]          # kept, built for the request
    assert sorted(first) == sorted(last)
    last_body = f"file {n - 1}\n".encode()
    assert last["ETag"] == f'"{sha256(last_body)[:32]}"'
    r = srv.get(f"/f/{n - 1}.txt", {"If-None-Match": last["ETag"]})
    assert r.status == 304 and r.body == b""
    r = srv.get(f"/f/{n - 1}.txt")
    assert r.status == 200 and r.body == f"file {n - 1}\n".encode()
