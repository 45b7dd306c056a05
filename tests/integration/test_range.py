"""Byte ranges: 206/416, Accept-Ranges, If-Range, on in-memory and sendfile files."""
import hashlib
import os

import pytest

from conftest import BASE, FIXED_MTIME, http_date, html, make_tree, pick, sha256, site_file

SMALL = bytes((i * 7 + 3) % 256 for i in range(5000))


@pytest.fixture(scope="module")
def big_data():
    return os.urandom(3 * 1024 * 1024 + 123)


@pytest.fixture(params=["memory", "sendfile"])
def ranged(request, tomed, tmp_path, big_data):
    """(server, path, bytes): a small file held in memory, or a 3 MB file above
    limits.memory_file_max (1 KiB) that goes out through sendfile."""
    if request.param == "memory":
        root = make_tree(tmp_path / "r", {"index.html": html("i"), "blob.bin": SMALL})
        srv = tomed.serve(root)
        return srv, "/blob.bin", SMALL
    root = make_tree(tmp_path / "r", {"index.html": html("i"), "big.bin": big_data})
    srv = tomed.serve(root, "--limits.memory-file-max", "1KiB")
    return srv, "/big.bin", big_data


def assert_206(r, data, start, end):
    assert r.status == 206, r
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert int(r.headers["Content-Length"]) == end - start + 1
    assert r.body == data[start:end + 1]


def test_full_download_and_accept_ranges(ranged):
    srv, path, data = ranged
    r = srv.get(path)
    assert r.status == 200
    assert r.headers["Accept-Ranges"] == "bytes"
    assert int(r.headers["Content-Length"]) == len(data)
    assert sha256(r.body) == sha256(data)
    h = srv.head(path)
    assert int(h.headers["Content-Length"]) == len(data) and h.body == b""


def test_first_bytes(ranged):
    srv, path, data = ranged
    assert_206(srv.raw_request(path, headers={"Range": "bytes=0-99"}), data, 0, 99)


@pytest.mark.parametrize("spec,start,end", [
    ("bytes=-10", "n-10", "n-1"),
    ("bytes=10-", "10", "n-1"),
    ("bytes=0-0", "0", "0"),
    ("bytes={n-1}-", "n-1", "n-1"),
    ("bytes=100-{n+500}", "100", "n-1"),      # end past the size is clamped
    ("bytes=-{n+500}", "0", "n-1"),           # suffix longer than the file: whole file
    ("bytes=1000-1999", "1000", "1999"),
])
def test_ranges(ranged, spec, start, end):
    srv, path, data = ranged
    ns = {"n": len(data)}
    spec = eval("f" + repr(spec), ns)
    assert_206(srv.raw_request(path, headers={"Range": spec}), data, eval(start, ns), eval(end, ns))


def test_middle_range_of_large_file(ranged):
    srv, path, data = ranged
    start = len(data) // 2 + 17
    end = start + 65535
    if end >= len(data):
        end = len(data) - 1
    assert_206(srv.raw_request(path, headers={"Range": f"bytes={start}-{end}"}), data, start, end)


@pytest.mark.parametrize("spec", ["bytes=S-", "bytes=S-S+10", "bytes=-0"])
def test_unsatisfiable_416(ranged, spec):
    srv, path, data = ranged
    n = len(data)
    spec = spec.replace("S+10", str(n + 10)).replace("S", str(n))
    r = srv.raw_request(path, headers={"Range": spec})
    assert r.status == 416, (spec, r)
    assert r.headers["Content-Range"] == f"bytes */{n}"
    # not the file: nothing a shared cache could store as the resource itself
    assert r.headers["Cache-Control"] == "no-store", r.headers
    for name in ("ETag", "Last-Modified", "Content-Type", "Accept-Ranges"):
        assert name not in r.headers, (name, r.headers)
    assert r.body == b""


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "bytes=0-9, 20-29", "bytes=abc", "items=0-10",
                                  "bytes 0-10"])
def test_multiple_or_malformed_ranges_give_full_200(ranged, spec):
    srv, path, data = ranged
    r = srv.raw_request(path, headers={"Range": spec})
    assert r.status == 200, (spec, r)
    assert "Content-Range" not in r.headers
    assert sha256(r.body) == sha256(data)


