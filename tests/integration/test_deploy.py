"""deploy/k8s: the kustomize overlays render, every object validates against the
Kubernetes schemas offline, the manifests agree with each other and with tomed's
configuration, and tomed runs exactly as the rendered Deployment says.

Rendering: `kubectl kustomize` when kubectl is installed; otherwise
tests/deploy/render.mjs, a renderer for the kustomize features deploy/k8s uses
(whenever kubectl is present the two outputs must be identical, so the renderer
is checked against the real thing). Validation: tests/deploy/validate.mjs with
the npm kubernetes-models packages pinned in tests/deploy/package-lock.json
(installed by `npm ci` there; this module runs it when node_modules is missing),
strict about unknown fields.

The contract test runs build/tomed with the container's args, the rendered
ConfigMap as /etc/tomed (read-only), a read-only copy of the example site as
/srv/docs, the container's environment (envFrom resolved, service links as
Kubernetes would add them), as the pod's runAsUser/runAsGroup, then probes the
ports and paths the manifest names, runs tests/smoke.sh and the PostSync Job's
command against it, and checks the SIGTERM drain against the grace period.
"""
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT, SITE_DIR, run_tomed, tomed_bin

K8S = REPO_ROOT / "deploy" / "k8s"
ARGOCD = REPO_ROOT / "deploy" / "argocd"
TOOLS = REPO_ROOT / "tests" / "deploy"
SMOKE = REPO_ROOT / "tests" / "smoke.sh"
OVERLAYS = {
    # overlay: (namespace, base path, replicas)
    "staging": ("tomed-staging", "/tomeclicker", 2),
    "production": ("tomed", "/", 3),
}
EXPECTED_KINDS = {
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"),
    ("networking.k8s.io/v1", "Ingress"), ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"), ("batch/v1", "Job"),
}
NODE_TIMEOUT = 120
# The pods each ingress controller runs as (the NetworkPolicy admits exactly these).
INGRESS_NGINX_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}
TRAEFIK_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}
# deploy/README.md "Sizing": what tomed check's estimate leaves out.
BROTLI_SCRATCH = 8 << 20     # quality 11 while compressing at start (peak 14.8 MiB on the example site)
PER_CONNECTION = 55 << 10    # tomed check's "add about 55 KiB per busy connection" (checked below)
PROMETHEUS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}


# --------------------------------------------------------------------------- tools

def node_bin():
    node = shutil.which("node")
    if not node:
        pytest.skip("node not found: rendering without kubectl and the schema validation use "
                    "Node.js (>= 14.6; Debian: apt-get install nodejs npm)")
    return node


_npm_checked = []


def tools_ready():
    """node, with tests/deploy/node_modules installed from the lock file."""
    node = node_bin()
    if _npm_checked:
        return node
    marker = TOOLS / "node_modules" / ".package-lock.json"
    lock = TOOLS / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("tests/deploy/node_modules is missing and npm is not installed "
                        "(Debian: apt-get install npm; then `cd tests/deploy && npm ci`)",
                        pytrace=False)
        cp = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                            cwd=TOOLS, capture_output=True, text=True, timeout=600)
        if cp.returncode != 0:
            pytest.fail(f"`npm ci` in tests/deploy failed ({cp.returncode}):\n{cp.stdout}\n"
                        f"{cp.stderr}", pytrace=False)
    _npm_checked.append(True)
    return node


def run_node(script, *args, stdin=None):
    node = tools_ready()
    return subprocess.run([node, str(TOOLS / script), *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=NODE_TIMEOUT)


def kubectl():
    """kubectl, or None. KUBECTL=path picks one; KUBECTL= (empty) forces the
    render.mjs path on a machine that has kubectl."""
    if "KUBECTL" in os.environ:
        return os.environ["KUBECTL"] or None
    return shutil.which("kubectl")


def kubectl_kustomize(path):
    cp = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True,
                        timeout=NODE_TIMEOUT)
    assert cp.returncode == 0, f"kubectl kustomize {path} failed:\n{cp.stderr}"
    conv = run_node("render.mjs", "--from-yaml", "-", stdin=cp.stdout)
    assert conv.returncode == 0, conv.stderr
    return json.loads(conv.stdout)


def fallback_render(path):
    cp = run_node("render.mjs", str(path), "--json")
    assert cp.returncode == 0, f"render.mjs {path} failed:\n{cp.stderr}"
    return json.loads(cp.stdout)


_rendered = {}


def render(path):
    """The objects of a kustomization: kubectl's rendering when kubectl is there,
    else render.mjs's."""
    key = str(path)
    if key not in _rendered:
        _rendered[key] = kubectl_kustomize(path) if kubectl() else fallback_render(path)
    return _rendered[key]


def validate(objs):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(objs, f)
    try:
        return run_node("validate.mjs", f.name)
    finally:
        os.unlink(f.name)


# --------------------------------------------------------------------------- object helpers

def find(objs, kind, name=None):
    hits = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert hits, f"no {kind} {name or ''} in the rendering"
    return hits


def one(objs, kind, name=None):
    hits = find(objs, kind, name)
    assert len(hits) == 1, f"{len(hits)} objects {kind} {name or ''}"
    return hits[0]


