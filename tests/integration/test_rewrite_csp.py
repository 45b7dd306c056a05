"""Base-path rewriting and per-page CSP hashes, over HTTP: the same build
served at its build base, at / and under another prefix; what `tomed check`
reports; siblings made before a rewrite are never served; csp_auto off."""
import base64
import hashlib
import re
import subprocess

from conftest import BASE, SITE_DIR, copy_site, run_tomed

INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def sha(b):
    return "'sha256-" + base64.b64encode(hashlib.sha256(b).digest()).decode() + "'"


def test_served_at_the_build_base_nothing_is_rewritten(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    assert srv.get(BASE + "/").body == (SITE_DIR / "index.html").read_bytes()
    assert "rewrote" not in srv.stderr


def test_rewritten_to_the_root(tomed):
    srv = tomed.serve(SITE_DIR, "--base", "/")
    body = srv.get("/").body
    assert b'assets: ""' in body and b"/tomeclicker" not in body
    manifest = srv.get("/manifest.webmanifest").body
    assert b'"start_url": "/"' in manifest and b'"scope": "/"' in manifest
    robots = srv.get("/robots.txt").body
    assert b"/tomeclicker" not in robots
    # the page's policy hashes the rewritten start-up script, not the original
    csp = srv.get("/").headers["Content-Security-Policy"]
    script = INLINE_SCRIPT.search(body).group(1)
    assert sha(script) in csp
    original = INLINE_SCRIPT.search((SITE_DIR / "index.html").read_bytes()).group(1)
    assert sha(original) not in csp
    # ETag and Content-Length describe the bytes served
    r = srv.get("/")
    assert int(r.headers["Content-Length"]) == len(r.body)


def test_rewritten_to_another_prefix(tomed):
    srv = tomed.serve(SITE_DIR, "--base", "/preview/x")
    body = srv.get("/preview/x/").body
    assert b'assets: "/preview/x"' in body
    assert b'"start_url": "/preview/x/"' in srv.get("/preview/x/manifest.webmanifest").body
    assert srv.get("/tomeclicker/").status == 404


def test_check_lists_what_it_would_rewrite():
    cp = run_tomed("check", str(SITE_DIR))
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"# rewrite: build base /tomeclicker -> mount base /: (\d+) references in (\d+) files",
                  cp.stdout)
    assert m, cp.stdout
    listed = re.findall(r"^#   (/\S+): (\d+)$", cp.stdout, re.M)
    assert len(listed) == int(m.group(2))
    assert sum(int(n) for _, n in listed) == int(m.group(1))
    assert ("/index.html", "1") in listed and ("/manifest.webmanifest", "2") in listed
    cp = run_tomed("check", str(SITE_DIR), "--base", "/tomeclicker")
    assert "# rewrite: none (built for /tomeclicker, mounted at /tomeclicker)" in cp.stdout
    cp = run_tomed("check", str(SITE_DIR), "--rewrite.enabled", "false")
    assert "rewrite.enabled false" in cp.stdout


def test_build_base_can_be_given(tomed, tmp_path):
    root = copy_site(tmp_path / "s")
    srv = tomed.serve(root, "--base", "/", "--rewrite.build-base", "/nothing-like-it")
    assert b'assets: "/tomeclicker"' in srv.get("/").body   # nothing of that base to rewrite


def test_stale_precompressed_siblings_of_rewritten_files_are_dropped(tomed, tmp_path):
    root = copy_site(tmp_path / "s")
    subprocess.run(["gzip", "-k", "-9", str(root / "index.html")], check=True)
    srv = tomed.serve(root, "--base", "/", "--compression.memory-max", "0")
    r = srv.get("/", {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in r.headers, "a gzip of the unrewritten page was served"
    assert b"/tomeclicker" not in r.body
    assert srv.get("/index.html.gz").status == 404


def test_csp_auto_off_sends_the_policy_as_written(tomed):
    policy = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--headers.csp-auto", "false",
                      "--headers.content-security-policy", policy)
    assert srv.get(BASE + "/").headers["Content-Security-Policy"] == policy


def test_non_html_files_get_the_template(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    page = srv.get(BASE + "/").headers["Content-Security-Policy"]
    img = srv.get(BASE + "/favicon.png").headers["Content-Security-Policy"]
    assert "sha256-" in page and "sha256-" not in img
    assert "unsafe-inline" not in page.split("script-src", 1)[1].split(";")[0]


def test_inline_code_no_hash_can_allow_is_reported_once(tmp_path):
    """Event handlers, javascript: URLs and SVG scripts whose text is not their
    bytes cannot be allowed by hashes: the load says so in one line, naming a page."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text('<!doctype html><button onclick="go()">x</button>')
    (root / "a.html").write_text('<!doctype html><a href="javascript:go()">x</a>')
    (root / "b.html").write_text("<!doctype html><svg><script>a&amp;b</script></svg>")
    (root / "ok.html").write_text("<!doctype html><script>fine()</script>")
    cp = run_tomed("check", root)
    assert cp.returncode == 0, cp.stderr
    lines = [l for l in cp.stderr.splitlines() if "no hash can allow" in l]
    assert len(lines) == 1 and lines[0].startswith("tomed: [warn] 3 pages (/"), cp.stderr
    (root / "index.html").write_text("<!doctype html><p>x</p>")
    (root / "a.html").unlink()
    (root / "b.html").unlink()
    assert "no hash can allow" not in run_tomed("check", root).stderr
