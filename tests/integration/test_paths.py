"""Hostile and unusual request paths: decoding once, dot-dot, NUL and control
bytes, backslashes, over-long URLs, doubled slashes, symlinks, dot-files,
unreadable files. Requests go out byte for byte over raw sockets (or curl
--path-as-is) so nothing on the client side normalises them."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BASE, html, make_tree, site_file, tomed_bin

SECRET = "TOMED-SECRET-3f9c1b7e"
PASSWD_MARK = b"root:x:0:0"


# --------------------------------------------------------------------------- dot-dot

@pytest.mark.parametrize("target", [
    "/../etc/passwd",
    "/../../../../../../etc/passwd",
    BASE + "/../../etc/passwd",
    BASE + "/../../../../../../../../etc/passwd",
    BASE + "/%2e%2e/%2e%2e/etc/passwd",
    BASE + "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    BASE + "/.%2e/.%2e/.%2e/etc/passwd",
    BASE + "/%2e./%2e./%2e./etc/passwd",
    "/%2e%2e/etc/passwd",
    "/%2e%2e",
    "/..",
    BASE + "/docs/../../../etc/passwd",
    "http://localhost/../etc/passwd",          # absolute-form target
])
def test_dot_dot_climbing_above_root_is_400(site, target):
    r = site.raw_request(target)
    assert r.status == 400, (target, r)
    assert PASSWD_MARK not in r.body


@pytest.mark.parametrize("target", [BASE + "/docs/../about", BASE + "/docs/%2e%2e/about",
                                    BASE + "/../tomeclicker/about"])
def test_dot_dot_that_stays_inside(site, target):
    # Deliberately either resolved (and then served from inside the root) or refused.
    r = site.raw_request(target)
    assert r.status in (200, 400, 404), (target, r)
    if r.status == 200:
        assert r.body == site_file("about.html")


def test_curl_path_as_is(site):
    status, _, body = site.curl(BASE + "/../../../../etc/passwd", "--path-as-is")
    assert status == 400
    assert PASSWD_MARK not in body
    status, _, body = site.curl("/../etc/passwd", "--path-as-is")
    assert status == 400


@pytest.mark.parametrize("target", [
    BASE + "/%252e%252e/%252e%252e/etc/passwd",
    BASE + "/%252e%252e",
    BASE + "/%252fetc%252fpasswd",
])
def test_double_encoding_is_a_literal_name(site, target):
    r = site.raw_request(target)
    assert r.status == 404, (target, r)
    assert PASSWD_MARK not in r.body


@pytest.fixture
def names_tree(tmp_path):
    return make_tree(tmp_path / "n", {
        "index.html": html("Home"),
        "A.txt": "decoded A\n",
        "%41.txt": "literal percent 41\n",
        "%2e%2e": "literal percent 2e 2e\n",
        "with space.txt": "space\n",
        "café.txt": "utf-8 name\n",
        "sub/page.html": html("Sub page"),
    })


def test_percent_decoding_happens_exactly_once(tomed, names_tree):
    srv = tomed.serve(names_tree)
    cases = {
        "/%41.txt": "A.txt",
        "/%2541.txt": "%41.txt",
        "/%252e%252e": "%2e%2e",
        "/with%20space.txt": "with space.txt",
        "/caf%C3%A9.txt": "café.txt",
        "/caf%c3%a9.txt": "café.txt",
        "/sub/%70age": "sub/page.html",
        "/%73ub/page": "sub/page.html",
    }
    for target, rel in cases.items():
        r = srv.raw_request(target)
        assert r.status == 200, (target, r)
        assert r.body == (names_tree / rel).read_bytes(), target


# --------------------------------------------------------------------------- NUL, control bytes, bad escapes

@pytest.mark.parametrize("target", [
    BASE + "/about%00",
    BASE + "/about%00.html",
    BASE + "/%00/../about",
    BASE + "/about%01",
    BASE + "/about%0a",
    BASE + "/about%0d%0aX-Injected:%20yes",
    BASE + "/about%09",
    BASE + "/about%1b",
    BASE + "/about%1f",
    BASE + "/about%7f",
])
def test_nul_and_control_bytes_are_400(site, target):
    r = site.raw_request(target)
    assert r.status == 400, (target, r)
    assert "X-Injected" not in r.headers


@pytest.mark.parametrize("target", [BASE + "/ab\x01out", BASE + "/about\x7f"])
def test_raw_control_bytes_are_400(site, target):
    r = site.raw_request(target)
    assert r.status == 400, (target, r)


@pytest.mark.parametrize("target", [BASE + "/about%", BASE + "/about%2", BASE + "/%zzabout",
                                    BASE + "/%g0"])
def test_malformed_percent_escapes_are_400(site, target):
    r = site.raw_request(target)
    assert r.status == 400, (target, r)


@pytest.mark.parametrize("target", [
    BASE + "\\about",
    BASE + "/docs\\guide",
    BASE + "/..\\..\\..\\etc\\passwd",
    BASE + "/%5c..%5c..%5cetc%5cpasswd",
    BASE + "/docs%5Cguide",
    BASE + "/about%5c",
])
def test_backslashes_are_400(site, target):
    r = site.raw_request(target)
    assert r.status == 400, (target, r)
    assert PASSWD_MARK not in r.body


# --------------------------------------------------------------------------- length

def test_url_longer_than_limit_is_414(tomed, tmp_path):
    root = make_tree(tmp_path / "l", {"index.html": html("i")})
    srv = tomed.serve(root, "--limits.max-url-length", "200")
    at_limit = "/" + "a" * 199
    assert len(at_limit) == 200
    assert srv.raw_request(at_limit).status == 404
    assert srv.raw_request(at_limit + "b").status == 414
    assert srv.raw_request("/" + "a" * 5000).status == 414
    assert srv.get("/").status == 200


def test_huge_request_line_is_refused_without_harm(site):
    r = site.raw_request(BASE + "/" + "x" * 200_000)
    assert r.status in (414, 431, 400), r
    assert site.get(BASE + "/about").status == 200


# --------------------------------------------------------------------------- slashes and dots

@pytest.mark.parametrize("target,rel", [
    ("//tomeclicker//about", "about.html"),
    (BASE + "//about", "about.html"),
    (BASE + "///docs//guide", "docs/guide.html"),
    (BASE + "/./about", "about.html"),
    (BASE + "/docs/./guide", "docs/guide.html"),
    ("//tomeclicker/", "index.html"),
])
def test_doubled_slashes_and_dot_segments_are_merged(site, target, rel):
    r = site.raw_request(target)
    assert r.status == 200, (target, r)
    assert r.body == site_file(rel)


def test_absolute_form_target(site):
    r = site.raw_request(f"http://{site.host}:{site.port}{BASE}/about")
    assert r.status == 200 and r.body == site_file("about.html")


# --------------------------------------------------------------------------- symlinks

@pytest.fixture
def link_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    (outside / "page.html").write_text(html(SECRET))
    root = make_tree(tmp_path / "root", {
        "index.html": html("Home"),
        "real.txt": "real content\n",
        "sub/inner.txt": "inner content\n",
    })
    os.symlink("real.txt", root / "alias.txt")                      # inside, relative
    os.symlink(root / "real.txt", root / "abs-alias.txt")            # inside, absolute
    os.symlink("sub", root / "subalias")                             # directory inside
    os.symlink("../outside/secret.txt", root / "leak.txt")           # outside, relative
    os.symlink(outside / "secret.txt", root / "leak-abs.txt")        # outside, absolute
    os.symlink("../outside", root / "leakdir")                       # directory outside
    os.symlink("../outside/page.html", root / "leak.html")           # a "page" outside
    os.symlink("leak.txt", root / "chain.txt")                       # inside -> outside
    os.symlink("sub/../../outside/secret.txt", root / "sneaky.txt")
    os.symlink("/etc/passwd", root / "passwd.txt")
    os.symlink("no-such-target", root / "dangling.txt")
    os.symlink("loop.txt", root / "loop.txt")
    return root


def test_symlinks_inside_served_outside_never(tomed, link_tree):
    srv = tomed.serve(link_tree)
    real = (link_tree / "real.txt").read_bytes()
    responses = []

    def fetch(path):
        r = srv.raw_request(path)
        responses.append(r)
        return r

    for path in ("/alias.txt", "/abs-alias.txt"):
        r = fetch(path)
        assert r.status == 200 and r.body == real, (path, r)
    r = fetch("/subalias/inner.txt")
    assert r.status == 200 and r.body == b"inner content\n"
    for path in ("/leak.txt", "/leak-abs.txt", "/leakdir/secret.txt", "/leakdir/page.html",
                 "/leakdir/page", "/leak.html", "/leak", "/chain.txt", "/sneaky.txt",
                 "/passwd.txt", "/dangling.txt", "/loop.txt", "/leakdir/", "/leakdir"):
        r = fetch(path)
        assert r.status == 404, (path, r)
    for r in responses:
        assert SECRET.encode() not in r.body
        assert PASSWD_MARK not in r.body
        assert all(SECRET not in v for _, v in r.headers.pairs)
    assert SECRET not in srv.stderr + srv.stdout


def test_root_reached_through_symlink(tomed, link_tree, tmp_path):
    via = tmp_path / "via-link"
    os.symlink(link_tree, via)
    srv = tomed.serve(via)
    assert srv.get("/alias.txt").body == b"real content\n"
    r = srv.get("/leak.txt")
    assert r.status == 404 and SECRET.encode() not in r.body


# --------------------------------------------------------------------------- dot-files

@pytest.fixture
def dot_tree(tmp_path):
    return make_tree(tmp_path / "d", {
        "index.html": html("Home"),
        ".env": "API_KEY=" + SECRET,
        ".git/config": "[core]\n\t# " + SECRET,
        ".git/HEAD": "ref: refs/heads/main\n",
        ".hidden/page.html": html(SECRET),
        "sub/.secret": SECRET,
        "sub/ok.txt": "ok\n",
        ".well-known/security.txt": "Contact: mailto:security@example.org\n",
        ".well-known/assetlinks.json": "[]\n",
    })


@pytest.mark.parametrize("base", ["/", BASE])
def test_dot_files_never_served(tomed, dot_tree, base):
    srv = tomed.serve(dot_tree, "--base", base)
    p = "" if base == "/" else base
    for path in ("/.env", "/.git/config", "/.git/HEAD", "/.git/", "/.git", "/.hidden/page.html",
                 "/.hidden/page", "/sub/.secret", "/%2eenv", "/%2Egit/config", "/sub/%2esecret"):
        r = srv.raw_request(p + path)
        allowed = (404, 400) if "%2" in path else (404,)
        assert r.status in allowed, (path, r)
        assert SECRET.encode() not in r.body, path
    assert srv.get(p + "/sub/ok.txt").status == 200


@pytest.mark.parametrize("base", ["/", BASE])
def test_well_known_is_served(tomed, dot_tree, base):
    srv = tomed.serve(dot_tree, "--base", base)
    p = "" if base == "/" else base
    r = srv.get(p + "/.well-known/security.txt")
    assert r.status == 200, r
    assert r.body == (dot_tree / ".well-known/security.txt").read_bytes()
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert srv.get(p + "/.well-known/assetlinks.json").status == 200
    assert srv.get(p + "/.well-known/").status == 404


def test_dot_files_not_counted_at_startup(tomed, dot_tree):
    import re
    srv = tomed.serve(dot_tree)
    m = re.search(r"(\d+) files", srv.startup_line)
    # index.html, sub/ok.txt and the two .well-known files
    assert m and int(m.group(1)) == 4, srv.startup_line


# --------------------------------------------------------------------------- unreadable files

def _drop_to_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def test_unreadable_file_never_crashes_or_leaks(tomed):
    """An unreadable file or directory either stops start-up with a message
    naming it, or is left out (404/403) while the rest is served."""
    preexec = None
    tmp = Path(tempfile.mkdtemp(prefix="tomed-unreadable-"))
    try:
        os.chmod(tmp, 0o755)
        root = make_tree(tmp / "site", {"index.html": html("Home"), "secret.txt": SECRET,
                                        "locked/inner.txt": SECRET})
        for d in (root, root / "locked"):
            os.chmod(d, 0o755)
        os.chmod(root / "index.html", 0o644)
        os.chmod(root / "secret.txt", 0o000)
        os.chmod(root / "locked", 0o000)
        if os.geteuid() == 0:
            preexec = _drop_to_nobody
            try:
                probe = subprocess.run([tomed_bin(), "version"], preexec_fn=_drop_to_nobody,
                                       capture_output=True, cwd=tmp)
            except OSError:
                probe = None
            if probe is None or probe.returncode != 0:
                pytest.skip("cannot run tomed as nobody to test unreadable files")
        srv = tomed.serve(root, wait=False, preexec_fn=preexec, cwd=tmp)
        if srv.ready_or_exited():
            assert srv.get("/").status == 200
            for path in ("/secret.txt", "/locked/inner.txt"):
                r = srv.get(path)
                assert r.status in (403, 404), (path, r)
                assert SECRET.encode() not in r.body
        else:
            assert srv.returncode in (1, 2), (srv.returncode, srv.stderr)
            assert "secret.txt" in srv.stderr or "locked" in srv.stderr, srv.stderr
    finally:
        for d in (tmp / "site" / "locked",):
            if d.exists():
                os.chmod(d, 0o755)
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- redirects stay on the site

@pytest.mark.parametrize("layout", ["dir", "flat"])
def test_redirects_never_point_off_site(tomed, tmp_path, layout):
    """A Location built from a path with doubled slashes must not become a
    protocol-relative URL (//evil.example/...) that sends the browser elsewhere."""
    files = ({"evil.example/index.html": html("dir page")} if layout == "dir"
             else {"evil.example.html": html("flat page")})
    root = make_tree(tmp_path / layout, {"index.html": html("Home"), **files})
    srv = tomed.serve(root)
    targets = (["//evil.example", "///evil.example", "/.//evil.example", "//evil.example?x=1"]
               if layout == "dir" else
               ["//evil.example/", "///evil.example/", "/x/..//evil.example/", "//evil.example/?x=1"])
    for target in targets:
        r = srv.raw_request(target)
        assert r.status in (308, 400, 404), (target, r)
        if r.status == 308:
            loc = r.headers["Location"]
            assert loc.startswith("/") and not loc.startswith("//") and "\\" not in loc, (target, loc)
            assert loc.split("?")[0] in ("/evil.example/", "/evil.example"), (target, loc)


def test_base_redirect_with_doubled_slashes_stays_on_site(site):
    for target in ("//tomeclicker", "///tomeclicker", "//tomeclicker?x=1"):
        r = site.raw_request(target)
        assert r.status == 308, (target, r)
        assert r.headers["Location"].startswith(BASE + "/"), (target, r.headers["Location"])