def configmap(objs, name):
    return one(objs, "ConfigMap", name)


def server_parts(objs):
    dep = one(objs, "Deployment", "tomed")
    pod = dep["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    return dep, pod, ctr


def container_env(objs, pod, ctr):
    """The environment Kubernetes gives the container: envFrom ConfigMaps, then
    env, then (unless enableServiceLinks is false) the service-link variables."""
    env = {}
    for src in ctr.get("envFrom", []):
        assert "configMapRef" in src, f"unsupported envFrom {src}"
        env.update({src.get("prefix", "") + k: v
                    for k, v in configmap(objs, src["configMapRef"]["name"])["data"].items()})
    for e in ctr.get("env", []):
        assert "value" in e, f"env {e['name']}: only literal values are simulated"
        env[e["name"]] = e["value"]
    if pod.get("enableServiceLinks", True):
        env.update(service_link_env(find(objs, "Service")))
    return env


def service_link_env(services):
    """The docker-links-style variables the kubelet adds for each Service of the
    namespace (pkg/kubelet/envvars), with a made-up cluster IP."""
    env = {}
    for i, svc in enumerate(services):
        name = svc["metadata"]["name"].upper().replace("-", "_")
        ip = f"10.43.0.{10 + i}"
        ports = svc["spec"]["ports"]
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            proto = p.get("protocol", "TCP")
            if p.get("name"):
                env[f"{name}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
            pre = f"{name}_PORT_{p['port']}_{proto}"
            env[pre] = f"{proto.lower()}://{ip}:{p['port']}"
            env[pre + "_PROTO"] = proto.lower()
            env[pre + "_PORT"] = str(p["port"])
            env[pre + "_ADDR"] = ip
        env[f"{name}_PORT"] = f"{ports[0].get('protocol', 'TCP').lower()}://{ip}:{ports[0]['port']}"
    return env


def quantity(q):
    """Kubernetes memory quantity -> bytes (the forms used here)."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G)?", str(q))
    assert m, f"unexpected quantity {q!r}"
    mult = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 10**3, "M": 10**6, "G": 10**9}
    return int(m.group(1)) * mult[m.group(2)]


def parse_check_output(text):
    """`tomed check` prints the effective configuration as simple block YAML:
    flatten it to {"a.b": value} (sequences skipped)."""
    out, stack = {}, []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("-"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        m = re.match(r"([A-Za-z0-9_]+):(?:\s+(.*))?$", s)
        if not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([k for _, k in stack] + [m.group(1)])
        val = m.group(2)
        if val is None:
            stack.append((indent, m.group(1)))
            continue
        if val.startswith('"'):
            val = json.loads(val)
        elif re.fullmatch(r"-?\d+", val):
            val = int(val)
        elif val in ("true", "false"):
            val = val == "true"
        out[key] = val
    return out


def listen_port(addr):
    return int(addr.rsplit(":", 1)[1])


def effective_config(objs, cfg_dir, env):
    """Write the mounted ConfigMap to cfg_dir and ask tomed for the effective
    configuration the container would run with."""
    cp = run_tomed("check", "--config", cfg_dir / "tomed.yaml", env=env)
    assert cp.returncode == 0, f"tomed check rejects the rendered configuration:\n{cp.stderr}"
    return parse_check_output(cp.stdout)


def mount_configmap(objs, pod, ctr, mount_path, dest):
    """Materialise the ConfigMap volume mounted at mount_path into dest, as the
    kubelet would: read-only files in a read-only directory. Returns dest."""
    (vm,) = [m for m in ctr["volumeMounts"] if m["mountPath"] == mount_path]
    assert vm.get("readOnly") is True, f"{mount_path} should be mounted readOnly"
    (vol,) = [v for v in pod["volumes"] if v["name"] == vm["name"]]
    cm = configmap(objs, vol["configMap"]["name"])
    dest.mkdir(parents=True, exist_ok=True)
    for key, text in cm["data"].items():
        (dest / key).write_text(text)
        (dest / key).chmod(vol["configMap"].get("defaultMode", 0o644) & 0o444)
    dest.chmod(0o555)
    return dest


@pytest.fixture
def world_tmp():
    """A scratch directory the pod's user (65532) can traverse (pytest's tmp_path
    is 0700 root's)."""
    d = Path(tempfile.mkdtemp(prefix="tomed-deploy-"))
    d.chmod(0o755)
    yield d
    for dirpath, dirnames, filenames in os.walk(d):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def read_only_site_copy(dest):
    shutil.copytree(SITE_DIR, dest)
    for dirpath, dirnames, filenames in os.walk(dest, topdown=False):
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o444)
        os.chmod(dirpath, 0o555)
    return dest


def http_get(port, path, headers=None, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def drop_to(uid, gid):
    def fn():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return fn


def files_owned_by(uid, dirs=("/tmp", "/var/tmp", "/dev/shm")):
    out = set()
    for d in dirs:
        for dirpath, dirnames, filenames in os.walk(d, onerror=lambda e: None):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                try:
                    if os.lstat(p).st_uid == uid:
                        out.add(p)
                except OSError:
                    pass
    return out


# --------------------------------------------------------------------------- rendering

@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_overlay_renders(overlay):
    objs = render(K8S / "overlays" / overlay)
    kinds = {(o["apiVersion"], o["kind"]) for o in objs}
    assert EXPECTED_KINDS <= kinds, f"missing: {EXPECTED_KINDS - kinds}"
    ns, _, _ = OVERLAYS[overlay]
    assert one(objs, "Namespace")["metadata"]["name"] == ns
    for o in objs:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == ns, \
                f"{o['kind']}/{o['metadata']['name']} is not in namespace {ns}"
    ids = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_fallback_renderer_matches_kubectl(overlay):
    if not kubectl():
        pytest.skip("kubectl not installed (it is not in Debian 12): overlays rendered by "
                    "tests/deploy/render.mjs only, not compared with kustomize")
    path = K8S / "overlays" / overlay
    assert fallback_render(path) == kubectl_kustomize(path), \
        "tests/deploy/render.mjs and kubectl kustomize disagree"


def servicemonitor_overlay(tmp_path):
    d = tmp_path / "with-servicemonitor"
    d.mkdir()
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        # as in an overlay that lists the component: the overlay's namespace applies
        "namespace: tomed\n"
        f"resources:\n  - {os.path.relpath(K8S / 'overlays' / 'production', d)}\n"
        f"components:\n  - {os.path.relpath(K8S / 'components' / 'servicemonitor', d)}\n")
    return d


def test_servicemonitor_component_renders_and_validates(tmp_path):
    d = servicemonitor_overlay(tmp_path)
    objs = fallback_render(d)
    if kubectl():
        assert objs == kubectl_kustomize(d)
    sm = one(objs, "ServiceMonitor")
    assert sm["metadata"]["namespace"] == "tomed"
    svc = one(objs, "Service", "tomed")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] in {p["name"] for p in svc["spec"]["ports"]}
    cp = validate(objs)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    # and the base alone stays free of CRDs
    assert not [o for o in render(K8S / "overlays" / "production") if o["kind"] == "ServiceMonitor"]


