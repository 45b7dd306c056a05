"""
The site's own _redirects and _headers files (Netlify / Cloudflare Pages
formats): redirects with statuses, splats, placeholders and queries under the
mount base; headers added, overridden and removed for matching files only;
the files never served; bad lines reported by `tomed check` with their line
numbers; changes picked up by a reload. Real binary, http.client and curl.
"""
import re
import signal
import subprocess
import time

import pytest

from conftest import html, make_tree, run_tomed
from test_reload import wait_for

BASE = "/tomeclicker"

REDIRECTS = """\
# moved pages
/old            /new
/temp           /elsewhere      302
/see            /other          303
/t7             /x              307
/t8             /x              308
/forced         /x              301!
/blog/*         /news/:splat    301
/posts/:year/:slug  /archive/:year/:slug.html   302
/with-query     /target?from=rule
/away           https://example.com/landing
/about          /docs/          301
"""

HEADERS = """\
# per-path headers
/embed
  X-Frame-Options: SAMEORIGIN
  Content-Security-Policy: default-src 'self'; frame-ancestors https://partner.example
  X-Custom: embed
/docs/*
  X-Docs: yes
  ! Permissions-Policy
/_app/*
  Access-Control-Allow-Origin: *
  Cache-Control: public, max-age=60
"""

FILES = {
    "index.html": html("home"),
    "about.html": html("about"),
    "embed.html": html("embed"),
    "docs/index.html": html("docs"),
    "docs/guide.html": html("guide"),
    "_app/immutable/x.js": "export const x = 1;\n",
    "robots.txt": "User-agent: *\n",
}



def site(tmp_path, redirects=REDIRECTS, headers=HEADERS):
    files = dict(FILES)
    if redirects is not None:
        files["_redirects"] = redirects
    if headers is not None:
        files["_headers"] = headers
    return make_tree(tmp_path / "site", files, mtime=None)


def serve(tomed, tmp_path, *flags, base=BASE, **kw):
    return tomed.serve(site(tmp_path, **kw), "--base", base, "--reload.watch", "false", *flags)


def loc(srv, path):
    r = srv.get(path)
    return r.status, r.headers.get("Location")


# ------------------------------------------------------------------ _redirects

