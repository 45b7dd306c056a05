#!/usr/bin/env python3
"""
memory.py - tomed's memory against the size of the site (issue 13).

For generated sites of N files of 1-4 KB (half HTML pages with an inline
script, half JS chunks), starts `tomed serve` with its defaults and records,
from /proc/PID/status, VmRSS and RssAnon (anonymous memory: what the kernel
cannot reclaim without swap; page-cache mappings are in VmRSS but not here):

  ready        right after the first 200 (and the time from exec to it)
  compressing  the highest value sampled every 50 ms while the background
               compressor runs (until "[info] compressed" or --compress-wait)
  reload       after one file is changed and SIGHUP's reload has finished
               (and the compressor of the new generation)

Writes the table into docs/benchmarks.md between the memory.py markers
(replacing an earlier one; appended when missing) and prints it. Run by
`make bench` after bench.py (which rewrites the rest of that file); not part
of `make test`: nothing here is asserted.

  python3 bench/memory.py --tomed build/tomed [--sizes 1000,10000,50000]
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import proc_status_kb as status_kb  # noqa: E402  (bench.py's own reader)

BEGIN = "<!-- memory.py: begin -->"
END = "<!-- memory.py: end -->"


def make_site(root, n, seed=13):
    rng = random.Random(seed)
    os.makedirs(os.path.join(root, "_app", "chunks"), exist_ok=True)
    words = ["tome", "clicker", "mana", "gold", "quest", "scroll", "dragon", "level", "spell"]
    total = 0
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>bench</title><p>index</p>")
    for i in range(n - 1):
        size = rng.randint(1024, 4096)
        if i % 2 == 0:
            script = f"<script>window.__n={i};console.log('{rng.choice(words)}')</script>"
            body = " ".join(rng.choice(words) for _ in range(size // 6))
            text = f"<!doctype html><html><head><title>p{i}</title>{script}</head><body><p>{body}</p></body></html>"
            path = os.path.join(root, f"p{i}.html")
        else:
            body = ";".join(f"const {rng.choice(words)}{j}={rng.randint(0, 99999)}"
                            for j in range(size // 24))
            text = f"export function f{i}(){{{body}}}\n"
            path = os.path.join(root, "_app", "chunks", f"c{i}.js")
        with open(path, "w") as f:
            f.write(text)
        total += len(text)
    return total


class Tomed:
    def __init__(self, binary, root, extra):
        self.lines = []
        self.port = None
        self.ready = threading.Event()
        self.compressed = threading.Event()
        self.reloaded = threading.Event()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([binary, "serve", root, "--listen", "127.0.0.1:0",
                                      "--log.access", "off"] + extra,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r": serving \d+ files .* at http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                self.ready.set()
            if "[info] compressed" in line:
                self.compressed.set()
            if "reloaded:" in line or "reload (" in line:
                self.reloaded.set()
        self.ready.set()

    def wait_ready(self, timeout=120):
        if not self.ready.wait(timeout) or not self.port:
            raise SystemExit("tomed did not start:\n" + "\n".join(self.lines[-20:]))
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5):
                    return (time.monotonic() - self.t0) * 1000
            except urllib.error.HTTPError:
                return (time.monotonic() - self.t0) * 1000  # answering, if not with a 200
            except OSError:
                time.sleep(0.001)

    def sample(self):
        pid = self.proc.pid
        return status_kb(pid, "VmRSS"), status_kb(pid, "RssAnon")

    def peak_while(self, event, timeout):
        peak = self.sample()
        end = time.monotonic() + timeout
        while not event.is_set() and time.monotonic() < end:
            s = self.sample()
            peak = (max(peak[0], s[0]), max(peak[1], s[1]))
            time.sleep(0.05)
        s = self.sample()
        return (max(peak[0], s[0]), max(peak[1], s[1])), event.is_set()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def mib(kb):
    return f"{kb / 1024:.1f}"


def measure(binary, n, compress_wait, extra):
    root = tempfile.mkdtemp(prefix=f"tomed-mem-{n}-")
    try:
        size = make_site(root, n)
        t = Tomed(binary, root, extra)
        ready_ms = t.wait_ready()
        at_ready = t.sample()
        comp, done = t.peak_while(t.compressed, compress_wait)
        # one file changed, then a reload and its compressor
        with open(os.path.join(root, "p0.html"), "a") as f:
            f.write("<!-- changed -->")
        t.compressed.clear()
        t.proc.send_signal(signal.SIGHUP)
        t.reloaded.wait(120)
        reload_peak, _ = t.peak_while(t.compressed, compress_wait)
        after = t.sample()
        t.stop()
        return dict(n=n, size=size, ready_ms=ready_ms, ready=at_ready, comp=comp, done=done,
                    reload_peak=reload_peak, reload=after)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def table(rows, label):
    out = [f"Memory against site size ({label}): `tomed serve` defaults, N files of 1-4 KB "
           "(half HTML with an inline script, half JS), `/proc/PID/status` in MiB. "
           "RssAnon is what the kernel cannot reclaim; VmRSS adds mapped page cache.",
           "",
           "| files | on disk | ready ms | ready VmRSS / RssAnon | compressing (peak) VmRSS / RssAnon "
           "| after a one-file reload VmRSS / RssAnon |",
           "|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        note = "" if r["done"] else " (not finished)"
        out.append(f"| {r['n']:,} | {r['size'] / 1e6:.1f} MB | {r['ready_ms']:.0f} "
                   f"| {mib(r['ready'][0])} / {mib(r['ready'][1])} "
                   f"| {mib(r['comp'][0])} / {mib(r['comp'][1])}{note} "
                   f"| {mib(r['reload'][0])} / {mib(r['reload'][1])} |")
    return "\n".join(out)


def write_doc(path, text):
    block = f"{BEGIN}\n## Memory against site size (bench/memory.py)\n\n{text}\n{END}\n"
    doc = open(path).read() if os.path.exists(path) else ""
    if BEGIN in doc and END in doc:
        a = doc.index(BEGIN)
        b = doc.index(END) + len(END) + 1
        doc = doc[:a] + block + doc[b:]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tomed", default="build/tomed")
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--compress-wait", type=float, default=60)
    ap.add_argument("--label", default="this build")
    ap.add_argument("--out", default="docs/benchmarks.md")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("extra", nargs="*", help="more tomed flags")
    a = ap.parse_args()
    rows = []
    for n in (int(x) for x in a.sizes.split(",")):
        r = measure(os.path.abspath(a.tomed), n, a.compress_wait, a.extra)
        print(f"{n}: {r}", file=sys.stderr, flush=True)
        rows.append(r)
    text = table(rows, a.label)
    print(text)
    if not a.no_write:
        write_doc(a.out, text)


if __name__ == "__main__":
    main()