# Every component, rendered on top of what it needs, as an overlay would list
# it: (resources, components before it). test_every_component_is_tested keeps
# this list complete.
COMPONENTS = {
    "ingress-nginx": ("base", []),
    "traefik": ("base", []),
    "smoke-test": ("base", ["ingress-nginx"]),
    "hpa": ("base", ["ingress-nginx"]),
    "initcontainer": ("base", ["ingress-nginx"]),
    "servicemonitor": ("overlays/production", []),
    "prometheusrule": ("overlays/production", []),
    "grafana-dashboard": ("overlays/production", []),
}


def component_overlay(tmp_path, name, namespace="tomed"):
    resource, before = COMPONENTS[name]
    d = tmp_path / f"with-{name}"
    d.mkdir()
    comps = "".join(f"  - {os.path.relpath(K8S / 'components' / c, d)}\n" for c in before + [name])
    (d / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {namespace}\n"
        f"resources:\n  - {os.path.relpath(K8S / resource, d)}\n"
        f"components:\n{comps}")
    return d


def render_component(tmp_path, name, namespace="tomed"):
    """render.mjs's rendering (equal to kubectl's where kubectl is), validated."""
    d = component_overlay(tmp_path, name, namespace)
    objs = fallback_render(d)
    if kubectl():
        assert objs == kubectl_kustomize(d), f"render.mjs and kubectl kustomize disagree on {name}"
    cp = validate(objs)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    for o in objs:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == namespace, (o["kind"], o["metadata"]["name"])
    return objs


def test_every_component_is_tested():
    dirs = {p.name for p in (K8S / "components").iterdir() if (p / "kustomization.yaml").exists()}
    assert dirs == set(COMPONENTS), f"components without a rendering test: {dirs - set(COMPONENTS)}"


def site_port_peers(objs):
    """{port: [peers]} that the NetworkPolicies admitting the tomed pods allow."""
    out = {}
    for np_ in find(objs, "NetworkPolicy"):
        if np_["spec"]["podSelector"]["matchLabels"] != {"app.kubernetes.io/name": "tomed"}:
            continue
        for rule_ in np_["spec"].get("ingress", []):
            for port in rule_["ports"]:
                out.setdefault(port["port"], []).extend(rule_["from"])
    return out


@pytest.mark.parametrize("controller,cls,peer", [("ingress-nginx", "nginx", INGRESS_NGINX_PEER),
                                                 ("traefik", "traefik", TRAEFIK_PEER)])
