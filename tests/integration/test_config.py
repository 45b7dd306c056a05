"""Configuration: defaults < YAML file < TOMED_* environment < flags; `tomed check`;
errors reported as file:line:col before anything is served, with exit status 2."""
import json
import re

import pytest

from conftest import BASE, SITE_DIR, make_tree, html, run_tomed, site_file


def parse_yaml(text):
    """Flatten the block mappings of a simple YAML document into {"a.b": value}.
    Sequences are skipped. Enough to read `tomed check` output without PyYAML."""
    out = {}
    stack = []          # (indent, key)
    skip_indent = None  # inside a sequence item started at this indent
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if skip_indent is not None and indent > skip_indent:
            continue
        skip_indent = None
        if s.startswith("-"):
            skip_indent = indent
            continue
        m = re.match(r"([A-Za-z0-9_]+)\s*:(?:\s+(.*))?$", s)
        assert m, f"unexpected line in YAML output: {line!r}"
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([k for _, k in stack] + [m.group(1)])
        value = (m.group(2) or "").strip()
        if value == "":
            stack.append((indent, m.group(1)))
            out[key] = ""
            continue
        if value.startswith('"'):
            q = re.match(r'"((?:[^"\\]|\\.)*)"', value)
            value = json.loads('"' + q.group(1) + '"')
        elif value.startswith("'"):
            q = re.match(r"'((?:[^']|'')*)'", value)
            value = q.group(1).replace("''", "'")
        else:
            value = re.sub(r"\s+#.*$", "", value)
            if value in ("~", "null"):
                value = None
        out[key] = value
    return out


def parse_size(v):
    m = re.fullmatch(r"(\d+)\s*([KMG]i?B?|B)?", str(v), re.I)
    assert m, f"not a size: {v!r}"
    mult = {None: 1, "B": 1, "K": 1024, "KI": 1024, "KIB": 1024, "KB": 1024,
            "M": 1 << 20, "MI": 1 << 20, "MIB": 1 << 20, "MB": 1 << 20,
            "G": 1 << 30, "GI": 1 << 30, "GIB": 1 << 30, "GB": 1 << 30}
    return int(m.group(1)) * mult[(m.group(2) or "").upper() or None]


def check(*args, env=None, cwd=None):
    cp = run_tomed("check", *args, env=env, cwd=cwd)
    assert cp.returncode == 0, (cp.returncode, cp.stderr)
    return parse_yaml(cp.stdout), cp


# --------------------------------------------------------------------------- check

def test_check_prints_effective_configuration_with_defaults():
    cfg, cp = check("--root", SITE_DIR, "--base", BASE)
    assert cfg["root"] == str(SITE_DIR)
    assert cfg["base"] == BASE
    assert cfg["listen"] == "0.0.0.0:8080"            # container mode defaults
    assert cfg["health_path"] == "/healthz"
    assert cfg["not_found_page"] == "404.html"
    assert cfg["spa_fallback"] in ("", None)
    assert cfg["cache.immutable"] == "public, max-age=31536000, immutable"
    assert cfg["cache.revalidate"] == "no-cache"
    assert cfg["cache.default"] == "public, max-age=600, must-revalidate"
    assert "cache.rules" in cfg
    assert "default-src 'self'" in cfg["headers.content_security_policy"]
    assert cfg["headers.x_content_type_options"] == "nosniff"
    assert cfg["headers.referrer_policy"] == "strict-origin-when-cross-origin"
    assert cfg["headers.x_frame_options"] == "DENY"
    assert cfg["headers.cross_origin_opener_policy"] == "same-origin"
    assert cfg["headers.permissions_policy"]
    for key in ("limits.memory_file_max", "limits.max_connections", "limits.max_connections_per_ip",
                "limits.connection_timeout", "limits.max_url_length", "server.threads",
                "server.shutdown_timeout"):
        assert key in cfg, f"{key} missing from `tomed check` output:\n{cp.stdout}"
    assert "serving" not in cp.stderr


def test_check_without_root_uses_container_default_and_fails_when_missing(tmp_path):
    import os
    if os.path.isdir("/srv/docs"):
        pytest.skip("/srv/docs exists on this machine")
    cp = run_tomed("check", cwd=tmp_path)
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    assert "/srv/docs" in cp.stderr, cp.stderr