def test_redirect_statuses_under_the_base(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    assert loc(srv, f"{BASE}/old") == (301, f"{BASE}/new")          # default 301
    assert loc(srv, f"{BASE}/old/") == (301, f"{BASE}/new")         # trailing slash ignored
    assert loc(srv, f"{BASE}/temp") == (302, f"{BASE}/elsewhere")
    assert loc(srv, f"{BASE}/see") == (303, f"{BASE}/other")
    assert loc(srv, f"{BASE}/t7") == (307, f"{BASE}/x")
    assert loc(srv, f"{BASE}/t8") == (308, f"{BASE}/x")
    assert loc(srv, f"{BASE}/forced") == (301, f"{BASE}/x")
    # an absolute target is left alone
    assert loc(srv, f"{BASE}/away") == (301, "https://example.com/landing")
    # a rule applies under the mount base only
    assert srv.get("/old").status == 404
    # rules come before files: /about exists as about.html, yet moves
    assert loc(srv, f"{BASE}/about") == (301, f"{BASE}/docs/")
    # and paths no rule names are served as before
    assert srv.get(f"{BASE}/docs/guide").status == 200
    assert loc(srv, BASE) == (308, f"{BASE}/")


def test_redirect_without_a_base(tomed, tmp_path):
    srv = serve(tomed, tmp_path, base="/")
    assert loc(srv, "/old") == (301, "/new")
    assert loc(srv, "/blog/a/b") == (301, "/news/a/b")


def test_splats_and_placeholders(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    assert loc(srv, f"{BASE}/blog/2024/05/hello") == (301, f"{BASE}/news/2024/05/hello")
    assert loc(srv, f"{BASE}/blog/") == (301, f"{BASE}/news/")
    assert loc(srv, f"{BASE}/posts/2024/hello-world") == (302, f"{BASE}/archive/2024/hello-world.html")
    assert srv.get(f"{BASE}/posts/2024").status == 404                   # one segment short
    # what the path held is encoded again in the Location
    assert loc(srv, f"{BASE}/blog/a%20b/%C3%A9") == (301, f"{BASE}/news/a%20b/%C3%A9")


def test_query_strings(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    # the request's query goes along, as Netlify does
    assert loc(srv, f"{BASE}/old?utm_source=x&a=1") == (301, f"{BASE}/new?utm_source=x&a=1")
    assert loc(srv, f"{BASE}/blog/p?x=1") == (301, f"{BASE}/news/p?x=1")
    # a target with its own query keeps it, alone
    assert loc(srv, f"{BASE}/with-query?x=1") == (301, f"{BASE}/target?from=rule")
    assert loc(srv, f"{BASE}/with-query") == (301, f"{BASE}/target?from=rule")


def test_redirect_with_curl_following(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    url = f"http://127.0.0.1:{srv.port}{BASE}/about?q=1"
    cp = subprocess.run(["curl", "-sS", "-L", "-o", "-", "-w", "\n%{http_code} %{url_effective}",
                         url], capture_output=True, timeout=20)
    assert cp.returncode == 0, cp.stderr
    body, _, tail = cp.stdout.rpartition(b"\n")
    assert tail.decode() == f"200 http://127.0.0.1:{srv.port}{BASE}/docs/?q=1"
    assert b"<h1>docs</h1>" in body


def test_rule_files_are_never_served(tomed, tmp_path):
    srv = serve(tomed, tmp_path, "--spa-fallback", "index.html")
    for name in ("_redirects", "_headers"):
        r = srv.get(f"{BASE}/{name}")
        assert r.status == 404, name
        assert b"/old" not in r.body and b"X-Frame" not in r.body
        assert srv.head(f"{BASE}/{name}").status == 404
    # the SPA fallback still answers other page paths
    assert srv.get(f"{BASE}/no-such-page").status == 200


def test_no_rule_files_changes_nothing(tomed, tmp_path):
    srv = serve(tomed, tmp_path, redirects=None, headers=None)
    assert srv.get(f"{BASE}/old").status == 404
    r = srv.get(f"{BASE}/embed")
    assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"


# ------------------------------------------------------------------ _headers

def test_headers_added_and_overridden_for_matching_paths(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    r = srv.get(f"{BASE}/embed")
    assert r.status == 200
    assert r.headers.get_all("X-Frame-Options") == ["SAMEORIGIN"]
    assert r.headers.get_all("Content-Security-Policy") == [
        "default-src 'self'; frame-ancestors https://partner.example"]
    assert r.headers["X-Custom"] == "embed"
    # tomed's other security headers stay
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # the same file under its other URL gets the same headers
    assert srv.get(f"{BASE}/embed.html").headers["X-Frame-Options"] == "SAMEORIGIN"
    # other paths keep tomed's defaults and get none of the rule's
    other = srv.get(f"{BASE}/docs/guide")
    assert other.headers["X-Frame-Options"] == "DENY"
    assert "X-Custom" not in other.headers
    assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]


def test_headers_removed_and_splat(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    for path in (f"{BASE}/docs/", f"{BASE}/docs/guide"):
        r = srv.get(path)
        assert r.headers["X-Docs"] == "yes", path
        assert "Permissions-Policy" not in r.headers, path
    assert "Permissions-Policy" in srv.get(f"{BASE}/").headers
    assert "X-Docs" not in srv.get(f"{BASE}/").headers


def test_headers_cache_control_override_on_200_and_304(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    r = srv.get(f"{BASE}/_app/immutable/x.js")
    assert r.headers.get_all("Cache-Control") == ["public, max-age=60"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    r304 = srv.get(f"{BASE}/_app/immutable/x.js", {"If-None-Match": r.headers["ETag"]})
    assert r304.status == 304
    assert r304.headers.get_all("Cache-Control") == ["public, max-age=60"]
    # elsewhere the default policy
    assert srv.get(f"{BASE}/robots.txt").headers["Cache-Control"] == "public, max-age=600, must-revalidate"


# ------------------------------------------------------------------ bad lines

BAD_REDIRECTS = """\
/good /fine 302
/lonely
/rewrite /index.html 200
/store id=:id /blog/:id 301
/a*b /c
/x /y 999
"""

BAD_HEADERS = """\
/p
  no colon
  Content-Length: 1
  X-Ok: 1
"""


def test_check_lists_rules_and_bad_lines_with_numbers(tomed, tmp_path):
    root = site(tmp_path, redirects=BAD_REDIRECTS, headers=BAD_HEADERS)
    cp = run_tomed("check", root, "--base", BASE)
    assert cp.returncode == 0, cp.stderr         # a site with bad lines still loads
    assert "# site rules: 1 in _redirects, 1 in _headers, 7 lines ignored" in cp.stdout
    assert "#   _redirects:1: /good -> /fine 302" in cp.stdout
    assert "#   _headers:1: /p: X-Ok: 1" in cp.stdout
    warnings = re.findall(r"\[warn\] (_(?:redirects|headers):\d+): ", cp.stderr)
    assert warnings == ["_redirects:2", "_redirects:3", "_redirects:4", "_redirects:5",
                        "_redirects:6", "_headers:2", "_headers:3"], cp.stderr
    assert "_redirects:3: status 200 is not supported: rewrites (200) are not" in cp.stderr
    assert "_redirects:6: status 999 is not supported" in cp.stderr
    assert "_headers:3: Content-Length is set by tomed" in cp.stderr


def test_bad_lines_do_not_stop_the_good_ones(tomed, tmp_path):
    srv = tomed.serve(site(tmp_path, redirects=BAD_REDIRECTS, headers=BAD_HEADERS),
                      "--base", BASE)
    assert loc(srv, f"{BASE}/good") == (302, f"{BASE}/fine")
    assert srv.get(f"{BASE}/rewrite").status == 404
    assert "_redirects:2: expected" in srv.stderr


# ------------------------------------------------------------------ reload

def test_reload_picks_up_changed_rule_files(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    root = tmp_path / "site"
    assert loc(srv, f"{BASE}/old") == (301, f"{BASE}/new")
    (root / "_redirects").write_text("/old /newer 308\n/fresh /x 302\n")
    (root / "_headers").write_text("/\n  X-Reloaded: yes\n")
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded: generation 2" in srv.stderr), srv.stderr
    assert loc(srv, f"{BASE}/old") == (308, f"{BASE}/newer")
    assert loc(srv, f"{BASE}/fresh") == (302, f"{BASE}/x")
    assert srv.get(f"{BASE}/").headers["X-Reloaded"] == "yes"
    assert srv.get(f"{BASE}/embed").headers["X-Frame-Options"] == "DENY"
    # removing them removes their effect
    (root / "_redirects").unlink()
    (root / "_headers").unlink()
    srv.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "reloaded: generation 3" in srv.stderr), srv.stderr
    assert srv.get(f"{BASE}/old").status == 404
    assert "X-Reloaded" not in srv.get(f"{BASE}/").headers


def test_watch_reloads_when_only_a_rule_file_changes(tomed, tmp_path):
    # no page changed, only _redirects: inotify must still bring the rule in
    root = site(tmp_path, redirects=None, headers=None)
    srv = tomed.serve(root, "--base", BASE, "--reload.watch", "true")
    assert srv.get(f"{BASE}/old").status == 404
    (root / "_redirects").write_text("/old /new 302\n")
    assert wait_for(lambda: loc(srv, f"{BASE}/old") == (302, f"{BASE}/new")), srv.stderr