def test_ingress_component(tmp_path, controller, cls, peer):
    """Each ingress component: its class, the annotations it needs, a policy
    that admits exactly its controller's pods to the site port (and Prometheus
    to the admin port), and a ClusterIssuer whose HTTP-01 solver uses its class."""
    objs = render_component(tmp_path, controller)
    ing = one(objs, "Ingress", "tomed")
    assert ing["spec"]["ingressClassName"] == cls
    ann = ing["metadata"]["annotations"]
    np_ = one(objs, "NetworkPolicy", "tomed")
    assert np_["spec"]["egress"] == []
    assert site_port_peers(objs) == {8080: [peer], 9090: [PROMETHEUS_PEER]}
    # the ClusterIssuer example, applied once per cluster
    issuer_file = K8S / "components" / controller / "clusterissuer.yaml"
    cp = validate_file(issuer_file)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    issuer = yaml_objects(issuer_file)[0]
    assert issuer["kind"] == "ClusterIssuer"
    assert issuer["metadata"]["name"] == ann["cert-manager.io/cluster-issuer"]
    (solver,) = issuer["spec"]["acme"]["solvers"]
    assert solver["http01"]["ingress"]["ingressClassName"] == cls
    if controller == "ingress-nginx":
        for key in ("limit-rps", "limit-burst-multiplier", "limit-connections"):
            assert int(ann[f"nginx.ingress.kubernetes.io/{key}"]) > 0, key
        assert not [o for o in objs if o["kind"] == "Middleware"]
    else:
        # the Middlewares the router uses exist, in the rendered namespace
        mws = {f"{m['metadata']['namespace']}-{m['metadata']['name']}@kubernetescrd": m
               for m in find(objs, "Middleware")}
        used = ann["traefik.ingress.kubernetes.io/router.middlewares"].split(",")
        assert set(used) == set(mws), (used, list(mws))
        specs = [m["spec"] for m in mws.values()]
        assert any(s.get("headers", {}).get("stsSeconds", 0) >= 31536000 for s in specs)
        assert any(s.get("rateLimit", {}).get("average", 0) > 0 for s in specs)
        assert ann["traefik.ingress.kubernetes.io/router.tls"] == "true"


def test_traefik_middleware_names_follow_the_namespace(tmp_path):
    """The router.middlewares annotation names <namespace>-<name>; kustomize's
    namespace does not rewrite it, and the check above notices."""
    objs = render_component(tmp_path, "traefik", namespace="tomed-staging")
    ing = one(objs, "Ingress", "tomed")
    used = ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"]
    assert "tomed-staging-" not in used, "the component documents the patch an overlay needs"


def test_base_alone_admits_no_ingress_controller():
    """Without an ingress component nothing reaches the site port."""
    objs = fallback_render(K8S / "base")
    assert site_port_peers(objs) == {9090: [PROMETHEUS_PEER]}
    assert "ingressClassName" not in one(objs, "Ingress", "tomed")["spec"]


