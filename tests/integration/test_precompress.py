"""`tomed precompress DIR` (issue 13): brotli-11 and gzip-9 siblings written at build
time, by the run-time compressor's rule (compressible type, at least
compression.min_size, kept only when smaller) and encoders; idempotent; stale
siblings replaced or removed; every failure makes the exit status non-zero. The
siblings are checked with the real `brotli -d` and `gzip -d`, and served by tomed."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import SITE_DIR, child_env, tomed_bin

BROTLI = shutil.which("brotli")
GZIP = shutil.which("gzip")


def precompress(*args, user=None):
    argv = [tomed_bin(), "precompress", *[str(a) for a in args]]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                        stdin=subprocess.DEVNULL, env=child_env(None), user=user)
    assert cp.returncode >= 0, f"killed by signal {-cp.returncode}: {cp.stderr}"
    return cp


def site_copy(tmp_path):
    root = tmp_path / "site"
    shutil.copytree(SITE_DIR, root)
    return root


def siblings(root):
    return sorted(p for p in Path(root).rglob("*") if p.suffix in (".br", ".gz") and
                  p.with_suffix("").is_file())


def decode(path):
    tool = [BROTLI, "-d", "-c"] if path.suffix == ".br" else [GZIP, "-d", "-c"]
    return subprocess.run(tool + [str(path)], capture_output=True, check=True).stdout


@pytest.mark.skipif(not BROTLI or not GZIP, reason="needs the brotli and gzip tools (make test installs them)")
def test_siblings_decode_to_the_files_and_only_where_smaller(tmp_path):
    root = site_copy(tmp_path)
    (root / "noise.json").write_bytes(os.urandom(4096))      # compressible type, incompressible
    (root / "tiny.js").write_text("x=1\n")                      # under compression.min_size
    (root / "photo.png").write_bytes(b"\x89PNG" + b"a" * 5000)  # not a compressible type
    (root / ".hidden.js").write_text("secret();\n" * 100)       # dot-files are never served
    cp = precompress(root)
    assert cp.returncode == 0, cp.stderr
    sibs = siblings(root)
    assert sibs, cp.stderr
    for s in sibs:
        src = s.with_suffix("")
        assert decode(s) == src.read_bytes(), s
        assert s.stat().st_size < src.stat().st_size, s
        assert s.stat().st_mtime_ns == src.stat().st_mtime_ns, s
    names = {s.name for s in sibs}
    for f in ("index.html", "manifest.webmanifest", "robots.txt"):
        if (root / f).stat().st_size >= 256:
            assert f + ".br" in names and f + ".gz" in names, (f, sorted(names))
    for f in ("noise.json", "tiny.js", "photo.png", ".hidden.js"):
        assert f + ".br" not in names and f + ".gz" not in names, f
    assert not list(root.rglob(".*.XXXXXX")) and not [p for p in root.rglob(".*") if ".br." in p.name]
    assert "precompress:" in cp.stderr and "0 failed" in cp.stderr, cp.stderr


def test_second_run_writes_nothing(tmp_path):
    root = site_copy(tmp_path)
    assert precompress(root).returncode == 0
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in siblings(root)}
    cp = precompress(root)
    assert cp.returncode == 0, cp.stderr
    assert " 0 siblings written" in cp.stderr and f"{len(before)} up to date" in cp.stderr, cp.stderr
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in siblings(root)} == before


@pytest.mark.skipif(not BROTLI or not GZIP, reason="needs the brotli and gzip tools")
def test_stale_siblings_are_replaced_or_removed(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    page = root / "page.html"
    page.write_text("<p>old</p>\n" * 100)
    noise = root / "noise.json"
    noise.write_text('{"a": 1}' * 100)
    assert precompress(root).returncode == 0
    assert (noise.parent / "noise.json.br").exists()
    # the next build: the page changes, the JSON becomes incompressible
    page.write_text("<p>new</p>\n" * 100)
    noise.write_bytes(os.urandom(4096))
    os.utime(page, ns=(1, 10**18))
    os.utime(noise, ns=(1, 10**18))
    cp = precompress(root)
    assert cp.returncode == 0, cp.stderr
    assert decode(root / "page.html.br") == page.read_bytes()
    assert decode(root / "page.html.gz") == page.read_bytes()
    # an old sibling the server would serve with the old bytes must go
    assert not (root / "noise.json.br").exists() and not (root / "noise.json.gz").exists()
    assert "2 stale removed" in cp.stderr, cp.stderr


def test_the_server_serves_the_siblings(tomed, tmp_path):
    root = site_copy(tmp_path)
    assert precompress(root).returncode == 0
    srv = tomed.serve(root, "--compression.memory-max", "0")   # no run-time compression at all
    r = srv.get(srv.site_url("index.html"), headers={"Accept-Encoding": "br"})
    assert r.status == 200 and r.headers["Content-Encoding"] == "br"
    assert r.body == (root / "index.html.br").read_bytes()
    r = srv.get(srv.site_url("index.html"), headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.body == (root / "index.html.gz").read_bytes()


def test_bad_input_fails(tmp_path):
    # a bad DIR is a bad command line: exit 2, as for serve and check
    cp = precompress(tmp_path / "missing")
    assert cp.returncode == 2 and "No such file or directory" in cp.stderr, cp.stderr
    f = tmp_path / "file"
    f.write_text("x")
    cp = precompress(f)
    assert cp.returncode == 2 and "is not a directory" in cp.stderr, cp.stderr
    cp = precompress(tmp_path, "--compression.brotli-quality", "12")
    assert cp.returncode == 2, cp.stderr
    cp = precompress(tmp_path, tmp_path)
    assert cp.returncode == 2, cp.stderr


def test_a_sibling_that_cannot_be_written_fails_the_run(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "a.js").write_text("console.log('a');\n" * 100)
    (root / "b.js").write_text("console.log('b');\n" * 100)
    (root / "a.js.br").mkdir()          # in the way: the rename cannot replace it
    cp = precompress(root)
    assert cp.returncode == 1, cp.stderr
    assert "cannot write" in cp.stderr and "a.js.br" in cp.stderr, cp.stderr
    assert (root / "b.js.br").is_file() and (root / "a.js.gz").is_file()   # the rest is done
    assert "1 failed" in cp.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="runs tomed as nobody: needs root")
def test_unreadable_file_and_unwritable_directory_fail(tmp_path):
    top = Path(tempfile.mkdtemp(prefix="tomed-pc-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        root = top / "site"
        (root / "ro").mkdir(parents=True)
        (root / "secret.js").write_text("s();\n" * 200)
        (root / "ro" / "x.css").write_text("a{b:c}\n" * 200)
        (root / "ok.js").write_text("ok();\n" * 200)
        os.chmod(root / "secret.js", 0o600)
        for d in (root, root / "ro"):
            os.chmod(d, 0o755)
        os.chmod(root, 0o777)
        os.chmod(root / "ok.js", 0o644)
        os.chmod(root / "ro" / "x.css", 0o644)
        cp = precompress(root, user=65534)
        assert cp.returncode == 1, cp.stderr
        assert "cannot read" in cp.stderr and "secret.js" in cp.stderr, cp.stderr
        assert "cannot write" in cp.stderr and "x.css.br" in cp.stderr, cp.stderr
        assert (root / "ok.js.br").is_file()
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_siblings_of_another_tool_are_kept_when_they_decode_to_the_file(tmp_path):
    """SvelteKit's precompress writes its siblings after the files, with their own
    times: one that decodes to its file is up to date and left alone; one that does
    not (a stale one, from an older build) is replaced."""
    import gzip
    root = tmp_path / "site"
    root.mkdir()
    good, stale = root / "good.js", root / "stale.js"
    good.write_text("good();\n" * 200)
    stale.write_text("new();\n" * 200)
    (root / "good.js.gz").write_bytes(gzip.compress(good.read_bytes()))
    (root / "stale.js.gz").write_bytes(gzip.compress(b"old();\n" * 200))
    os.utime(root / "good.js.gz", ns=(1, 2 * 10**18))
    os.utime(root / "stale.js.gz", ns=(1, 2 * 10**18))
    kept = ["good.js.gz"]
    if BROTLI:
        (root / "good.js.br").write_bytes(
            subprocess.run([BROTLI, "-c", str(good)], capture_output=True, check=True).stdout)
        os.utime(root / "good.js.br", ns=(1, 2 * 10**18))
        kept.append("good.js.br")
    inos = {k: (root / k).stat().st_ino for k in kept}
    cp = precompress(root)
    assert cp.returncode == 0, cp.stderr
    for k in kept:                                                          # untouched
        assert (root / k).stat().st_ino == inos[k], k
        assert (root / k).stat().st_mtime_ns == 2 * 10**18, k
    assert gzip.decompress((root / "stale.js.gz").read_bytes()) == stale.read_bytes()
    assert f"{len(kept)} up to date" in cp.stderr, cp.stderr
