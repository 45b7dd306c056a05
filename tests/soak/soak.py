#!/usr/bin/python3
"""Soak test for tomed (issue 7): wrk holds CONNECTIONS connections for DURATION
seconds against a copy of the fixture site while the site is reloaded with
SIGHUP every RELOAD_EVERY seconds, alternating between two builds (the second
differs in a page and has an extra file); RSS and open file descriptors of the
server are sampled from /proc every second.

Fails (exit 1) on:
  - any non-2xx/3xx response (wrk's "Non-2xx or 3xx responses", summary.errors.status),
    or any socket error or timeout reported by wrk;
  - any 5xx counted by tomed itself (tomed_http_requests_total);
  - a reload that did not happen (fewer "reloaded: generation" lines than SIGHUPs);
  - RSS growth: final RSS > 1.5 x RSS at the end of the warm-up + 8 MiB;
  - fd growth: final open fds under load > fds at the end of the warm-up + 8, or
    idle fds after the load > idle fds before it + 8;
  - memory kept after the load: idle RSS 5 s after it > idle RSS before it + 4 MiB
    (tomed hands the connections' memory back once they have closed);
  - the server not exiting 0 on SIGTERM, or printing [crit]/[alert]/sanitizer lines.

Usage: soak.py [--bin build/tomed] [--duration 300] [--connections 256]
               [--reload-every 3] [--warmup 60] [--out build/soak/soak.json]
(`make soak` = 5 minutes, `make soak-ci` = 30 s with a 10 s warm-up.)
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SITE = REPO / "examples" / "site" / "docs"
BASE = "/tomeclicker"
URL_RE = re.compile(r"at (http://[^\s/]+)(/\S*)")
RELOADED = re.compile(r"reloaded: generation (\d+)")
BAD = ("[crit]", "[alert]", "AddressSanitizer", "runtime error:", "LeakSanitizer")
MIB = 1024 * 1024
IDLE_SETTLE_S = 5          # seconds after the load before the idle figures must hold
IDLE_RSS_SLACK = 4 * MIB   # idle RSS after the load may exceed the one before by this


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def make_builds(tmp):
    """Two builds of the fixture site: a (as committed) and b (one page changed,
    one file added). Returns (a, b, paths present in both)."""
    a, b = tmp / "build-a", tmp / "build-b"
    shutil.copytree(SITE, a)
    shutil.copytree(SITE, b)
    about = b / "about.html"
    about.write_text(about.read_text().replace("</body>", "<!-- build b --></body>"))
    (b / "extra-b.txt").write_text("only in build b\n")
    paths = []
    for dirpath, dirnames, filenames in os.walk(a):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or fn.endswith((".br", ".gz")):
                continue
            rel = Path(dirpath, fn).relative_to(a).as_posix()
            if rel.endswith(".html"):
                rel = rel[:-5]
                if rel == "index":
                    rel = ""
                elif rel.endswith("/index"):
                    rel = rel[:-5]
            paths.append(f"{BASE}/{rel}")
    return a, b, paths


def point(link, target):
    """Atomically repoint the symlink `link` at `target`."""
    tmp = link.with_name(link.name + ".new")
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def metrics(origin):
    with urllib.request.urlopen(origin + "/metrics", timeout=10) as r:
        return r.read().decode()


def count_5xx(text):
    n = 0
    for m in re.finditer(r'^tomed_http_requests_total\{[^}]*code="(5\d\d)"[^}]*\} (\d+)', text, re.M):
        n += int(m.group(2))
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(REPO / "build" / "tomed"))
    ap.add_argument("--duration", type=int, default=300)
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--reload-every", type=float, default=3.0)
    ap.add_argument("--warmup", type=int, default=60,
                    help="seconds after which the RSS/fd baseline is taken")
    ap.add_argument("--out", default=str(REPO / "build" / "soak" / "soak.json"))
    args = ap.parse_args()
    warmup = min(args.warmup, max(1, args.duration // 3))

    tmp = Path(tempfile.mkdtemp(prefix="tomed-soak-"))
    a, b, paths = make_builds(tmp)
    live = tmp / "live"
    os.symlink(a, live)
    paths_file = tmp / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMED_")}
    if os.geteuid() == 0:
        env["TOMED_SERVER_ALLOW_ROOT"] = "true"
    proc = subprocess.Popen([args.bin, "serve", str(live), "--listen", "127.0.0.1:0",
                             "--base", BASE, "--reload.watch", "false", "--log.access", "off"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=tmp)
    stderr_lines = []
    ready = threading.Event()
    origin = [None]

    def pump():
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            stderr_lines.append(line)
            m = URL_RE.search(line)
            if m and not ready.is_set():
                origin[0] = m.group(1)
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(15):
        proc.kill()
        sys.exit("soak: tomed did not start:\n" + "\n".join(stderr_lines))
    origin = origin[0]
    pid = proc.pid
    time.sleep(1.5)            # let the background compressor finish its first pass
    idle_fds_before = open_fds(pid)
    rss_before = rss_bytes(pid)

    wrk = subprocess.Popen(["wrk", "-t", str(args.threads), "-c", str(args.connections),
                            "-d", f"{args.duration}s", "--timeout", "5s", "-s", str(HERE / "soak.lua"),
                            origin + BASE + "/"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           env={**os.environ, "SOAK_PATHS": str(paths_file)})
    t0 = time.monotonic()
    samples = []
    sighups = 0
    next_reload = t0 + args.reload_every
    use_b = True
    while wrk.poll() is None:
        now = time.monotonic()
        if proc.poll() is not None:
            wrk.kill()
            break
        samples.append({"t": round(now - t0, 1), "rss": rss_bytes(pid), "fds": open_fds(pid)})
        if now >= next_reload and now - t0 < args.duration - 1:
            point(live, b if use_b else a)
            use_b = not use_b
            proc.send_signal(signal.SIGHUP)
            sighups += 1
            next_reload += args.reload_every
        time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
    wrk_out = wrk.communicate()[0].decode("utf-8", "replace")
    server_alive = proc.poll() is None

    # tomed trims its heap on a one-second tick once the connections are
    # gone: give it a few ticks before reading the idle figures
    rss_after_load = None
    deadline = time.monotonic() + IDLE_SETTLE_S
    while server_alive:
        time.sleep(0.5)
        rss_after_load = rss_bytes(pid)
        if rss_after_load <= rss_before + IDLE_RSS_SLACK or time.monotonic() >= deadline:
            break
    idle_fds_after = open_fds(pid) if server_alive else None
    m5 = count_5xx(metrics(origin)) if server_alive else None
    rc = None
    if server_alive:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "hung"
    time.sleep(0.2)
    shutil.rmtree(tmp, ignore_errors=True)

    m = re.search(r"^SOAK-JSON (\{.*\})$", wrk_out, re.M)
    w = json.loads(m.group(1)) if m else {}
    reloads = len(RELOADED.findall("\n".join(stderr_lines)))
    bad_lines = [ln for ln in stderr_lines if any(x in ln for x in BAD)]

    base_sample = next((s for s in samples if s["t"] >= warmup), samples[0] if samples else None)
    final = samples[-1] if samples else None
    result = {
        "duration_s": args.duration, "connections": args.connections,
        "reload_every_s": args.reload_every, "warmup_s": warmup,
        "requests": w.get("requests"), "requests_per_s": (round(w["requests"] / (w["duration_us"] / 1e6))
                                                          if w else None),
        "non_2xx_3xx": w.get("status"),
        "socket_errors": {k: w.get(k) for k in ("connect", "read", "write", "timeout")},
        "latency_p50_ms": w.get("p50_us", 0) / 1000, "latency_p99_ms": w.get("p99_us", 0) / 1000,
        "latency_max_ms": w.get("max_us", 0) / 1000,
        "server_5xx": m5, "sighups": sighups, "reloads": reloads,
        "rss_mib": {"idle_before": round(rss_before / MIB, 1),
                    "at_warmup": round(base_sample["rss"] / MIB, 1) if base_sample else None,
                    "peak": round(max(s["rss"] for s in samples) / MIB, 1) if samples else None,
                    "final_under_load": round(final["rss"] / MIB, 1) if final else None,
                    "idle_after": round(rss_after_load / MIB, 1) if rss_after_load else None},
        "fds": {"idle_before": idle_fds_before,
                "at_warmup": base_sample["fds"] if base_sample else None,
                "peak": max(s["fds"] for s in samples) if samples else None,
                "final_under_load": final["fds"] if final else None,
                "idle_after": idle_fds_after},
        "exit_status": rc, "bad_stderr_lines": bad_lines[:20],
    }

    failures = []
    if not w:
        failures.append("no SOAK-JSON line from wrk:\n" + wrk_out)
    else:
        if w["status"]:
            failures.append(f"{w['status']} non-2xx/3xx responses")
        errs = {k: w[k] for k in ("connect", "read", "write", "timeout") if w[k]}
        if errs:
            failures.append(f"wrk socket errors: {errs}")
    if not server_alive:
        failures.append(f"tomed died during the soak (status {proc.returncode})")
    if m5:
        failures.append(f"tomed counted {m5} 5xx responses")
    if reloads < sighups:
        failures.append(f"{sighups} SIGHUPs but only {reloads} reloads logged")
    if base_sample and final:
        rss_limit = 1.5 * base_sample["rss"] + 8 * MIB
        result["rss_limit_mib"] = round(rss_limit / MIB, 1)
        if final["rss"] > rss_limit:
            failures.append(f"RSS grew: {final['rss'] / MIB:.1f} MiB > {rss_limit / MIB:.1f} MiB")
        if final["fds"] > base_sample["fds"] + 8:
            failures.append(f"fds grew under load: {base_sample['fds']} -> {final['fds']}")
    if rss_after_load is not None and rss_after_load > rss_before + IDLE_RSS_SLACK:
        failures.append(f"idle RSS {IDLE_SETTLE_S} s after the load "
                        f"{rss_after_load / MIB:.1f} MiB > {rss_before / MIB:.1f} MiB before it "
                        f"+ {IDLE_RSS_SLACK / MIB:.0f} MiB")
    if idle_fds_after is not None and idle_fds_after > idle_fds_before + 8:
        failures.append(f"idle fds grew: {idle_fds_before} -> {idle_fds_after}")
    if rc != 0:
        failures.append(f"exit status after SIGTERM: {rc}")
    if bad_lines:
        failures.append("crit/alert/sanitizer lines:\n" + "\n".join(bad_lines[:20]))
    result["failures"] = failures

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"result": result, "samples": samples}, indent=1) + "\n")
    print(json.dumps(result, indent=2))
    print(f"soak: samples in {out}")
    if failures:
        print("soak: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("soak: passed")


if __name__ == "__main__":
    main()
