"""Mount base, SvelteKit URL conventions, 404 page, SPA fallback, methods, media types."""
import pytest

from conftest import BASE, SITE_DIR, html, make_tree, pick, site_file, site_files


# --------------------------------------------------------------------------- mount base

def test_base_without_slash_redirects_308(site):
    r = site.get(BASE)
    assert r.status == 308, r
    assert r.headers["Location"] == BASE + "/"


def test_base_redirect_keeps_query_string(site):
    r = site.get(BASE + "?a=1&b")
    assert r.status == 308, r
    assert r.headers["Location"] == BASE + "/?a=1&b"


@pytest.mark.parametrize("query", ["x=%0d%0aSet-Cookie:%20a=b", "a=%20b&c=%26d", "q=%E2%9C%93&q=2",
                                   "a+b=c+d"])
def test_redirects_keep_query_bytes_verbatim(site, query):
    for target, location in ((BASE, BASE + "/"), (BASE + "/about/", BASE + "/about")):
        r = site.raw_request(f"{target}?{query}")
        assert r.status == 308
        assert r.headers["Location"] == f"{location}?{query}"
        assert "Set-Cookie" not in r.headers


def test_base_root_serves_index(site):
    r = site.get(BASE + "/")
    assert r.status == 200, r
    assert r.body == site_file("index.html")
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("path", ["/", "/other", "/tomeclicker-x/", "/tomeclicker-x", "/tomeclickerabout",
                                  "/about", "/index.html", "/_app/version.json"])
def test_paths_outside_base_are_404(site, path):
    r = site.get(path)
    assert r.status == 404, (path, r)


def test_base_root_site_is_served_at_slash(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("Home"), "about.html": html("About")})
    srv = tomed.serve(root)
    assert srv.base_path == "/"
    r = srv.get("/")
    assert r.status == 200 and r.body == (root / "index.html").read_bytes()
    assert srv.get("/about").body == (root / "about.html").read_bytes()
    r = srv.get("/about/")
    assert r.status == 308 and r.headers["Location"] == "/about"
    assert srv.get("/index.html").status == 200


# --------------------------------------------------------------------------- pretty URLs

@pytest.mark.parametrize("url,rel", [
    (BASE + "/about", "about.html"),
    (BASE + "/about.html", "about.html"),
    (BASE + "/settings", "settings.html"),
    (BASE + "/docs/guide", "docs/guide.html"),
    (BASE + "/docs/guide.html", "docs/guide.html"),
    (BASE + "/about?x=1", "about.html"),
    (BASE + "/index.html", "index.html"),
])
def test_pages_served_without_redirect(site, url, rel):
    r = site.get(url)
    assert r.status == 200, (url, r)
    assert "Location" not in r.headers
    assert r.body == site_file(rel)
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("url,location", [
    (BASE + "/about/", BASE + "/about"),
    (BASE + "/docs/guide/", BASE + "/docs/guide"),
    (BASE + "/about/?x=1", BASE + "/about?x=1"),
])
def test_trailing_slash_on_flat_page_redirects_to_canonical(site, url, location):
    r = site.get(url)
    assert r.status == 308, (url, r)
    assert r.headers["Location"] == location


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/_app", "/_app/", "/_app/immutable/",
                                  "/_app/immutable/entry/", "/images/", "/fonts"])
def test_directories_without_index_are_404_without_listing(site, path):
    r = site.get(BASE + path)
    assert r.status == 404, (path, r)
    for name in site_files():
        leaf = name.rsplit("/", 1)[-1]
        if leaf.endswith(".js") or leaf.endswith(".png"):
            assert leaf.encode() not in r.body, f"{path} lists {leaf}"


def test_all_fixture_files_are_served(site):
    for rel in site_files():
        r = site.get(BASE + "/" + rel)
        assert r.status == 200, (rel, r)
        assert r.body == site_file(rel), rel


@pytest.fixture
def slash_always(tmp_path):
    """A build made with trailingSlash: 'always'."""
    return make_tree(tmp_path / "always", {
        "index.html": html("Home"),
        "about/index.html": html("About"),
        "docs/index.html": html("Docs"),
        "docs/guide/index.html": html("Guide"),
    })


@pytest.mark.parametrize("base", ["/", BASE])
def test_trailing_slash_always_build(tomed, slash_always, base):
    srv = tomed.serve(slash_always, "--base", base)
    p = "" if base == "/" else base
    for page, rel in (("/about", "about/index.html"), ("/docs", "docs/index.html"),
                      ("/docs/guide", "docs/guide/index.html")):
        r = srv.get(p + page)
        assert r.status == 308, (page, r)
        assert r.headers["Location"] == p + page + "/"
        r = srv.get(p + page + "/")
        assert r.status == 200, (page + "/", r)
        assert r.body == (slash_always / rel).read_bytes()
    r = srv.get(p + "/about?ref=x")
    assert r.status == 308 and r.headers["Location"] == p + "/about/?ref=x"
    r = srv.get(p + "/about/index.html")
    assert r.status == 200 and r.body == (slash_always / "about/index.html").read_bytes()


