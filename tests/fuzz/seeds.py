#!/usr/bin/env python3
"""Write the seed corpora in tests/fuzz/corpus/<target>/ (run from the repo root).

Each file is laid out as the target's LLVMFuzzerTestOneInput reads it (see the
comment at the top of tests/fuzz/fuzz_<target>.c). Re-running rewrites these
files and leaves any others (merged or hand-made) alone.
"""
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(ROOT))


def out(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "empty"
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def b(s):
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s


def z(*parts):
    return b"\0".join(b(p) for p in parts)


def read(rel):
    with open(os.path.join(REPO, rel), "rb") as f:
        return f.read()


# ---- path: [u16 max_len][u16 outcap][u8 n][base][raw] ----
paths = [
    "/", "/index.html", "/about", "/docs/guide", "/tomeclicker", "/tomeclicker/",
    "/tomeclicker/about", "/tomeclicker-x/about", "/tomeclicker/_app/immutable/entry/start.D_WmpNkC.js",
    "/_app/version.json", "/a/./b/../c/", "/a/b/..", "/a/b/.", "//about", "///a//b//",
    "/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2e%2fetc%2fpasswd",
    "/.%2e/x", "/%252e%252e/etc/passwd", "/a%2Fb", "/a%2f..%2f..%2fetc", "/a%00b", "/a%0d%0aSet-Cookie:x",
    "/a\\b", "/..%5c..%5cwindows", "/%5c%5cserver", "/%c0%ae%c0%ae/etc", "/%e0%80%ae",
    "/caf%C3%A9.html", "/caf\xc3\xa9.html", "/\xff\xfe", "/.env", "/.git/config", "/.well-known/security.txt",
    "/.well-known", "/.well-knownx/a", "/a/.well-known/x", "/a/.hidden/f.txt", "/CON", "/aux.txt",
    "/nul", "/foo%", "/foo%2", "/foo%zz", "/%7f", "/%20", "/%", "/./.", "/...", "/.../", "/a/..",
    "/a/..%2f", "/index.html?x", "/#frag", "http://example.com/a", "a/b", "", "/" + "a/" * 40,
    "/" + "%2e%2e/" * 3, "/a" + "/.." * 2,
]
bases = ["", "/", "/tomeclicker", "/tomeclicker/", "/a/b"]
for i, p in enumerate(paths):
    base = bases[i % len(bases)]
    out("path", "p%02d_%s" % (i, p), struct.pack("<HHB", 4096, 0, len(base)) + b(base) + b(p))
out("path", "short_max_len", struct.pack("<HHB", 8, 0, 1) + b"/" + b"/abcdefgh/../x")
out("path", "small_outcap", struct.pack("<HHB", 4096, 4, 0) + b"/abcdef/../g")
out("path", "zero_max_len", struct.pack("<HHB", 0, 0, 0) + b"/")

# ---- http_range: [u8 sel][u64 size][Range] ----
ranges = [
    "bytes=0-499", "bytes=500-999", "bytes=-500", "bytes=9500-", "bytes=0-0", "bytes=0-",
    "bytes=0-0,-1", "bytes=500-600,601-999", "bytes=0-1, 5-6", "bytes= 0-1", " bytes=0-1 ",
    "bytes=,0-1,", "bytes=, ,0-1 ,, ", "BYTES=1-2", "Bytes=1-2", "items=0-1", "bytes =0-1",
    "bytes=1-0", "bytes=-0", "bytes=--1", "bytes=1--2", "bytes=-", "bytes=", "bytes",
    "bytes=18446744073709551615-", "bytes=18446744073709551616-", "bytes=0-18446744073709551615",
    "bytes=-18446744073709551615", "bytes=\t0-1\t", "bytes=0-1;x", "bytes=0x10-20",
    "bytes=+1-2", "bytes=00000000000000000000001-2", "",
]
for i, r in enumerate(ranges):
    sel, size = [(0, 10000), (1, 3000), (2, 0), (3, 0), (4, 0)][i % 5]
    out("http_range", "r%02d_%s" % (i, r), struct.pack("<BQ", sel, size) + b(r))

# ---- http_conditional: [u64 last_modified][u8 flags] inm \0 ims \0 etag \0 if-range \0 date ----
ETAG = '"5d41402abc4b2a76b9719d911017c592"'
LM = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
dates = [
    "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
    "Sun Nov 06 08:49:37 1994", "Thu, 01 Jan 1970 00:00:00 GMT", "Wed, 31 Dec 1969 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT", "Mon, 29 Feb 2021 00:00:00 GMT",
    "Thu, 29 Feb 2024 12:00:00 GMT", "Tue, 30 Jun 2015 23:59:60 GMT", "Fri, 19 Jan 2038 03:14:08 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT", "Fri, 31 Dec 9999 23:59:60 GMT", "sun, 06 nov 1994 08:49:37 gmt", "Sun, 06 Nov 1994 08:49:37 UTC",
    "Wednesday, 01-Jan-70 00:00:00 GMT", "Thursday, 31-Dec-69 23:59:59 GMT",
    " Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z", "",
]
inms = [
    ETAG, "W/" + ETAG, "*", " * ", '"a", "b", W/"c"', '"a",,' + ETAG, " " + ETAG + " ", "abc",
    '"a" "b"', '"a", *', '"', '""', 'W/""', '"a,b", ' + ETAG, "W/", ETAG[:-1], ",,,", "",
]
ifrs = [ETAG, "W/" + ETAG, dates[0], " " + dates[0], dates[1], "garbage", '"other"', ""]
for i, d in enumerate(dates):
    inm = inms[i % len(inms)]
    ifr = ifrs[i % len(ifrs)]
    flags = [0, 1, 2, 8, 1 | 8, 0x10 | 1, 0x20 | 1, 0x30 | 1, 4, 8][i % 10]
    out("http_conditional", "c%02d_%s" % (i, d or "empty"),
        struct.pack("<QB", LM, flags) + z(inm, dates[(i + 1) % len(dates)], ETAG, ifr, d))
for i, inm in enumerate(inms):
    out("http_conditional", "inm%02d_%s" % (i, inm or "empty"),
        struct.pack("<QB", LM, 8) + z(inm, "", ETAG, ETAG, ""))

# ---- accept_encoding: [u8 available][Accept-Encoding] ----
aes = [
    "gzip, deflate, br, zstd",          # Chrome, Edge
    "gzip, deflate, br",                # Firefox, Safari
    "gzip, deflate",                    # curl --compressed (older), many bots
    "br;q=1.0, gzip;q=0.8, *;q=0.1", "identity", "*", "*;q=0", "identity;q=0", "identity;q=0, *;q=0",
    "gzip;q=0", "br;q=0, gzip", "x-gzip", "br;q=0.5", "gzip;q=1.001", "gzip;q=1.000", "gzip;Q=0.5",
    "compress, gzip", "", " , ,", "deflate", "gzip;q=0.000", "br ; q=0.9 , gzip ; q = 0.8",
    "gzip;q=", "gzip;q=.5", "gzip;level=9;q=0.2", "GZIP, BR", "br;q=0.001, identity;q=0.001",
    "*;q=0.5, br;q=0", "gzip;q=0.5;q=1", "zstd",
]
for i, a in enumerate(aes):
    for avail in (2 | 4, [0, 2, 4][i % 3]):
        out("accept_encoding", "ae%02d_m%d_%s" % (i, avail, a or "empty"), bytes([avail]) + b(a))

# ---- config: [u8 mode][YAML] ----
conf = read("conf/tomed.yaml")
out("config", "tomed.yaml", b"\0" + conf)
out("config", "tomed.yaml_serve", b"\1" + conf)
yamls = {
    "minimal": "root: ./docs\nlisten: \":8080\"\nbase: /tomeclicker/\n",
    "rules": 'cache:\n  rules:\n    - match: "/downloads/**"\n      cache_control: "public, max-age=86400"\n'
             '    - match: "/robots.txt"\n      cache_control: "public, max-age=3600"\n',
    "sizes": "limits:\n  memory_file_max: 512K\n  connection_timeout: 500ms\n  max_url_length: 8192\n"
             "compression:\n  min_size: 1KiB\n  memory_max: 0\n  brotli_quality: 5\n  gzip_level: 1\n",
    "bools": "server:\n  turbo: off\nreload:\n  watch: yes\n  keep_previous: 1h\nadmin:\n  listen: \"[::1]:9090\"\n  on_public_listener: false\n",
    "nulls": "health_path:\nmetrics_path: ~\nheaders:\n  x_frame_options: null\n  content_security_policy: \"\"\nlimits:\n",
    "unicode": "headers:\n  permissions_policy: \"caf\u00e9 \\u2028 \\U0001F600\"\nroot: \"/srv/d\u00f6cs\"\n",
    "dup_key": "root: a\nroot: b\n",
    "unknown_key": "lisen: \":80\"\n",
    "unknown_section_key": "limits:\n  max_conections: 5\n",
    "tab_indent": "limits:\n\tmax_connections: 5\n",
    "bad_number": "limits:\n  max_connections: many\n",
    "quoted_number": "limits:\n  max_connections: \"5\"\n",
    "overflow": "limits:\n  memory_file_max: 99999999999999999999999G\n",
    "section_not_mapping": "limits: []\n",
    "document_not_mapping": "- a\n- b\n",
    "two_documents": "root: a\n---\nroot: b\n",
    "anchors": "root: &r ./docs\nbase: *r\ncache:\n  rules:\n    - &x {match: \"/a\", cache_control: \"no-store\"}\n    - *x\n",
    "alias_key": "&k root: x\n*k : y\n",
    "flow": "{root: ./docs, listen: \"127.0.0.1:0\", cache: {rules: [{match: /x, cache_control: no-cache}]}}\n",
    "bad_listen": "listen: \"::1:80\"\n",
    "bad_base": "base: \"/a/../b\"\n",
    "control_in_value": "root: \"a\\nb\"\n",
    "nul_in_value": "root: \"a\\0b\"\n",
    "invalid_utf8": b"root: \"\xff\xfe\"\n",
    "bom": "\ufeffroot: ./docs\n",
    "unterminated": "root: \"abc\n",
    "rule_missing": "cache:\n  rules:\n    - match: /x\n",
    "rule_extra": "cache:\n  rules:\n    - {match: /x, cache_control: a, other: 1}\n",
    "tags": "root: !!str 5\nlimits:\n  max_connections: !!int 5\n",
    "empty": "",
    "comment_only": "# nothing\n",
    "log_access": "log:\n  access: common\n",
    "spa": "spa_fallback: 200.html\nnot_found_page: \"\"\n",
    "value_too_long": "headers:\n  permissions_policy: \"" + "a" * 8200 + "\"\n",
}
for name, y in yamls.items():
    out("config", name, b"\0" + b(y))

# ---- config_set: [u8 mode][u8 hostcap] key \0 value ... ----
sets = [
    ("listen", "127.0.0.1:4173"), ("listen", "[::]:8080"), ("listen", ":8080"), ("listen", "[::1]:65535"),
    ("listen", "localhost:0"), ("listen", "::1:80"), ("listen", "[::1]80"), ("listen", "host:65536"),
    ("listen", "[]:80"), ("listen", "a_b:80"), ("base", "/tomeclicker/"), ("base", "/a//b"),
    ("base", "/a/./b"), ("base", "x"), ("health_path", ""), ("health_path", "/healthz/"),
    ("spa_fallback", "../x.html"), ("not_found_page", "/404.html"), ("log.access", "json"),
    ("log.access", "common"), ("limits.max-connections", "10"), ("limits.max_url_length", "63"),
    ("limits.connection_timeout", "1ms"), ("limits.memory_file_max", "1GiB"),
    ("server.turbo", "On"), ("server.threads", "257"), ("cache.rules", "x"), ("lisen", ":80"),
    ("TOMED_LISTEN", ":80"), ("admin.listen", ""), ("admin.listen", "[fe80::1]:9000"),
    ("headers.content_security_policy", "default-src 'none'"), ("root", ""),
]
for i, (k, v) in enumerate(sets):
    out("config_set", "s%02d_%s_%s" % (i, k, v), bytes([i & 1, 255 if i % 3 else 16]) + z(k, v))
out("config_set", "several", bytes([1, 255]) + z("base", "/x", "listen", "[::1]:1", "spa_fallback", "200.html"))

# ---- sveltekit_detect: [u8 cap][HTML] ----
for rel in ("examples/site/docs/index.html", "examples/site/docs/about.html",
            "examples/site/docs/docs/guide.html", "examples/site/docs/settings.html"):
    out("sveltekit_detect", os.path.basename(rel), b"\0" + read(rel))
snips = {
    "base_literal": '<script>__sveltekit_abc = { base: "/tomeclicker", assets: "/tomeclicker" };</script>',
    "assets_only": '<script>__sveltekit_x = {base: new URL(".", location).pathname.slice(0, -1), assets: "/a/b/"};</script>',
    "root_build": '<script>__sveltekit_x = { base: "", assets: "" };</script>',
    "slash_only": '<script>__sveltekit_x = { base: "/" };</script>',
    "dotdot": '<script>__sveltekit_x = { base: "/a/../b" };</script>',
    "dot_segment": '<script>__sveltekit_x = { assets: "/./b" };</script>',
    "double_slash": '<script>__sveltekit_x = { base: "//evil.example" };</script>',
    "unterminated": '<script>__sveltekit_x = { base: "/abc',
    "no_brace": "__sveltekit_x base: \"/abc\"",
    "quote_escape": '<script>__sveltekit_x = { base: "/a\\"b" };</script>',
    "brace_in_string": '<script>__sveltekit_x = { base: "/a}b" };</script>',
    "percent": '<script>__sveltekit_x = { base: "/a%2e%2e" };</script>',
    "utf8": '<script>__sveltekit_x = { base: "/caf\u00e9" };</script>',
    "small_cap": '<script>__sveltekit_x = { base: "/tomeclicker" };</script>',
}
for name, h in snips.items():
    out("sveltekit_detect", name, bytes([8 if name == "small_cap" else 0]) + b(h))

# ---- glob: glob \0 path ----
globs = [
    ("/_app/immutable/**", "/_app/immutable/chunks/x.js"), ("/*.html", "/about.html"),
    ("/*.html", "/docs/guide.html"), ("/docs/*", "/docs/a/b"), ("/**/*.js", "/a/b/c.js"),
    ("/**/*.js", "/c.js"), ("/a?c", "/abc"), ("/a?c", "/a/c"), ("/***", "/x/y"),
    ("/downloads/**", "/downloads/"), ("/downloads/**", "/downloads"), ("/robots.txt", "/robots.txt"),
    ("*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("**a**a**a**a**b", "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a"), ("", ""), ("*", ""), ("/*/", "//"),
    ("/**/index.html", "/index.html"), ("/a/**/b/*.css", "/a/x/y/b/s.css"),
]
for i, (g, p) in enumerate(globs):
    out("glob", "g%02d_%s" % (i, g), z(g, p))

# ---- log: [u8 fmt][u8 nulls][u16 cap][u32 status][u64 bytes][u64 us][u64 sec][u32 nsec] 8 strings ----
def logseed(fmt, nulls, cap, status, nbytes, us, sec, nsec, fields):
    return struct.pack("<BBHIQQQI", fmt, nulls, cap, status, nbytes, us, sec, nsec) + z(*fields)

T = 1764041651  # 2025-11-25T03:34:11Z
normal = ["10.0.0.7", "GET", "/tomeclicker/about", None, "HTTP/1.1", "br",
          "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "https://example.org/"]
def fields_and_mask(fs):
    mask = sum(1 << i for i, f in enumerate(fs) if f is None)
    return mask, [f or "" for f in fs]
m, fs = fields_and_mask(normal)
out("log", "clf_normal", logseed(0, m, 4096, 200, 2326, 451, T, 123456789, fs))
out("log", "json_normal", logseed(1, m, 4096, 200, 2326, 451, T, 123456789, fs))
hostile = ["::1", "GET", "/a\"b\\c\r\n127.0.0.1 - - [forged]", "q=\x00x", "HTTP/1.1", None,
           "\x1b[31mred\x1b[0m \xc2\x85 \xe2\x80\xa8 \xff\xfe \xed\xa0\x80 \xf0\x9f\x98\x80",
           "\"},{\"injected\":true"]
m, fs = fields_and_mask(hostile)
out("log", "clf_hostile", logseed(0, m, 4096, 404, 0, 9, T, 0, fs))
out("log", "json_hostile", logseed(1, m, 4096, 404, 0, 9, T, 0, fs))
m, fs = fields_and_mask([None] * 8)
out("log", "json_all_null", logseed(1, m, 300, 500, 0, 0, 0, 0, fs))
out("log", "clf_all_null", logseed(0, m, 128, 500, 0, 0, 0, 0, fs))
longua = ["10.0.0.1", "GET", "/" + "a" * 900, "x=" + "y" * 900, "HTTP/1.1", "gzip", "U" * 3000, "R" * 2000]
m, fs = fields_and_mask(longua)
out("log", "json_long_fields_cut", logseed(1, m, 512, 200, 2**64 - 1, 2**64 - 1, 253402300799, 999999999, fs))
out("log", "clf_long_fields_cut", logseed(0, m, 200, 999, 2**64 - 1, 1, 253402300799, 999999999, fs))
out("log", "json_tiny_cap", logseed(1, 0, 16, 200, 1, 1, T, 0, ["a"] * 8))
out("log", "off", logseed(2, 0, 4096, 200, 1, 1, T, 0, ["a"] * 8))

# ---- route: [u8 sel][u8 present][u16 loccap] method path query inm ims range if-range ae ----
# sel: setup = sel % 3 (0: base "/", 1: "/tomeclicker" + SPA, 2: "/a/b", admin off public,
# max_url_length 64); method = ("GET","HEAD","POST","get","OPTIONS", input)[(sel//3) % 6];
# 0x80 = admin listener (0x80 itself: setup 2, GET). present: 1 query 2 inm 4 ims 8 range 16 if-range 32 ae 64 loccap 4096.
def route(sel, present, path, query="", inm="", ims="", rng="", ifr="", ae="", method=""):
    return struct.pack("<BBH", sel, present, 0) + z(method, path, query, inm, ims, rng, ifr, ae)

routes = {
    "get_root_br": route(0, 64 | 32, "/", ae="gzip, deflate, br, zstd"),
    "get_about": route(0, 64, "/about"),
    "head_blog": route(3, 64 | 1, "/blog", query="x=1"),
    "about_slash": route(0, 64, "/about/"),
    "base_exact": route(1, 64 | 1, "/tomeclicker", query="a=1&b"),
    "base_page": route(1, 64, "/tomeclicker/about"),
    "spa_route": route(1, 64, "/tomeclicker/some/client/route"),
    "immutable_br": route(1, 64 | 32, "/tomeclicker/_app/immutable/x.js", ae="br;q=1.0, gzip;q=0.8"),
    "immutable_miss": route(0, 64, "/_app/immutable/missing.js"),
    "range": route(0, 64 | 8, "/_app/immutable/x.js", rng="bytes=0-99"),
    "range_if_range": route(0, 64 | 8 | 16, "/index.html", rng="bytes=-5", ifr='"nope"'),
    "range_416": route(0, 64 | 8, "/about.html", rng="bytes=99999-"),
    "inm_star": route(0, 64 | 2, "/about", inm="*"),
    "ims": route(0, 64 | 4, "/about", ims="Fri, 31 Dec 9999 23:59:59 GMT"),
    "post": route(6, 64, "/"),
    "dotdot": route(0, 64, "/../etc/passwd"),
    "encoded_dotdot": route(0, 64, "/%2e%2e/%2e%2e/etc/passwd"),
    "double_encoded": route(0, 64, "/%252e%252e/etc/passwd"),
    "backslash": route(0, 64, "/..%5cescape.txt"),
    "escape_symlink": route(0, 64, "/escape.txt"),
    "inside_symlink": route(0, 64, "/inside"),
    "absolute_form": route(0, 64, "http://example.com/about"),
    "absolute_form_bare": route(0, 64, "HTTPS://example.com"),
    "dot_env": route(0, 64, "/.env"),
    "git": route(0, 64, "/.git/config"),
    "well_known": route(0, 64, "/.well-known/security.txt"),
    "hidden_deep": route(0, 64, "/a/.hidden/f.txt"),
    "utf8": route(0, 64, "/caf%C3%A9"),
    "percent_file": route(0, 64, "/per%25cent.txt"),
    "space_file": route(0, 64, "/sp%20ace.txt"),
    "question_file": route(0, 64, "/q%3Fx.txt"),
    "x_html_dir": route(0, 64 | 1, "/x.html", query="q"),
    "healthz": route(0, 64, "/healthz"),
    "admin_metrics": route(0x80, 64, "/metrics"),
    "admin_page": route(0x80, 64, "/a/b/about"),
    "setup2_page": route(2, 64, "/a/b/about"),
    "setup2_base": route(2, 64 | 1, "/a/b", query="z"),
    "setup2_long": route(2, 64, "/a/b/" + "x" * 70),
    "small_loccap": struct.pack("<BBH", 0, 1, 8) + z("", "/blog", "q=1", "", "", "", "", ""),
    "method_custom": route(15, 64, "/", method="PROPFIND"),
    "version_json": route(0, 64 | 32, "/_app/version.json", ae="gzip"),
    "download_gz": route(0, 64 | 32, "/download.gz", ae="gzip"),
}
for name, data in routes.items():
    out("route", name, data)

# ---- rewrite: [u8 kind][u8 from | to << 4] from \0 to \0 content ----
# kind: 0 none 1 html 2 js 3 css 4 json 5 xml 6 robots; from: 0 "/tomeclicker" 1 "/a" 2 "/x/y"
# 3 "/base-path" 4 "/_app", >= 5 the input string; to: 0 "" 1 "/preview" 2 "/~Q~" (marker)
# 3 "/a/b" 4 "/tomeclicker" 5 "/x", >= 6 the input string.
def rw(kind, fi, ti, content, frm="", to=""):
    return bytes([kind, fi | ti << 4]) + z(frm, to) + b"\0" + b(content)

site = "examples/site/docs/"
files = [(1, "index.html"), (1, "about.html"), (1, "docs/guide.html"), (4, "manifest.webmanifest"),
         (6, "robots.txt"), (2, "_app/immutable/chunks/yX51dH24.js"), (2, "_app/immutable/entry/start.D_WmpNkC.js"),
         (3, "_app/immutable/assets/0.Cljn5r8F.css"), (4, "_app/version.json")]
for kind, rel in files:
    data = read(site + rel)
    if len(data) > 16384:
        continue  # keep the corpus small; the big chunks add nothing the small ones lack
    for ti in (0, 2):
        out("rewrite", "%s_to%d" % (rel.replace("/", "_"), ti), rw(kind, 0, ti, data))
rw_snips = [
    (1, '<a href="/tomeclicker/about">x</a><a href=/tomeclicker>y</a><a href="/tomeclicker-x/">z</a>'),
    (1, '<img srcset="/tomeclicker/a.png 1x, /tomeclicker/b.png 2x" style="background:url(/tomeclicker/c.png)">'),
    (1, '<meta http-equiv="refresh" content="0;url=/tomeclicker/"><button onclick="go(\'/tomeclicker/x\')">'),
    (1, '<title>/tomeclicker/ is the base</title><textarea>/tomeclicker/</textarea><!-- "/tomeclicker/" -->'),
    (1, '<script>const a = "/tomeclicker"; location.href = "/tomeclicker"; x.replace(`/tomeclicker?q#f`)</script>'),
    (1, '<script type="application/json">{"u":"/tomeclicker/x"}</script><style>@import "/tomeclicker/s.css";</style>'),
    (1, '<a href="https://example.com/tomeclicker/">h</a><a href="//cdn/tomeclicker/">c</a><a href=" /tomeclicker/">s</a>'),
    (2, 'const s="/tomeclicker/", t=\'/tomeclicker\', u=`/tomeclicker?x`, v="a\\"/tomeclicker/\\"", w=base ?? "/tomeclicker"; // "/tomeclicker/c"'),
    (3, 'a{background:url(/tomeclicker/a.png)}b{background:url( "/tomeclicker/b.png" )}@import \'/tomeclicker/c.css\';'),
    (4, '{"start_url":"/tomeclicker/","scope":"/tomeclicker","x":"\\/tomeclicker\\/"}'),
    (5, '<?xml-stylesheet href="/tomeclicker/s.xsl"?><svg><use href="/tomeclicker/i.svg#a"/><![CDATA[/tomeclicker/]]></svg>'),
    (6, 'User-agent: *\nDisallow: /tomeclicker/private\nallow:/tomeclicker$\nSitemap: /tomeclicker/sitemap.xml\n# /tomeclicker/\n'),
    (0, '"/tomeclicker/"'),
]
for i, (kind, c) in enumerate(rw_snips):
    for ti in (0, 2):
        out("rewrite", "snip%02d_k%d_to%d" % (i, kind, ti), rw(kind, 0, ti, c))
out("rewrite", "input_bases", rw(1, 15, 15, '<a href="/x/y/z">', "/x/y", "/p:q@r"))
out("rewrite", "invalid_from", rw(1, 15, 15, '<a href="/x/">', "/x/", ""))
out("rewrite", "invalid_to", rw(1, 15, 15, '<a href="/x/">', "/x", "//evil"))

# ---- csp: [u8 mode] template \0 html ----  mode bit0: wrap the html part in <script> and <style>
DEFAULT_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
for rel in ("index.html", "about.html", "docs/guide.html", "settings.html"):
    out("csp", rel.replace("/", "_"), b"\0" + b(DEFAULT_CSP) + b"\0" + read(site + rel))
csp_html = {
    "types": '<script>a()</script><script type="module">b()</script><script type="application/json">{}</script>'
             '<script type="importmap">{}</script><script type="text/template">t</script><script src="/x.js"></script>',
    "comment_escape": '<script><!-- <script> </script> still script --></script><script>x</script>',
    "unterminated_script": "<script>never run",
    "unterminated_style": "<style>applied",
    "style_attr_handlers": '<div style="color:red" onclick="f()"><a href="javascript:void(0)">x</a></div><style></style>',
    "rawtext": "<title><script>no</script></title><textarea><style>no</style></textarea><noscript><script>x</script></noscript>",
    "case_and_ws": "<SCRIPT>A</SCRIPT ><sCrIpT\ttype=\"TEXT/JAVASCRIPT\">B</script/><script>B</script>",
    "quoted_gt": '<script data-x="a>b">c</script><style media=">">d</style>',
    "crlf_nul": "<script>a\r\nb\rc\0d</script>",
    "sveltekit": "<div style=\"display: contents\"><script>__sveltekit_x = {base: \"\"};</script></div>",
    "comments": "<!-- <script>no</script> --><!--><script>yes</script><!---><script>also</script>",
    "bogus": "<!doctype html><?pi <script>x</script>?></script><script>z</script>",
}
templates = ["", DEFAULT_CSP, "default-src 'none'", "script-src 'unsafe-inline' 'self'; script-src 'none'",
             "style-src-attr 'none'; STYLE-SRC 'self'", "script-src-elem 'unsafe-inline'; style-src-elem x",
             "img-src *;;; ; default-src a b\tc", "script-src 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='"]
for i, (name, h) in enumerate(csp_html.items()):
    out("csp", name, b"\0" + b(templates[i % len(templates)]) + b"\0" + b(h))
out("csp", "wrap_plain", b"\1" + b(DEFAULT_CSP) + b"\0" + b"console.log('hi')")
out("csp", "wrap_crlf_nul", b"\1\0" + b"a\r\nb\rc\0d\r")
out("csp", "wrap_empty", b"\1\0")

# ---- netaddr: [u8 which][16 bytes peer] trusted \0 header values... ----
def v4(a):
    return bytes(10) + b"\xff\xff" + bytes(int(x) for x in a.split("."))
netaddr_seeds = {
    "xff_chain": (1, v4("10.0.0.2"), ["10.0.0.0/8, fd00::/8", "1.1.1.1, 198.51.100.7", "10.0.0.9"]),
    "xff_all_trusted": (1, v4("10.0.0.2"), ["10.0.0.0/8", "10.9.9.9, 10.0.0.9"]),
    "xff_v6": (1, v4("127.0.0.1"), ["127.0.0.1", "[2001:db8::2]:4711, 2001:db8::1"]),
    "xff_garbage": (1, v4("127.0.0.1"), ["127.0.0.1/32", "198.51.100.7, <script>", " , "]),
    "fwd_v6": (0, v4("10.0.0.2"), ["10.0.0.0/8", 'for="[2001:db8:cafe::17]:4711";proto=https']),
    "fwd_elements": (2, v4("10.0.0.2"), ["10.0.0.0/8", 'for=1.1.1.1, proto=http;for=198.51.100.7;by=10.0.0.2, for="10.0.0.5:_p"']),
    "fwd_unknown": (0, v4("10.0.0.2"), ["10.0.0.0/8", "for=unknown, for=_hidden", 'for="a,b";x="\\"']),
    "v6_peer": (1, bytes(15) + b"\x01", ["::1/128, ::ffff:0:0/96", "203.0.113.7"]),
    "bad_list": (1, v4("10.0.0.2"), ["10.42.0.1/16, fd00::/129, pods, 10.0.0.0/", "1.2.3.4"]),
}
for name, (which, peer, strs) in netaddr_seeds.items():
    out("netaddr", name, bytes([which]) + peer + z(*strs))

# ---- html_diff: [u8 mode] from \0 to \0 html ----  mode bit0: also walk as XML
for rel in ("index.html", "about.html", "docs/guide.html", "200.html"):
    if os.path.exists(os.path.join(REPO, site + rel)):
        out("html_diff", "site_" + rel.replace("/", "_"), z("\0/tomeclicker", "", "") + read(site + rel))
out("html_diff", "tricky_page", z("\0/tomeclicker", "/p", "") + read("tests/integration/html_walk/index.html"))
html_diff = {
    "noscript": '<noscript><script>x="/b/y"</script><img src="/b/i"></noscript><script>z="/b"</script>',
    "svg": '<svg><title><script>a="/b/"</script></title><textarea><script>b</script></textarea>'
           '<script/><script>c="/b"</script><![CDATA[ > <script>d</script> ]]><p><title>e</title>',
    "math": '<math><mi><script>a</script></mi><annotation-xml encoding="text/html"><script>b</script>'
            '</annotation-xml><script>c</script></math>',
    "svg_opaque": '<svg><script>a&amp;b</script><script>a<!--x-->b</script><style>c&#33;</style></svg>',
    "types": '<script type=importmap>{"imports":{"a":"/b/x"}}</script><script type="application/ld+json">'
             '{"u":"/b"}</script><script type=module/>m</script><script src=x>"/b/"</script>',
    "escapes": '<script><!--<script>"/b/"</script>"/b/"--></script><script>"/b/</script >',
    "template": '<template><script>"/b/t"</script></template><div title="<script>">',
}
for i, (name, h) in enumerate(html_diff.items()):
    out("html_diff", name, z(chr(i % 2), "/b", "/c/d" if i % 3 else "") + b(h))
# ---- siterules: [u8 cap/4] _redirects \0 _headers \0 paths... ----
red = ("# moved\n/old /new\n/temp /elsewhere 302\n/blog/* /news/:splat 301!\n"
       "/posts/:year/:slug /archive/:year-:slug.html 307\n/u/:id https://example.com/u/:id?x=:id\n"
       "/c/* /:splat\n/q /t?from=rule 308\n")
hdr = ("# headers\n/embed\n  X-Frame-Options: SAMEORIGIN\n  ! Permissions-Policy\n"
       "/*\n  X-Robots-Tag: noindex\n\tLink: </a.css>; rel=preload\n/docs/\n  Cache-Control: no-store\n")
bad_red = "/lonely\n/a /b 200\n/store id=:id /blog/:id\n/a*b /c\n/x-:id /c\nhttps://h/* /c\n/a //evil 301\n/a\x01 /b\n"
bad_hdr = "  X-Early: 1\n/a\n  no colon\n  Bad Name: 1\n  Content-Length: 5\n  X-Empty:\n/b c\n  X-Skip: 1\n"
paths = ["/old", "/old/", "/blog/a/b", "/blog", "/posts/2024/hi", "/u/42", "/c/evil.com", "/q",
         "/embed.html", "/docs/index.html", "/a b/%\u00e9", "/"]
out("siterules", "good", bytes([64]) + z(red, hdr, *paths))
out("siterules", "bad_lines", bytes([64]) + z(bad_red, bad_hdr, *paths))
out("siterules", "small_cap", bytes([2]) + z(red, hdr, *paths))
out("siterules", "crlf", bytes([64]) + z(red.replace("\n", "\r\n"), hdr.replace("\n", "\r\n"), *paths))

# ---- reqhead: [u8 flags] target \n field \n field ... ----  flags bit0: HTTP/1.0, bit1: no target
# '~' before a field: the parser saw it folded. The issue-11 shapes, and valid heads.
reqhead_seeds = {
    "valid": (0, "/tomeclicker/about", ["Host: example.com", "Accept: */*", "Connection: close"]),
    "valid_port": (0, "/", ["Host: example.com:8080"]),
    "valid_ipv6": (0, "/", ["Host: [::1]:8080"]),
    "valid_ipvfuture": (0, "/", ["Host: [v1.fe80::a+en1]"]),
    "valid_absolute": (0, "http://[::1]:8080/a?b=c", ["Host: [::1]:8080"]),
    "valid_cl0": (0, "/", ["host: a", "content-length: 0"]),
    "valid_chunked": (0, "/", ["Host: a", "Transfer-Encoding: chunked;x=1"]),
    "valid_http10": (1, "/", ["Accept: */*"]),
    "two_host": (0, "/", ["Host: a", "Host: b"]),
    "host_space": (0, "/", ["Host: a b"]),
    "host_pct": (0, "/", ["Host: a%41b:80", "X: 1"]),
    "host_userinfo": (0, "/", ["Host: u@a"]),
    "ws_before_colon": (0, "/", ["Host: a", "X-Bad : 1"]),
    "two_cl": (0, "/", ["Host: a", "Content-Length: 5", "Content-Length: 6"]),
    "cl_list": (0, "/", ["Host: a", "Content-Length: 5, 6"]),
    "cl_negative": (0, "/", ["Host: a", "Content-Length: -1"]),
    "te_gzip": (0, "/", ["Host: a", "Transfer-Encoding: gzip"]),
    "te_gzip_chunked": (0, "/", ["Host: a", "Transfer-Encoding: gzip, chunked"]),
    "te_chunked_gzip": (0, "/", ["Host: a", "Transfer-Encoding: chunked, gzip"]),
    "te_chunked_twice": (0, "/", ["Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"]),
    "te_and_cl": (0, "/", ["Host: a", "Transfer-Encoding: chunked", "Content-Length: 5"]),
    "te_http10": (1, "/", ["Transfer-Encoding: chunked"]),
    "te_empty_elements": (0, "/", ["Host: a", "Transfer-Encoding: , chunked ,"]),
    "obs_fold": (0, "/", ["Host: a", "~X-Ab: a"]),
    "no_host": (0, "/", ["Accept: */*"]),
    "space_target": (0, "/a b", ["Host: a"]),
    "ctl_value": (0, "/", ["Host: a", "X: a\rb"]),
    "no_target": (2, "", ["Host: a"]),
    "block_stray_after_host": (4 | (1 << 3), "/", ["Host: a", "X-A: b", "X-C: c"]),
    "block_stray_at_end": (4 | (2 << 3), "/", ["Host: a", "X-A: b"]),
}
for name, (flags, target, fields) in reqhead_seeds.items():
    out("reqhead", name, bytes([flags]) + b(target) + b"\n" + b"\n".join(b(f) for f in fields))

# ---- diag: [u16 cap][u8 flags] bytes ----  flags bit0: escape backslashes (untrusted text)
diag_seeds = {
    "plain": (4096, 1, "/docs/index.html"),
    "newline_forge": (4096, 1, "/x\ntomed: [crit] forged"),
    "controls": (4096, 0, "\r\t\x1b[2J\x7f\x00end"),
    "utf8_ok": (4096, 1, "/caf\u00e9/\u65e5\U0001F600"),
    "utf8_bad": (4096, 1, b"\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe6\x97"),
    "unicode_controls": (4096, 1, "a\u0085b\u009bc\u2028d\u202ee\u2066f"),
    "backslashes": (4096, 1, "a\\x0ab\\\\"),
    "tight_cap": (6, 0, "ab\ncd"),
    "long": (64, 1, "\n" * 300),
}
for name, (cap, flags, text) in diag_seeds.items():
    out("diag", name, struct.pack("<HB", cap, flags) + b(text))

print("seeds written under", os.path.join(ROOT, "corpus"))
