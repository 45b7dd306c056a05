#!/bin/sh
# Smoke test of a deployed tomed site: POSIX sh and curl (7.84 or later), nothing else.
#
#   tests/smoke.sh URL
#
# URL is the site's base URL, e.g. https://tomed.example.com/ or
# https://staging.tomed.example.com/tomeclicker/. One line per check, "ok   ..."
# or "FAIL ...":
#   index     URL answers 200 with text/html
#   page      a page linked from the index (its first ./name or BASE/name link
#             without a file extension, or $SMOKE_PAGE) answers 200 text/html
#   asset     an _app/immutable/ script named in the index answers 200 with a
#             Cache-Control containing "immutable"
#   missing   a page that does not exist answers 404
#   compress  the index with Accept-Encoding "br, gzip" comes back br or gzip
#             (tomed compresses in the background after start: retried)
#   csp       the index carries a Content-Security-Policy header
#   healthz   $SMOKE_HEALTH_URL (default: /healthz at URL's origin) answers 200
# Exit status: 0 when every check passed, 1 when one failed, 2 for bad usage.
#
# Environment:
#   SMOKE_HEALTH_URL  where /healthz is, or "none" to skip that check. With
#                     admin.on_public_listener: false (deploy/k8s) the site port
#                     does not answer /healthz: use the admin port, e.g.
#                     http://tomed:9090/healthz in the cluster, or
#                     http://localhost:9090/healthz through
#                     `kubectl port-forward svc/tomed 9090`.
#   SMOKE_PAGE        the page to check, relative to URL (e.g. about)
#   SMOKE_WAIT        first wait up to this many seconds for the health URL (or
#                     the index) to answer 200 (default 0)
#   SMOKE_RETRIES     compression attempts, one second apart (default 10)
#   SMOKE_TIMEOUT     seconds per request (default 10)
#   SMOKE_CURL_OPTS   more curl options, split on spaces, e.g. -k or
#                     "--resolve tomed.example.com:443:192.168.1.50"
set -u

usage() {
    echo "usage: $0 URL   (e.g. https://tomed.example.com/tomeclicker/)" >&2
    exit 2
}

[ $# -eq 1 ] || usage
url=$1
case $url in
    http://?* | https://?*) ;;
    *) usage ;;
esac
case $url in */) ;; *) url=$url/ ;; esac

