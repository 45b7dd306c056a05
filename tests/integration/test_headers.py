"""Cache-Control, security headers (and a CSP the SvelteKit pages can run under),
Server, /healthz, keep-alive."""
import base64
import hashlib
import re

import pytest

from conftest import BASE, SITE_DIR, html, make_tree, pick, site_file, site_files

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
DEFAULT = "public, max-age=600, must-revalidate"

PAGES = [p for p in ("index.html", "about.html", "settings.html", "docs/guide.html")]
PAGE_URLS = {"index.html": "/", "about.html": "/about", "settings.html": "/settings",
             "docs/guide.html": "/docs/guide"}


# --------------------------------------------------------------------------- Cache-Control

def test_immutable_assets_cached_for_a_year(site):
    files = [f for f in site_files() if f.startswith("_app/immutable/")]
    assert any(f.startswith("_app/immutable/entry/") for f in files)
    assert any(f.endswith(".css") for f in files)
    for rel in files:
        r = site.get(BASE + "/" + rel)
        assert r.status == 200
        assert r.headers["Cache-Control"] == IMMUTABLE, rel


@pytest.mark.parametrize("url", [BASE + "/", BASE + "/about", BASE + "/about.html",
                                 BASE + "/docs/guide", BASE + "/_app/version.json"])
def test_html_and_version_json_revalidate(site, url):
    r = site.get(url)
    assert r.status == 200
    assert r.headers["Cache-Control"] == REVALIDATE, url


@pytest.mark.parametrize("pattern", [r"^images/.*\.png$", r"^favicon\.png$", r"\.webmanifest$",
                                     r"^robots\.txt$", r"^fonts/.*\.woff2$"])
def test_other_files_short_revalidating_lifetime(site, pattern):
    rel = pick(pattern)
    r = site.get(BASE + "/" + rel)
    assert r.headers["Cache-Control"] == DEFAULT, rel


def test_service_worker_revalidates(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("i"), "service-worker.js": "self.x=1;\n",
                                      "other.js": "x=1;\n"})
    srv = tomed.serve(root)
    assert srv.get("/service-worker.js").headers["Cache-Control"] == REVALIDATE
    assert srv.get("/other.js").headers["Cache-Control"] == DEFAULT


def test_cache_rules_override_first_match_wins(tomed):
    cfg = tomed.config(f"""\
root: "{SITE_DIR}"
listen: "127.0.0.1:0"
base: {BASE}
cache:
  rules:
    - match: "/*.png"
      cache_control: "public, max-age=7"
    - match: "/images/**"
      cache_control: "public, max-age=5"
    - match: "/images/**"
      cache_control: "no-store"
    - match: "/_app/**"
      cache_control: "private, max-age=9"
""")
    srv = tomed.start(["run", "--config", cfg])
    hero = pick(r"^images/.*\.png$")
    asset = pick(r"^_app/immutable/entry/.*\.js$")
    expect = {
        "favicon.png": "public, max-age=7",          # '*' within one segment
        hero: "public, max-age=5",                   # '*' does not cross '/', first match wins
        asset: "private, max-age=9",                 # '**' crosses segments, beats the default
        "_app/version.json": "private, max-age=9",
        "robots.txt": DEFAULT,                       # no rule: defaults still apply
        "about.html": REVALIDATE,
    }
    got = {rel: srv.get(BASE + "/" + rel).headers.get("Cache-Control") for rel in expect}
    assert got == expect


def test_cache_defaults_configurable(tomed):
    cfg = tomed.config(f"""\
root: "{SITE_DIR}"
listen: "127.0.0.1:0"
base: {BASE}
cache:
  immutable: "public, max-age=99, immutable"
  revalidate: "no-cache, private"
  default: "public, max-age=42"
""")
    srv = tomed.start(["run", "--config", cfg])
    assert srv.get(BASE + "/" + pick(r"^_app/immutable/.*\.js$")).headers["Cache-Control"] == \
        "public, max-age=99, immutable"
    assert srv.get(BASE + "/about").headers["Cache-Control"] == "no-cache, private"
    assert srv.get(BASE + "/robots.txt").headers["Cache-Control"] == "public, max-age=42"


