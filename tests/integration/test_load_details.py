"""Smaller load-time faults (issue 11, item 8): what the loader decides once
per file must be true to HTTP and safe to print.

- Last-Modified is never later than the response's Date (RFC 9110 8.8.2.1):
  a file with a future mtime gets the load time.
- File names reach stderr escaped: a newline in a name cannot start a forged
  line of tomed's own log.
- Precompressed siblings that are not smaller: one summary line per load.
"""
import email.utils
import os
import time

from conftest import FIXED_MTIME, http_date, html, make_tree, run_tomed


def http_ts(value):
    return email.utils.parsedate_to_datetime(value).timestamp()


def test_future_mtime_gives_the_load_time(tomed, tmp_path):
    future = time.time() + 10 * 365 * 86400
    root = make_tree(tmp_path / "s", {"index.html": html("i"), "future.txt": "from the future\n",
                                      "past.txt": "from the past\n"})
    os.utime(root / "future.txt", (future, future))
    t0 = int(time.time())
    srv = tomed.serve(root)
    t1 = time.time()
    r = srv.get("/future.txt")
    assert r.status == 200
    lm = http_ts(r.headers["Last-Modified"])
    assert t0 - 1 <= lm <= t1 + 1, (r.headers["Last-Modified"], t0, t1)
    assert lm <= http_ts(r.headers["Date"])
    # the date it says is the one it validates against
    again = srv.get("/future.txt", headers={"If-Modified-Since": r.headers["Last-Modified"]})
    assert again.status == 304
    older = srv.get("/future.txt", headers={"If-Modified-Since": http_date(t0 - 3600)})
    assert older.status == 200
    # a past mtime is kept as it is
    assert srv.get("/past.txt").headers["Last-Modified"] == http_date(FIXED_MTIME)


def test_file_names_on_stderr_are_escaped(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    forged = "tomed: [notice] reloaded: generation 99, 1 files (0 added, 0 removed, 0 changed)"
    os.symlink("no-such-target", root / f"x\n{forged}")
    os.symlink("no-such-target", os.path.join(os.fsencode(root), b"bad\xff\x1b[2Jname"))
    srv = tomed.serve(root, "--reload.watch", "false")
    lines = srv.stderr.splitlines()
    assert forged not in lines, srv.stderr
    assert not any(line.startswith("tomed: [notice] reloaded:") for line in lines), srv.stderr
    assert f"tomed: [warn] skipping /x\\x0a{forged}: broken symlink" in lines, srv.stderr
    assert "tomed: [warn] skipping /bad\\xff\\x1b[2Jname: broken symlink" in lines, srv.stderr
    assert "\x1b" not in srv.stderr


def test_siblings_not_smaller_get_one_summary_line(tomed, tmp_path):
    """A build that gzips every file, tiny ones too, has many .gz siblings
    that are not smaller: one line per load says how many, not one each;
    `tomed check` names them."""
    files = {"index.html": html("i")}
    for name in ("a", "b", "c"):
        files[f"{name}.js"] = "x;"
        files[f"{name}.js.gz"] = os.urandom(64)   # larger than the 2-byte original
    root = make_tree(tmp_path / "s", files)
    srv = tomed.serve(root, "--reload.watch", "false")
    lines = [ln for ln in srv.stderr.splitlines() if "precompressed" in ln or "not smaller" in ln]
    assert lines == ["tomed: [warn] ignoring 3 precompressed files (/a.js.gz, ...): not smaller "
                     "than the uncompressed file; tomed check lists them"], srv.stderr
    cp = run_tomed("check", "--root", root)
    assert cp.returncode == 0, cp.stderr
    for name in ("a", "b", "c"):
        assert f"tomed: [debug] ignoring /{name}.js.gz: not smaller than /{name}.js" in cp.stderr
