"""Command line: subcommands, help, exit codes, the start-up line, bind failures."""
import re
import signal
import socket

import pytest

from conftest import (BASE, SITE_DIR, VERSION, html, libmhd_version, make_tree, run_tomed,
                      site_file)


def bytes_in_line(line, total):
    """The start-up line gives the bytes loaded, exactly ("(612345 bytes)") or
    rounded to one decimal in binary units ("(251.8 KiB)")."""
    m = re.search(r"\((\d+(?:\.\d+)?) ?(bytes|B|KiB|MiB|GiB)\)", line)
    if not m:
        return False
    unit = {"bytes": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]
    if unit == 1:
        return int(m.group(1)) == total
    return abs(float(m.group(1)) - total / unit) <= 0.05 + 1e-9


def test_version_prints_version():
    cp = run_tomed("version")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[0].startswith(f"tomed {VERSION}"), cp.stdout


@pytest.mark.parametrize("args", [["--help"], ["help"]])
def test_help_documents_subcommands_and_exit_codes(args):
    cp = run_tomed(*args)
    assert cp.returncode == 0, cp.stderr
    text = cp.stdout
    for word in ("serve", "run", "check", "version", "--config", "--listen", "--base"):
        assert word in text, f"help does not mention {word!r}:\n{text}"
    assert re.search(r"exit", text, re.I), text
    for code in ("0", "1", "2"):
        assert re.search(rf"(^|\s){code}\b", text), f"exit code {code} not documented:\n{text}"


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["serve", str(SITE_DIR), "--no-such-flag", "x"],
    ["serve", str(SITE_DIR), "--listen"],          # flag without its value
    ["check", "--root", str(SITE_DIR), "--bogus=1"],
])
def test_usage_errors_exit_2(args):
    cp = run_tomed(*args)
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    assert cp.stderr.strip(), "a usage error must say what is wrong on stderr"
    assert "serving" not in cp.stderr


def test_missing_site_directory_exits_2(tmp_path):
    missing = tmp_path / "no-such-docs"
    cp = run_tomed("serve", missing, "--listen", "127.0.0.1:0")
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "no-such-docs" in cp.stderr, cp.stderr


def test_site_directory_that_is_a_file_exits_2(tmp_path):
    f = tmp_path / "docs"
    f.write_text("not a directory")
    cp = run_tomed("serve", f, "--listen", "127.0.0.1:0")
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert str(f) in cp.stderr or "docs" in cp.stderr, cp.stderr


def test_startup_line_reports_version_counts_and_url(tomed, tmp_path):
    root = make_tree(tmp_path / "site", {
        "index.html": html("Home"),            # 3 files, sizes known
        "about.html": html("About"),
        "_app/immutable/chunks/a.js": "export const a = 1;\n",
    })
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    srv = tomed.serve(root, "--base", BASE)
    line = srv.startup_line
    assert f"tomed {VERSION}" in line, line
    # the libmicrohttpd running, as `tomed version` names it
    assert f"(libmicrohttpd {'.'.join(map(str, libmhd_version()))})" in line, line
    m = re.search(r"(\d+) files?\b", line)
    assert m and int(m.group(1)) == 3, line
    assert bytes_in_line(line, total), (line, total)
    assert re.search(rf"at http://127\.0\.0\.1:{srv.port}{BASE}/(\s|$)", line), line
    assert srv.port != 0
    # The URL printed is the one to open: it serves the index page.
    r = srv.get(srv.url.split(str(srv.port), 1)[1])
    assert r.status == 200 and r.body == (root / "index.html").read_bytes()


def test_startup_line_for_fixture_site_counts_every_file(tomed):
    from conftest import site_files
    files = site_files()
    total = sum((SITE_DIR / f).stat().st_size for f in files)
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    assert re.search(rf"\b{len(files)} files\b", srv.startup_line), (srv.startup_line, len(files))
    assert bytes_in_line(srv.startup_line, total), (srv.startup_line, total)


def test_serve_defaults_to_docs_in_current_directory(tomed, tmp_path):
    work = tmp_path / "project"
    make_tree(work / "docs", {"index.html": html("Default docs")})
    srv = tomed.serve(None, cwd=work)
    assert srv.base_path == "/", srv.url
    r = srv.get("/")
    assert r.status == 200 and b"Default docs" in r.body


def test_serve_without_docs_directory_exits_2(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    cp = run_tomed("serve", "--listen", "127.0.0.1:0", cwd=empty)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "docs" in cp.stderr, cp.stderr


def test_serve_defaults_to_port_4173(tomed, tmp_path):
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", 4173))
    except OSError:
        pytest.skip("127.0.0.1:4173 is in use on this machine")
    finally:
        probe.close()
    make_tree(tmp_path / "docs", {"index.html": html("x")})
    srv = tomed.serve(tmp_path / "docs", listen=None)
    assert srv.url == "http://127.0.0.1:4173/", srv.url


def test_listen_port_in_use_exits_1_with_clear_message(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        cp = run_tomed("serve", SITE_DIR, "--listen", f"127.0.0.1:{port}", "--base", BASE)
    finally:
        blocker.close()
    assert cp.returncode == 1, (cp.returncode, cp.stderr)
    assert str(port) in cp.stderr, cp.stderr
    assert "serving" not in cp.stderr, cp.stderr


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999"])
def test_bad_listen_address_exits_2(listen):
    cp = run_tomed("serve", SITE_DIR, "--listen", listen)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "--listen" in cp.stderr or "listen" in cp.stderr, cp.stderr


def test_flag_equals_form(tomed):
    srv = tomed.serve(SITE_DIR, f"--base={BASE}", "--health-path=/ping")
    assert srv.base_path == BASE + "/"
    assert srv.get("/ping").status == 200
    assert srv.get(BASE + "/about").body == site_file("about.html")


def test_run_subcommand_with_config_serves(tomed, tmp_path):
    cfg = tomed.config(f'root: "{SITE_DIR}"\nlisten: "127.0.0.1:0"\nbase: "{BASE}"\n')
    srv = tomed.start(["run", "--config", cfg])
    assert srv.base_path == BASE + "/"
    assert srv.get(BASE + "/").body == site_file("index.html")


def test_bare_config_flag_is_container_mode(tomed, tmp_path):
    cfg = tomed.config(f'root: "{SITE_DIR}"\nlisten: "127.0.0.1:0"\nbase: "{BASE}"\n')
    srv = tomed.start(["--config", cfg])
    assert srv.get(BASE + "/about").status == 200


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0(tomed, sig):
    srv = tomed.serve(SITE_DIR, "--base", BASE)
    assert srv.get(BASE + "/").status == 200
    assert srv.stop(sig, timeout=10) == 0, srv.stderr
