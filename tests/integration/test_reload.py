"""Live reload: SIGHUP and inotify build the next snapshot beside the live
one and swap it in atomically; a broken tree keeps the old one; Kubernetes'
..data symlink swap and a directory replaced by rename are seen; the previous
build's immutable chunks stay available for a while (version skew); and no
request ever sees a mix of two generations, even under load."""
import hashlib
import os
import re
import shutil
import signal
import threading
import time

from conftest import html, make_tree

RELOADED = re.compile(r"reloaded: generation (\d+), (\d+) files \((\d+) added, (\d+) removed, "
                      r"(\d+) changed\)")


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def reloads(srv):
    return RELOADED.findall(srv.stderr)


def metric(srv, name):
    text = srv.get("/metrics").body.decode()
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def site(tmp_path, name="s", **extra):
    files = {"index.html": html("one"), "a.txt": "first\n",
             "_app/immutable/chunks/old.js": "export const v = 1;\n"}
    files.update(extra)
    return make_tree(tmp_path / name, files, mtime=None)


def test_sighup_swaps_in_the_new_build(tomed, tmp_path):
    root = site(tmp_path)
    srv = tomed.serve(root, "--reload.watch", "false")
    before = srv.get("/a.txt")
    (root / "a.txt").write_text("second\n")
    (root / "b.txt").write_text("new file\n")
    assert srv.get("/a.txt").body == b"first\n", "without a reload the snapshot must not change"
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: reloads(srv)), srv.stderr
    gen, files, added, removed, changed = map(int, reloads(srv)[-1])
    assert (gen, files, added, removed, changed) == (2, 4, 1, 0, 1)
    after = srv.get("/a.txt")
    assert after.body == b"second\n"
    assert after.headers["ETag"] != before.headers["ETag"]
    assert srv.get("/b.txt").status == 200
    assert metric(srv, "tomed_snapshot_generation") == 2
    assert metric(srv, 'tomed_reloads_total{result="success"}') == 1
    assert metric(srv, "tomed_last_reload_timestamp_seconds") > 0


def test_a_broken_tree_keeps_the_live_site(tomed, tmp_path):
    root = site(tmp_path)
    srv = tomed.serve(root, "--reload.watch", "false")
    os.remove(root / "index.html")                      # a build caught half-written
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reload (SIGHUP) failed" in srv.stderr), srv.stderr
    assert "has no index.html" in srv.stderr
    assert srv.get("/").status == 200, "the previous site must still be served"
    assert metric(srv, 'tomed_reloads_total{result="failure"}') == 1
    assert metric(srv, "tomed_snapshot_generation") == 1
    # an unreadable file is the other way a tree is broken
    (root / "index.html").write_text(html("back"))
    secret = root / "locked.txt"
    secret.write_text("x")
    os.chmod(secret, 0)
    if os.geteuid() != 0:                                # root reads it anyway
        srv.send_signal(signal.SIGHUP)
        assert wait_for(lambda: srv.stderr.count("failed") >= 2)
    os.chmod(secret, 0o644)
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: reloads(srv)), srv.stderr
    assert b"back" in srv.get("/").body


def test_inotify_reloads_after_a_burst_of_writes_once(tomed, tmp_path):
    root = site(tmp_path)
    srv = tomed.serve(root)                             # serve: reload.watch defaults to on
    for i in range(40):                                 # a build writes many files at once
        (root / f"page{i}.html").write_text(html(f"p{i}"))
    assert wait_for(lambda: srv.get("/page39").status == 200, timeout=10)
    time.sleep(0.6)                                     # longer than the quiet period
    assert len(reloads(srv)) <= 2, reloads(srv)          # debounced, not one per file
    assert int(reloads(srv)[-1][1]) == 43


def test_run_mode_does_not_watch_by_default(tomed, tmp_path):
    root = site(tmp_path)
    conf = tmp_path / "t.yaml"
    conf.write_text(f"root: {root}\nlisten: 127.0.0.1:0\nlog: {{access: off}}\n"
                    "server: {drain_delay: 0}\n")
    srv = tomed.start(["run", "--config", str(conf)])
    (root / "c.txt").write_text("c\n")
    time.sleep(1.0)
    assert srv.get("/c.txt").status == 404
    assert not reloads(srv)


