"""A real Prometheus (Debian's package) scraping tomed, the alert and recording
rules in deploy/prometheus, and the Grafana dashboard in deploy/grafana.

One Prometheus for the module: it scrapes tomed's admin listener (job "tomed")
and its public listener (job "tomed-public") every second, loads
deploy/prometheus/tomed-rules.yml, and is asked through its HTTP API what it
stored. `promtool check rules` and `promtool test rules` cover the rule files
without a server.
"""
import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BASE, REPO_ROOT, SITE_DIR, TomedServer
from test_observability import ADMIN_RE, FAMILIES, scrape

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULES = REPO_ROOT / "deploy" / "prometheus" / "tomed-rules.yml"
RULES_TEST = REPO_ROOT / "deploy" / "prometheus" / "tomed-rules.test.yml"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "tomed-dashboard.json"
DEADLINE = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prom:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path, **params):
        url = self.base + path + ("?" + urllib.parse.urlencode(params, doseq=True) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:          # 400/422 carry a JSON error
            return json.loads(e.read())

    def query(self, expr):
        return self.get("/api/v1/query", query=expr)

    def value(self, expr):
        """The single value of an instant vector query, None while it is empty."""
        d = self.query(expr)
        assert d["status"] == "success", (expr, d)
        res = d["data"]["result"]
        if not res:
            return None
        assert len(res) == 1, (expr, res)
        return float(res[0]["value"][1])

    def wait(self, expr, pred, what, timeout=DEADLINE):
        deadline = time.monotonic() + timeout
        v = None
        while time.monotonic() < deadline:
            v = self.value(expr)
            if v is not None and pred(v):
                return v
            time.sleep(0.2)
        pytest.fail(f"Prometheus: {what}: {expr} = {v} after {timeout}s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """tomed (fixture site, admin listener) and a Prometheus scraping it."""
    tmp = tmp_path_factory.mktemp("prom")
    srv = TomedServer(["serve", str(SITE_DIR), "--listen", "127.0.0.1:0", "--base", BASE,
                       "--admin.listen", "127.0.0.1:0", "--log.access", "off"], cwd=tmp)
    srv.start()
    prom_proc = None
    try:
        deadline = time.monotonic() + 5
        while not ADMIN_RE.search(srv.stderr):
            assert time.monotonic() < deadline, srv.stderr
            time.sleep(0.02)
        srv.admin_port = int(ADMIN_RE.search(srv.stderr).group(4))

        port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(f"""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: tomed
    static_configs:
      - targets: ["127.0.0.1:{srv.admin_port}"]
  - job_name: tomed-public
    static_configs:
      - targets: ["127.0.0.1:{srv.port}"]
""")
        log = open(tmp / "prometheus.log", "wb")
        prom_proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        prom = Prom(port)
        prom.proc, prom.log_path, prom.tomed, prom.tmp = prom_proc, tmp / "prometheus.log", srv, tmp
        deadline = time.monotonic() + DEADLINE
        while True:
            assert prom_proc.poll() is None, \
                f"prometheus exited {prom_proc.returncode}:\n{prom.log_path.read_text()}"
            try:
                with urllib.request.urlopen(prom.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus not ready:\n" + prom.log_path.read_text()
            time.sleep(0.1)
        yield prom
    finally:
        if prom_proc is not None and prom_proc.poll() is None:
            prom_proc.send_signal(signal.SIGTERM)
            try:
                prc = prom_proc.wait(15)
            except subprocess.TimeoutExpired:
                prom_proc.kill()
                prom_proc.wait(5)
                prc = "killed after 15 s"
        else:
            prc = None if prom_proc is None else prom_proc.returncode
        rc = srv.stop()
        assert prc in (0, None), f"prometheus did not stop cleanly: {prc}"
        assert rc == 0, f"tomed exited {rc}\n{srv.stderr}"
        assert not srv.problems(), srv.problems()


def test_prometheus_scrapes_tomed_and_reads_a_counter_back(stack):
    srv = stack.tomed
    n = 7
    for _ in range(n):
        r = srv.get("/tomeclicker/")
        assert r.status == 200
    stack.wait('up{job="tomed"}', lambda v: v == 1, "the admin target is up")
    stack.wait('up{job="tomed-public"}', lambda v: v == 1, "the public target is up")
    got = stack.wait('sum(tomed_http_requests_total{job="tomed", code="200"})',
                     lambda v: v >= n, f"at least {n} requests with code 200")
    assert got >= n
    # the build info and a gauge come through with their labels
    d = stack.query('tomed_build_info{job="tomed"}')
    assert d["status"] == "success" and len(d["data"]["result"]) == 1
    assert d["data"]["result"][0]["metric"]["version"]
    assert stack.value('tomed_snapshot_files{job="tomed"}') == 27
    # no target reports a scrape problem
    targets = stack.get("/api/v1/targets")["data"]["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {"tomed", "tomed-public"}
    for t in targets:
        assert t["health"] == "up" and t["lastError"] == "", t


def test_rules_load_and_evaluate_on_live_data(stack):
    """Prometheus loads tomed-rules.yml; every rule evaluates without error and the
    recording rules produce series from tomed's real metrics."""
    stack.wait('count_over_time(up{job="tomed"}[1m])', lambda v: v >= 3, "three scrapes")
    for _ in range(5):
        stack.tomed.get("/tomeclicker/")
    stack.wait('job_instance:tomed_http_requests:rate5m{job="tomed"}', lambda v: v > 0,
               "the request-rate recording rule")
    stack.wait('job_instance:tomed_http_requests_5xx:ratio_rate5m{job="tomed"}', lambda v: v == 0,
               "the 5xx-ratio recording rule (no 5xx)")
    stack.wait('job_instance:tomed_http_request_duration_seconds:p99_5m{job="tomed"}',
               lambda v: 0 < v < 0.5, "the p99 recording rule")
    groups = stack.get("/api/v1/rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = {r["name"] for r in rules}
    assert {"TomedDown", "TomedHigh5xxRatio", "TomedReloadFailures", "TomedHighLatency"} <= names
    deadline = time.monotonic() + 10
    while any(r.get("health") != "ok" for r in rules) and time.monotonic() < deadline:
        time.sleep(0.3)
        rules = [r for g in stack.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]]
    bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"]
    assert not bad, bad
    # a healthy tomed raises no alert
    firing = stack.get("/api/v1/alerts")["data"]["alerts"]
    assert firing == [], firing


# ---------------------------------------------------------------- rule files

def test_promtool_check_rules():
    cp = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True,
                        timeout=30)
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0, out
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    assert lines[0] == f"Checking {RULES}", out
    assert re.fullmatch(r"SUCCESS: \d+ rules found", lines[1]), out
    assert len(lines) == 2, f"promtool reported problems:\n{out}"


def test_promtool_test_rules(tmp_path):
    # from another directory: rule_files in the test file is relative to it
    cp = subprocess.run([PROMTOOL, "test", "rules", str(RULES_TEST)], capture_output=True,
                        text=True, timeout=60, cwd=tmp_path)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "SUCCESS" in cp.stdout


# Each mutation breaks a rule in one direction; the unit tests must notice, which
# proves they check both "fires when it should" and "stays silent on healthy series".
MUTATIONS = {
    "TomedDown never fires": ('expr: up{job=~"tomed.*"} == 0', 'expr: up{job=~"tomed.*"} == 2'),
    "TomedDown without for": ("        for: 2m\n", ""),
    "5xx ratio threshold too high": (") > 0.05", ") > 0.5"),
    "5xx ratio fires on healthy 1 %": (") > 0.05", ") > 0.005"),
    "5xx ratio ignores the traffic minimum": ("[5m])) > 0.1", "[5m])) >= 0"),
    "reload failures never fire": ('result="failure"}[15m]) > 0', 'result="failure"}[15m]) > 5'),
    "latency fires on healthy": ("  > 0.5\n", "  > 0.0001\n"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_rule_unit_tests_catch_a_broken_rule(tmp_path, mutation):
    old, new = MUTATIONS[mutation]
    text = RULES.read_text()
    assert text.count(old) == 1, f"mutation anchor {old!r} not found once in {RULES}"
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    cp = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / RULES.name)],
                        capture_output=True, timeout=30)
    assert cp.returncode == 0, "the mutated file must still be valid"
    cp = subprocess.run([PROMTOOL, "test", "rules", str(tmp_path / RULES_TEST.name)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0, f"rule unit tests passed with '{mutation}':\n{cp.stdout}"


def test_alert_rules_have_severity_and_annotations():
    # a YAML reader is not in the standard library; promtool already parsed the
    # file, so read the alert blocks by their fixed layout
    text = RULES.read_text()
    blocks = re.split(r"\n(?=      - (?:alert|record): )", text)
    alerts = {}
    for b in blocks:
        m = re.match(r"\s*- alert: (\w+)", b)
        if m:
            alerts[m.group(1)] = b
    assert {"TomedDown", "TomedHigh5xxRatio", "TomedReloadFailures", "TomedHighLatency"} <= set(alerts)
    for name, b in alerts.items():
        assert re.search(r"\n\s+severity: (critical|warning|info)\n", b), name
        assert re.search(r"\n\s+summary: \S", b) and re.search(r"\n\s+description: \S", b), name
    assert "for: 2m" in alerts["TomedDown"] and "up{" in alerts["TomedDown"]
    assert "[15m]" in alerts["TomedReloadFailures"]
    assert "histogram_quantile(0.99" in alerts["TomedHighLatency"] and "for: 10m" in alerts["TomedHighLatency"]
    assert "0.05" in alerts["TomedHigh5xxRatio"] and "[5m]" in alerts["TomedHigh5xxRatio"]


# ---------------------------------------------------------------- dashboard

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan", "atan2"}
# Grafana's variables, as the test substitutes them for Prometheus
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m",
                "${job}": ".*", "$job": ".*", "${instance}": ".*", "$instance": ".*"}


def substitute(expr):
    for k in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARS[k])
    assert "$" not in expr, f"unknown variable in {expr!r}"
    return expr


