#!/usr/bin/python3
"""valgrind memcheck of tomed under a short mixed load (issue 7).

Runs build/tomed under
  valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
           --errors-for-leak-kinds=definite,possible --track-fds=no
           --suppressions=tests/soak/valgrind.supp
serving a copy of the fixture site, sends a few hundred requests with curl
(every page and asset with identity, gzip, br and "br, gzip"; HEAD; byte
ranges incl. multi-range and unsatisfiable ones; If-None-Match and
If-Modified-Since 304s; 404s; bad escapes and dot-dot 400s; /metrics), reloads
the site with SIGHUP after changing a file, sends the load again, then stops it
with SIGTERM. Fails unless valgrind exits 0 (no memory errors, no definite or
possible leaks outside the suppressions) and every response had its expected status.

Usage: memcheck.py [--bin build/tomed] [--suppressions tests/soak/valgrind.supp]
                   [--log build/soak/memcheck.log]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SITE = REPO / "examples" / "site" / "docs"
BASE = "/tomeclicker"
URL_RE = re.compile(r"at (http://[^\s/]+)(/\S*)")


def site_paths(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or fn.endswith((".br", ".gz")):
                continue
            rel = Path(dirpath, fn).relative_to(root).as_posix()
            if rel.endswith(".html"):
                rel = "" if rel == "index.html" else rel[:-5]
            out.append(f"{BASE}/{rel}")
    return out


def curl(origin, paths, *opts, method=None):
    """One curl process, several URLs on one keep-alive connection; returns statuses."""
    argv = ["curl", "-s", "--max-time", "60", "-w", "%{http_code}\\n"]
    if method == "HEAD":
        argv.append("-I")
    argv += list(opts)
    for p in paths:
        argv += ["-o", "/dev/null", "--path-as-is", origin + p]
    cp = subprocess.run(argv, capture_output=True, timeout=300)
    return [int(x) for x in cp.stdout.decode().split()]


def load(origin, paths, etag_of):
    """Returns a list of (what, expected statuses, got)."""
    checks = []

    def expect(what, allowed, got):
        checks.append((what, allowed, got))

    for enc in (None, "gzip", "br", "br, gzip", "identity;q=1, *;q=0"):
        opts = ["-H", f"Accept-Encoding: {enc}"] if enc else []
        for st in curl(origin, paths, *opts):
            expect(f"GET {enc}", {200}, st)
    for st in curl(origin, paths, method="HEAD"):
        expect("HEAD", {200}, st)
    for rng, allowed in (("0-99", {206}), ("10-20,30-40", {206, 200}), ("-50", {206}),
                         ("99999999-", {416}), ("5-1", {200, 416})):
        for st in curl(origin, [BASE + "/robots.txt", BASE + "/images/hero.png",
                                BASE + "/about"], "-r", rng):
            expect(f"range {rng}", allowed, st)
    for p, etag in etag_of.items():
        for st in curl(origin, [p], "-H", f"If-None-Match: {etag}"):
            expect("If-None-Match", {304}, st)
        for st in curl(origin, [p], "-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"):
            expect("If-Modified-Since", {304, 200}, st)
    for st in curl(origin, [BASE + "/no-such-page", BASE + "/_app/immutable/nope.js",
                            "/elsewhere", BASE + "/.env"]):
        expect("404", {404}, st)
    for st in curl(origin, [BASE + "/%zz", BASE + "/../../etc/passwd", BASE + "/a%00b"]):
        expect("400", {400}, st)
    for st in curl(origin, ["/metrics", "/healthz", "/readyz"]):
        expect("admin", {200, 404}, st)
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(REPO / "build" / "tomed"))
    ap.add_argument("--suppressions", default=str(HERE / "valgrind.supp"))
    ap.add_argument("--log", default=str(REPO / "build" / "soak" / "memcheck.log"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tomed-memcheck-"))
    root = tmp / "docs"
    shutil.copytree(SITE, root)
    log = Path(args.log).resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    supp = Path(args.suppressions).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMED_")}
    if os.geteuid() == 0:
        env["TOMED_SERVER_ALLOW_ROOT"] = "true"
    argv = ["valgrind", "--tool=memcheck", "--error-exitcode=1", "--leak-check=full",
            "--errors-for-leak-kinds=definite,possible", "--show-leak-kinds=definite,possible",
            "-v", "--num-callers=30", f"--suppressions={supp}", f"--log-file={log}",
            args.bin, "serve", str(root), "--listen", "127.0.0.1:0", "--base", BASE,
            "--reload.watch", "false", "--log.access", "clf",
            # brotli quality 11 under valgrind takes minutes; the code path is the same
            "--compression.brotli-quality", "5"]
    t_start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=tmp)
    lines = []
    ready = threading.Event()
    origin = [None]

    def pump():
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            m = URL_RE.search(line)
            if m and not ready.is_set():
                origin[0] = m.group(1)
                ready.set()

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    if not ready.wait(120):
        proc.kill()
        sys.exit("memcheck: tomed did not start under valgrind:\n" + "\n".join(lines))
    origin = origin[0]
    # wait for the background compressor's first pass (its [info] line)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("compressed" in ln for ln in lines):
        time.sleep(0.5)

    paths = site_paths(root)
    etag_of = {}
    for p in (BASE + "/about", BASE + "/robots.txt", BASE + "/_app/version.json"):
        cp = subprocess.run(["curl", "-s", "-D-", "-o", "/dev/null", origin + p],
                            capture_output=True, timeout=60)
        m = re.search(r"^etag: (.+?)\r?$", cp.stdout.decode(), re.M | re.I)
        if m:
            etag_of[p] = m.group(1)

    checks = load(origin, paths, etag_of)
    about = root / "about.html"
    about.write_text(about.read_text().replace("</body>", "<!-- memcheck reload --></body>"))
    (root / "added.txt").write_text("added before the reload\n")
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("reloaded: generation 2" in ln for ln in lines):
        time.sleep(0.2)
    reloaded = any("reloaded: generation 2" in ln for ln in lines)
    etag_of = {}      # the old ETags are stale now
    checks += load(origin, paths + [BASE + "/added.txt"], etag_of)

    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(180)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "hung"
    pumper.join(5)
    shutil.rmtree(tmp, ignore_errors=True)

    text = log.read_text()
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    leaks = {k: re.search(rf"{k}: ([\d,]+) bytes in ([\d,]+) blocks", text)
             for k in ("definitely lost", "indirectly lost", "possibly lost", "still reachable")}
    bad = [(w, a, g) for w, a, g in checks if g not in a]
    print(f"memcheck: {len(checks)} requests in {time.monotonic() - t_start:.0f} s, "
          f"{len(bad)} unexpected statuses, reload {'ok' if reloaded else 'MISSING'}")
    print(f"memcheck: valgrind exit status {rc}; "
          + (summary.group(0) if summary else "no ERROR SUMMARY"))
    for k, m in leaks.items():
        print(f"memcheck: {k}: " + (f"{m.group(1)} bytes in {m.group(2)} blocks" if m else "0"))
    sup = re.findall(r"used_suppression:\s+(\d+)\s+(\S+)", text)
    if sup:
        print("memcheck: suppressions used: " + ", ".join(f"{n}x {name}" for n, name in sup))
    print(f"memcheck: full log in {log}")
    problems = [ln for ln in lines if "[crit]" in ln or "[alert]" in ln]
    failed = rc != 0 or bad or not reloaded or problems or not summary or summary.group(1) != "0"
    if bad:
        print("memcheck: unexpected statuses: " + repr(bad[:20]), file=sys.stderr)
    if problems:
        print("memcheck: " + "\n".join(problems), file=sys.stderr)
    if failed:
        print("memcheck: FAILED", file=sys.stderr)
        sys.exit(1)
    print("memcheck: clean")


if __name__ == "__main__":
    main()
