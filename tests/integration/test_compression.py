"""Compression: generated brotli/gzip variants, precompressed siblings,
Accept-Encoding negotiation, per-variant ETags, conditionals, ranges, HEAD,
background compression and the compression.* limits.

Compressed bodies are always decoded with the real `brotli` and `gzip` CLIs and
compared with the file's bytes. "Done" is the `tomed: [info] compressed N of M
compressible files ...` line on stderr, which the worker prints when it ends.
"""
import hashlib
import random
import re
import subprocess
import time

import pytest

from conftest import BASE, SITE_DIR, html, make_tree, pick, site_file, site_files

HEX32 = "[0-9a-f]{32}"
ETAG_RE = {
    None: re.compile(rf'"{HEX32}"'),
    "br": re.compile(rf'"{HEX32}-br"'),
    "gzip": re.compile(rf'"{HEX32}-gz"'),
}
INFO_RE = re.compile(r"tomed: \[info\] compressed (\d+) of (\d+) compressible files \((\d+) bytes\)"
                     r" into (\d+) variants \((\d+) bytes[,)]")
# mime.c's compressible types, by extension
COMPRESSIBLE_EXT = {"html", "htm", "js", "mjs", "cjs", "css", "json", "map", "jsonld",
                    "webmanifest", "wasm", "xml", "rss", "atom", "txt", "md", "csv", "ics",
                    "vtt", "svg"}
MIN_SIZE = 256  # compression.min_size default
FAST = ("--compression.brotli-quality", "5")  # where the test is not about the defaults


# --------------------------------------------------------------------------- helpers

def decode(body, coding):
    """Decode with the real CLI; fails the test if the CLI rejects the stream."""
    cmd = {"br": ["brotli", "-d", "-c"], "gzip": ["gzip", "-d", "-c"]}[coding]
    cp = subprocess.run(cmd, input=body, capture_output=True, timeout=60)
    assert cp.returncode == 0, f"{cmd} rejected the body ({len(body)} bytes): {cp.stderr!r}"
    return cp.stdout


def brotli_lgwin(n):
    """The window tomed's encoder picks for n bytes: no larger than the file
    (the rule of brotli's own tool), at most 2**20 (encoding.c)."""
    w = 10
    while w < 20 and (1 << w) - 16 < n:
        w += 1
    return w


def cli_brotli(data, quality):
    """What libbrotli makes of data at quality with tomed's window (for files
    below 64 KiB, one meta-block, tomed's block size changes nothing)."""
    return subprocess.run(["brotli", "-c", "-q", str(quality), "-w", str(brotli_lgwin(len(data)))],
                          input=data, capture_output=True, check=True, timeout=60).stdout


def ae(srv, path, coding=None, method="GET", **extra):
    """A request with Accept-Encoding: coding (None: no such header at all)."""
    headers = {} if coding is None else {"Accept-Encoding": coding}
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return srv.request(method, path, headers)


def vary(r):
    return r.headers.get_all("Vary")


def check_repr(r, identity, coding, where=""):
    """A 200 holding one complete representation of identity, coded as coding
    (None: identity): Content-Encoding, Content-Length, ETag form and bytes.
    Returns the ETag."""
    assert r.status == 200, (where, r)
    assert r.headers.get_all("Content-Encoding") == ([] if coding is None else [coding]), \
        (where, r.headers)
    assert int(r.headers["Content-Length"]) == len(r.body), (where, r.headers)
    etag = r.headers["ETag"]
    assert ETAG_RE[coding].fullmatch(etag), (where, coding, etag)
    got = r.body if coding is None else decode(r.body, coding)
    assert got == identity, f"{where}: {coding} body does not decode to the file"
    return etag


def tag_for(identity_tag, coding):
    """The variant tag tomed derives from the identity tag (generated variants)."""
    return identity_tag[:-1] + {"br": '-br"', "gzip": '-gz"'}[coding]


def sibling_tag(sibling_bytes, coding):
    """A precompressed sibling's tag: its own content hash, with the coding."""
    return '"' + hashlib.sha256(sibling_bytes).hexdigest()[:32] + {"br": '-br"', "gzip": '-gz"'}[coding]


