"""
server.trusted_proxies: the access log records the client that a trusted
proxy names in X-Forwarded-For or Forwarded, and nothing a client says of
itself otherwise. Real binary, raw sockets and http.client keep-alive.
"""
import http.client
import json
import socket

import pytest

from conftest import make_tree, html, run_tomed
from test_observability import wait_for


def serve(tomed, tmp_path, *flags, listen="127.0.0.1:0"):
    root = make_tree(tmp_path / "site", {"index.html": html("home")})
    return tomed.serve(root, "--log.access", "json", *flags, listen=listen)


def logged_remotes(srv, headers_list, host="127.0.0.1"):
    """Send one request per headers dict on one kept-alive connection; return
    the remote field of each access log line, in order."""
    before = len(srv.stdout_lines)
    conn = http.client.HTTPConnection(host, srv.port, timeout=10)
    for headers in headers_list:
        conn.putrequest("GET", "/", skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    want = before + len(headers_list)
    wait_for(lambda: len(srv.stdout_lines) >= want, 5, what="access log lines")
    return [json.loads(line)["remote"] for line in srv.stdout_lines[before:want]]


XFF = "X-Forwarded-For"


def test_trusted_peer_xff_names_the_client(tomed, tmp_path):
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.1/32")
    got = logged_remotes(srv, [
        [(XFF, "203.0.113.7")],
        # the client forged the left part; the rightmost untrusted hop is the client
        [(XFF, "1.1.1.1, 198.51.100.2")],
        # hops inside the trusted set are skipped
        [(XFF, "1.1.1.1, 198.51.100.3, 127.0.0.1, 127.0.0.1")],
        # every hop trusted: the leftmost
        [(XFF, "127.0.0.1")],
        # no header: the peer
        [],
        # IPv6 hop with brackets and a port
        [(XFF, "[2001:db8::5]:4711")],
    ])
    assert got == ["203.0.113.7", "198.51.100.2", "198.51.100.3", "127.0.0.1", "127.0.0.1",
                   "2001:db8::5"]


def test_each_request_on_a_kept_alive_connection_has_its_own_client(tomed, tmp_path):
    # an ingress multiplexes many clients over one upstream connection
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.0/8")
    got = logged_remotes(srv, [[(XFF, "198.51.100.1")], [], [(XFF, "198.51.100.2")]])
    assert got == ["198.51.100.1", "127.0.0.1", "198.51.100.2"]


def test_several_xff_fields_form_one_list(tomed, tmp_path):
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.1")
    got = logged_remotes(srv, [[(XFF, "198.51.100.1"), (XFF, "198.51.100.9, 127.0.0.1")]])
    assert got == ["198.51.100.9"]


def test_forwarded_header(tomed, tmp_path):
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.1")
    got = logged_remotes(srv, [
        [("Forwarded", 'for="[2001:db8:cafe::17]:4711";proto=https')],
        [("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")],
        [("Forwarded", "for=1.1.1.1, for=192.0.2.61")],
        # obfuscated and unknown identifiers name no one: the peer
        [("Forwarded", "for=unknown")],
        [("Forwarded", "for=_hidden")],
        # X-Forwarded-For wins when both are there
        [("Forwarded", "for=192.0.2.62"), (XFF, "198.51.100.4")],
    ])
    assert got == ["2001:db8:cafe::17", "192.0.2.60", "192.0.2.61", "127.0.0.1", "127.0.0.1",
                   "198.51.100.4"]


def test_garbage_keeps_the_peer(tomed, tmp_path):
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.1")
    got = logged_remotes(srv, [
        [(XFF, "not-an-address")],
        [(XFF, "198.51.100.1, <script>")],
        [(XFF, "300.1.1.1")],
        [(XFF, "")],
        [("Forwarded", "for=[2001:db8::1]")],       # unquoted IPv6: not RFC 7239
        [("Forwarded", 'for="unterminated')],
        [("Forwarded", "proto=https")],
    ])
    assert got == ["127.0.0.1"] * 7


def test_untrusted_peer_headers_are_ignored(tomed, tmp_path):
    # a CIDR that does not hold the peer (127.0.0.1)
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "10.0.0.0/8,fd00::/8")
    got = logged_remotes(srv, [[(XFF, "203.0.113.7")],
                               [("Forwarded", "for=203.0.113.8")]])
    assert got == ["127.0.0.1", "127.0.0.1"]


