"""A real Prometheus (Debian's package) scraping tomed, the alert and recording
rules in deploy/prometheus, and the Grafana dashboard in
deploy/k8s/components/grafana-dashboard.

One Prometheus for the module: it scrapes tomed's admin listener as a pod
found by its prometheus.io/* annotations is scraped in Kubernetes (job
"kubernetes-pods", with the namespace and pod labels), a second tomed the same
way (stopped by the last test, to see TomedDown's expression catch it), and
the first one's public listener (job "tomed-public"), every second; it loads
deploy/prometheus/tomed-rules.yml and is asked through its HTTP API what it
stored and what the rules say. `promtool check rules` and `promtool test rules` cover the rule files
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
DASHBOARD = REPO_ROOT / "deploy" / "k8s" / "components" / "grafana-dashboard" / "tomed-dashboard.json"
# The job name of the usual annotation-based Kubernetes scrape config (the
# Prometheus Helm chart's, the Prometheus example's): what the default
# manifests get, and what the rules must work with.
JOB = "kubernetes-pods"
# the first tomed's series (the second one's pod is tomed-6c9f7-b)
A = f'job="{JOB}", pod="tomed-6c9f7-a"'
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


def start_tomed(tmp):
    srv = TomedServer(["serve", str(SITE_DIR), "--listen", "127.0.0.1:0", "--base", BASE,
                       "--admin.listen", "127.0.0.1:0", "--log.access", "off"], cwd=tmp)
    srv.start()
    deadline = time.monotonic() + 5
    while not ADMIN_RE.search(srv.stderr):
        assert time.monotonic() < deadline, srv.stderr
        time.sleep(0.02)
    srv.admin_port = int(ADMIN_RE.search(srv.stderr).group(4))
    return srv


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """two tomeds (fixture site, admin listener) and a Prometheus scraping them."""
    tmp = tmp_path_factory.mktemp("prom")
    srv = start_tomed(tmp)
    other = None
    prom_proc = None
    try:
        other = start_tomed(tmp)

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
  - job_name: {JOB}
    static_configs:
      - targets: ["127.0.0.1:{srv.admin_port}"]
        labels: {{namespace: tomed, pod: tomed-6c9f7-a, app_kubernetes_io_name: tomed}}
      - targets: ["127.0.0.1:{other.admin_port}"]
        labels: {{namespace: tomed, pod: tomed-6c9f7-b, app_kubernetes_io_name: tomed}}
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
        prom.other = other
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
        if other is not None and other.proc.poll() is None:
            other.stop()
        assert prc in (0, None), f"prometheus did not stop cleanly: {prc}"
        assert rc == 0, f"tomed exited {rc}\n{srv.stderr}"
        assert not srv.problems(), srv.problems()


def test_prometheus_scrapes_tomed_and_reads_a_counter_back(stack):
    srv = stack.tomed
    n = 7
    for _ in range(n):
        r = srv.get("/tomeclicker/")
        assert r.status == 200
    stack.wait(f'up{{{A}}}', lambda v: v == 1, "the admin target is up")
    stack.wait('up{job="tomed-public"}', lambda v: v == 1, "the public target is up")
    stack.wait(f'count(up{{job="{JOB}"}} == 1)', lambda v: v == 2, "both tomeds' admin targets are up")
    got = stack.wait(f'sum(tomed_http_requests_total{{{A}, code="200"}})',
                     lambda v: v >= n, f"at least {n} requests with code 200")
    assert got >= n
    # the build info and a gauge come through with their labels
    d = stack.query(f'tomed_build_info{{{A}}}')
    assert d["status"] == "success" and len(d["data"]["result"]) == 1
    assert d["data"]["result"][0]["metric"]["version"]
    assert stack.value(f'tomed_snapshot_files{{{A}}}') == 27
    # no target reports a scrape problem
    targets = stack.get("/api/v1/targets")["data"]["activeTargets"]
    assert sorted(t["labels"]["job"] for t in targets) == sorted([JOB, JOB, "tomed-public"])
    for t in targets:
        assert t["health"] == "up" and t["lastError"] == "", t


def test_rules_load_and_evaluate_on_live_data(stack):
    """Prometheus loads tomed-rules.yml; every rule evaluates without error and the
    recording rules produce series from tomed's real metrics."""
    stack.wait(f'count_over_time(up{{{A}}}[1m])', lambda v: v >= 3, "three scrapes")
    for _ in range(5):
        stack.tomed.get("/tomeclicker/")
    stack.wait(f'job_instance:tomed_http_requests:rate5m{{{A}}}', lambda v: v > 0,
               "the request-rate recording rule")
    stack.wait(f'job_instance:tomed_http_requests_5xx:ratio_rate5m{{{A}}}', lambda v: v == 0,
               "the 5xx-ratio recording rule (no 5xx)")
    stack.wait(f'job_instance:tomed_http_request_duration_seconds:p99_5m{{{A}}}',
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
    # a healthy tomed raises no alert; in particular the absent() alert sees
    # tomed under the annotation job name, and TomedDown's join finds it
    firing = stack.get("/api/v1/alerts")["data"]["alerts"]
    assert firing == [], firing
    by_name = {r["name"]: r for r in rules}
    assert by_name["TomedAbsent"]["state"] == "inactive"
    d = stack.query(by_name["TomedAbsent"]["query"])
    assert d["status"] == "success" and d["data"]["result"] == [], d
    # every recording rule returns both tomeds' series, labelled as scraped,
    # and the public listener's (a third job name, no Kubernetes labels)
    want = {(JOB, "tomed", "tomed-6c9f7-a"), (JOB, "tomed", "tomed-6c9f7-b"),
            ("tomed-public", None, None)}
    for r in rules:
        if r["type"] != "recording":
            continue
        pods = lambda: {(s["metric"].get("job"), s["metric"].get("namespace"), s["metric"].get("pod"))
                        for s in stack.query(r["name"])["data"]["result"]}
        deadline = time.monotonic() + DEADLINE
        while (got := pods()) != want:
            assert time.monotonic() < deadline, (r["name"], got)
            time.sleep(0.3)
    # TomedDown's join, with the comparison turned round, finds both tomed
    # targets of the annotation job
    d = stack.query(by_name["TomedDown"]["query"].replace("up == 0", "up == 1"))
    assert {s["metric"]["pod"] for s in d["data"]["result"] if s["metric"]["job"] == JOB} == \
        {"tomed-6c9f7-a", "tomed-6c9f7-b"}, d


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
# proves they check both "fires when it should" and "stays silent on healthy
# series" (and on other applications' targets). (old, new, occurrences)
MUTATIONS = {
    "TomedDown never fires": ("          up == 0\n", "          up == 2\n", 1),
    "TomedDown without for": ("        for: 2m\n", "", 1),
    "TomedDown only for a job named tomed*": ("          up == 0\n", '          up{job=~"tomed.*"} == 0\n', 1),
    "TomedDown for any target": ("          up == 0\n          and on (job, instance)\n"
                                 "          last_over_time(tomed_build_info[1h])\n", "          up == 0\n", 1),
    "TomedAbsent never fires": ("absent(tomed_build_info)", "absent(up)", 1),
    "TomedAbsent fires at once": ("        for: 5m\n        labels:\n          severity: critical\n"
                                  "        annotations:\n          summary: \"no tomed",
                                  "        labels:\n          severity: critical\n"
                                  "        annotations:\n          summary: \"no tomed", 1),
    "rules only for the annotation job": ("tomed_http_requests_total[5m]",
                                          'tomed_http_requests_total{job="kubernetes-pods"}[5m]', 5),
    "rules only for a job named tomed*": ("tomed_http_request_duration_seconds_bucket[5m]",
                                          'tomed_http_request_duration_seconds_bucket{job=~"tomed.*"}[5m]', 2),
    "5xx ratio threshold too high": (") > 0.05", ") > 0.5", 1),
    "5xx ratio fires on healthy 1 %": (") > 0.05", ") > 0.005", 1),
    "5xx ratio ignores the traffic minimum": ("[5m])) > 0.1", "[5m])) >= 0", 1),
    "reload failures never fire": ('result="failure"}[15m]) > 0', 'result="failure"}[15m]) > 5', 1),
    "latency fires on healthy": ("  > 0.5\n", "  > 0.0001\n", 1),
    "fd alert for any process": ("          process_open_fds / process_max_fds > 0.8\n"
                                 "          and on (job, instance)\n          tomed_build_info\n",
                                 "          process_open_fds / process_max_fds > 0.8\n", 1),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_rule_unit_tests_catch_a_broken_rule(tmp_path, mutation):
    old, new, count = MUTATIONS[mutation]
    text = RULES.read_text()
    assert text.count(old) == count, f"mutation anchor {old!r} not found {count} times in {RULES}"
    (tmp_path / RULES.name).write_text(text.replace(old, new))
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    cp = subprocess.run([PROMTOOL, "check", "rules", str(tmp_path / RULES.name)],
                        capture_output=True, timeout=30)
    assert cp.returncode == 0, "the mutated file must still be valid"
    cp = subprocess.run([PROMTOOL, "test", "rules", str(tmp_path / RULES_TEST.name)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode != 0, f"rule unit tests passed with '{mutation}':\n{cp.stdout}"


# The job names the unit tests use, as the two Kubernetes ways name the job.
TEST_JOBS = {"kubernetes-pods": "annotation scrape", "tomed": "ServiceMonitor (the Service's name)"}


def test_rule_unit_tests_cover_both_job_names():
    text = RULES_TEST.read_text()
    for job, how in TEST_JOBS.items():
        series = re.findall(r"series: '(\w+)\{[^}]*job=\"" + re.escape(job) + r"\"", text)
        alerts = re.findall(r"\n\s+job: " + re.escape(job) + r"\n", text)
        assert len(set(series)) >= 5 and len(alerts) >= 5, f"too few tests under job {job} ({how})"


def test_rules_do_not_depend_on_the_job_name(tmp_path):
    """The same unit tests pass with both jobs renamed (a static config, a
    ServiceMonitor's job named after another Service): no rule names a job."""
    text = RULES_TEST.read_text()
    for job, new in (("kubernetes-pods", "pods-renamed"), ("tomed", "serviceMonitor/tomed/web/0")):
        text = re.sub(r'job="' + re.escape(job) + '"', f'job="{new}"', text)
        text = re.sub(r"(\n\s+job: )" + re.escape(job) + r"\n", r"\g<1>" + new + "\n", text)
        text = text.replace(f"(job {job})", f"(job {new})")
    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    assert "kubernetes-pods" not in body and 'job="tomed"' not in body and "job: tomed\n" not in body
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / RULES_TEST.name).write_text(text)
    cp = subprocess.run([PROMTOOL, "test", "rules", str(tmp_path / RULES_TEST.name)],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stdout + cp.stderr


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
    assert "for: 2m" in alerts["TomedDown"] and "up == 0" in alerts["TomedDown"]
    assert "absent(tomed_build_info)" in alerts["TomedAbsent"]
    # no selector names a job (the annotation scrape calls it kubernetes-pods)
    assert not re.search(r"\{[^}]*\bjob\s*=", text), "a rule selects on the job label"
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


def test_dashboard_is_a_provisionable_grafana_dashboard():
    """A dashboard for Grafana's sidecar (a ConfigMap, components/grafana-dashboard)
    as much as for Import: the data source is a template variable, not an
    import-time ${DS_PROMETHEUS} placeholder that provisioning leaves unresolved."""
    raw = DASHBOARD.read_text()
    assert "DS_PROMETHEUS" not in raw and "__inputs" not in json.loads(raw)
    dash = json.loads(raw)
    assert dash["schemaVersion"] >= 36
    assert dash["title"] and dash["uid"] and dash["id"] is None
    ds_var = dash["templating"]["list"][0]
    assert ds_var["name"] == "datasource" and ds_var["type"] == "datasource"
    assert ds_var["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], f"panel {p['title']!r} has no query"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}" and t["expr"].strip(), p["title"]
    for v in dash["templating"]["list"][1:]:
        assert v["datasource"]["uid"] == "${datasource}", v["name"]
    # no hard-wired datasource anywhere: every datasource is the variable,
    # except Grafana's built-in annotation source
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
        assert ds in ({"type": "prometheus", "uid": "${datasource}"},
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
        if v["type"] == "datasource":
            continue
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
    stack.wait(f'min(count_over_time(tomed_http_requests_total{{{A}}}[1m]))',
               lambda v: v >= 3, "three samples of every request series")
    dash = json.loads(DASHBOARD.read_text())
    for title, expr in dash_targets_with_vars(dash):
        q = substitute(expr)
        d = stack.query(q)
        assert d["status"] == "success", f"panel {title!r}: {q}\n{d}"
        assert d["data"]["result"], f"panel {title!r} shows no data: {q}"
    # the template variables' values
    jobs = stack.get("/api/v1/label/job/values", **{"match[]": "tomed_build_info"})["data"]
    assert JOB in jobs


# ---------------------------------------------------------------- last: a tomed goes down

def test_tomed_down_expression_catches_a_stopped_tomed(stack):
    """The second tomed stops (as a crash-looping pod's scrapes fail): the
    TomedDown expression, as Prometheus loaded it, returns exactly that target,
    under the annotation job name. (The alert itself waits 2 minutes: `for`
    is covered by promtool.) Runs last: the module's other tests want both up."""
    rules = {r["name"]: r for g in stack.get("/api/v1/rules")["data"]["groups"] for r in g["rules"]}
    expr = rules["TomedDown"]["query"]
    stack.wait(f'count(up{{job="{JOB}"}} == 1)', lambda v: v == 2, "both tomeds up")
    d = stack.query(expr)
    assert d["status"] == "success" and d["data"]["result"] == [], d
    assert stack.other.stop() == 0
    deadline = time.monotonic() + DEADLINE
    while not (res := stack.query(expr)["data"]["result"]):
        assert time.monotonic() < deadline, f"{expr} stays empty after the tomed stopped"
        time.sleep(0.3)
    assert [(s["metric"]["job"], s["metric"]["pod"]) for s in res] == [(JOB, "tomed-6c9f7-b")], res
    # it is pending now, and nothing else is
    deadline = time.monotonic() + DEADLINE
    while not (alerts := stack.get("/api/v1/alerts")["data"]["alerts"]):
        assert time.monotonic() < deadline, "TomedDown not pending"
        time.sleep(0.3)
    assert [(a["labels"]["alertname"], a["labels"]["pod"], a["state"]) for a in alerts] == \
        [("TomedDown", "tomed-6c9f7-b", "pending")], alerts