def test_kubernetes_data_symlink_swap(tomed, tmp_path):
    """The kubelet's atomic update: ..data -> ..v1, files are symlinks into
    ..data; an update writes ..v2 and renames a new ..data over the old."""
    vol = tmp_path / "vol"
    make_tree(vol / "..v1", {"index.html": html("v1"), "app.js": "1;\n"}, mtime=None)
    os.symlink("..v1", vol / "..data")
    for name in ("index.html", "app.js"):
        os.symlink(f"..data/{name}", vol / name)
    srv = tomed.serve(vol)
    assert b"v1" in srv.get("/").body
    make_tree(vol / "..v2", {"index.html": html("v2"), "app.js": "2;\n"}, mtime=None)
    os.symlink("..v2", vol / "..data_tmp")
    os.rename(vol / "..data_tmp", vol / "..data")
    shutil.rmtree(vol / "..v1")
    assert wait_for(lambda: b"v2" in srv.get("/").body), srv.stderr
    assert srv.get("/app.js").body == b"2;\n"
    assert srv.get("/..data/index.html").status == 404   # the indirection is never served


def test_directory_replaced_by_rename(tomed, tmp_path):
    root = site(tmp_path, "docs")
    srv = tomed.serve(root)
    new = site(tmp_path, "docs.new", **{"index.html": html("two")})
    os.rename(root, tmp_path / "docs.old")
    os.rename(new, root)
    assert wait_for(lambda: b"two" in srv.get("/").body), srv.stderr


def test_previous_immutable_chunks_stay_for_keep_previous(tomed, tmp_path):
    root = site(tmp_path)
    srv = tomed.serve(root, "--reload.watch", "false", "--reload.keep-previous", "2s")
    old = srv.get("/_app/immutable/chunks/old.js")
    os.remove(root / "_app/immutable/chunks/old.js")
    (root / "_app/immutable/chunks/new.js").write_text("export const v = 2;\n")
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: reloads(srv))
    again = srv.get("/_app/immutable/chunks/old.js")
    assert (again.status, again.body, again.headers["ETag"]) == (200, old.body, old.headers["ETag"])
    assert srv.get("/_app/immutable/chunks/new.js").status == 200
    # only hashed assets get this grace, never pages or other files
    os.remove(root / "a.txt")
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: len(reloads(srv)) == 2)
    assert srv.get("/a.txt").status == 404
    # and only for keep_previous
    assert wait_for(lambda: srv.get("/_app/immutable/chunks/old.js").status == 404, timeout=6)


def test_reload_under_load_never_mixes_generations(tomed, tmp_path):
    """Pages and their assets are rewritten together between reloads; every
    response must be a whole body of some generation, with that body's ETag,
    and nothing may fail."""
    def body(gen, name):
        return (f"generation {gen} {name} " * 200).encode()

    def write(root, gen):
        for name in ("index.html", "a.js", "b.css"):
            tmp = root / f".{name}.tmp"
            tmp.write_bytes(body(gen, name))
            os.replace(tmp, root / name)

    root = tmp_path / "load"
    root.mkdir()
    write(root, 0)
    srv = tomed.serve(root, "--reload.watch", "false", "--compression.brotli-quality", "1")
    known = {hashlib.sha256(body(g, n)).hexdigest()[:32]: (g, n)
             for g in range(60) for n in ("index.html", "a.js", "b.css")}
    stop = threading.Event()
    errors, seen = [], set()

    def client():
        conn = srv.connection()
        while not stop.is_set():
            for path, name in (("/", "index.html"), ("/a.js", "a.js"), ("/b.css", "b.css")):
                conn.request("GET", path)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    errors.append((path, r.status))
                    continue
                tag = r.getheader("ETag").strip('"')
                g, n = known.get(tag, (None, None))
                if n != name or data != body(g, name):
                    errors.append((path, tag, data[:40]))
                seen.add(g)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for gen in range(1, 40):
        write(root, gen)
        srv.send_signal(signal.SIGHUP)
        time.sleep(0.03)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors[:5]
    assert len(seen) > 5, seen                           # the clients really saw reloads
    assert "failed" not in srv.stderr


def test_unchanged_files_are_not_compressed_again(tomed, tmp_path):
    words = " ".join(f"word{i % 97}" for i in range(4000))
    root = site(tmp_path, **{"big.js": words, "other.js": words[::-1]})
    srv = tomed.serve(root, "--reload.watch", "false")
    info = re.compile(r"compressed (\d+) of (\d+) compressible files .* (\d+) reused")
    assert wait_for(lambda: info.search(srv.stderr), timeout=30), srv.stderr
    (root / "other.js").write_text(words + " changed")
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: len(info.findall(srv.stderr)) == 2, timeout=30), srv.stderr
    first, second = info.findall(srv.stderr)
    assert first[2] == "0"
    # big.js's entry is shared with the new generation, its br and gzip with
    # it: only other.js is left to compress
    assert (first[1], second[1]) == ("2", "1"), second
    r = srv.get("/big.js", {"Accept-Encoding": "br"})
    assert r.headers["Content-Encoding"] == "br"