def wait_info(srv, timeout=30):
    """Wait for the worker's summary line; returns (files, of, in_bytes, variants, bytes)."""
    deadline = time.monotonic() + timeout
    while True:
        m = INFO_RE.search(srv.stderr)
        if m:
            return tuple(int(g) for g in m.groups())
        assert srv.running(), f"tomed exited while compressing:\n{srv.stderr}"
        assert time.monotonic() < deadline, f"no [info] compressed line in {timeout}s:\n{srv.stderr}"
        time.sleep(0.02)


def words(n_bytes, seed):
    """Deterministic, compressible pseudo-random JavaScript-ish text of about n_bytes."""
    r = random.Random(seed)
    vocab = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9)))
             for _ in range(5000)]
    out, n = [], 0
    while n < n_bytes:
        line = "let " + " ".join(r.choice(vocab) for _ in range(12)) + ";\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode()


def fixture_compressible():
    """Fixture files tomed must compress with the defaults: compressible type, >= 256 bytes."""
    return [rel for rel in site_files()
            if rel.rsplit(".", 1)[-1] in COMPRESSIBLE_EXT
            and (SITE_DIR / rel).stat().st_size >= MIN_SIZE]


def fixture_small_compressible():
    return [rel for rel in site_files()
            if rel.rsplit(".", 1)[-1] in COMPRESSIBLE_EXT
            and (SITE_DIR / rel).stat().st_size < MIN_SIZE]


@pytest.fixture
def done_site(site):
    """The shared fixture-site server once its compression worker has finished."""
    info = wait_info(site)
    n = len(fixture_compressible())
    assert info[:2] == (n, n), f"expected all {n} compressible files compressed: {info}"
    return site


# --------------------------------------------------------------------------- 1. fixture site

@pytest.mark.parametrize("rel", fixture_compressible())
def test_fixture_file_variants_decode_to_the_file(done_site, rel):
    srv, data, url = done_site, site_file(rel), BASE + "/" + rel
    plain = ae(srv, url)
    tag = check_repr(plain, data, None, rel)
    assert vary(plain) == ["Accept-Encoding"], rel
    assert plain.headers["Accept-Ranges"] == "bytes"
    sizes = {}
    for coding in ("br", "gzip"):
        r = ae(srv, url, coding)
        t = check_repr(r, data, coding, rel)
        assert t == tag_for(tag, coding), (rel, tag, t)
        assert vary(r) == ["Accept-Encoding"], (rel, coding)
        assert "Accept-Ranges" not in r.headers, (rel, coding, r.headers)
        assert r.headers["Content-Type"] == plain.headers["Content-Type"]
        assert r.headers["Cache-Control"] == plain.headers["Cache-Control"]
        assert r.headers["Last-Modified"] == plain.headers["Last-Modified"]
        sizes[coding] = len(r.body)
        assert len(r.body) < len(data), (rel, coding, len(r.body), len(data))
    # the defaults are brotli 11 and gzip 9: check the exact bytes / the gzip header
    # (past one 64 KiB meta-block tomed's smaller blocks, there so that a stop
    # is seen within one, make other bytes: then the size must match closely)
    br, ref = ae(srv, url, "br").body, cli_brotli(data, 11)
    if len(data) <= 65536:
        assert br == ref, rel
    else:
        assert len(br) <= len(ref) * 1.02, (rel, len(br), len(ref))
    gz = ae(srv, url, "gzip").body
    assert gz[:3] == b"\x1f\x8b\x08" and gz[8] == 2, f"{rel}: gzip XFL {gz[8]} is not level 9's"


def test_fixture_small_files_are_not_negotiable(done_site):
    small = fixture_small_compressible()
    assert small, "the fixture has no compressible file under 256 bytes"
    for rel in small:
        r = ae(done_site, BASE + "/" + rel, "br, gzip")
        check_repr(r, site_file(rel), None, rel)
        assert vary(r) == [], (rel, r.headers)


