#!/usr/bin/python3
"""Size and memory of tomed per architecture, for docs/platforms.md.

    tests/arch/measure.py BINARY...      e.g. build/tomed build/aarch64-linux-gnu/tomed

For each binary: its size as built (-O2 -g) and stripped, the shared libraries
it needs (the image's /lib, from tests/container/mkrootfs.sh) and the gzip'd
size of that image layer; then it serves the example site (examples/site/docs)
as the container does (`tomed run`, base /tomeclicker), answers 100 requests
(every file, identity, gzip and br, plus pages, 404s and /metrics), waits for
the background compression to finish, and reads VmRSS and VmHWM from
/proc/PID/status.

A binary for another architecture runs under qemu-user (tests/arch/qemu-run).
Then /proc/PID/status is qemu's: the guest's memory plus qemu's own (its
translated-code cache, its heap, the host libraries it links). The guest's own
part is estimated from /proc/PID/smaps: qemu-user (7.2, guest_base 0 here) maps
the whole guest, its binary, libraries, heap, stacks and mmaps, below its own
executable, so the guest RSS is the Rss of the mappings below the lowest
mapping of /usr/bin/qemu-*. tomed's /metrics says process_resident_memory_bytes
0 under qemu: qemu's emulated /proc/self/stat has every memory field 0.
"""
import gzip
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import http.client
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "examples" / "site" / "docs"
BASE = "/tomeclicker"
MACHINES = {"AArch64": ("arm64", "aarch64-linux-gnu-"), "ARM": ("armhf", "arm-linux-gnueabihf-"),
            "Advanced Micro Devices X86-64": ("amd64", "")}


def machine(binary):
    out = subprocess.run(["readelf", "-h", binary], capture_output=True, text=True, check=True).stdout
    return re.search(r"Machine:\s+(.*)", out).group(1).strip()


def kib(n):
    return f"{n / 1024:,.0f} KiB"


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def sizes(binary, cross):
    with tempfile.TemporaryDirectory() as tmp:
        stripped = Path(tmp, "tomed")
        subprocess.run([cross + "strip", "-o", stripped, binary], check=True)
        root = Path(tmp, "rootfs")
        env = dict(os.environ, READELF=cross + "readelf", STRIP=cross + "strip",
                   SYSROOT=os.environ.get("QEMU_LD_PREFIX", "") if cross else "")
        subprocess.run([REPO / "tests/container/mkrootfs.sh", binary, REPO / "conf/tomed.yaml", root],
                       check=True, env=env)
        libs = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != "tomed"
                   and "/etc/" not in str(p))
        total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w") as tar:
                tar.add(root, arcname=".")
        return os.path.getsize(binary), stripped.stat().st_size, libs, total, len(buf.getvalue())


def guest_rss(pid):
    """Rss of a qemu-user process's mappings below qemu's own executable."""
    regions, cur = [], None
    for line in Path(f"/proc/{pid}/smaps").read_text().split("\n"):
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$", line)
        if m:
            cur = {"start": int(m.group(1), 16), "path": m.group(3), "rss": 0}
            regions.append(cur)
        elif line.startswith("Rss:") and cur is not None:
            cur["rss"] = int(line.split()[1]) * 1024
    qemu = min(r["start"] for r in regions if re.search(r"/qemu-[a-z0-9_]+$", r["path"]))
    guest = [r for r in regions if r["start"] < qemu]
    return sum(r["rss"] for r in guest), sum(r["rss"] for r in guest if not r["path"].startswith("/"))


def serve(binary, emulated):
    argv = [str(binary), "run", "--root", str(SITE), "--listen", "127.0.0.1:0", "--base", BASE,
            "--log.access", "off", "--server.drain-delay", "0",
            "--admin.public-metrics", "true"]  # it reads RSS from /metrics on this port
    if emulated:
        argv = [str(REPO / "tests/arch/qemu-run")] + argv
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMED_")}
    env["TOMED_SERVER_ALLOW_ROOT"] = "true"
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stderr.readline().decode()
        if not line:
            break
        m = re.search(r"at http://([^:/]+):(\d+)", line)
        if m:
            url = (m.group(1), int(m.group(2)))
            break
    if not url:
        proc.kill()
        raise SystemExit(f"{binary}: did not start")
    # Keep reading stderr; note when the background compression is done.
    proc.compressed = threading.Event()

    def pump():
        for raw in iter(proc.stderr.readline, b""):
            if re.search(r"\] compressed \d+ of \d+", raw.decode("utf-8", "replace")):
                proc.compressed.set()
    threading.Thread(target=pump, daemon=True).start()
    return proc, url


def requests(host, port):
    files = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*")
                   if p.is_file() and not p.name.endswith((".br", ".gz")))
    paths = [f"{BASE}/{f}" for f in files] + [f"{BASE}/", f"{BASE}/about", f"{BASE}/nope", "/metrics"]
    n = 0
    encodings = ["identity", "gzip", "br"]
    while n < 100:
        for p in paths:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", p, headers={"Accept-Encoding": encodings[n % 3]})
            conn.getresponse().read()
            conn.close()
            n += 1
            if n >= 100:
                break
    return n


def metrics_rss(host, port):
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    rss = re.search(r"^process_resident_memory_bytes\s+(\S+)", body, re.M)
    return float(rss.group(1)) if rss else None


def status(pid):
    text = Path(f"/proc/{pid}/status").read_text()
    get = lambda k: int(re.search(rf"^{k}:\s+(\d+) kB", text, re.M).group(1)) * 1024
    return (get("VmRSS"), get("VmHWM"), get("RssAnon"),
            int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1)))


def main(binaries):
    rows = []
    for b in binaries:
        arch, cross = MACHINES[machine(b)]
        emulated = arch != "amd64"
        size, stripped, libs, total, layer = sizes(b, cross)
        proc, (host, port) = serve(b, emulated)
        try:
            n = requests(host, port)
            if not proc.compressed.wait(300):
                raise SystemExit(f"{b}: background compression did not finish")
            time.sleep(1)
            metric_rss = metrics_rss(host, port)
            rss, hwm, anon, threads = status(proc.pid)
            grss, ganon = guest_rss(proc.pid) if emulated else (None, None)
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(20)
        rows.append((arch, size, stripped, libs, total, layer, n, rss, hwm, anon, threads, grss, ganon,
                     metric_rss, rc))
    print("| arch | binary (-O2 -g) | stripped | libraries + loader | image files | image layer (gzip) "
          "| requests | VmRSS | VmHWM | RssAnon | threads | guest RSS (est.) | guest anon (est.) "
          "| /metrics RSS | exit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (arch, size, stripped, libs, total, layer, n, rss, hwm, anon, threads, grss, ganon, mrss, rc) in rows:
        note = " (qemu)" if grss is not None else ""
        print(f"| {arch} | {kib(size)} | {kib(stripped)} | {mib(libs)} | {mib(total)} | {mib(layer)} | {n} "
              f"| {kib(rss)}{note} | {kib(hwm)}{note} | {kib(anon)}{note} | {threads} "
              f"| {kib(grss) if grss is not None else '-'} | {kib(ganon) if ganon is not None else '-'} "
              f"| {kib(mrss) if mrss else '0' if mrss == 0 else '-'} | {rc} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