def test_hpa_component(tmp_path):
    objs = render_component(tmp_path, "hpa")
    hpa = one(objs, "HorizontalPodAutoscaler", "tomed")
    dep = one(objs, "Deployment", "tomed")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", "tomed")
    # the HPA owns the replica count: a sync must not reset it
    assert "replicas" not in dep["spec"]
    pdb = one(objs, "PodDisruptionBudget", "tomed")
    assert hpa["spec"]["minReplicas"] > pdb["spec"]["minAvailable"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # the CPU it scales on must be far above what the pod requests, or the
    # smallest load would scale it out
    (ctr,) = dep["spec"]["template"]["spec"]["containers"]
    want = metric["resource"]["target"]["averageValue"]
    assert want.endswith("m") and int(want[:-1]) > 10 * int(ctr["resources"]["requests"]["cpu"].rstrip("m"))


def test_initcontainer_component(tmp_path, world_tmp):
    """The init-container variant renders (it used to be a patch file outside
    the kustomization's tree, which kustomize refuses): the plain tomed image
    serves, read-only, what the init container copied into a shared emptyDir,
    at the root tomed's configuration names."""
    objs = render_component(tmp_path, "initcontainer")
    dep, pod, ctr = server_parts(objs)
    (init,) = pod["initContainers"]
    vols = {v["name"]: v for v in pod["volumes"]}
    (init_mount,) = init["volumeMounts"]
    assert "emptyDir" in vols[init_mount["name"]] and not init_mount.get("readOnly")
    (site_mount,) = [m for m in ctr["volumeMounts"] if m["name"] == init_mount["name"]]
    assert site_mount["readOnly"] is True
    cfg_dir = mount_configmap(objs, pod, ctr, "/etc/tomed", world_tmp / "etc-tomed")
    root = re.search(r"^root: (\S+)$", (cfg_dir / "tomed.yaml").read_text(), re.M).group(1)
    assert site_mount["mountPath"] == root == init_mount["mountPath"]
    assert init["command"][-1].rstrip("/") == root
    assert "/tomed:" in ctr["image"] and "tomeclicker-site" not in ctr["image"]
    for c in (init, ctr):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and sc["capabilities"]["drop"] == ["ALL"]
    assert not (REPO_ROOT / "deploy" / "initcontainer.yaml").exists()


def test_prometheusrule_component(tmp_path):
    """The PrometheusRule carries exactly the rules promtool tests."""
    objs = render_component(tmp_path, "prometheusrule")
    rule = one(objs, "PrometheusRule", "tomed")
    rules_file = REPO_ROOT / "deploy" / "prometheus" / "tomed-rules.yml"
    assert rule["spec"]["groups"] == yaml_objects(rules_file)[0]["groups"]
    gen = run_node("prometheusrule.mjs")
    assert gen.returncode == 0, gen.stderr
    committed = K8S / "components" / "prometheusrule" / "prometheusrule.yaml"
    assert committed.read_text() == gen.stdout, \
        f"{committed} is stale: node tests/deploy/prometheusrule.mjs > {committed}"
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert {"TomedAbsent", "TomedDown"} <= alerts


def test_grafana_dashboard_component(tmp_path):
    objs = render_component(tmp_path, "grafana-dashboard")
    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"].get("labels", {}).get("grafana_dashboard")]
    (cm,) = cms
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    (key,) = cm["data"]
    dash = json.loads(cm["data"][key])
    assert key.endswith(".json") and dash["uid"]
    assert "${DS_PROMETHEUS}" not in cm["data"][key]
    assert any(v["type"] == "datasource" for v in dash["templating"]["list"])


def yaml_objects(path):
    cp = run_node("render.mjs", "--from-yaml", path)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def validate_file(path):
    return run_node("validate.mjs", path)


def test_fallback_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [cm.yaml]\ncommonLabels:\n  a: b\n")
    cp = run_node("render.mjs", tmp_path)
    assert cp.returncode == 1 and '"commonLabels" is not supported' in cp.stderr, cp


def test_smoke_script_in_the_component_is_tests_smoke_sh():
    copy = K8S / "components" / "smoke-test" / "smoke.sh"
    assert copy.read_bytes() == SMOKE.read_bytes(), \
        "deploy/k8s/components/smoke-test/smoke.sh differs: cp tests/smoke.sh there"
    assert os.access(SMOKE, os.X_OK)


# --------------------------------------------------------------------------- schemas

@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_rendered_objects_validate(overlay):
    cp = validate(render(K8S / "overlays" / overlay))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "FAIL" not in cp.stdout


def test_argocd_applications_validate():
    files = sorted(ARGOCD.glob("*.yaml"))
    assert files
    cp = run_node("validate.mjs", *files)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    apps = json.loads(run_node("render.mjs", "--from-yaml", ARGOCD / "application.yaml").stdout)
    (app,) = apps
    assert app["spec"]["source"]["path"] == "deploy/k8s/overlays/production"
    assert (REPO_ROOT / app["spec"]["source"]["path"] / "kustomization.yaml").exists()
    assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert app["spec"]["destination"]["namespace"] == OVERLAYS["production"][0]


def test_manifests_repo_kustomization(tmp_path):
    """The example for a separate manifests repository: a remote base pinned
    to a release, plus the cluster's own host and image. Rendered here with
    the remote base replaced by this checkout's overlay (no network)."""
    src = ARGOCD / "manifests-repo" / "kustomization.yaml"
    text = src.read_text()
    m = re.search(r"^  - https://github\.com/OWNER/tomed//(\S+)\?ref=(v\d+\.\d+\.\d+)$", text, re.M)
    assert m, "the remote base must be pinned to a release tag"
    assert (REPO_ROOT / m.group(1) / "kustomization.yaml").exists(), m.group(1)
    d = tmp_path / "apps" / "tomed"
    d.mkdir(parents=True)
    (d / "kustomization.yaml").write_text(text.replace(m.group(0)[4:], os.path.relpath(REPO_ROOT / m.group(1), d)))
    objs = fallback_render(d)
    if kubectl():
        assert objs == kubectl_kustomize(d)
    cp = validate(objs)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    ing = one(objs, "Ingress", "tomed")
    assert ing["spec"]["rules"][0]["host"] == ing["spec"]["tls"][0]["hosts"][0] == "tomeclicker.example.org"
    assert ing["spec"]["ingressClassName"] == "nginx"
    _, _, ctr = server_parts(objs)
    assert ctr["image"] == "ghcr.io/OWNER/tomeclicker-frontend:v0.1.0"
    apps = json.loads(run_node("render.mjs", "--from-yaml", ARGOCD / "application-manifests-repo.yaml").stdout)
    (app,) = apps
    assert app["spec"]["source"]["path"] == "apps/tomed"
    assert app["spec"]["destination"]["namespace"] == "tomed"


def test_validator_rejects_unknown_fields_and_bad_values():
    """The schemas alone accept unknown fields; validate.mjs must not."""
    dep = one(render(K8S / "overlays" / "production"), "Deployment")
    typo = json.loads(json.dumps(dep))
    typo["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    bad = json.loads(json.dumps(dep))
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "96 MB"
    for obj, needle in ((typo, "readOnlyRootFileSystem is not a field"), (bad, "memory")):
        cp = validate([obj])
        assert cp.returncode == 1 and needle in cp.stdout, cp.stdout + cp.stderr


# --------------------------------------------------------------------------- consistency

@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_manifests_agree(overlay, world_tmp):
    objs = render(K8S / "overlays" / overlay)
    ns, base, replicas = OVERLAYS[overlay]
    dep, pod, ctr = server_parts(objs)
    labels = dep["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    env = container_env(objs, pod, ctr)
    assert env.get("TOMED_BASE") == base
    assert dep["spec"]["replicas"] == replicas
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()

    # the configuration the container gets agrees with the ports it declares
    cfg_dir = mount_configmap(objs, pod, ctr, "/etc/tomed", world_tmp / "etc-tomed")
    cfg = effective_config(objs, cfg_dir, {**env, "TOMED_ROOT": str(SITE_DIR)})
    assert ctr["args"] == ["run", "--config", "/etc/tomed/tomed.yaml"]
    assert cfg["root"] == str(SITE_DIR)  # /srv/docs in the file, overridden here
    assert "/srv/docs" in configmap(objs, pod["volumes"][0]["configMap"]["name"])["data"]["tomed.yaml"]
    assert cfg["base"] == base
    assert listen_port(cfg["listen"]) == ports["http"] == 8080
    assert listen_port(cfg["admin.listen"]) == ports["metrics"] == 9090
    assert cfg["admin.on_public_listener"] is False
    assert cfg["log.access"] == "json"
    # the ingress pods' forwarding headers are believed, from the pod network only
    assert cfg["server.trusted_proxies"] == "10.42.0.0/16"

    # probes: the admin port, tomed's endpoint paths
    for probe, path in (("startupProbe", cfg["health_path"]), ("livenessProbe", cfg["health_path"]),
                        ("readinessProbe", cfg["readiness_path"])):
        get = ctr[probe]["httpGet"]
        assert get["path"] == path and ports[get["port"]] == ports["metrics"], (probe, get)
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert int(ann["prometheus.io/port"]) == ports["metrics"]
    assert ann["prometheus.io/path"] == cfg["metrics_path"]

    # SIGTERM: the grace period covers the drain and the in-flight wait
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > cfg["server.drain_delay"] + cfg["server.shutdown_timeout"], grace

    # pod hardening
    psc, csc = pod["securityContext"], ctr["securityContext"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert psc["runAsNonRoot"] and psc["runAsUser"] == 65532 and psc["runAsGroup"] == 65532
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert csc["readOnlyRootFilesystem"] is True and csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert one(objs, "Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    # scheduling
    (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    (arch,) = [e for e in term["matchExpressions"] if e["key"] == "kubernetes.io/arch"]
    assert arch["operator"] == "In" and {"arm64", "arm"} <= set(arch["values"])
    (tsc,) = pod["topologySpreadConstraints"]
    assert tsc["topologyKey"] == "kubernetes.io/hostname"
    assert tsc["labelSelector"]["matchLabels"].items() <= labels.items()

    # resources, from tomed check's estimate for this site (deploy/README.md
    # "Sizing"): the request covers it plus brotli's scratch at start, the
    # limit that plus every connection tomed admits
    res = ctr["resources"]
    cp = run_tomed("check", "--config", cfg_dir / "tomed.yaml", env={**env, "TOMED_ROOT": str(SITE_DIR)})
    m = re.search(r"^# memory: about ([\d.]+) MiB resident", cp.stdout, re.M)
    assert m, cp.stdout[-400:]
    per_conn = re.search(r"add about (\d+) KiB per busy connection", cp.stdout)
    assert per_conn and int(per_conn.group(1)) << 10 == PER_CONNECTION, cp.stdout[-400:]
    need = float(m.group(1)) * (1 << 20) + BROTLI_SCRATCH
    assert quantity(res["requests"]["memory"]) >= need, (res, need)
    assert quantity(res["limits"]["memory"]) >= need + cfg["limits.max_connections"] * PER_CONNECTION

    # Service -> pods; Ingress -> Service
    svc = one(objs, "Service", "tomed")
    assert svc["spec"]["selector"].items() <= labels.items()
    sports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert sports["http"]["port"] == 80 and ports[sports["http"]["targetPort"]] == 8080
    assert sports["metrics"]["port"] == 9090 and ports[sports["metrics"]["targetPort"]] == 9090
    ing = one(objs, "Ingress", "tomed")
    # the cluster's NGINX Ingress Controller, with its rate limits; cert-manager
    assert ing["spec"]["ingressClassName"] == "nginx"
    ann = ing["metadata"]["annotations"]
    assert ann["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert int(ann["nginx.ingress.kubernetes.io/limit-rps"]) > 0
    assert int(ann["nginx.ingress.kubernetes.io/limit-connections"]) > 0
    assert ann["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    (rule,) = ing["spec"]["rules"]
    (tls,) = ing["spec"]["tls"]
    assert tls["hosts"] == [rule["host"]] and tls["secretName"]
    (ipath,) = rule["http"]["paths"]
    assert ipath["path"] == base and ipath["pathType"] == "Prefix"
    backend = ipath["backend"]["service"]
    assert backend["name"] == "tomed" and backend["port"]["name"] in sports
    assert sports[backend["port"]["name"]]["port"] == 80

    # PodDisruptionBudget and NetworkPolicies
    pdb = one(objs, "PodDisruptionBudget", "tomed")
    assert pdb["spec"]["minAvailable"] == 1
    # an unready pod never blocks a node drain
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    np_ = one(objs, "NetworkPolicy", "tomed")
    assert np_["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert set(np_["spec"]["policyTypes"]) == {"Ingress", "Egress"} and np_["spec"]["egress"] == []
    allowed = {}
    for rule_ in np_["spec"]["ingress"]:
        (peer,) = rule_["from"]
        (port,) = rule_["ports"]
        allowed[port["port"]] = peer
    assert set(allowed) == {8080, 9090}
    assert allowed[8080] == INGRESS_NGINX_PEER
    assert allowed[9090] == PROMETHEUS_PEER

    # the PostSync smoke test: hook annotations, the script, its way in
    job = one(objs, "Job", "tomed-smoke-test")
    jann = job["metadata"]["annotations"]
    assert jann["argocd.argoproj.io/hook"] == "PostSync"
    assert "BeforeHookCreation" in jann["argocd.argoproj.io/hook-delete-policy"]
    jpod = job["spec"]["template"]["spec"]
    assert jpod["securityContext"]["runAsNonRoot"] and jpod["automountServiceAccountToken"] is False
    (jvol,) = jpod["volumes"]
    assert configmap(objs, jvol["configMap"]["name"])["data"]["smoke.sh"] == SMOKE.read_text()
    jlabels = job["spec"]["template"]["metadata"]["labels"]
    assert not (dep["spec"]["selector"]["matchLabels"].items() <= jlabels.items())
    smoke_np = one(objs, "NetworkPolicy", "tomed-smoke-test")
    (r,) = smoke_np["spec"]["ingress"]
    assert r["from"][0]["podSelector"]["matchLabels"].items() <= jlabels.items()
    assert {p["port"] for p in r["ports"]} == {8080, 9090}


def test_service_links_do_not_crash_tomed():
    """The kubelet adds TOMED_SERVICE_HOST etc. for the Service named tomed;
    tomed rejects unknown TOMED_* variables but knows these are not settings.
    (The Deployment also sets enableServiceLinks: false: nothing uses them.)"""
    objs = render(K8S / "overlays" / "production")
    env = service_link_env(find(objs, "Service"))
    assert "TOMED_SERVICE_HOST" in env
    cp = run_tomed("check", str(SITE_DIR), env=env)
    assert cp.returncode == 0, cp.stderr
    cp = run_tomed("check", str(SITE_DIR), env={**env, "TOMED_SERVICE_TYPO": "x", "TOMED_BSAE": "/"})
    assert cp.returncode == 2 and "TOMED_BSAE" in cp.stderr, cp.stderr


# --------------------------------------------------------------------------- contract

@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_tomed_runs_as_the_deployment_says(overlay, world_tmp, tomed):
    objs = render(K8S / "overlays" / overlay)
    ns, base, _ = OVERLAYS[overlay]
    dep, pod, ctr = server_parts(objs)
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}

    # /etc/tomed from the ConfigMap, /srv/docs from a read-only copy of the site
    mounts = {m["mountPath"]: m for m in ctr["volumeMounts"]}
    assert set(mounts) == {"/etc/tomed", "/var/cache/tomed"}, \
        "only the config and the storage are mounted: the site is in the image"
    etc = mount_configmap(objs, pod, ctr, "/etc/tomed", world_tmp / "etc" / "tomed")
    site = read_only_site_copy(world_tmp / "srv" / "docs")
    # storage.dir: a disk-backed emptyDir (tmpfs pages would count against the
    # memory limit and could not be reclaimed), writable though the root is not.
    vols = {v["name"]: v for v in pod["volumes"]}
    store_vol = vols[mounts["/var/cache/tomed"]["name"]]
    assert "emptyDir" in store_vol and store_vol["emptyDir"].get("medium", "") != "Memory"
    assert not mounts["/var/cache/tomed"].get("readOnly")
    storage = world_tmp / "var" / "cache" / "tomed"
    storage.mkdir(parents=True)
    storage.chmod(0o777)                             # as the kubelet makes an emptyDir
    args = [a.replace("/etc/tomed", str(etc), 1) if a.startswith("/etc/tomed/") else a
            for a in ctr["args"]]
    assert args != ctr["args"], "the args name the config under /etc/tomed"

    env = container_env(objs, pod, ctr)
    cfg = effective_config(objs, etc, {**env, "TOMED_ROOT": str(site)})
    assert cfg["storage.dir"] == "/var/cache/tomed", "tomed keeps its bytes in the emptyDir"
    # The only departures from the pod: the image's /srv/docs, the emptyDir's
    # place and the ports.
    env.update({"TOMED_ROOT": str(site), "TOMED_LISTEN": "127.0.0.1:0",
                "TOMED_ADMIN_LISTEN": "127.0.0.1:0", "TOMED_STORAGE_DIR": str(storage)})

    sc = {**pod.get("securityContext", {}), **ctr.get("securityContext", {})}
    uid, gid = sc["runAsUser"], sc["runAsGroup"]
    assert sc["runAsNonRoot"] and uid != 0
    preexec = drop_to(uid, gid) if os.geteuid() == 0 else None
    before = files_owned_by(uid) if preexec else set()

    srv = tomed.start(args, env=env, cwd=str(world_tmp), preexec_fn=preexec)
    if preexec:
        st = os.stat(f"/proc/{srv.proc.pid}/status")
        assert st.st_uid == uid, "tomed does not run as the pod's user"
    deadline = time.monotonic() + 5
    while not (m := re.search(r"admin endpoints .* on port (\d+)", srv.stderr)):
        assert time.monotonic() < deadline, f"no admin listener:\n{srv.stderr}"
        time.sleep(0.05)
    # containerPort -> where this process listens
    actual = {ports["http"]: srv.port, ports["metrics"]: int(m.group(1))}
    assert listen_port(cfg["listen"]) in actual and listen_port(cfg["admin.listen"]) in actual
    site_port, admin_port = actual[ports["http"]], actual[ports["metrics"]]

    # the probes, exactly as declared (readiness may need the site loaded)
    for name in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = ctr[name]["httpGet"]
        port = actual[ports[get["port"]] if isinstance(get["port"], str) else get["port"]]
        deadline = time.monotonic() + 10
        while (status := http_get(port, get["path"])[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == 200, f"{name} {get['path']} on port {get['port']}: {status}"
    status, headers, body = http_get(admin_port, cfg["metrics_path"])
    assert status == 200 and b"tomed_" in body
    assert "anonymous" not in srv.stderr, f"storage fell back to memory:\n{srv.stderr}"
    for path in (cfg["health_path"], cfg["readiness_path"], cfg["metrics_path"]):
        assert http_get(site_port, path)[0] == 404, f"{path} is exposed on the site port"

    # the Ingress path reaches the site; the smoke test passes, by hand and as
    # the PostSync Job runs it
    (ipath,) = one(objs, "Ingress", "tomed")["spec"]["rules"][0]["http"]["paths"]
    assert http_get(site_port, ipath["path"].rstrip("/") + "/")[0] == 200
    site_url = f"http://127.0.0.1:{site_port}{base.rstrip('/')}/"
    health = f"http://127.0.0.1:{admin_port}{cfg['health_path']}"
    smoke_env = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "TOMED_"))}
    cp = subprocess.run(["sh", str(SMOKE), site_url], env={**smoke_env, "SMOKE_HEALTH_URL": health},
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"tests/smoke.sh {site_url}:\n{cp.stdout}{cp.stderr}"
    assert len(re.findall(r"^ok   ", cp.stdout, re.M)) == 7, cp.stdout

    job = one(objs, "Job", "tomed-smoke-test")
    jpod = job["spec"]["template"]["spec"]
    (jctr,) = jpod["containers"]
    jdir = mount_configmap(objs, jpod, jctr, jctr["volumeMounts"][0]["mountPath"],
                           world_tmp / "smoke")
    jcmd = [c.replace(jctr["volumeMounts"][0]["mountPath"] + "/", f"{jdir}/") for c in jctr["command"]]
    jenv = {**smoke_env, **container_env(objs, jpod, jctr)}
    # The Job talks to the Service "tomed": port 80 is the site, 9090 the admin port.
    svc_ports = {p["port"]: ports[p["targetPort"]] for p in one(objs, "Service", "tomed")["spec"]["ports"]}
    jenv["SMOKE_CURL_OPTS"] = " ".join(f"--connect-to tomed:{sp}:127.0.0.1:{actual[cp_]}"
                                       for sp, cp_ in svc_ports.items())
    jenv["SMOKE_WAIT"] = "10"
    cp = subprocess.run(jcmd, env=jenv, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, f"the PostSync Job's command failed:\n{cp.stdout}{cp.stderr}"
    assert f"smoke: http://tomed{base.rstrip('/')}/" in cp.stdout, cp.stdout
    assert "FAIL" not in cp.stdout and "ok   healthz 200 http://tomed:9090/healthz" in cp.stdout

    # memory: the requests cover what this site needs at its peak, the limit
    # that plus every connection tomed admits (not measurable under a sanitizer)
    if b"__asan_init" not in Path(tomed_bin()).read_bytes():
        hwm = int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{srv.proc.pid}/status")
                            .read_text()).group(1)) * 1024
        res = ctr["resources"]
        assert hwm < quantity(res["requests"]["memory"]), f"peak RSS {hwm >> 10} KiB"
        assert hwm + cfg["limits.max_connections"] * PER_CONNECTION < quantity(res["limits"]["memory"])

    # SIGTERM: /readyz 503 while the site is still served, then exit 0 in time
    grace = pod["terminationGracePeriodSeconds"]
    t0 = time.monotonic()
    srv.send_signal(signal.SIGTERM)
    deadline = t0 + 2
    while (ready := http_get(admin_port, cfg["readiness_path"])[0]) != 503:
        assert time.monotonic() < deadline, f"/readyz still {ready} after SIGTERM"
        time.sleep(0.05)
    assert http_get(site_port, ipath["path"].rstrip("/") + "/")[0] == 200, \
        "the site must still be served during server.drain_delay"
    rc = srv.wait(grace)
    elapsed = time.monotonic() - t0
    assert rc == 0, f"exit status {rc} (None: still running after {grace}s)\n{srv.stderr}"
    assert cfg["server.drain_delay"] - 0.5 <= elapsed < grace, elapsed
    assert "refusing" not in srv.stderr

    # nothing written where a read-only root would have refused it
    if preexec:
        assert files_owned_by(uid) - before == set()
    for dirpath, dirnames, filenames in os.walk(site):
        assert not stat.S_IMODE(os.stat(dirpath).st_mode) & 0o222
    # one JSON access-log line a request on stdout
    lines = [json.loads(l) for l in srv.stdout.splitlines() if l.startswith("{")]
    assert lines and all({"status", "path", "duration_us"} <= set(l) for l in lines)