def test_directory_index_and_flat_page_side_by_side(tomed, tmp_path):
    # /docs/ serves docs/index.html, /docs/guide serves docs/guide.html
    root = make_tree(tmp_path / "s", {"index.html": html("Home"), "docs/index.html": html("Docs"),
                                      "docs/guide.html": html("Guide")})
    srv = tomed.serve(root)
    r = srv.get("/docs/")
    assert r.status == 200 and r.body == (root / "docs/index.html").read_bytes()
    assert srv.get("/docs/guide").body == (root / "docs/guide.html").read_bytes()


# --------------------------------------------------------------------------- 404 and SPA fallback

def test_unknown_path_is_404(site):
    r = site.get(BASE + "/no/such/page")
    assert r.status == 404
    if (SITE_DIR / "404.html").exists():
        assert r.body == site_file("404.html")


def test_404_without_page_is_short_text(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("Home")})
    srv = tomed.serve(root)
    r = srv.get("/nope")
    assert r.status == 404
    assert 0 < len(r.body) < 1024
    assert r.headers["Content-Type"].startswith("text/"), r.headers
    assert int(r.headers["Content-Length"]) == len(r.body)


@pytest.mark.parametrize("base", ["/", BASE])
def test_404_page_is_served_with_status_404(tomed, tmp_path, base):
    root = make_tree(tmp_path / "s", {"index.html": html("Home"), "404.html": html("Lost tome")})
    srv = tomed.serve(root, "--base", base)
    p = "" if base == "/" else base
    for path in ("/nope", "/deep/er/nope", "/missing.png", "/_app/immutable/x.js"):
        r = srv.get(p + path)
        assert r.status == 404, (path, r)
        assert r.body == (root / "404.html").read_bytes(), path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    h = srv.head(p + "/nope")
    assert h.status == 404 and h.body == b""


def test_not_found_page_is_configurable(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("Home"), "oops.html": html("Oops page")})
    srv = tomed.serve(root, "--not-found-page", "oops.html")
    r = srv.get("/nope")
    assert r.status == 404 and r.body == (root / "oops.html").read_bytes()


@pytest.fixture
def spa_tree(tmp_path):
    return make_tree(tmp_path / "spa", {
        "index.html": html("Home"),
        "200.html": html("SPA shell"),
        "404.html": html("Not found"),
        "about.html": html("About"),
        "_app/immutable/entry/start.abc123.js": "export {};\n",
    })


@pytest.mark.parametrize("base", ["/", BASE])
def test_spa_fallback_serves_unknown_pages_with_200(tomed, spa_tree, base):
    srv = tomed.serve(spa_tree, "--spa-fallback", "200.html", "--base", base)
    p = "" if base == "/" else base
    shell = (spa_tree / "200.html").read_bytes()
    for path in ("/some/route", "/user/42", "/deep/nested/route/here", "/route?x=1"):
        r = srv.get(p + path)
        assert r.status == 200, (path, r)
        assert r.body == shell, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert r.headers["Cache-Control"] == "no-cache"
    # Real pages still win.
    assert srv.get(p + "/about").body == (spa_tree / "about.html").read_bytes()
    assert srv.get(p + "/").body == (spa_tree / "index.html").read_bytes()


@pytest.mark.parametrize("path", ["/_app/immutable/x.js", "/_app/immutable/entry/start.zzz.js",
                                  "/missing.png", "/favicon.ico", "/some/route/style.css",
                                  "/_app/version.json"])
def test_spa_fallback_never_for_missing_assets(tomed, spa_tree, path):
    srv = tomed.serve(spa_tree, "--spa-fallback", "200.html")
    r = srv.get(path)
    assert r.status == 404, (path, r)
    assert r.body != (spa_tree / "200.html").read_bytes()


def test_spa_fallback_does_not_apply_outside_base(tomed, spa_tree):
    srv = tomed.serve(spa_tree, "--spa-fallback", "200.html", "--base", BASE)
    assert srv.get("/elsewhere/route").status == 404