def test_check_output_is_a_config_file_that_round_trips(tomed, tmp_path):
    f1 = tomed.config(f"""\
root: "{SITE_DIR}"
base: /tomeclicker
cache:
  rules:
    - match: "/images/**"
      cache_control: "public, max-age=60"
headers:
  x_frame_options: ""
limits:
  max_url_length: 333
""", "first.yaml")
    cp1 = run_tomed("check", "--config", f1)
    assert cp1.returncode == 0, cp1.stderr
    f2 = tmp_path / "second.yaml"
    f2.write_text(cp1.stdout)
    cp2 = run_tomed("check", "--config", f2)
    assert cp2.returncode == 0, (cp2.stderr, cp1.stdout)

    def strip(t):
        return [ln for ln in t.splitlines() if str(f1) not in ln and str(f2) not in ln]
    assert strip(cp2.stdout) == strip(cp1.stdout)
    cfg = parse_yaml(cp1.stdout)
    assert cfg["limits.max_url_length"] == "333"
    assert cfg["headers.x_frame_options"] in ("", None)
    assert "/images/**" in cp1.stdout and "public, max-age=60" in cp1.stdout


def test_precedence_defaults_file_env_flags(tomed):
    f = tomed.config(f"""\
root: "{SITE_DIR}"
listen: "127.0.0.1:1111"
base: /from-file
limits:
  max_connections: 11
  max_url_length: 1000
""")
    cfg, _ = check("--config", f)
    assert (cfg["base"], cfg["listen"], cfg["limits.max_connections"]) == \
        ("/from-file", "127.0.0.1:1111", "11")

    env = {"TOMED_BASE": "/from-env", "TOMED_LIMITS_MAX_CONNECTIONS": "22"}
    cfg, _ = check("--config", f, env=env)
    assert (cfg["base"], cfg["limits.max_connections"], cfg["listen"]) == \
        ("/from-env", "22", "127.0.0.1:1111")

    cfg, _ = check("--config", f, "--base", "/from-flag", "--limits.max-connections", "33", env=env)
    assert (cfg["base"], cfg["limits.max_connections"]) == ("/from-flag", "33")
    assert cfg["limits.max_url_length"] == "1000"     # untouched file value survives


def test_tomed_config_environment_variable_names_the_file(tomed):
    f = tomed.config(f'root: "{SITE_DIR}"\nbase: /via-env-file\n')
    cfg, _ = check(env={"TOMED_CONFIG": str(f)})
    assert cfg["base"] == "/via-env-file"


def test_flags_use_dashes_for_underscores():
    cfg, _ = check("--root", SITE_DIR, "--limits.max-url-length", "300",
                   "--limits.memory-file-max", "64KiB", "--server.shutdown-timeout", "5",
                   "--health-path", "/livez", "--not-found-page", "missing.html",
                   "--headers.x-frame-options", "SAMEORIGIN")
    assert cfg["limits.max_url_length"] == "300"
    assert parse_size(cfg["limits.memory_file_max"]) == 64 * 1024
    assert re.fullmatch(r"5s?", cfg["server.shutdown_timeout"]), cfg["server.shutdown_timeout"]
    assert cfg["health_path"] == "/livez"
    assert cfg["not_found_page"] == "missing.html"
    assert cfg["headers.x_frame_options"] == "SAMEORIGIN"


def test_environment_overrides_file_when_serving(tomed):
    f = tomed.config(f'root: "{SITE_DIR}"\nlisten: "127.0.0.1:0"\nbase: /wrong\n')
    srv = tomed.start(["run", "--config", f], env={"TOMED_BASE": BASE})
    assert srv.base_path == BASE + "/"
    assert srv.get(BASE + "/about").body == site_file("about.html")
    assert srv.get("/wrong/about").status == 404


def test_flag_overrides_environment_when_serving(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE, env={"TOMED_BASE": "/wrong"})
    assert srv.base_path == BASE + "/"
    assert srv.get(BASE + "/").status == 200


def test_env_listen_is_used(tomed, tmp_path):
    root = make_tree(tmp_path / "s", {"index.html": html("env listen")})
    srv = tomed.serve(root, listen=None, env={"TOMED_LISTEN": "127.0.0.1:0"})
    assert srv.get("/").status == 200


# --------------------------------------------------------------------------- errors

