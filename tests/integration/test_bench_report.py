"""
bench/bench.py's report plumbing, without timing anything (speed is never
asserted): the libmicrohttpd version it records comes from the binary under
test, the size sweep's sizes parse and name as the report prints them, the
size-sweep table shows each tomed against nginx, and rewriting
docs/benchmarks.md keeps the block bench/memory.py maintains there.
"""
import importlib.util
import re

import pytest

from conftest import REPO_ROOT, libmhd_version, tomed_bin


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", REPO_ROOT / "bench" / "bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_records_the_library_the_binary_runs_with(bench):
    # the same binary on Debian 12 and in the trixie root gives 0.9.75 and 1.0.1
    assert bench.libmhd_version(tomed_bin()) == "libmicrohttpd " + ".".join(map(str, libmhd_version()))
    assert "libmicrohttpd" in bench.tomed_version(tomed_bin())


def test_sweep_sizes_parse_and_print(bench):
    sizes = [bench.parse_size(x) for x in "4K,16K,64K,256K,1M,4M,20M".split(",")]
    assert sizes == [4096, 16384, 65536, 262144, 1 << 20, 4 << 20, 20 << 20]
    assert [bench.fmt_size(n) for n in sizes] == ["4 KB", "16 KB", "64 KB", "256 KB", "1 MB",
                                                  "4 MB", "20 MB"]
    assert bench.sweep_key(20 << 20) == "sweep-20mb"
    assert bench.parse_size("300") == 300 and bench.fmt_size(300) == "300 B"
    with pytest.raises(bench.BenchError):
        bench.parse_size("4G")


def _run(rps, cpu):
    return {"rps": rps, "mbps": 1.0, "p50_ms": 1.0, "p99_ms": 2.0, "cpu_us": cpu, "errors": 0,
            "requests": 100, "server_core_busy": 1.0, "server_core_other": 0.05, "spread": 0.0,
            "all_rps": [rps]}


def test_sweep_table_and_targets_cover_both_tomeds(bench):
    tomeds = [("tomed", "libmicrohttpd 0.9.75"), ("alt", "libmicrohttpd 1.0.1")]
    results = [
        {"key": "html", "title": "small HTML", "conns": 64, "sweep": None,
         "tomed": _run(120, 8), "alt": _run(90, 9), "nginx": _run(100, 10)},
        {"key": "sweep-20mb", "title": "20 MB identity body", "conns": 64, "sweep": 20 << 20,
         "tomed": _run(30, 4000), "alt": _run(36, 1800), "nginx": _run(35, 2000)},
    ]
    targets = bench.evaluate(results, {}, {"tomed_median": 10.0}, tomeds)
    text = {t["text"]: t["met"] for t in targets}
    assert text["tomed with libmicrohttpd 0.9.75: CPU per request ≤ 1.1× nginx's at every sweep size"] is False
    assert text["tomed with libmicrohttpd 1.0.1: CPU per request ≤ 1.1× nginx's at every sweep size"] is True
    assert text["tomed with libmicrohttpd 1.0.1: ≥ 1.0× nginx requests/s in every case"] is False

    class Args:
        tomed_label, tomed_alt_label = "`build/tomed`", "`build/trixie/tomed`"
        tomed_threads, server_cpu, client_cpu, warmup, rounds, duration = 1, 0, 1, 1, 3, 3
        assets, quick, compress_wait = 60, False, 20
    info = {"cpu": "x", "cores": 2, "mem": "1 GiB", "kernel": "k", "nginx": "nginx/1.22.1",
            "tomed": "tomed 0.1.0 (libmicrohttpd 0.9.75)", "alt": "tomed 0.1.0 (libmicrohttpd 1.0.1)",
            "wrk": "wrk", "date": "d", "loadavg": ["0", "0", "0"]}
    site = {"files": 1, "disk": 1}
    md = bench.render(info, Args, site, results, {}, {"tomed": [10.0], "tomed_median": 10.0}, [],
                      targets, [], 60.0, tomeds)
    assert "(libmicrohttpd 1.0.1)" in md and "(libmicrohttpd 0.9.75)" in md
    sweep = md[md.index("## Size sweep"):md.index("## Memory")]
    row = next(line for line in sweep.splitlines() if line.startswith("| 20 MB |"))
    # nginx, then per tomed: req/s, req/s ratio, CPU, CPU ratio
    assert re.search(r"\| 30 \| \*\*0\.86×\*\* \| 4000\.0 \| \*\*2\.00×\*\* \|", row), row
    assert re.search(r"\| 36 \| \*\*1\.03×\*\* \| 1800\.0 \| \*\*0\.90×\*\* \|", row), row
    requests = md[md.index("## Requests"):md.index("## Size sweep")]
    assert "20 MB" not in requests  # the sweep has its own table
    assert requests.count("| small HTML | 64 |") == 2


def test_report_keeps_the_memory_block(bench, tmp_path):
    out = tmp_path / "benchmarks.md"
    block = "<!-- memory.py: begin -->\n## Memory against site size\n\n| a |\n<!-- memory.py: end -->"
    out.write_text("# old report\n\n" + block + "\n")
    bench.write_report(str(out), "# new report\n")
    text = out.read_text()
    assert text.startswith("# new report\n") and "# old report" not in text
    assert block in text
    bench.write_report(str(tmp_path / "fresh.md"), "# only\n")
    assert (tmp_path / "fresh.md").read_text() == "# only\n"
