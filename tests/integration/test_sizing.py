"""`tomed check` estimates the memory a tomed serving the site holds (the
"# memory:" line): a fixed cost per file and per compressed variant, the
responses of the files asked for, the baseline; the files' bytes and their
variants are page cache in storage.dir's packs (reclaimable) and reported
beside it. deploy/README.md sizes the Kubernetes requests and limits from it
(test_deploy.py checks the manifests against it). Here the estimate is held
against the VmRSS, less the packs' mapped pages, of a real `tomed serve` of
the same site: the example site and a generated one of 1,000 small files,
with compression off (once loaded) and on (once the background compressor
has finished). Memory is not measured under a sanitizer.
"""
import random
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import SITE_DIR, TomedServer, run_tomed, tomed_bin

MEMORY_RE = re.compile(r"^# memory: about ([\d.]+) MiB resident when serving: "
                       r"([\d.]+) MiB once loaded \((\d+) files.*\+ ([\d.]+) MiB "
                       r"for about (\d+) generated variants", re.M)
RESPONSES_RE = re.compile(r"\+ ([\d.]+) MiB of responses once every file is asked for")
MIB = 1024 * 1024
TOLERANCE = 0.15
COMPRESSED_RE = re.compile(r"compressed \d+ of \d+ compressible files .* into (\d+) variants")


def asan():
    return b"__asan_init" in Path(tomed_bin()).read_bytes()


def estimate(site, *args):
    cp = run_tomed("check", site, *args)
    assert cp.returncode == 0, cp.stderr
    m = MEMORY_RE.search(cp.stdout)
    assert m, f"no memory line in tomed check's output:\n{cp.stdout[-600:]}"
    r = RESPONSES_RE.search(cp.stdout)
    assert r, cp.stdout[-600:]
    return {"total": float(m.group(1)) * MIB, "loaded": float(m.group(2)) * MIB,
            "files": int(m.group(3)), "variants": int(m.group(5)),
            "responses": float(r.group(1)) * MIB}


def own_rss(pid, storage):
    """VmRSS less the pages of storage.dir's packs mapped in: tomed's own."""
    packs = 0
    in_pack = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:   # a mapping's first line
            in_pack = len(head) >= 6 and head[5].startswith(str(storage) + "/")
        elif in_pack and line.startswith("Rss:"):
            packs += int(head[1]) * 1024
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024 - packs, packs


def generated_site(root, n, seed=1):
    """The example site plus n files of 1-4 KB, half HTML, half JS, of text
    that compresses about as well as real code (as bench.py's scale sites)."""
    site = root / "site"
    shutil.copytree(SITE_DIR, site)
    rng = random.Random(seed)
    words = ["const", "let", "function", "return", "if", "else", "for", "await", "export", "import",
             "=>", "{", "}", "(", ")", ";", "this", "state", "count", "tome", "click", "value"]
    words += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 9)))
              for _ in range(400)]
    for i in range(n):
        size = rng.randrange(1024, 4096)
        text = []
        while sum(map(len, text)) < size:
            text.append(rng.choice(words))
        body = " ".join(text)[:size]
        d = site / ("pages" if i % 2 else "_app/immutable/gen") / f"d{i // 500:03d}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"p{i}.html" if i % 2 else f"c{i}.{i:08x}.js"
        (d / name).write_text(f"<!doctype html><title>{i}</title><main>{body}</main>\n" if i % 2
                              else f"/*{i}*/{body}\n")
    return site


def serve_and_measure(site, *args, wait_compressor=False):
    storage = Path(str(site) + "-storage")
    srv = TomedServer(["serve", str(site), "--listen", "127.0.0.1:0", "--log.access", "off",
                       "--storage.dir", str(storage), *args])
    srv.start()
    try:
        srv.wait_ready()
        if wait_compressor:
            deadline = time.monotonic() + 120
            while not COMPRESSED_RE.search(srv.stderr):
                assert time.monotonic() < deadline, f"the compressor did not finish:\n{srv.stderr}"
                time.sleep(0.1)
            time.sleep(0.3)  # malloc_trim right after the log line
        rss, _ = own_rss(srv.proc.pid, storage)
        made = COMPRESSED_RE.search(srv.stderr)
        return rss, int(made.group(1)) if made else 0
    finally:
        assert srv.stop() == 0


@pytest.fixture(scope="module")
def site_1k(tmp_path_factory):
    return generated_site(tmp_path_factory.mktemp("sizing"), 1000)


@pytest.mark.parametrize("which", ["example", "1k"])
def test_estimate_once_loaded_matches_rss(which, site_1k):
    if asan():
        pytest.skip("memory is not measured under AddressSanitizer")
    site = SITE_DIR if which == "example" else site_1k
    est = estimate(site, "--compression.memory_max", "0")
    # nothing is asked for here: the responses are the rest of the total
    assert est["variants"] == 0 and abs(est["total"] - est["responses"] - est["loaded"]) < 0.15 * MIB
    rss, _ = serve_and_measure(site, "--compression.memory_max", "0")
    assert abs(est["loaded"] - rss) <= TOLERANCE * rss, \
        f"estimate {est['loaded'] / 2**20:.1f} MiB, VmRSS {rss / 2**20:.1f} MiB"


def test_estimate_with_compression_matches_rss(site_1k):
    """Every file gets br and gzip variants: the estimate counts them, and the
    memory they take besides their bytes."""
    if asan():
        pytest.skip("memory is not measured under AddressSanitizer")
    args = ("--compression.brotli_quality", "5")  # quicker; the variants' count is the same
    est = estimate(site_1k, *args)
    assert est["files"] == 1000 + len([p for p in SITE_DIR.rglob("*") if p.is_file()])
    rss, made = serve_and_measure(site_1k, *args, wait_compressor=True)
    assert abs(est["variants"] - made) <= 0.05 * made, (est["variants"], made)
    # nothing was asked for: no responses built yet
    assert abs(est["total"] - est["responses"] - rss) <= TOLERANCE * rss, \
        f"estimate {(est['total'] - est['responses']) / 2**20:.1f} MiB, VmRSS {rss / 2**20:.1f} MiB"
    # and the variants' bytes are not tomed's own memory: well under 1 KiB each
    loaded, _ = serve_and_measure(site_1k, "--compression.memory_max", "0")
    assert rss - loaded < made * 1024, (rss, loaded, made)


def test_estimate_respects_the_compression_budget(site_1k):
    small = estimate(site_1k, "--compression.memory_max", "256KiB")
    full = estimate(site_1k)
    assert 0 < small["variants"] < full["variants"]
    assert small["loaded"] == full["loaded"] and small["total"] < full["total"]