def test_if_range(ranged):
    srv, path, data = ranged
    etag = srv.head(path).headers["ETag"]
    r = srv.raw_request(path, headers={"Range": "bytes=0-99", "If-Range": etag})
    assert_206(r, data, 0, 99)
    r = srv.raw_request(path, headers={"Range": "bytes=0-99", "If-Range": '"stale-etag"'})
    assert r.status == 200 and sha256(r.body) == sha256(data)
    r = srv.raw_request(path, headers={"Range": "bytes=0-99", "If-Range": "W/" + etag})
    assert r.status == 200, "If-Range needs a strong match; a weak tag never matches"


def test_if_range_date(ranged):
    srv, path, data = ranged
    r = srv.raw_request(path, headers={"Range": "bytes=5-9", "If-Range": http_date(FIXED_MTIME)})
    assert_206(r, data, 5, 9)
    r = srv.raw_request(path, headers={"Range": "bytes=5-9", "If-Range": http_date(FIXED_MTIME - 60)})
    assert r.status == 200 and len(r.body) == len(data)


def test_206_keeps_validators(ranged):
    srv, path, data = ranged
    full = srv.head(path)
    r = srv.raw_request(path, headers={"Range": "bytes=0-9"})
    assert r.headers["ETag"] == full.headers["ETag"]
    assert r.headers["Last-Modified"] == full.headers["Last-Modified"]
    assert r.headers["Cache-Control"] == full.headers["Cache-Control"]


def test_large_file_conditional_304(ranged):
    srv, path, data = ranged
    etag = srv.head(path).headers["ETag"]
    r = srv.raw_request(path, headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b""


def test_large_file_etag_is_content_hash_stable(tomed, tmp_path, big_data):
    a = make_tree(tmp_path / "a", {"big.bin": big_data}, mtime=FIXED_MTIME)
    b = make_tree(tmp_path / "b", {"big.bin": big_data}, mtime=FIXED_MTIME + 999)
    sa = tomed.serve(a, "--limits.memory-file-max", "1KiB")
    sb = tomed.serve(b, "--limits.memory-file-max", "1KiB")
    assert sa.head("/big.bin").headers["ETag"] == sb.head("/big.bin").headers["ETag"]


def test_curl_range_and_full_download(tomed, tmp_path, big_data):
    root = make_tree(tmp_path / "r", {"big.bin": big_data})
    srv = tomed.serve(root, "--limits.memory-file-max", "1KiB")
    status, h, body = srv.curl("/big.bin", "-r", "1000-1999")
    assert status == 206 and body == big_data[1000:2000]
    assert h["Content-Range"] == f"bytes 1000-1999/{len(big_data)}"
    status, h, body = srv.curl("/big.bin")
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(big_data).digest()


def test_range_on_fixture_page(site):
    data = site_file("about.html")
    r = site.raw_request(BASE + "/about", headers={"Range": "bytes=0-99"})
    assert_206(r, data, 0, 99)
    rel = pick(r"\.woff2$")
    data = site_file(rel)
    r = site.raw_request(BASE + "/" + rel, headers={"Range": "bytes=-4"})
    assert_206(r, data, len(data) - 4, len(data) - 1)


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1025, 4096])
def test_sizes_around_the_memory_threshold(tomed, tmp_path, size):
    data = bytes((i * 31 + 7) % 251 for i in range(size))
    root = make_tree(tmp_path / "z", {"f.bin": data})
    srv = tomed.serve(root, "--limits.memory-file-max", "1KiB")
    r = srv.get("/f.bin")
    assert r.status == 200 and r.body == data
    assert int(r.headers["Content-Length"]) == size
    assert etag_ok(r.headers["ETag"])
    r = srv.raw_request("/f.bin", headers={"Range": "bytes=0-"})
    if size == 0:
        assert r.status == 416 and r.headers["Content-Range"] == "bytes */0"
    else:
        assert_206(r, data, 0, size - 1)
        r = srv.raw_request("/f.bin", headers={"Range": "bytes=-1"})
        assert_206(r, data, size - 1, size - 1)


def etag_ok(v):
    import re
    return re.fullmatch(r'"[\x21\x23-\x7e]+"', v) is not None