def test_fixture_curl_compressed_page(done_site):
    for opts, coding in ((("--compressed",), "br"),
                         (("--compressed", "-H", "Accept-Encoding: gzip"), "gzip")):
        status, h, body = done_site.curl(BASE + "/about", *opts)
        assert status == 200
        assert h.get("Content-Encoding") == coding
        assert h.get_all("Vary") == ["Accept-Encoding"]
        assert ETAG_RE[coding].fullmatch(h["ETag"])
        assert body == site_file("about.html")  # curl decoded it


def test_fixture_sendfile_files_and_other_levels(tomed):
    """Files above limits.memory_file_max (sent with sendfile) are compressed too,
    and the quality/level flags are applied."""
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--limits.memory-file-max", "64KiB",
                      "--compression.brotli-quality", "5", "--compression.gzip-level", "6")
    files = fixture_compressible()
    info = wait_info(srv)
    assert info[:2] == (len(files), len(files)), info
    big = [rel for rel in files if (SITE_DIR / rel).stat().st_size > 64 * 1024]
    assert big, "the fixture has no compressible file above 64 KiB"
    total = 0
    for rel in files:
        data, url = site_file(rel), BASE + "/" + rel
        tag = check_repr(ae(srv, url), data, None, rel)
        br = ae(srv, url, "br")
        assert check_repr(br, data, "br", rel) == tag_for(tag, "br")
        assert br.body == cli_brotli(data, 5), f"{rel}: not brotli quality 5"
        gz = ae(srv, url, "gzip")
        assert check_repr(gz, data, "gzip", rel) == tag_for(tag, "gzip")
        assert gz.body[8] == 0, f"{rel}: gzip XFL {gz.body[8]} is not level 6's (0)"
        total += len(br.body) + len(gz.body)
    assert info[3:] == (2 * len(files), total), (info, total)


# --------------------------------------------------------------------------- 2. negotiation

