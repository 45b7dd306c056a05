"""
Harness for the integration tests: start the real `tomed` binary on an ephemeral
loopback port, talk to it over sockets, http.client and curl, and stop it again.

Every server a test starts is stopped with SIGTERM at teardown; the test fails if
the process did not exit 0, or if its stderr holds a sanitizer report
("AddressSanitizer", "runtime error:", "LeakSanitizer") or an "[alert]"/"[crit]"
line (the rule nginx's test suite applies).

The binary comes from $TOMED_BIN (set by `make integration`), else build/tomed.
The fixture site is the committed SvelteKit build examples/site/docs (base
/tomeclicker); $TOMED_TEST_SITE may point elsewhere while developing the tests.
TOMED_* variables are never passed on to the server (tomed treats an unknown
TOMED_ variable as a configuration error), except those a test sets itself.
"""
import email.utils
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE_DIR = Path(os.environ.get("TOMED_TEST_SITE") or REPO_ROOT / "examples" / "site" / "docs")
BASE = "/tomeclicker"
VERSION = "0.1.0"

URL_RE = re.compile(r"at (http://\S+)")
STARTUP_TIMEOUT = float(os.environ.get("TOMED_TEST_STARTUP_TIMEOUT", "10"))
BAD_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
BAD_LINE_MARKERS = ("[alert]", "[crit]")

# A fixed, clearly past modification time for generated trees (2021-03-04 05:06:07 UTC),
# so dates "later than Last-Modified" are still in the past.
FIXED_MTIME = 1614834367


# --------------------------------------------------------------------------- helpers

def tomed_bin():
    path = os.environ.get("TOMED_BIN") or str(REPO_ROOT / "build" / "tomed")
    if not os.access(path, os.X_OK):
        pytest.fail(f"tomed binary not found or not executable: {path} (run `make`)", pytrace=False)
    return path


def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOMED_")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if os.geteuid() == 0:
        # CI runs as root, and container mode refuses root without being told;
        # test_privilege.py covers that rule without this.
        env["TOMED_SERVER_ALLOW_ROOT"] = "true"
    if extra:
        env.update(extra)
    return env


def sanitizer_problems(text):
    """Lines of text that make a run fail regardless of its exit status."""
    bad = []
    for line in text.splitlines():
        if any(m in line for m in BAD_MARKERS) or any(m in line for m in BAD_LINE_MARKERS):
            bad.append(line)
    return bad


def run_tomed(*args, env=None, cwd=None, timeout=10):
    """Run a non-serving command (version, help, check, or one expected to fail
    before serving). Returns CompletedProcess with text stdout/stderr. A command
    still running after timeout is killed and the test fails (it was serving)."""
    argv = [tomed_bin(), *[str(a) for a in args]]
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            env=child_env(env), cwd=cwd, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{argv} did not exit within {timeout}s (stderr: {e.stderr!r})")
    out = subprocess.CompletedProcess(argv, cp.returncode,
                                      cp.stdout.decode("utf-8", "replace"),
                                      cp.stderr.decode("utf-8", "replace"))
    bad = sanitizer_problems(out.stderr)
    assert not bad, f"{argv}: sanitizer/alert output:\n" + "\n".join(bad)
    assert out.returncode >= 0, f"{argv} killed by signal {-out.returncode}:\n{out.stderr}"
    return out


_libmhd = None


def libmhd_version():
    """The libmicrohttpd version the tomed under test runs with, as a tuple of
    ints ((0, 9, 75) on Debian 12, (1, 0, 1) on Debian 13), read once from
    `tomed version`. Tests whose expected behaviour depends on the library
    branch on it and say which version gives which behaviour: a difference is
    asserted, never skipped."""
    global _libmhd
    if _libmhd is None:
        out = run_tomed("version").stdout
        m = re.search(r"\blibmicrohttpd (\d+)\.(\d+)\.(\d+)", out)
        assert m, f"`tomed version` names no libmicrohttpd version: {out!r}"
        _libmhd = tuple(int(x) for x in m.groups())
    return _libmhd


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def make_tree(root, files, mtime=FIXED_MTIME):
    """Create files under root from {relative path: str|bytes}; returns root."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        p.write_bytes(content)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
    return root


def html(title):
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head><body><h1>{title}</h1></body></html>\n")


def copy_site(dst, mtime=None):
    """Copy the fixture site to dst (writable), optionally setting every mtime."""
    shutil.copytree(SITE_DIR, dst)
    for dirpath, dirnames, filenames in os.walk(dst):
        os.chmod(dirpath, 0o755)
        for f in filenames:
            p = os.path.join(dirpath, f)
            os.chmod(p, 0o644)
            if mtime is not None:
                os.utime(p, (mtime, mtime))
    return Path(dst)


def site_files(root=None):
    """Relative POSIX paths of the regular, non-dot files of a site tree."""
    root = Path(root or SITE_DIR)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith("."):
                out.append(Path(dirpath, f).relative_to(root).as_posix())
    return out


def site_file(rel):
    return (SITE_DIR / rel).read_bytes()


def pick(pattern, root=None):
    """First site file (relative path) whose path matches the regex, sorted; fails if none."""
    for rel in site_files(root):
        if re.search(pattern, rel):
            return rel
    pytest.fail(f"fixture site has no file matching {pattern!r}")


class Headers:
    """Case-insensitive, order-preserving response headers."""

    def __init__(self, pairs):
        self.pairs = [(k, v) for k, v in pairs]

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.pairs:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.pairs if k.lower() == name]

    def names(self):
        return {k.lower() for k, _ in self.pairs}

    def __contains__(self, name):
        return name.lower() in self.names()

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __repr__(self):
        return "Headers(%r)" % self.pairs


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {self.headers!r} body={self.body[:120]!r}>"


def parse_raw_response(data):
    """Parse one HTTP/1.x response (status line, headers, body up to EOF or
    Content-Length) from bytes."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, f"incomplete response: {data[:300]!r}"
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    assert m, f"bad status line: {lines[0]!r}"
    pairs = []
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        pairs.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
    headers = Headers(pairs)
    cl = headers.get("content-length")
    if cl is not None and cl.isdigit() and len(body) > int(cl):
        body = body[: int(cl)]
    return Response(int(m.group(1)), m.group(2).decode("latin-1"), headers, body)