def metric_names(expr):
    """Metric names a PromQL expression selects: identifiers left after removing
    strings, label matchers, ranges, grouping clauses, numbers, functions and keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^{}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\S+", " ", e)
    e = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue              # a function
        if m.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


def test_metric_name_parser():
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~"b|c"}[5m])))') == {"a_bucket"}
    assert metric_names('sum(rate(x_total{code=~"5.."}[1m])) / sum without (code) (x_total offset 5m)') == {"x_total"}
    assert metric_names("time() - process_start_time_seconds") == {"process_start_time_seconds"}
    assert metric_names('up == 0 and on (job) foo:bar:rate5m > 1e3') == {"up", "foo:bar:rate5m"}


def dashboard_targets(dash):
    out = []
    for p in dash["panels"]:
        for sub in [p] + p.get("panels", []):
            for t in sub.get("targets", []):
                out.append((sub["title"], t))
    return out


def test_dashboard_is_an_importable_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["schemaVersion"] >= 36
    assert dash["title"] and dash["uid"]
    inputs = {i["name"]: i for i in dash["__inputs"]}
    assert inputs["DS_PROMETHEUS"]["type"] == "datasource"
    assert inputs["DS_PROMETHEUS"]["pluginId"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"]
        assert p["targets"], f"panel {p['title']!r} has no query"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}" and t["expr"].strip(), p["title"]
    for v in dash["templating"]["list"]:
        assert v["datasource"]["uid"] == "${DS_PROMETHEUS}", v["name"]
    # no hard-wired datasource anywhere: every datasource is the input, except
    # Grafana's built-in annotation source
    def walk(o):
        if isinstance(o, dict):
            if "datasource" in o:
                yield o["datasource"]
            for v in o.values():
                yield from walk(v)
        elif isinstance(o, list):
            for v in o:
                yield from walk(v)
    for ds in walk(dash):
        assert ds in ({"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                      {"type": "grafana", "uid": "-- Grafana --"}), ds


def test_dashboard_queries_use_only_metrics_tomed_exports(stack):
    srv = stack.tomed
    m, _ = scrape(srv.host, srv.admin_port)
    exported = set()
    for name, typ in m.types.items():
        exported.add(name)
        if typ == "histogram":
            exported |= {name + "_bucket", name + "_sum", name + "_count"}
    exported.add("up")                                # Prometheus's own, per target
    dash = json.loads(DASHBOARD.read_text())
    used = set()
    for title, t in dash_targets_with_vars(dash):
        names = metric_names(substitute(t))
        assert names, f"{title}: no metric in {t!r}"
        unknown = names - exported
        assert not unknown, f"panel {title!r} queries {unknown}, which tomed does not export"
        used |= names
    # the RED metrics and the rest of the families all have a panel
    want = set(FAMILIES) - {"tomed_http_request_duration_seconds", "tomed_last_reload_timestamp_seconds"}
    want |= {"tomed_http_request_duration_seconds_bucket", "up"}
    assert want <= used, f"no panel for {want - used}"


def dash_targets_with_vars(dash):
    """(title, PromQL) of every panel target and of the template variables' selectors."""
    out = [(title, t["expr"]) for title, t in dashboard_targets(dash)]
    for v in dash["templating"]["list"]:
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.+), *(\w+)\)", q)
        assert m, f"variable {v['name']}: {q!r}"
        out.append((f"variable {v['name']}", m.group(1)))
    return out


def test_dashboard_queries_run_on_the_live_prometheus(stack):
    srv = stack.tomed
    for _ in range(5):
        srv.get("/tomeclicker/")
        srv.get("/tomeclicker/nope")
    # rate() over 1m needs two samples of each series
    stack.wait('min(count_over_time(tomed_http_requests_total{job="tomed"}[1m]))',
               lambda v: v >= 3, "three samples of every request series")
    dash = json.loads(DASHBOARD.read_text())
    for title, expr in dash_targets_with_vars(dash):
        q = substitute(expr)
        d = stack.query(q)
        assert d["status"] == "success", f"panel {title!r}: {q}\n{d}"
        assert d["data"]["result"], f"panel {title!r} shows no data: {q}"
    # the template variables' values
    jobs = stack.get("/api/v1/label/job/values", **{"match[]": "tomed_build_info"})["data"]
    assert "tomed" in jobs