def test_default_trusts_no_one(tomed, tmp_path):
    srv = serve(tomed, tmp_path)
    got = logged_remotes(srv, [[(XFF, "203.0.113.7")], [("Forwarded", "for=203.0.113.8")]])
    assert got == ["127.0.0.1", "127.0.0.1"]


def _ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def test_ipv4_mapped_peer_matches_ipv4_cidr(tomed, tmp_path):
    """On a dual-stack listener an IPv4 client's address is ::ffff:127.0.0.1;
    an IPv4 CIDR must still trust it."""
    if not _ipv6_loopback():
        pytest.skip("no IPv6 on this machine")
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "127.0.0.1/32", listen="[::]:0")
    got = logged_remotes(srv, [[(XFF, "203.0.113.7")]], host="127.0.0.1")
    assert got == ["203.0.113.7"]
    got = logged_remotes(srv, [[(XFF, "203.0.113.8")]], host="::1")
    assert got == ["::1"]   # ::1 is not inside 127.0.0.1/32


def test_ipv6_peer_trusted_by_ipv6_cidr(tomed, tmp_path):
    if not _ipv6_loopback():
        pytest.skip("no IPv6 on this machine")
    srv = serve(tomed, tmp_path, "--server.trusted-proxies", "::1/128", listen="[::1]:0")
    got = logged_remotes(srv, [[(XFF, "203.0.113.7")]], host="::1")
    assert got == ["203.0.113.7"]


def test_bad_cidr_in_yaml_names_line_and_column(tomed, tmp_path):
    site = make_tree(tmp_path / "site", {"index.html": html("home")})
    cfg = tomed.config(f"root: {site}\nserver:\n  trusted_proxies:\n    - 10.42.0.0/16\n"
                       f"    - 10.42.0.0/33\n")
    cp = run_tomed("check", "--config", cfg)
    assert cp.returncode == 2
    assert f"{cfg}:5:7: server.trusted_proxies[1]: prefix length /33 is more than 32" in cp.stderr


@pytest.mark.parametrize("value, message", [
    ("pods", '"pods" is not an IPv4 or IPv6 address'),
    ("10.42.0.1/16", "\"10.42.0.1/16\" has bits set below the /16 prefix (the network is 10.42.0.0/16)"),
])
def test_bad_cidr_from_env_and_flag(tomed, tmp_path, value, message):
    site = make_tree(tmp_path / "site", {"index.html": html("home")})
    cp = run_tomed("check", site, env={"TOMED_SERVER_TRUSTED_PROXIES": value})
    assert cp.returncode == 2
    assert f"TOMED_SERVER_TRUSTED_PROXIES: server.trusted_proxies: {message}" in cp.stderr
    cp = run_tomed("check", site, "--server.trusted-proxies", value)
    assert cp.returncode == 2 and message in cp.stderr


def test_check_prints_the_list_and_it_reads_back(tomed, tmp_path):
    site = make_tree(tmp_path / "site", {"index.html": html("home")})
    cfg = tomed.config(f"root: {site}\nserver:\n  trusted_proxies: [10.42.0.0/16, 'fd00::/8']\n")
    cp = run_tomed("check", "--config", cfg)
    assert cp.returncode == 0, cp.stderr
    assert 'trusted_proxies: "10.42.0.0/16,fd00::/8"' in cp.stdout
    # the dump is a config tomed reads back
    dumped = tomed.config(cp.stdout[cp.stdout.index("# tomed: effective configuration"):],
                          name="dump.yaml")
    cp2 = run_tomed("check", "--config", dumped)
    assert cp2.returncode == 0, cp2.stderr
