"""`tomed serve docs/` previews a SvelteKit build under the base it was made
for (read from index.html's start-up script), as `vite preview` does, unless
the base is given explicitly; container mode never guesses."""
from conftest import SITE_DIR, BASE, make_tree, html, run_tomed


def test_serve_detects_the_build_base(tomed):
    srv = tomed.serve(SITE_DIR)
    assert srv.url.endswith(BASE + "/"), srv.url
    assert f"serving under {BASE}" in srv.stderr
    assert srv.get(BASE + "/about").status == 200
    assert srv.get("/about").status == 404


def test_explicit_base_wins_over_detection(tomed):
    srv = tomed.serve(SITE_DIR, "--base", "/")
    assert srv.url.endswith(":%d/" % srv.port), srv.url
    assert "serving under" not in srv.stderr
    assert srv.get("/about").status == 200


def test_environment_base_wins_over_detection(tomed):
    srv = tomed.serve(SITE_DIR, env={"TOMED_BASE": "/elsewhere"})
    assert srv.url.endswith("/elsewhere/"), srv.url
    assert srv.get("/elsewhere/about").status == 200


def test_a_page_without_sveltekit_keeps_the_root(tomed, tmp_path):
    root = make_tree(tmp_path / "plain", {"index.html": html("plain")})
    srv = tomed.serve(root)
    assert srv.url.endswith(":%d/" % srv.port), srv.url
    assert srv.get("/").status == 200


def test_check_in_container_mode_does_not_guess():
    cp = run_tomed("check", str(SITE_DIR))
    assert cp.returncode == 0, cp.stderr
    assert 'base: "/"' in cp.stdout