# --------------------------------------------------------------------------- methods

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "BREW"])
@pytest.mark.parametrize("path", [BASE + "/", BASE + "/about"])
def test_other_methods_405_with_allow(site, method, path):
    r = site.request(method, path, body=b"x=1" if method in ("POST", "PUT", "PATCH") else None)
    assert r.status == 405, (method, r)
    allow = [m.strip() for m in r.headers["Allow"].split(",")]
    assert sorted(allow) == ["GET", "HEAD"], r.headers["Allow"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_refused_request_body_is_never_read_as_a_request(site, framing):
    """The body of a POST answered 405 must be discarded (or the connection
    closed), never parsed as the next request on the connection."""
    inner = f"GET {BASE}/robots.txt HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    if framing == "chunked":
        head = b"Transfer-Encoding: chunked\r\n"
        body = b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n"
    else:
        head = b"Content-Length: %d\r\n" % len(inner)
        body = inner
    data = site.raw(f"POST {BASE}/ HTTP/1.1\r\nHost: x\r\n".encode() + head + b"\r\n" + body +
                    f"GET {BASE}/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 405"), data[:60]
    assert site_file("robots.txt") not in data, "request smuggled through a POST body"
    statuses = [line.split(b" ")[1] for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]
    assert statuses in ([b"405"], [b"405", b"200"]), statuses


def test_head_has_same_headers_as_get_and_no_body(site):
    for rel in ("about", "_app/version.json", pick(r"^_app/immutable/entry/.*\.js$"), "favicon.png"):
        g = site.get(BASE + "/" + rel)
        h = site.raw_request(BASE + "/" + rel, method="HEAD")   # asserts no body bytes
        assert g.status == h.status == 200
        gn = g.headers.names() - {"date", "connection", "keep-alive"}
        hn = h.headers.names() - {"date", "connection", "keep-alive"}
        assert gn == hn, (rel, gn ^ hn)
        for name in gn:
            assert g.headers.get_all(name) == h.headers.get_all(name), (rel, name)
        assert int(h.headers["Content-Length"]) == len(g.body)


def test_head_then_get_on_one_connection(site):
    conn = site.connection()
    try:
        conn.request("HEAD", BASE + "/about")
        r1 = conn.getresponse()
        r1.read()
        conn.request("GET", BASE + "/about")
        r2 = conn.getresponse()
        assert r2.status == 200 and r2.read() == site_file("about.html")
    finally:
        conn.close()


def test_curl_head(site):
    status, headers, body = site.curl(BASE + "/about", "-I")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len(site_file("about.html"))


# --------------------------------------------------------------------------- media types

FIXTURE_TYPES = [
    (r"\.html$", "text/html; charset=utf-8"),
    (r"\.js$", "text/javascript; charset=utf-8"),
    (r"\.css$", "text/css; charset=utf-8"),
    (r"^_app/version\.json$", "application/json; charset=utf-8"),
    (r"\.webmanifest$", "application/manifest+json; charset=utf-8"),
    (r"\.png$", "image/png"),
    (r"\.woff2$", "font/woff2"),
    (r"^robots\.txt$", "text/plain; charset=utf-8"),
]


@pytest.mark.parametrize("pattern,ctype", FIXTURE_TYPES)
def test_fixture_content_types(site, pattern, ctype):
    rel = pick(pattern)
    r = site.get(BASE + "/" + rel)
    assert r.status == 200
    assert r.headers["Content-Type"] == ctype, rel


TYPES = {
    "a.mjs": {"text/javascript; charset=utf-8"},
    "a.svg": {"image/svg+xml; charset=utf-8", "image/svg+xml"},
    "a.wasm": {"application/wasm"},
    "a.avif": {"image/avif"},
    "a.webp": {"image/webp"},
    "a.ico": {"image/x-icon", "image/vnd.microsoft.icon"},
    "a.xml": {"application/xml; charset=utf-8", "text/xml; charset=utf-8"},
    "a.pdf": {"application/pdf"},
    "a.js.map": {"application/json; charset=utf-8"},
    "a.txt": {"text/plain; charset=utf-8"},
    "a.json": {"application/json; charset=utf-8"},
    "a.woff": {"font/woff"},
    "a.jpg": {"image/jpeg"},
    "a.gif": {"image/gif"},
    "a.unknownext": {"application/octet-stream"},
}


def test_web_content_types(tomed, tmp_path):
    root = make_tree(tmp_path / "t", {name: b"x" for name in TYPES} | {"index.html": html("i")})
    srv = tomed.serve(root)
    wrong = {}
    for name, allowed in TYPES.items():
        r = srv.get("/" + name)
        assert r.status == 200, (name, r)
        if r.headers.get("Content-Type") not in allowed:
            wrong[name] = r.headers.get("Content-Type")
    assert not wrong, f"unexpected Content-Type: {wrong}"