ERROR_CASES = {
    # name: (yaml with {root}, line, allowed columns (None = any), word the message must name)
    "unknown top-level key": ('root: "{root}"\nlisten: "127.0.0.1:0"\ncolour: blue\n',
                              3, {1}, "colour"),
    "unknown nested key": ('root: "{root}"\nlimits:\n  max_connection: 10\n', 3, {3}, "max_connection"),
    "unknown headers key": ('root: "{root}"\nheaders:\n  x_powered_by: me\n', 3, {3}, "x_powered_by"),
    "text for a number": ('root: "{root}"\nlimits:\n  max_connections: many\n',
                          3, {3, 20}, "max_connections"),
    "sequence for a string": ('root: "{root}"\nbase: [a, b]\n', 2, {1, 7}, "base"),
    "scalar for a mapping": ('root: "{root}"\nlimits: 5\n', 2, {1, 9}, "limits"),
    "negative number": ('root: "{root}"\nlimits:\n  max_url_length: -5\n', 3, {3, 19}, "max_url_length"),
    "bad size": ('root: "{root}"\nlimits:\n  memory_file_max: 12 parsecs\n',
                 3, {3, 20}, "memory_file_max"),
    "port out of range": ('root: "{root}"\nlisten: "127.0.0.1:99999"\n', 2, {1, 9}, "listen"),
    "missing root directory": ('root: "/nonexistent/tomed-test-docs"\n', 1, {1, 7},
                               "/nonexistent/tomed-test-docs"),
    "rules not a sequence": ('root: "{root}"\ncache:\n  rules: "nope"\n', 3, {3, 10}, "rules"),
    "rule without cache_control": ('root: "{root}"\ncache:\n  rules:\n    - match: "/x/**"\n',
                                   4, None, "cache_control"),
    "duplicate key": ('root: "{root}"\nbase: /a\nbase: /b\n', 3, {1}, "base"),
    "line break in a header value": ('root: "{root}"\nheaders:\n  referrer_policy: "a\\r\\nX-Evil: 1"\n',
                                     3, {3, 20}, "referrer_policy"),
    "YAML syntax error": ('root: "{root}"\nlisten: [unclosed\nbase: /x\n', None, None, None),
}


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_config_error_names_file_line_column_and_exits_2(tomed, case, command):
    text, line, cols, word = ERROR_CASES[case]
    f = tomed.config(text.format(root=SITE_DIR))
    cp = run_tomed(command, "--config", f, timeout=5)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert "serving" not in cp.stderr, cp.stderr
    m = re.search(re.escape(str(f)) + r":(\d+):(\d+): (.+)", cp.stderr)
    assert m, f"no '{f}:line:col: message' in stderr:\n{cp.stderr}"
    if line is not None:
        assert int(m.group(1)) == line, cp.stderr
    if cols is not None:
        assert int(m.group(2)) in cols, cp.stderr
    if word is not None:
        assert word in cp.stderr, cp.stderr
    if command == "check":
        assert cp.stdout == "", "an invalid configuration must not be printed"


def test_missing_config_file_exits_2(tmp_path):
    cp = run_tomed("run", "--config", tmp_path / "nope.yaml")
    assert cp.returncode == 2, cp.stderr
    assert "nope.yaml" in cp.stderr


def test_bad_environment_value_names_the_variable():
    cp = run_tomed("check", "--root", SITE_DIR, env={"TOMED_LIMITS_MAX_CONNECTIONS": "many"})
    assert cp.returncode == 2, cp.stderr
    assert "TOMED_LIMITS_MAX_CONNECTIONS" in cp.stderr, cp.stderr


def test_unknown_environment_variable_is_refused():
    cp = run_tomed("check", "--root", SITE_DIR, env={"TOMED_LIMITS_MAX_CONECTIONS": "5"})
    assert cp.returncode == 2, cp.stderr
    assert "TOMED_LIMITS_MAX_CONECTIONS" in cp.stderr, cp.stderr


def test_bad_flag_value_names_the_flag():
    cp = run_tomed("serve", SITE_DIR, "--listen", "127.0.0.1:0", "--limits.max-connections", "many")
    assert cp.returncode == 2, cp.stderr
    assert "--limits.max-connections" in cp.stderr or "max_connections" in cp.stderr, cp.stderr


@pytest.mark.parametrize("base", ["tomeclicker", "/a b", "/a/../b", "//x", ""])
def test_bad_base_refused(base):
    cp = run_tomed("serve", SITE_DIR, "--listen", "127.0.0.1:0", "--base", base)
    assert cp.returncode == 2, (base, cp.stderr)
    assert "--base" in cp.stderr or "base" in cp.stderr


def test_base_trailing_slash_is_normalised(tomed):
    srv = tomed.serve(SITE_DIR, "--base", BASE + "/")
    assert srv.base_path == BASE + "/"
    r = srv.get(BASE)
    assert r.status == 308 and r.headers["Location"] == BASE + "/"
    assert srv.get(BASE + "/about").status == 200


@pytest.mark.parametrize("value", ["missing.html", "../outside.html"])
def test_spa_fallback_must_be_a_site_file(value):
    cp = run_tomed("serve", SITE_DIR, "--listen", "127.0.0.1:0", "--spa-fallback", value, timeout=5)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert value in cp.stderr or "spa_fallback" in cp.stderr


def test_configured_not_found_page_that_does_not_exist_is_not_silent(tomed):
    """not_found_page defaults to 404.html, which a site may lack; but a page
    the user names explicitly and that is missing must be refused or warned about."""
    srv = tomed.serve(SITE_DIR, "--not-found-page", "missing-404.html", wait=False)
    if srv.ready_or_exited():
        assert "missing-404.html" in srv.stderr, \
            f"configured not_found_page is missing and nothing was said:\n{srv.stderr}"
    else:
        assert srv.returncode == 2, srv.stderr
        assert "missing-404.html" in srv.stderr
