"""ETag (strong, from content), Last-Modified, If-None-Match, If-Modified-Since → 304."""
import os
import re

import pytest

from conftest import BASE, FIXED_MTIME, copy_site, html, http_date, make_tree, pick, site_files

ETAG_RE = re.compile(r'"[\x21\x23-\x7e]+"')


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "c", {
        "index.html": html("Home"),
        "about.html": html("About"),
        "_app/immutable/chunks/abc.js": "export const x = 1;\n",
        "data.txt": "some text\n" * 50,
    })


@pytest.fixture
def srv(tomed, tree):
    return tomed.serve(tree)


def test_etag_is_strong_and_quoted(site):
    for rel in site_files():
        r = site.head(BASE + "/" + rel)
        etag = r.headers["ETag"]
        assert ETAG_RE.fullmatch(etag), (rel, etag)
        assert not etag.startswith("W/")


def test_etag_depends_only_on_content(tomed, tmp_path):
    a = copy_site(tmp_path / "a", mtime=FIXED_MTIME)
    b = copy_site(tmp_path / "b", mtime=FIXED_MTIME + 86400 * 30)
    sa = tomed.serve(a, "--base", BASE)
    sb = tomed.serve(b, "--base", BASE)
    files = site_files(a)
    for rel in files:
        ha = sa.head(BASE + "/" + rel).headers
        hb = sb.head(BASE + "/" + rel).headers
        assert ha["ETag"] == hb["ETag"], rel
        assert ha["Last-Modified"] == http_date(FIXED_MTIME), rel
        assert hb["Last-Modified"] == http_date(FIXED_MTIME + 86400 * 30), rel
    etags = {rel: sa.head(BASE + "/" + rel).headers["ETag"] for rel in files}
    # different contents never share a tag
    content_of = {}
    for rel in files:
        data = (a / rel).read_bytes()
        assert content_of.setdefault(etags[rel], data) == data, f"{rel} shares its ETag"


def test_etag_changes_with_content(tomed, tmp_path):
    a = copy_site(tmp_path / "a", mtime=FIXED_MTIME)
    b = copy_site(tmp_path / "b", mtime=FIXED_MTIME)
    with open(b / "robots.txt", "ab") as f:
        f.write(b"# changed\n")
    os.utime(b / "robots.txt", (FIXED_MTIME, FIXED_MTIME))
    sa = tomed.serve(a, "--base", BASE)
    sb = tomed.serve(b, "--base", BASE)
    assert sa.head(BASE + "/robots.txt").headers["ETag"] != sb.head(BASE + "/robots.txt").headers["ETag"]
    assert sa.head(BASE + "/about").headers["ETag"] == sb.head(BASE + "/about").headers["ETag"]


def test_last_modified_is_file_mtime(srv, tree):
    os_mtime = int((tree / "about.html").stat().st_mtime)
    assert srv.get("/about").headers["Last-Modified"] == http_date(os_mtime) == http_date(FIXED_MTIME)


def get_validators(srv, path):
    r = srv.get(path)
    assert r.status == 200
    return r


def assert_304(r, full):
    assert r.status == 304, r
    assert r.body == b""
    assert r.headers["ETag"] == full.headers["ETag"]
    assert r.headers["Cache-Control"] == full.headers["Cache-Control"]
    assert "Content-Range" not in r.headers
    # never a length a client could wait for (see responses.c: the 200's
    # length stalls clients that trust Content-Length over the status)
    assert r.headers.get("Content-Length", "0") == "0"


@pytest.mark.parametrize("inm", [
    "{etag}",
    '"nope", {etag}',
    '"a","b" ,  {etag} , "c"',
    "*",
    "W/{etag}",
    '"x", W/{etag}',
])
@pytest.mark.parametrize("path", ["/about", "/_app/immutable/chunks/abc.js", "/data.txt"])
def test_if_none_match_304(srv, inm, path):
    full = get_validators(srv, path)
    r = srv.raw_request(path, headers={"If-None-Match": inm.format(etag=full.headers["ETag"])})
    assert_304(r, full)


@pytest.mark.parametrize("inm", ['"nope"', '"a", "b"', 'W/"nope"'])
def test_if_none_match_mismatch_200(srv, tree, inm):
    r = srv.get("/about", headers={"If-None-Match": inm})
    assert r.status == 200 and r.body == (tree / "about.html").read_bytes()


def test_if_none_match_with_similar_but_different_tag(srv):
    etag = get_validators(srv, "/about").headers["ETag"]
    mangled = etag[:-2] + ("0" if etag[-2] != "0" else "1") + '"'
    assert srv.get("/about", headers={"If-None-Match": mangled}).status == 200


def test_304_on_head(srv):
    full = get_validators(srv, "/about")
    r = srv.raw_request("/about", method="HEAD", headers={"If-None-Match": full.headers["ETag"]})
    assert r.status == 304


def test_304_carries_caching_and_security_headers(srv):
    full = get_validators(srv, "/_app/immutable/chunks/abc.js")
    r = srv.raw_request("/_app/immutable/chunks/abc.js", headers={"If-None-Match": full.headers["ETag"]})
    assert_304(r, full)
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.headers["Last-Modified"] == full.headers["Last-Modified"]


@pytest.mark.parametrize("delta,status", [(0, 304), (3600, 304), (86400 * 365, 304),
                                          (-1, 200), (-86400, 200)])
def test_if_modified_since(srv, delta, status):
    r = srv.raw_request("/about", headers={"If-Modified-Since": http_date(FIXED_MTIME + delta)})
    assert r.status == status, (delta, r)
    if status == 304:
        assert r.body == b""


def test_if_modified_since_other_date_formats(srv):
    # RFC 850 and asctime forms of the Last-Modified date (2021-03-04 05:06:07 UTC)
    for d in ("Thursday, 04-Mar-21 05:06:07 GMT", "Thu Mar  4 05:06:07 2021"):
        assert srv.raw_request("/about", headers={"If-Modified-Since": d}).status == 304, d


@pytest.mark.parametrize("bad", ["yesterday", "", "Thu, 99 Mar 2021 05:06:07 GMT"])
def test_invalid_if_modified_since_ignored(srv, bad):
    assert srv.raw_request("/about", headers={"If-Modified-Since": bad}).status == 200


def test_if_none_match_wins_over_if_modified_since(srv):
    full = get_validators(srv, "/about")
    later = http_date(FIXED_MTIME + 3600)
    earlier = http_date(FIXED_MTIME - 3600)
    r = srv.raw_request("/about", headers={"If-None-Match": '"other"', "If-Modified-Since": later})
    assert r.status == 200, "a non-matching If-None-Match must not be overridden by If-Modified-Since"
    r = srv.raw_request("/about", headers={"If-None-Match": full.headers["ETag"],
                                           "If-Modified-Since": earlier})
    assert r.status == 304


def test_fixture_conditional_with_curl(site):
    rel = pick(r"^_app/immutable/entry/.*\.js$")
    status, h, _ = site.curl(BASE + "/" + rel)
    assert status == 200
    status, h2, body = site.curl(BASE + "/" + rel, "-H", f"If-None-Match: {h['ETag']}")
    assert status == 304 and body == b""
    assert h2["ETag"] == h["ETag"]
    assert h2["Cache-Control"] == "public, max-age=31536000, immutable"
    status, _, _ = site.curl(BASE + "/" + rel, "-H", f"If-Modified-Since: {h['Last-Modified']}")
    assert status == 304