# --------------------------------------------------------------------------- security headers

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize("page", PAGES)
def test_security_headers_on_pages(site, page):
    r = site.get(BASE + PAGE_URLS[page])
    assert r.status == 200
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (name, r.headers)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp, csp
    assert r.headers.get("Permissions-Policy"), r.headers
    for name in list(SECURITY) + ["Content-Security-Policy", "Permissions-Policy"]:
        assert len(r.headers.get_all(name)) == 1, f"{name} sent more than once"


def test_nosniff_on_assets(site):
    for rel in (pick(r"\.js$"), pick(r"\.css$"), "_app/version.json", "favicon.png"):
        assert site.get(BASE + "/" + rel).headers.get("X-Content-Type-Options") == "nosniff", rel


def parse_csp(value):
    out = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            out.setdefault(tokens[0].lower(), tokens[1:])
    return out


def csp_sources(csp, *names):
    for n in names:
        if n in csp:
            return csp[n]
    return None


def allows_inline(sources, contents):
    """Would a browser run/apply these inline contents under this source list?"""
    if sources is None:
        return True
    hashes = {s for s in sources if re.match(r"'sha(256|384|512)-", s)}
    nonce = any(s.startswith("'nonce-") for s in sources)
    if hashes or nonce:      # 'unsafe-inline' is ignored when a hash or nonce is present
        for c in contents:
            digests = {f"'sha{n}-" + base64.b64encode(hashlib.new(f"sha{n}", c.encode()).digest())
                       .decode() + "'" for n in (256, 384, 512)}
            if not digests & hashes:
                return False
        return True
    return "'unsafe-inline'" in sources


@pytest.mark.parametrize("page", PAGES)
def test_csp_lets_the_sveltekit_page_run(site, page):
    r = site.get(BASE + PAGE_URLS[page])
    csp = parse_csp(r.headers["Content-Security-Policy"])
    doc = r.body.decode()
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", doc, re.S)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", doc, re.S)
    assert scripts, "fixture page without SvelteKit's inline start-up script?"
    script_src = csp_sources(csp, "script-src-elem", "script-src", "default-src")
    assert "'self'" in script_src, script_src         # ./_app/immutable/*.js imports
    assert allows_inline(script_src, scripts), f"inline start-up script blocked by {script_src}"
    if styles:
        assert allows_inline(csp_sources(csp, "style-src-elem", "style-src", "default-src"), styles)
    if re.search(r"<[a-z][^>]*\sstyle=\"", doc):
        attr = csp_sources(csp, "style-src-attr", "style-src", "default-src")
        assert attr is None or "'unsafe-inline'" in attr and not any(
            s.startswith(("'sha", "'nonce-")) for s in attr), f"style attributes blocked by {attr}"
    for kind, names in (("img", ("img-src", "default-src")), ("font", ("font-src", "default-src")),
                        ("manifest", ("manifest-src", "default-src")),
                        ("connect", ("connect-src", "default-src"))):
        src = csp_sources(csp, *names)
        assert src is None or "'self'" in src, f"{kind} from 'self' blocked: {src}"


def test_security_headers_removable_with_empty_string(tomed):
    cfg = tomed.config(f"""\
root: "{SITE_DIR}"
listen: "127.0.0.1:0"
base: {BASE}
headers:
  content_security_policy: ""
  x_content_type_options: ""
  referrer_policy: ""
  x_frame_options: ""
  cross_origin_opener_policy: ""
  permissions_policy: ""
""")
    srv = tomed.start(["run", "--config", cfg])
    r = srv.get(BASE + "/about")
    assert r.status == 200
    present = {n for n in list(SECURITY) + ["Content-Security-Policy", "Permissions-Policy"]
               if n in r.headers}
    assert not present, f"headers not removed: {present}"