# --------------------------------------------------------------------------- server

class TomedServer:
    """One running `tomed` process."""

    def __init__(self, args, cwd=None, env=None, preexec_fn=None):
        self.argv = [tomed_bin(), *[str(a) for a in args]]
        self.cwd = cwd
        self.env = env
        self.preexec_fn = preexec_fn
        self.proc = None
        self.stderr_lines = []
        self.stdout_lines = []
        self.url = None
        self.startup_line = None
        self.returncode = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._threads = []

    # -- life cycle
    def _pump(self, stream, sink, look_for_url):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                sink.append(line)
            if look_for_url and not self._ready.is_set():
                m = URL_RE.search(line)
                if m:
                    self.url = m.group(1)
                    self.startup_line = line
                    self._ready.set()
        stream.close()

    def start(self, wait=True):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=self.cwd, env=child_env(self.env),
                                     preexec_fn=self.preexec_fn)
        for stream, sink, look in ((self.proc.stderr, self.stderr_lines, True),
                                   (self.proc.stdout, self.stdout_lines, False)):
            t = threading.Thread(target=self._pump, args=(stream, sink, look), daemon=True)
            t.start()
            self._threads.append(t)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.02):
            if self.proc.poll() is not None:
                self._join_pumps()
                self.returncode = self.proc.returncode
                pytest.fail(f"tomed exited with {self.proc.returncode} before serving: "
                            f"{self.argv}\nstderr:\n{self.stderr}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"no 'at http://...' start-up line within {timeout}s: {self.argv}\n"
                            f"stderr:\n{self.stderr}", pytrace=False)
        m = re.match(r"http://(\[[^\]]+\]|[^:/]+):(\d+)(/.*)?$", self.url)
        assert m, f"cannot parse URL {self.url!r}"
        self.host = m.group(1).strip("[]")
        self.port = int(m.group(2))
        self.base_path = m.group(3) or "/"
        return self

    def ready_or_exited(self, timeout=STARTUP_TIMEOUT):
        """True once the start-up line is seen, False if the process exited first."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.02):
            if self.proc.poll() is not None:
                self._join_pumps()
                self.returncode = self.proc.returncode
                return False
            if time.monotonic() > deadline:
                pytest.fail(f"neither served nor exited within {timeout}s: {self.argv}\n"
                            f"{self.stderr}", pytrace=False)
        self.wait_ready()
        return True

    def _join_pumps(self):
        for t in self._threads:
            t.join(timeout=5)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait for exit; returns the exit status, or None if still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_pumps()
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal the server and wait for it; kills it and fails if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            # Container mode keeps serving for server.drain_delay (5 s) after
            # SIGTERM; a second signal cuts that short, as an impatient
            # operator's would. Tests of the delay itself signal on their own.
            if self.wait(0.3) is None and self.proc.poll() is None:
                self.proc.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            self.wait(5)
            pytest.fail(f"tomed did not exit within {timeout}s of signal {sig!s}\n{self.stderr}",
                        pytrace=False)
        return rc

    @property
    def stderr(self):
        with self._lock:
            return "\n".join(self.stderr_lines)

    @property
    def stdout(self):
        with self._lock:
            return "\n".join(self.stdout_lines)

    def problems(self):
        return sanitizer_problems(self.stderr) + sanitizer_problems(self.stdout)

    # -- requests
    def connection(self, timeout=10):
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=10):
        """One request on a fresh connection (http.client); returns Response."""
        conn = self.connection(timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, Headers(r.getheaders()), data)
        finally:
            conn.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers)

    def head(self, path, headers=None):
        return self.request("HEAD", path, headers)

    def raw(self, data, timeout=10):
        """Send bytes as they are, read until the server closes; returns bytes."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    c = s.recv(65536)
                except ConnectionResetError:
                    break
                if not c:
                    break
                chunks.append(c)
        return b"".join(chunks)

    def raw_request(self, target, method="GET", headers=None, version="HTTP/1.1"):
        """A hand-written request with the target sent byte for byte (no
        normalisation, no validation); returns the parsed Response."""
        if isinstance(target, str):
            target = target.encode("latin-1")
        lines = [method.encode() + b" " + target + b" " + version.encode(),
                 f"Host: {self.host}:{self.port}".encode(), b"Connection: close"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}".encode("latin-1"))
        data = self.raw(b"\r\n".join(lines) + b"\r\n\r\n")
        assert data, f"no response to {method} {target!r}"
        resp = parse_raw_response(data)
        if method == "HEAD":
            assert resp.body == b"", f"HEAD answered with a body: {resp.body[:100]!r}"
        return resp

    def curl(self, path, *opts, timeout=20):
        """Run curl against path; returns (status, Headers, body) of the last response."""
        # With -I curl prints the headers itself; -D- would print them a second time.
        dump = [] if ("-I" in opts or "--head" in opts) else ["-D-"]
        cp = subprocess.run(["curl", "-sS", *dump, "--max-time", str(timeout), *opts,
                             f"http://{self.host}:{self.port}{path}"],
                            capture_output=True, timeout=timeout + 5)
        assert cp.returncode == 0, f"curl failed ({cp.returncode}): {cp.stderr.decode()}"
        data = cp.stdout
        # -D- writes headers (possibly of several responses, e.g. 100-continue) before the body.
        while True:
            head, _, rest = data.partition(b"\r\n\r\n")
            resp = parse_raw_response(head + b"\r\n\r\n")
            if resp.status == 100:
                data = rest
                continue
            return resp.status, resp.headers, rest

    def site_url(self, rel=""):
        return self.base_path.rstrip("/") + "/" + rel.lstrip("/")


