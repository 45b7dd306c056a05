"""The example site in a real browser: Debian's headless Chromium, driven by
tests/browser/check.mjs (playwright-core), loads the site tomed serves and checks
that SvelteKit starts (hydrates), client-side navigation through every nav link
works, a direct load of a nested page works, the clicker works, and that nothing
went wrong on the way: no console error, page error, failed request, HTTP status
>= 400 or CSP violation.

Needs Debian's chromium (`make test` installs it) and playwright-core
(`npm ci --prefix tests/browser`); the tests are skipped, saying so, when that npm
step has not run."""
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BASE, REPO_ROOT, SITE_DIR, copy_site

BROWSER_DIR = REPO_ROOT / "tests" / "browser"
CHECK = BROWSER_DIR / "check.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NPM_CI = "npm ci --prefix tests/browser"
CHECK_TIMEOUT = 90          # seconds for one whole checker run (it takes about 5)
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"
NAV = {"Home", "About", "Settings", "Guide"}


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def node():
    if not (BROWSER_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        pytest.skip(f"tests/browser/node_modules/playwright-core is missing: run `{NPM_CI}`")
    path = shutil.which("node")
    if path is None:
        pytest.fail("node (>= 20) is not on PATH; the browser tests need it", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (`make test` installs it)",
                    pytrace=False)
    return path


def checker_argv(node, url, *args):
    return [node, str(CHECK), url, *[str(a) for a in args]]


def parse_summary(out, err, rc):
    try:
        return json.loads(out)
    except ValueError:
        pytest.fail(f"check.mjs exited {rc} without a JSON summary\nstdout:\n{out[-3000:]}\n"
                    f"stderr:\n{err[-3000:]}", pytrace=False)


def run_check(node, url, *args):
    """Run the checker to completion; returns (exit status, summary)."""
    cp = subprocess.run(checker_argv(node, url, *args), cwd=BROWSER_DIR, capture_output=True,
                        text=True, timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL)
    return cp.returncode, parse_summary(cp.stdout, cp.stderr, cp.returncode)


def describe(summary, limit=25):
    """The recorded problems, one line each, for assertion messages."""
    lines = []
    for e in summary["errors"][:limit]:
        what = e.get("message") or e.get("text") or e.get("failure") or ""
        if e["kind"] == "http":
            what = f"{e['status']} {e['url']}"
        elif e["kind"] == "requestfailed":
            what = f"{e['failure']} {e['url']}"
        elif e["kind"] == "csp":
            what = f"{e['effectiveDirective']} blocked {e['blockedURI']} ({e.get('sourceFile')})"
        lines.append(f"  [{e['kind']}] {e['step']}: {what}")
    more = len(summary["errors"]) - limit
    if more > 0:
        lines.append(f"  ... and {more} more")
    return f"{len(summary['errors'])} problem(s) in the browser:\n" + "\n".join(lines)


def assert_clean(summary, rc):
    assert rc == 0 and summary["ok"], describe(summary)
    for kind, n in summary["counts"].items():
        assert n == 0, f"{kind}: {n}\n{describe(summary)}"


def assert_walked_the_site(summary):
    steps = summary["steps"]
    assert steps[0]["step"] == "load" and steps[0]["hydrated"], steps[0]
    clicked = {s["step"].split(":", 1)[1] for s in steps if s["step"].startswith("click:")}
    assert NAV <= clicked, f"nav links clicked: {sorted(clicked)}"
    for s in steps:
        if s["step"].startswith("click:"):
            assert s["navigation"] == "client", s
        if s["step"].startswith("direct:"):
            assert s["hydrated"], s
    assert any(s["step"] == "direct:docs/guide" and s["url"].endswith("/docs/guide") for s in steps)
    assert len(summary["clicks"]) >= 2 and all(c["ok"] for c in summary["clicks"]), summary["clicks"]


def sha256_b64(text):
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def inline_hashes(html_text, tag):
    return [sha256_b64(m) for m in re.findall(rf"<{tag}>(.*?)</{tag}>", html_text, re.S)]


def page_file(root, url):
    """The site file a page URL (under BASE) is served from."""
    rel = re.sub(r"^https?://[^/]+", "", url)[len(BASE):].strip("/")
    return Path(root) / (rel + ".html" if rel else "index.html")


def wait_for(pred, timeout=15.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


# --------------------------------------------------------------------------- (a) build base

def test_site_at_its_build_base(tomed, node):
    srv = tomed.serve(SITE_DIR)                       # detects the build's base
    assert srv.url.endswith(BASE + "/"), srv.url
    rc, s = run_check(node, srv.url, "--expect-base", BASE, "--report-csp-hashes")
    assert_clean(s, rc)
    assert_walked_the_site(s)
    assert s["sveltekit"]["base"] == BASE and s["sveltekit"]["versionStatus"] == 200, s["sveltekit"]
    assert s["manifest"]["startUrlStatus"] == 200, s["manifest"]
    # tomed's default headers were in force: every page came with a script-src policy;
    # where it lists hashes for scripts (or styles), as csp: auto will, the hash of each
    # inline script (or style) of the page is among them.
    docs = s["cspHashes"]
    assert docs, "no page loads recorded"
    for d in docs:
        assert d["policy"] and "script-src" in d["policy"], d
        for i in d["inline"] or []:
            kind = i["kind"]
            if any(k in d["policyHashes"] for k in (f"{kind}-src-elem", f"{kind}-src")):
                assert i["inPolicy"], (d["url"], i, d["policy"])


# --------------------------------------------------------------------------- (b) at the root

def test_site_rewritten_to_the_root(tomed, node):
    # tomed reads the build base from index.html and rewrites it to / at load
    srv = tomed.serve(SITE_DIR, "--base", "/")
    assert "built for /tomeclicker, mounted at /: rewrote" in srv.stderr
    assert srv.url.endswith(":%d/" % srv.port), srv.url
    rc, s = run_check(node, srv.url, "--expect-base", "/")
    assert_walked_the_site(s)
    assert_clean(s, rc)
    assert s["sveltekit"]["assets"] == "" and s["sveltekit"]["versionStatus"] == 200, s["sveltekit"]


# --------------------------------------------------------------------------- (c) strict CSP

@pytest.mark.parametrize("base", [BASE, "/"])
def test_csp_auto_makes_a_strict_template_work(tomed, node, base):
    """The same strict template with csp_auto (the default): each page's policy
    carries the hashes of its own inline code, computed after rewriting, and
    the site runs with zero violations, 'unsafe-inline' nowhere in script-src."""
    srv = tomed.serve(SITE_DIR, "--base", base, "--headers.content-security-policy", STRICT_CSP)
    rc, s = run_check(node, srv.url, "--expect-base", base, "--report-csp-hashes")
    assert_clean(s, rc)
    assert_walked_the_site(s)
    for d in s["cspHashes"]:
        script_src = [x for x in d["policy"].split(";") if x.strip().startswith("script-src")]
        assert script_src and "unsafe-inline" not in script_src[0], d["policy"]
        for i in d["inline"] or []:
            assert i["inPolicy"], (d["url"], i, d["policy"])


def test_a_strict_csp_is_seen_to_break_the_site(tomed, node):
    """Without 'unsafe-inline' or hashes, Chromium blocks SvelteKit's inline start-up
    script: the checker must fail, and the hashes Chromium reports for the blocked
    inline code must be the SHA-256 of the inline text in the HTML files (what tomed's
    csp: auto computes)."""
    srv = tomed.serve(SITE_DIR, "--base", BASE, "--headers.content-security-policy", STRICT_CSP,
                      "--headers.csp-auto", "false")
    rc, s = run_check(node, srv.url, "--expect-base", BASE, "--report-csp-hashes")
    assert rc == 1 and not s["ok"], "the checker passed a site whose start-up script is blocked"
    script_blocks = [v for v in s["cspViolations"]
                     if v["effectiveDirective"] == "script-src-elem" and v["blockedURI"] == "inline"]
    assert script_blocks, describe(s)
    assert any("Content Security Policy" in c["text"] for c in s["cspConsole"]), describe(s)
    assert s["steps"][0]["hydrated"] is False, s["steps"][0]
    assert any(e["kind"] == "hydration" for e in s["errors"]), describe(s)
    # With the router dead, nav links are plain links: full page loads.
    assert any(e["kind"] == "navigation" for e in s["errors"]), describe(s)

    compared = 0
    for d in s["cspHashes"]:
        assert d["policy"] == STRICT_CSP, d
        html_text = page_file(SITE_DIR, d["url"]).read_text()
        ours = {"script": inline_hashes(html_text, "script"), "style": inline_hashes(html_text, "style")}
        reported = {k: [b["hash"] for b in d["chromiumBlocked"] if b["kind"] == k] for k in ours}
        assert ours["script"] and set(ours["script"]) <= set(reported["script"]), (d["url"], ours, d)
        assert set(ours["style"]) <= set(reported["style"]), (d["url"], ours, d)
        if d["inline"] is not None:   # what the checker hashed from the DOM agrees too
            assert sorted(i["hash"] for i in d["inline"]) == sorted(ours["script"] + ours["style"])
        compared += 1
    assert compared >= 4, f"only {compared} page loads compared"


# --------------------------------------------------------------------------- (d) new deploy

OLD_TEXT = "TomeClicker is a tiny idle game."
NEW_TEXT = "TomeClicker is a tiny idle game (new deploy)."


def new_build(root):
    """Turn the copy at root into "the next build", as a real one would differ: the
    About page's text changes, so its node chunk gets a new content-hashed name, which
    changes app.js and so its name too; the HTML references follow. Old names go.
    Returns {old name: new name} for the two chunks (paths under _app/immutable/)."""
    imm = Path(root) / "_app" / "immutable"
    about = [p for p in (imm / "nodes").glob("*.js") if OLD_TEXT in p.read_text()]
    assert len(about) == 1, about
    apps = list((imm / "entry").glob("app.*.js"))
    assert len(apps) == 1, apps
    renames = {}

    def rename(path, text):
        stem, _, rest = path.name.partition(".")
        new = path.with_name(f"{stem}.N3wD3pl{len(renames)}.js")
        new.write_text(text)
        path.unlink()
        renames[path.relative_to(imm).as_posix()] = new.relative_to(imm).as_posix()

    rename(about[0], about[0].read_text().replace(OLD_TEXT, NEW_TEXT))
    app_text = apps[0].read_text()
    for old, new in renames.items():
        app_text = app_text.replace(Path(old).name, Path(new).name)
    rename(apps[0], app_text)
    for page in Path(root).rglob("*.html"):
        text = page.read_text().replace(OLD_TEXT, NEW_TEXT)
        for old, new in renames.items():
            text = text.replace(Path(old).name, Path(new).name)
        page.write_text(text)
    assert NEW_TEXT in (Path(root) / "about.html").read_text()
    return renames


@pytest.mark.parametrize("how", ["sighup", "rename"])
def test_navigation_keeps_working_across_a_new_deploy(tomed, node, tmp_path, how):
    """A page of the old build stays open while the next build is swapped in (in place
    + SIGHUP, or a new directory renamed over the old one, seen by inotify): the open
    page's client-side navigation must keep working (its old chunks come from the
    previous generation), and fresh loads get the new build."""
    root = copy_site(tmp_path / "docs")
    if how == "sighup":
        srv = tomed.serve(root, "--base", BASE, "--reload.watch", "false")
    else:
        srv = tomed.serve(root, "--base", BASE)      # serve watches the tree by default
    ready, go = tmp_path / "ready.json", tmp_path / "go"
    argv = checker_argv(node, srv.url, "--expect-base", BASE, "--direct", "docs/guide",
                        "--direct", "about", "--ready-file", ready, "--wait-for-file", go,
                        "--wait-timeout", "30000")
    proc = subprocess.Popen(argv, cwd=BROWSER_DIR, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if not wait_for(lambda: ready.exists() or proc.poll() is not None, timeout=30) \
                or not ready.exists():
            out, err = proc.communicate(timeout=30)
            pytest.fail(f"the checker never got the first page open (exit {proc.returncode})\n"
                        f"{err[-2000:]}\n{out[-3000:]}", pytrace=False)

        if how == "sighup":
            renames = new_build(root)
            srv.send_signal(signal.SIGHUP)
        else:
            staging = copy_site(tmp_path / "docs.new")
            renames = new_build(staging)
            os.rename(root, tmp_path / "docs.old")
            os.rename(staging, root)
        assert wait_for(lambda: "reloaded: generation 2" in srv.stderr), srv.stderr
        for old, new in renames.items():   # version skew: the old names are still served
            assert srv.get(f"{BASE}/_app/immutable/{old}").status == 200, old
            assert srv.get(f"{BASE}/_app/immutable/{new}").status == 200, new
        assert NEW_TEXT.encode() in srv.get(f"{BASE}/about").body
        go.touch()
        out, err = proc.communicate(timeout=CHECK_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    s = parse_summary(out, err, proc.returncode)
    assert_clean(s, proc.returncode)
    assert_walked_the_site(s)

    steps = {}
    for st in s["steps"]:
        steps.setdefault(st["step"], st)           # the first of each name
    old_about = next(o for o in renames if o.startswith("nodes/"))
    new_about = renames[old_about]
    # The open page (old build) navigated to About with its old chunk, after the swap.
    about = steps["click:About"]
    assert f"200 {BASE}/_app/immutable/{old_about}" in about["responses"], about
    assert OLD_TEXT in about["text"], about
    # A fresh load of About gets the new build, and it hydrates.
    direct = steps["direct:about"]
    assert direct["hydrated"] and NEW_TEXT in direct["text"], direct
    assert f"200 {BASE}/_app/immutable/{new_about}" in direct["responses"], direct