scheme=${url%%://*}
rest=${url#*://}
hostport=${rest%%/*}
path=/${rest#*/}
origin=$scheme://$hostport

timeout=${SMOKE_TIMEOUT:-10}
retries=${SMOKE_RETRIES:-10}
wait_s=${SMOKE_WAIT:-0}
health_url=${SMOKE_HEALTH_URL:-$origin/healthz}
curl_opts=${SMOKE_CURL_OPTS:-}

nl='
'
checks=0
failures=0

ok() {
    checks=$((checks + 1))
    printf 'ok   %s\n' "$*"
}

fail() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    printf 'FAIL %s\n' "$*"
}

# curl's version: %header{} in --write-out needs 7.84.
cv=$(curl --version 2>/dev/null) || { echo "smoke: curl not found" >&2; exit 2; }
cv=${cv#curl }
cv=${cv%% *}
cv_major=${cv%%.*}
cv_minor=${cv#*.}
cv_minor=${cv_minor%%.*}
case $cv_major$cv_minor in
    *[!0-9]* | '') ;;
    *) if [ "$cv_major" -lt 7 ] || { [ "$cv_major" -eq 7 ] && [ "$cv_minor" -lt 84 ]; }; then
           echo "smoke: curl $cv is too old (7.84 or later needed)" >&2
           exit 2
       fi ;;
esac

# probe URL [curl options...]: one request, body discarded; sets code, ctype,
# cc (Cache-Control), ce (Content-Encoding) and csp. code is 000 when there was
# no answer (curl's message is on stderr).
probe() {
    _u=$1
    shift
    # shellcheck disable=SC2086 # SMOKE_CURL_OPTS is split on purpose
    _o=$(curl -sS --max-time "$timeout" $curl_opts -o /dev/null \
        -w '%{http_code}\n%{content_type}\n%header{cache-control}\n%header{content-encoding}\n%header{content-security-policy}\n' \
        "$@" "$_u")
    code=${_o%%"$nl"*}; _o=${_o#*"$nl"}
    ctype=${_o%%"$nl"*}; _o=${_o#*"$nl"}
    cc=${_o%%"$nl"*}; _o=${_o#*"$nl"}
    ce=${_o%%"$nl"*}; _o=${_o#*"$nl"}
    csp=${_o%%"$nl"*}
    [ -n "$code" ] || code=000
}

is_html() {
    case $ctype in text/html*) return 0 ;; esac
    return 1
}

# find_page HTML: sets page to the first link to a page under the base.
find_page() {
    _r=$1
    while :; do
        case $_r in *'href="'*) ;; *) return 1 ;; esac
        _r=${_r#*href=\"}
        _l=${_r%%\"*}
        case $_l in
            //*) continue ;;
            "$path"?*) _l=./${_l#"$path"} ;;
        esac
        _l=${_l%%#*}
        _l=${_l%%\?*}
        case $_l in
            ./_app/* | ./ | ./*//* | ./../*) continue ;;
            ./?*) ;;
            *) continue ;;
        esac
        case ${_l##*/} in *.*) continue ;; esac
        page=${_l#./}
        return 0
    done
}

# find_asset HTML: sets asset to the first _app/immutable/ script it names.
find_asset() {
    _r=$1
    while :; do
        case $_r in *_app/immutable/*) ;; *) return 1 ;; esac
        _r=${_r#*_app/immutable/}
        _a=${_r%%\"*}
        _a=${_a%%\'*}
        _a=${_a%% *}
        _a=${_a%%)*}
        case $_a in
            *.js) asset=_app/immutable/$_a; return 0 ;;
        esac
    done
}

echo "smoke: $url (curl $cv)"

if [ "$wait_s" -gt 0 ] 2>/dev/null; then
    w=$health_url
    [ "$w" = none ] && w=$url
    waited=0
    while :; do
        probe "$w" 2>/dev/null
        [ "$code" = 200 ] && break
        [ "$waited" -ge "$wait_s" ] && break
        sleep 2
        waited=$((waited + 2))
    done
    echo "smoke: $w answered $code after ${waited}s"
fi

# index
probe "$url"
if [ "$code" = 200 ] && is_html; then
    ok "index 200 $ctype"
else
    fail "index $code $ctype (expected 200 text/html): $url"
fi
index_csp=$csp
# shellcheck disable=SC2086
body=$(curl -sS --max-time "$timeout" $curl_opts "$url" 2>/dev/null) || body=

# page
page=${SMOKE_PAGE:-}
if [ -z "$page" ] && ! find_page "$body"; then
    fail "page: no ./page link in the index (set SMOKE_PAGE)"
else
    page=${page#/}
    probe "$url$page"
    if [ "$code" = 200 ] && is_html; then
        ok "page $code $ctype $url$page"
    else
        fail "page $code $ctype (expected 200 text/html): $url$page"
    fi
fi

# asset
if ! find_asset "$body"; then
    fail "asset: no _app/immutable/*.js in the index"
else
    probe "$url$asset"
    case $cc in
        *immutable*) cc_ok=1 ;;
        *) cc_ok=0 ;;
    esac
    if [ "$code" = 200 ] && [ "$cc_ok" = 1 ]; then
        ok "asset $code Cache-Control: $cc $url$asset"
    else
        fail "asset $code Cache-Control: '$cc' (expected 200, immutable): $url$asset"
    fi
fi

# missing
missing=${url}tomed-smoke-test-no-such-page-$$
probe "$missing"
if [ "$code" = 404 ]; then
    ok "missing 404 $missing"
else
    fail "missing $code (expected 404): $missing"
fi

# compress
a=0
while :; do
    a=$((a + 1))
    probe "$url" -H 'Accept-Encoding: br, gzip'
    case $ce in br | gzip) break ;; esac
    # only a 200 is worth waiting for
    [ "$code" = 200 ] || break
    [ "$a" -ge "$retries" ] && break
    sleep 1
done
case $ce in
    br | gzip) ok "compress $code Content-Encoding: $ce (attempt $a)" ;;
    *) fail "compress $code Content-Encoding: '$ce' after $a attempts (expected br or gzip): $url" ;;
esac

# csp
if [ -n "$index_csp" ]; then
    short=$index_csp
    [ ${#short} -gt 60 ] && short="$(printf '%.60s' "$short")..."
    ok "csp $short"
else
    fail "csp: no Content-Security-Policy header on $url"
fi

# healthz
if [ "$health_url" = none ]; then
    echo "skip healthz (SMOKE_HEALTH_URL=none)"
else
    probe "$health_url"
    if [ "$code" = 200 ]; then
        ok "healthz 200 $health_url"
    else
        fail "healthz $code (expected 200): $health_url"
    fi
fi

if [ "$failures" -eq 0 ]; then
    echo "smoke: all $checks checks passed"
    exit 0
fi
echo "smoke: $failures of $checks checks failed"
exit 1
