"""The scripts tomed's CSP hashes are the scripts Chromium runs (issue 11, "one HTML
tokenizer walk"). tests/integration/html_walk/index.html holds the tricky cases —
raw-text elements, <noscript>, comments including "<!-->", CDATA, <template>, SVG and
MathML foreign content and their integration points, upper-case and unquoted tags,
"</script >", data blocks, importmap, speculationrules, <script src> with inline
text — each probe script calling r('name'). Served with a strict template and
csp_auto, Chromium must raise zero CSP violations, run exactly the expected probes,
and the policy must hash an r('name') text exactly when Chromium runs it inline.

SVG <style> text in CDATA sections or split by comments is hashed as the DOM's text.

Before the shared walk, tomed hashed an <svg><title>'s HTML <script> as <title> text,
an <svg><textarea>/<noscript>'s SVG script as raw text, and missed the script after
<svg><script/>: four violations on this page."""
import base64
import hashlib
import json
import re
import subprocess
from pathlib import Path

from conftest import REPO_ROOT
from test_browser import BROWSER_DIR, CHECK_TIMEOUT, node  # noqa: F401  (fixture)

PAGE_DIR = Path(__file__).parent / "html_walk"
PROBE = BROWSER_DIR / "html_walk.mjs"
STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'"

# What Chromium 156 runs on the page (x.js is the external file of <script src>).
RUNS = {
    "upper", "module", "language", "nonce-integrity", "x.js", "after-abrupt-comment",
    "after-abrupt-comment2", "after-quoted-gt", "double-escaped", "end-in-string </scriptx>",
    "template", "svg", "svg-typed", "svg-title-html", "svg-fo", "svg-textarea", "svg-noscript",
    "svg-after-self-closed", "svg-breakout", "math-mi", "math-axml", "select-script", "table",
}
# type=" module ": the HTML standard strips the blanks and runs a module (so tomed
# hashes it); Chromium 156 compares unstripped and treats it as a data block.
SPEC_ONLY = {"module-blanks"}
# Probes that must never run: prose, comments, attributes, data blocks, <noscript>...
NEVER = {
    "title", "noscript", "type-param", "vbscript", "src-inline", "in-comment", "textarea", "xmp",
    "iframe", "noembed", "noframes", "attr", "html-cdata", "svg-cdata", "select-noscript",
}


def sha(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_chromium_runs_exactly_the_hashed_scripts(tomed, node):  # noqa: F811
    srv = tomed.serve(PAGE_DIR, "--headers.content-security-policy", STRICT_CSP)
    policy = srv.get("/").headers["Content-Security-Policy"]
    cp = subprocess.run([node, str(PROBE), srv.url], cwd=BROWSER_DIR, capture_output=True,
                        text=True, timeout=CHECK_TIMEOUT, stdin=subprocess.DEVNULL)
    assert cp.returncode == 0, cp.stderr[-3000:]
    out = json.loads(cp.stdout)
    assert out["violations"] == [], (out["violations"], out["console"])
    assert not [c for c in out["console"] if "Content Security Policy" in c], out["console"]
    ran = set(out["ran"])
    assert ran == RUNS, f"unexpected: {sorted(ran - RUNS)}, missing: {sorted(RUNS - ran)}"

    # Every probe text r('name') is hashed exactly when it runs inline.
    page = (PAGE_DIR / "index.html").read_text()
    names = set(re.findall(r">r\('([^']*)'\)</script", page, re.I))
    assert names >= (RUNS | NEVER) - {"x.js", "double-escaped"}, sorted(names)
    for name in names:
        hashed = sha(f"r('{name}')") in policy
        assert hashed == (name in RUNS | SPEC_ONLY), (name, "hashed" if hashed else "not hashed")