class ServerFactory:
    """`tomed` fixture: start servers; everything started is checked at teardown."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.servers = []

    def serve(self, root, *flags, env=None, cwd=None, wait=True, listen="127.0.0.1:0",
              preexec_fn=None):
        args = ["serve"]
        if root is not None:
            args.append(str(root))
        if listen is not None:
            args += ["--listen", listen]
        args += [str(f) for f in flags]
        return self.start(args, env=env, cwd=cwd, wait=wait, preexec_fn=preexec_fn)

    def start(self, args, env=None, cwd=None, wait=True, preexec_fn=None):
        srv = TomedServer(args, cwd=cwd or self.tmp_path, env=env, preexec_fn=preexec_fn)
        self.servers.append(srv)
        return srv.start(wait=wait)

    def config(self, text, name="tomed.yaml"):
        p = Path(self.tmp_path) / name
        p.write_text(text)
        return p

    def finish(self):
        failures = []
        for srv in self.servers:
            if srv.proc is None:
                continue
            if srv.running():
                rc = srv.stop()
                if rc != 0:
                    failures.append(f"{srv.argv}: exit status {rc} after SIGTERM\n{srv.stderr}")
            bad = srv.problems()
            if bad:
                failures.append(f"{srv.argv}: sanitizer/alert output:\n" + "\n".join(bad))
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)


@pytest.fixture
def tomed(tmp_path):
    factory = ServerFactory(tmp_path)
    yield factory
    factory.finish()


class _SiteHolder:
    def __init__(self, tmp):
        self.tmp = tmp
        self.server = None

    def ensure(self):
        if self.server is None or not self.server.running():
            if not SITE_DIR.is_dir():
                pytest.fail(f"fixture site missing: {SITE_DIR}", pytrace=False)
            self.server = TomedServer(["serve", str(SITE_DIR), "--listen", "127.0.0.1:0",
                                       "--base", BASE], cwd=self.tmp)
            self.server.start()
        return self.server


@pytest.fixture(scope="session")
def _site_holder(tmp_path_factory):
    holder = _SiteHolder(tmp_path_factory.mktemp("site-cwd"))
    yield holder
    srv = holder.server
    if srv is not None and srv.running():
        rc = srv.stop()
        assert rc == 0, f"fixture-site server exited {rc} after SIGTERM\n{srv.stderr}"
        assert not srv.problems(), "\n".join(srv.problems())


@pytest.fixture
def site(_site_holder):
    """The shared server for the committed fixture site (base /tomeclicker). After
    each test it must still be running and its stderr must be clean."""
    srv = _site_holder.ensure()
    seen = len(srv.stderr_lines)
    yield srv
    alive = srv.running()
    with srv._lock:
        new = "\n".join(srv.stderr_lines[seen:])
    bad = sanitizer_problems(new)
    if not alive:
        srv.wait(5)
        pytest.fail(f"fixture-site server died during the test (status {srv.returncode})\n"
                    f"{srv.stderr}", pytrace=False)
    if bad:
        pytest.fail("fixture-site server printed sanitizer/alert lines:\n" + "\n".join(bad),
                    pytrace=False)