NEGOTIATION = [
    (None, None),
    ("gzip", "gzip"),
    ("br", "br"),
    ("br, gzip", "br"),
    ("gzip, br", "br"),
    ("gzip, deflate, br", "br"),
    ("gzip, deflate, br, zstd", "br"),
    ("br;q=0.5, gzip;q=0.8", "gzip"),
    ("br ; q=0.5 , gzip ; q=0.8", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("*", "br"),
    ("*;q=0", None),
    ("*;q=0.5, br;q=0", "gzip"),
    ("gzip;q=0, *", "br"),
    ("identity;q=0, gzip;q=0.1", "gzip"),
    ("identity;q=0", None),
    ("gzip;q=0.5, identity", None),
    ("identity", None),
    ("br;q=0.5", "br"),
    ("br;q=0.001", "br"),
    ("gzip;q=0.3, br;q=0.3", "br"),
    ("gzip;q=1, br;q=0.999", "gzip"),
    ("deflate", None),
    ("x-gzip", "gzip"),
    ("x-gzip;q=0.9, br;q=0.8", "gzip"),
    ("BR, GZIP", "br"),
    (";;;,,", None),
    ("", None),
]


@pytest.mark.parametrize("header,coding", NEGOTIATION,
                         ids=[repr(h) for h, _ in NEGOTIATION])
def test_negotiation(done_site, header, coding):
    rel = "about.html"
    headers = {} if header is None else {"Accept-Encoding": header}
    r = done_site.raw_request(BASE + "/" + rel, headers=headers)
    check_repr(r, site_file(rel), coding, repr(header))
    assert vary(r) == ["Accept-Encoding"], r.headers


# --------------------------------------------------------------------------- 3. not negotiable

@pytest.mark.parametrize("pattern", [r"\.png$", r"\.woff2$"])
def test_images_and_fonts_never_compressed(done_site, pattern):
    rel = pick(pattern)
    for header in ("br, gzip", "*", "gzip"):
        r = ae(done_site, BASE + "/" + rel, header)
        check_repr(r, site_file(rel), None, rel)
        assert vary(r) == [], (rel, r.headers)
        assert r.headers["Accept-Ranges"] == "bytes"


def test_min_size_boundary(tomed, tmp_path):
    text = ("const value = 'abc';\n" * 20).encode()
    root = make_tree(tmp_path / "m", {"at.js": text[:256], "below.js": text[:255],
                                      "index.html": html("m")})
    srv = tomed.serve(root, *FAST)
    assert wait_info(srv)[:4] == (1, 1, 256, 2)
    r = ae(srv, "/at.js", "br")
    check_repr(r, text[:256], "br")
    assert vary(r) == ["Accept-Encoding"]
    r = ae(srv, "/below.js", "br")
    check_repr(r, text[:255], None)
    assert vary(r) == []


# --------------------------------------------------------------------------- 4. conditionals

def test_conditional_per_variant(done_site):
    rel = pick(r"entry/app\..*\.js$")
    url, data = BASE + "/" + rel, site_file(rel)
    t_id = check_repr(ae(done_site, url), data, None)
    t_br = check_repr(ae(done_site, url, "br"), data, "br")
    t_gz = check_repr(ae(done_site, url, "gzip"), data, "gzip")
    assert (t_br, t_gz) == (tag_for(t_id, "br"), tag_for(t_id, "gzip"))
    def not_modified(r, tag):
        assert r.status == 304, r
        assert r.body == b""
        assert r.headers["ETag"] == tag
        assert r.headers.get("Content-Length", "0") == "0"
        assert vary(r) == ["Accept-Encoding"]
        assert "Content-Encoding" not in r.headers

    not_modified(ae(done_site, url, "br", If_None_Match=t_br), t_br)
    not_modified(ae(done_site, url, "gzip", If_None_Match=t_gz), t_gz)
    not_modified(ae(done_site, url, None, If_None_Match=t_id), t_id)
    not_modified(ae(done_site, url, "br", If_None_Match=f"{t_gz}, {t_br}"), t_br)
    not_modified(ae(done_site, url, "br", If_None_Match="W/" + t_br), t_br)  # weak comparison
    not_modified(ae(done_site, url, "br", If_None_Match="*"), t_br)
    # a tag of another representation does not confirm this one
    assert check_repr(ae(done_site, url, "gzip", If_None_Match=t_br), data, "gzip") == t_gz
    assert check_repr(ae(done_site, url, "br", If_None_Match=t_id), data, "br") == t_br
    assert check_repr(ae(done_site, url, "br", If_None_Match=t_gz), data, "br") == t_br
    assert check_repr(ae(done_site, url, None, If_None_Match=t_br), data, None) == t_id
    # If-Modified-Since: 304 with the negotiated variant's tag
    lm = ae(done_site, url).headers["Last-Modified"]
    not_modified(ae(done_site, url, "br", If_Modified_Since=lm), t_br)
    not_modified(ae(done_site, url, "gzip", If_Modified_Since=lm), t_gz)


# --------------------------------------------------------------------------- 5. ranges

def test_range_served_from_identity(done_site):
    rel = pick(r"nodes/2\..*\.js$")
    url, data = BASE + "/" + rel, site_file(rel)
    t_id = ae(done_site, url).headers["ETag"]
    t_br = tag_for(t_id, "br")
    for coding in ("br", "gzip", "br, gzip", None):
        r = ae(done_site, url, coding, Range="bytes=100-299")
        assert r.status == 206, (coding, r)
        assert "Content-Encoding" not in r.headers, (coding, r.headers)
        assert r.headers["Content-Range"] == f"bytes 100-299/{len(data)}"
        assert r.headers["Content-Length"] == "200"
        assert r.body == data[100:300]
        assert r.headers["ETag"] == t_id
        assert vary(r) == ["Accept-Encoding"]
    r = ae(done_site, url, "br", Range="bytes=-10")
    assert (r.status, r.body) == (206, data[-10:])
    # If-Range with the identity tag: the range; with the br tag: the whole br body
    r = ae(done_site, url, "br", Range="bytes=0-9", If_Range=t_id)
    assert (r.status, r.body, r.headers.get("Content-Encoding")) == (206, data[:10], None)
    r = ae(done_site, url, "br", Range="bytes=0-9", If_Range=t_br)
    assert check_repr(r, data, "br") == t_br
    # unsatisfiable: 416 about the identity length, not encoded
    r = ae(done_site, url, "br", Range=f"bytes={len(data) + 10}-")
    assert r.status == 416, r
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"
    assert "Content-Encoding" not in r.headers
    # Accept-Ranges only where ranges are served: the identity representation
    assert ae(done_site, url).headers["Accept-Ranges"] == "bytes"
    for coding in ("br", "gzip"):
        assert "Accept-Ranges" not in ae(done_site, url, coding).headers


# --------------------------------------------------------------------------- 6. siblings

APP_JS = words(6000, seed=11)


@pytest.fixture(params=["memory", "sendfile", "memory-max-0"])
def sibling_site(request, tomed, tmp_path):
    """A tree whose app.js has app.js.br (brotli -q 5) and app.js.gz (gzip -9,
    with its file name in the header) made by the real CLIs."""
    root = make_tree(tmp_path / "s", {
        "index.html": html("siblings"),
        "app.js": APP_JS,
        "other.js": words(5000, seed=12),
        "data.tar.gz": b"",  # replaced below by a real gzip file
    })
    subprocess.run(["brotli", "-k", "-q", "5", "app.js"], cwd=root, check=True)
    subprocess.run(["gzip", "-k", "-9", "app.js"], cwd=root, check=True)
    (root / "data.tar").write_bytes(words(3000, seed=13))
    subprocess.run(["gzip", "-f", "-9", "data.tar"], cwd=root, check=True)
    br, gz = (root / "app.js.br").read_bytes(), (root / "app.js.gz").read_bytes()
    # they must differ from what tomed would make itself, or the test proves nothing
    assert br != cli_brotli(APP_JS, 11)
    assert gz[3] & 0x08, "gzip -k did not store the file name"  # tomed's never does
    assert len(br) > 1024 and len(gz) > 1024
    flags = {"memory": (), "sendfile": ("--limits.memory-file-max", "1KiB"),
             "memory-max-0": ("--compression.memory-max", "0")}[request.param]
    srv = tomed.serve(root, *flags)
    return srv, root, request.param


def test_siblings_are_the_variants(sibling_site):
    srv, root, mode = sibling_site
    br, gz = (root / "app.js.br").read_bytes(), (root / "app.js.gz").read_bytes()
    # no waiting: siblings are attached at load
    t_id = check_repr(ae(srv, "/app.js"), APP_JS, None)
    r = ae(srv, "/app.js", "br")
    assert r.body == br, "brotli body is not app.js.br byte for byte"
    assert check_repr(r, APP_JS, "br") == sibling_tag(br, "br")
    assert vary(r) == ["Accept-Encoding"]
    r = ae(srv, "/app.js", "gzip")
    assert r.body == gz, "gzip body is not app.js.gz byte for byte"
    assert check_repr(r, APP_JS, "gzip") == sibling_tag(gz, "gzip")
    r = ae(srv, "/app.js", "br", method="HEAD")
    assert (r.status, r.body, r.headers["Content-Length"]) == (200, b"", str(len(br)))
    # conditional on a sibling variant
    r = ae(srv, "/app.js", "br", If_None_Match=sibling_tag(br, "br"))
    assert (r.status, r.headers["ETag"], vary(r)) == (304, sibling_tag(br, "br"), ["Accept-Encoding"])
    # range: identity bytes
    r = ae(srv, "/app.js", "br", Range="bytes=10-19")
    assert (r.status, r.body, r.headers.get("Content-Encoding")) == (206, APP_JS[10:20], None)


def test_siblings_are_not_files(sibling_site):
    srv, root, mode = sibling_site
    for path in ("/app.js.br", "/app.js.gz"):
        for coding in (None, "br, gzip"):
            r = ae(srv, path, coding)
            assert r.status == 404, (path, coding, r)
            assert "Content-Encoding" not in r.headers


def test_orphan_gz_is_a_file(sibling_site):
    srv, root, mode = sibling_site
    data = (root / "data.tar.gz").read_bytes()
    assert decode(data, "gzip") == words(3000, seed=13)
    for coding in (None, "br, gzip", "gzip"):
        r = ae(srv, "/data.tar.gz", coding)
        check_repr(r, data, None, coding)
        assert r.headers["Content-Type"] == "application/gzip"
        assert vary(r) == []


def test_generated_variants_only_when_memory_max_allows(sibling_site):
    srv, root, mode = sibling_site
    other = (root / "other.js").read_bytes()
    if mode == "memory-max-0":
        time.sleep(0.5)  # plenty for quality 11 on 5 KB, were the worker running
        assert not INFO_RE.search(srv.stderr), srv.stderr
        for coding in ("br", "gzip", "*"):
            r = ae(srv, "/other.js", coding)
            check_repr(r, other, None, coding)
            assert vary(r) == []
    else:
        # app.js already has both variants: only other.js is a job
        assert wait_info(srv)[:4] == (1, 1, len(other), 2)
        check_repr(ae(srv, "/other.js", "br"), other, "br")
        check_repr(ae(srv, "/other.js", "gzip"), other, "gzip")


def test_sibling_not_smaller_is_ignored(tomed, tmp_path):
    """A .gz sibling at least as large as its original is not used as its
    variant: tomed generates gzip itself, warns, and the sibling is never a
    file of its own either."""
    same = words(3000, seed=21)
    fat = bytes(random.Random(5).getrandbits(8) for _ in range(len(same) + 500))
    root = make_tree(tmp_path / "n", {"index.html": html("n"), "same.js": same,
                                      "same.js.gz": fat})
    srv = tomed.serve(root, *FAST)
    assert wait_info(srv)[:2] == (1, 1)
    r = ae(srv, "/same.js", "gzip")
    assert r.body != fat
    check_repr(r, same, "gzip")
    check_repr(ae(srv, "/same.js", "br"), same, "br")
    assert ae(srv, "/same.js.gz", "gzip").status == 404
    assert "ignoring 1 precompressed file (/same.js.gz): not smaller than" in srv.stderr


def test_br_sibling_alone_still_gets_gzip(tomed, tmp_path):
    """x.js.br without x.js.gz: brotli clients get the sibling, gzip-only
    clients a generated gzip rather than the uncompressed file."""
    js = words(3000, seed=31)
    root = make_tree(tmp_path / "b", {"index.html": html("b"), "app.js": js})
    subprocess.run(["brotli", "-k", "-q", "5", str(root / "app.js")], check=True)
    br = (root / "app.js.br").read_bytes()
    srv = tomed.serve(root, *FAST)
    assert ae(srv, "/app.js", "br").body == br
    wait_info(srv)
    check_repr(ae(srv, "/app.js", "gzip"), js, "gzip")


def test_sendfile_sibling_rewritten_in_place_is_refused(tomed, tmp_path):
    import socket
    root = make_tree(tmp_path / "w", {"index.html": html("w"), "app.js": APP_JS})
    subprocess.run(["brotli", "-k", "-q", "5", "app.js"], cwd=root, check=True)
    # a short drain: the stuck response would otherwise hold shutdown for 10 s
    srv = tomed.serve(root, "--limits.memory-file-max", "1KiB", "--server.shutdown-timeout", "1s")
    assert ae(srv, "/app.js", "br").body == (root / "app.js.br").read_bytes()
    (root / "app.js.br").write_bytes(b"")  # truncated in place
    try:
        r = srv.request("GET", "/app.js", {"Accept-Encoding": "br"}, timeout=3)
    except (socket.timeout, TimeoutError, OSError) as e:
        pytest.fail(f"no complete response: {e!r}")
    assert r.status == 503, r


# --------------------------------------------------------------------------- 7. background

def test_compression_happens_in_the_background(tomed, tmp_path):
    big = words(2_500_000, seed=7)  # above memory_file_max (1 MiB): sent with sendfile
    page = html("background").encode() + b"<!-- " + words(4000, seed=8) + b" -->\n"
    root = make_tree(tmp_path / "b", {"index.html": page, "big.js": big})
    t0 = time.monotonic()
    srv = tomed.serve(root)  # the defaults: brotli 11, gzip 9
    t_ready = time.monotonic() - t0

    first = ae(srv, "/big.js", "br")
    t_first = time.monotonic() - t0
    assert not INFO_RE.search(srv.stderr), "compression finished before the first request"
    check_repr(first, big, None, "first")
    assert vary(first) == ["Accept-Encoding"]
    t_id = first.headers["ETag"]

    # a page does not wait behind the big file: index.html gets its variants
    # while big.js is still identity
    deadline = time.monotonic() + 30
    while ae(srv, "/", "br").headers.get("Content-Encoding") != "br":
        assert time.monotonic() < deadline, "index.html never got brotli"
        time.sleep(0.01)
    check_repr(ae(srv, "/", "br"), page, "br")
    assert ae(srv, "/big.js", "br").headers.get("Content-Encoding") is None

    seen = {None: 0, "br": 0, "gzip": 0}
    bodies = {}
    deadline = time.monotonic() + 120
    i = 0
    while True:
        coding = ("br", "gzip")[i % 2]
        i += 1
        r = ae(srv, "/big.js", coding)
        got = r.headers.get("Content-Encoding")
        assert got in (None, coding), (coding, r.headers)
        assert r.status == 200 and int(r.headers["Content-Length"]) == len(r.body), r.headers
        assert vary(r) == ["Accept-Encoding"]
        if got is None:
            assert r.headers["ETag"] == t_id and r.body == big, "bad identity response"
        else:
            assert r.headers["ETag"] == tag_for(t_id, got)
            h = hashlib.sha256(r.body).digest()
            if got not in bodies:
                bodies[got] = h
                assert decode(r.body, got) == big, got
                assert len(r.body) < len(big)
            assert bodies[got] == h, f"{got} body changed between requests"
        seen[got] += 1
        if "br" in bodies and "gzip" in bodies:
            break
        assert time.monotonic() < deadline, f"no br/gzip for big.js within 120 s: {seen}"
        time.sleep(0.05)
    t_br = time.monotonic() - t0
    info = wait_info(srv, timeout=30)
    assert info[:3] == (2, 2, len(big) + len(page)), info
    print(f"\nready {t_ready:.3f}s, first identity 200 at {t_first:.3f}s, "
          f"br+gzip for big.js at {t_br:.2f}s; responses seen {seen}; {INFO_RE.search(srv.stderr)[0]}")
    assert seen[None] >= 1


# --------------------------------------------------------------------------- 8. limits

def test_memory_max_zero_disables_generation(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--compression.memory-max", "0")
    time.sleep(0.8)  # the fixture compresses in well under this at the defaults
    assert not INFO_RE.search(srv.stderr), srv.stderr
    for rel in fixture_compressible():
        for coding in ("br", "gzip", "*"):
            r = ae(srv, BASE + "/" + rel, coding)
            check_repr(r, site_file(rel), None, rel)
            assert vary(r) == [], (rel, r.headers)


def test_min_size_flag(tomed, tmp_path):
    small, large = words(20_000, seed=31), words(1_100_000, seed=32)
    root = make_tree(tmp_path / "z", {"index.html": html("z"), "small.js": small,
                                      "large.js": large})
    srv = tomed.serve(root, "--compression.min-size", "1MiB", *FAST)
    assert wait_info(srv)[:3] == (1, 1, len(large))
    for coding in ("br", "gzip"):
        r = ae(srv, "/small.js", coding)
        check_repr(r, small, None)
        assert vary(r) == []
        r = ae(srv, "/large.js", coding)
        check_repr(r, large, coding)
        assert vary(r) == ["Accept-Encoding"]


def observed_variants(srv, files):
    """{(rel, coding): Content-Length} of every variant the server offers."""
    out = {}
    for rel in files:
        data, url = site_file(rel), BASE + "/" + rel
        for coding in ("br", "gzip"):
            r = ae(srv, url, coding)
            got = r.headers.get("Content-Encoding")
            check_repr(r, data, got, rel)
            assert vary(r) == ["Accept-Encoding"], rel  # negotiable, variant or not
            if got:
                out[(rel, coding)] = len(r.body)
    return out


def test_memory_max_caps_the_variant_bytes(tomed):
    cap = 20 * 1024
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--compression.memory-max", "20KiB", *FAST)
    files = fixture_compressible()
    info = wait_info(srv)
    seen = observed_variants(srv, files)
    total = sum(seen.values())
    compressed = {rel for rel, _ in seen}
    print(f"\n20 KiB cap: {len(compressed)} of {len(files)} files, {len(seen)} variants, "
          f"{total} bytes; {INFO_RE.search(srv.stderr)[0]}")
    assert 0 < len(compressed) < len(files), compressed
    assert total <= cap
    assert info == (len(compressed), len(files), info[2], len(seen), total), info
    # HTML first: every page fits in 20 KiB and gets both variants
    for rel in files:
        if rel.endswith(".html"):
            assert (rel, "br") in seen and (rel, "gzip") in seen, rel


def test_memory_max_pages_first(tomed, tmp_path):
    """Under a cap, pages are compressed before other files: a 14 KB page fits
    only if it goes before the eight smaller scripts, whose variants would
    otherwise use up most of the 20 KiB."""
    page = b"<!doctype html><p>" + words(14_000, seed=61) + b"</p>"
    scripts = {f"s{i}.js": words(1500, seed=70 + i) for i in range(8)}
    root = make_tree(tmp_path / "q", {"page.html": page, **scripts})
    srv = tomed.serve(root, "--compression.memory-max", "20KiB", *FAST)
    info = wait_info(srv)
    check_repr(ae(srv, "/page.html", "br"), page, "br")
    check_repr(ae(srv, "/page.html", "gzip"), page, "gzip")
    total = len(ae(srv, "/page.html", "br").body) + len(ae(srv, "/page.html", "gzip").body)
    done = 1
    for name, data in scripts.items():
        sizes = [len(r.body) for r in (ae(srv, "/" + name, c) for c in ("br", "gzip"))
                 if r.headers.get("Content-Encoding")]
        total += sum(sizes)
        done += bool(sizes)
    assert done < 1 + len(scripts), "the cap was not reached: the test proves nothing"
    assert total <= 20 * 1024
    assert (info[0], info[4]) == (done, total), info


def test_memory_max_large_page_does_not_starve_small_assets(tomed, tmp_path):
    page = b"<!doctype html><p>" + words(100_000, seed=41) + b"</p>"  # compresses to > 20 KiB
    small = words(3000, seed=42)
    root = make_tree(tmp_path / "p", {"page.html": page, "small.js": small})
    srv = tomed.serve(root, "--compression.memory-max", "20KiB", *FAST)
    wait_info(srv)
    check_repr(ae(srv, "/page.html", "br"), page, None)  # its variants cannot fit 20 KiB
    check_repr(ae(srv, "/small.js", "br"), small, "br")  # its variants fit easily


# --------------------------------------------------------------------------- 9. HEAD, 404

@pytest.mark.parametrize("coding", ["br", "gzip", None])
def test_head_matches_get(done_site, coding):
    for rel, url in (("about.html", BASE + "/about"), (pick(r"chunks/BK.*\.js$"), None)):
        url = url or BASE + "/" + rel
        headers = {} if coding is None else {"Accept-Encoding": coding}
        g = done_site.raw_request(url, headers=headers)
        h = done_site.raw_request(url, method="HEAD", headers=headers)  # asserts no body
        check_repr(g, site_file(rel), coding, rel)
        assert h.status == 200
        skip = {"date"}
        assert [(k, v) for k, v in h.headers.pairs if k.lower() not in skip] == \
               [(k, v) for k, v in g.headers.pairs if k.lower() not in skip], rel
        assert h.headers["Content-Length"] == str(len(g.body))


def test_not_found_page_is_negotiated(tomed, tmp_path):
    page = html("Not here").encode() + b"<!-- " + words(2000, seed=51) + b" -->\n"
    root = make_tree(tmp_path / "f", {"index.html": html("f"), "404.html": page})
    srv = tomed.serve(root, *FAST)
    wait_info(srv)
    for coding in ("br", "gzip", None):
        r = ae(srv, "/missing", coding)
        assert r.status == 404
        assert r.headers.get("Content-Encoding") == coding
        assert vary(r) == ["Accept-Encoding"]
        assert ETAG_RE[coding].fullmatch(r.headers["ETag"])
        assert (decode(r.body, coding) if coding else r.body) == page