def test_security_headers_configurable(tomed):
    cfg = tomed.config(f"""\
root: "{SITE_DIR}"
listen: "127.0.0.1:0"
base: {BASE}
headers:
  content_security_policy: "default-src 'none'"
  csp_auto: false
  referrer_policy: no-referrer
  x_frame_options: SAMEORIGIN
  cross_origin_opener_policy: same-origin-allow-popups
  permissions_policy: "camera=()"
""")
    srv = tomed.start(["run", "--config", cfg])
    h = srv.get(BASE + "/about").headers
    assert h["Content-Security-Policy"] == "default-src 'none'"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Frame-Options"] == "SAMEORIGIN"
    assert h["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    assert h["Permissions-Policy"] == "camera=()"
    assert h["X-Content-Type-Options"] == "nosniff"


def test_security_header_removable_by_flag(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--headers.x-frame-options", "")
    h = srv.get(BASE + "/about").headers
    assert "X-Frame-Options" not in h
    assert h["X-Content-Type-Options"] == "nosniff"


def test_server_header_has_no_version(site):
    for path in (BASE + "/", BASE + "/nope", "/healthz", BASE, BASE + "/%00"):
        r = site.raw_request(path)
        for v in r.headers.get_all("Server"):
            assert not re.search(r"\d", v), f"Server header leaks a version: {v!r}"


def test_curl_compressed_page_headers(site):
    status, h, body = site.curl(BASE + "/about", "--compressed")
    assert status == 200
    assert body == site_file("about.html")
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert h["Cache-Control"] == REVALIDATE
    assert h["X-Frame-Options"] == "DENY"
    assert re.fullmatch(r'"[^"]+"', h["ETag"])


# --------------------------------------------------------------------------- health

def test_healthz_outside_base(site):
    r = site.get("/healthz")
    assert r.status == 200, r
    assert site.head("/healthz").status == 200


@pytest.mark.parametrize("base", ["/", BASE])
def test_health_path_configurable(tomed, tmp_path, base):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--base", base, "--health-path", "/livez")
    assert srv.get("/livez").status == 200
    assert srv.get("/healthz").status == 404


def test_health_path_can_be_disabled(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("i")})
    srv = tomed.serve(root, "--health-path=")
    assert srv.get("/healthz").status == 404


# --------------------------------------------------------------------------- keep-alive

@pytest.mark.parametrize("paths", [
    [BASE + "/", BASE + "/about"],
    [BASE + "/nope", BASE + "/about"],          # a 404 keeps the connection too
    [BASE, "/healthz", BASE + "/_app/version.json"],
])
def test_keep_alive(site, paths):
    conn = site.connection()
    try:
        sock = None
        for path in paths:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            assert (r.getheader("Connection") or "").lower() != "close", (path, r.getheaders())
            assert conn.sock is not None, f"server closed the connection after {path}"
            if sock is None:
                sock = conn.sock
            assert conn.sock is sock, "connection was not reused"
    finally:
        conn.close()


def test_keep_alive_with_conditional_request(site):
    conn = site.connection()
    try:
        conn.request("GET", BASE + "/about")
        r = conn.getresponse()
        r.read()
        sock = conn.sock
        conn.request("GET", BASE + "/about", headers={"If-None-Match": r.getheader("ETag")})
        r2 = conn.getresponse()
        r2.read()
        assert r2.status == 304
        conn.request("GET", BASE + "/settings")
        r3 = conn.getresponse()
        assert r3.read() == site_file("settings.html")
        assert conn.sock is sock
    finally:
        conn.close()


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_content_coding_if_any_is_labelled(site, coding):
    """Compression is optional here, but when a response is encoded it must say
    so, vary on Accept-Encoding and carry a different strong ETag."""
    import gzip
    import subprocess
    for rel, url in (("about.html", BASE + "/about"), (pick(r"\.js$"), None)):
        url = url or BASE + "/" + rel
        plain = site.get(url)
        r = site.get(url, headers={"Accept-Encoding": coding})
        assert r.status == 200
        enc = r.headers.get("Content-Encoding")
        if enc is None or enc == "identity":
            assert r.body == site_file(rel)
            continue
        assert enc == coding, enc
        assert "accept-encoding" in (r.headers.get("Vary") or "").lower()
        assert "accept-encoding" in (plain.headers.get("Vary") or "").lower()
        assert r.headers["ETag"] != plain.headers["ETag"]
        if coding == "gzip":
            body = gzip.decompress(r.body)
        else:
            body = subprocess.run(["brotli", "-d", "-c"], input=r.body, capture_output=True,
                                  check=True).stdout
        assert body == site_file(rel)
