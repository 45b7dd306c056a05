#!/bin/sh
# The container test without a container engine: assemble exactly the runtime
# filesystem deploy/Dockerfile's final stage holds (tests/container/mkrootfs.sh,
# which the Dockerfile's build stage runs too) plus the site layer
# (deploy/site.Dockerfile: examples/site/docs at /srv/docs), and run the image's
# ENTRYPOINT + CMD from it under the constraints of the Deployment:
#
#   - its own mount, PID, network, UTS and IPC namespaces, tomed as PID 1;
#   - the root filesystem a read-only bind mount (readOnlyRootFilesystem), with
#     /proc and a /dev of the usual device nodes mounted as a runtime does;
#   - UID/GID 65532, no supplementary groups, no capabilities, no_new_privs
#     (the bounding set keeps only CAP_SYS_CHROOT, CAP_SETUID and CAP_SETGID,
#     which chroot needs to get there; a runtime empties it, tomed needs none);
#   - nothing in the root but what mkrootfs.sh put there (checked: the file list,
#     the libraries against ldd, and every file mapped into the running process).
#
# Then the site, /healthz, /readyz and /metrics are fetched from inside its
# network namespace, SIGTERM is sent, /readyz must turn 503 (the drain), and
# tomed must exit 0 within server.drain_delay + shutdown.
#
#   tests/container/run-rootfs.sh [BINARY]        default build/tomed; run as root
#
# Needs root (unshare, mount, chroot), util-linux, iproute2 and curl. Not root:
# prints SKIP and exits 0. Takes about 8 s (5 s of them the drain delay).
set -eu

cd "$(dirname "$0")/../.."
bin=${1:-build/tomed}
site=examples/site/docs
uid=65532

if [ "$(id -u)" != 0 ]; then
    echo "run-rootfs: SKIP: needs root (unshare, mount, chroot)"
    exit 0
fi
for tool in unshare nsenter setpriv chroot ip curl ldd; do
    command -v $tool >/dev/null || { echo "run-rootfs: missing $tool" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "run-rootfs: $bin not built (make)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tomed-rootfs.XXXXXX)
upid=
cleanup() {
    if [ -n "$upid" ] && kill -0 "$upid" 2>/dev/null; then kill -KILL "$upid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

fail() { echo "run-rootfs: FAIL: $*" >&2; [ -s "$tmp/stderr" ] && sed 's/^/  tomed: /' "$tmp/stderr" >&2; exit 1; }
pass() { echo "run-rootfs: ok: $*"; }

# ---- the image: runtime stage + site layer
root=$tmp/rootfs
STRIP=${STRIP:-strip} tests/container/mkrootfs.sh "$bin" conf/tomed.yaml "$root"
cp -R "$site/." "$root/srv/docs/"

# Nothing but tomed, its libraries, the loader, passwd/group, the config and the site.
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
libdir=$(cd "$root" && ls -d lib/*-linux-gnu*)
ldd "$bin" | awk '$2 == "=>" { n = $1; sub(".*/", "", n); print n }' | sort >"$tmp/ldd"
ls "$root/$libdir" | sort >"$tmp/copied"
cmp -s "$tmp/ldd" "$tmp/copied" || fail "libraries differ from ldd's list: $(diff "$tmp/ldd" "$tmp/copied" | grep '^[<>]' | tr '\n' ' ')"
(cd "$root" && find . ! -type d ! -path './srv/docs/*' | sed 's|^\.||' | sort) >"$tmp/files"
{ printf '%s\n' /tomed /etc/passwd /etc/group /etc/tomed/tomed.yaml "$interp"
  sed "s|^|/$libdir/|" "$tmp/copied"; } | sort >"$tmp/expected"
cmp -s "$tmp/files" "$tmp/expected" || fail "unexpected files in the image: $(diff "$tmp/expected" "$tmp/files" | grep '^[<>]' | tr '\n' ' ')"
[ -z "$(find "$root" -type l)" ] || fail "symlinks in the image: $(find "$root" -type l)"
readelf -S "$root/tomed" | grep -q '\.symtab' && fail "/tomed is not stripped"
pass "image holds only /tomed, $(wc -l <"$tmp/copied") libraries (= ldd), $interp, passwd, group, tomed.yaml and the site ($(du -sk "$root" | cut -f1) KiB)"

# Mount points a container runtime provides (not in the image), and the
# Deployment's storage emptyDir (storage.dir): a writable, disk-backed
# directory under the read-only root.
mkdir -p "$root/proc" "$root/dev" "$root/var/cache/tomed"
mkdir "$tmp/storage" && chmod 0777 "$tmp/storage"

# ---- run it: ENTRYPOINT ["/tomed"] CMD ["run", "--config", "/etc/tomed/tomed.yaml"]
# With an admin listener, as the Deployment's tomed.yaml sets one (admin.listen
# ":9090"): `tomed run` answers /metrics only there.
start=$(date +%s)
TOMED_ADMIN_LISTEN=:9090 TOMED_STORAGE_DIR=/var/cache/tomed unshare --mount --pid --net --uts --ipc --fork --kill-child --propagation private \
    sh -c '
        set -e
        r=$1; uid=$2
        ip link set lo up
        mount --bind "$r" "$r"
        mount -o remount,bind,ro,nosuid,nodev "$r"
        mount --bind "$3" "$r/var/cache/tomed"
        mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
        mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs "$r/dev"
        for d in null zero full random urandom; do
            : >"$r/dev/$d"; mount --bind "/dev/$d" "$r/dev/$d"
        done
        exec setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,+sys_chroot,+setuid,+setgid \
            -- chroot --userspec="$uid:$uid" --groups="" "$r" \
            /tomed run --config /etc/tomed/tomed.yaml
    ' sh "$root" "$uid" "$tmp/storage" >"$tmp/stdout" 2>"$tmp/stderr" &
upid=$!

# tomed is unshare's child (PID 1 in its namespace); wait until it is tomed.
pid=
for _ in $(seq 100); do
    pid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null | awk '{print $1}')
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$root/tomed" ]; then break; fi
    kill -0 "$upid" 2>/dev/null || fail "exited before serving"
    sleep 0.05
done
[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$root/tomed" ] || fail "tomed did not start"

get() {  # PATH [curl options] -> prints "STATUS" (body in $tmp/body, headers in $tmp/headers)
    p=$1; shift
    nsenter --target "$pid" --net curl -sS --max-time 5 -o "$tmp/body" -D "$tmp/headers" \
        -w '%{http_code}' "$@" "http://127.0.0.1:${port:-8080}$p" 2>>"$tmp/curl" || echo 000
}
for _ in $(seq 100); do
    [ "$(get /healthz)" = 200 ] && break
    kill -0 "$upid" 2>/dev/null || fail "exited before serving"
    sleep 0.05
done
[ "$(get /healthz)" = 200 ] || fail "/healthz never answered 200"
pass "serving on 0.0.0.0:8080 in its own network namespace after $(( $(date +%s) - start )) s"

# ---- the process is what the Deployment asks for
status=/proc/$pid/status
grep -q "^Uid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" "$status" || fail "not running as UID $uid: $(grep ^Uid "$status")"
grep -q "^Gid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" "$status" || fail "not running as GID $uid: $(grep ^Gid "$status")"
grep -q '^Groups:[[:space:]]*$' "$status" || fail "supplementary groups: $(grep ^Groups "$status")"
for c in CapInh CapPrm CapEff CapAmb; do
    grep -q "^$c:[[:space:]]*0000000000000000$" "$status" || fail "capabilities: $(grep "^$c" "$status")"
done
grep -q '^NoNewPrivs:[[:space:]]*1$' "$status" || fail "no_new_privs not set"
[ "$(awk '/^NSpid:/ {print $NF}' "$status")" = 1 ] || fail "tomed is not PID 1 in its namespace: $(grep ^NSpid "$status")"
[ "$(readlink "/proc/$pid/root")" = "$root" ] || fail "root is $(readlink "/proc/$pid/root")"
awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' || fail "root filesystem is not read-only"
# Every file mapped into the process comes from the image, but for the
# storage packs (the site's bytes as page cache): those are in the emptyDir,
# never in anonymous memory (memfd).
awk '$6 ~ /^\// { print $6 }' "/proc/$pid/maps" | sort -u >"$tmp/maps"
outside=$(grep -v "^$root/" "$tmp/maps" | grep -v '^/dev/' || true)
[ -z "$outside" ] || fail "files mapped from outside the image: $outside"
grep -q "^$root/var/cache/tomed/" "$tmp/maps" || fail "no storage pack mapped from the emptyDir: $(cat "$tmp/maps")"
pass "UID/GID $uid, no groups, no capabilities, no_new_privs, PID 1, read-only root, $(wc -l <"$tmp/maps") mapped files all from the image"

# ---- the site, as the smoke test will see it (baked config: base /)
expect() {  # STATUS PATH [curl options]
    want=$1 p=$2; shift 2
    got=$(get "$p" "$@")
    [ "$got" = "$want" ] || fail "GET $p: $got, want $want"
}
expect 200 /
grep -qi '<html' "$tmp/body" || fail "GET /: not the index page"
grep -qi '^content-security-policy:' "$tmp/headers" || fail "GET /: no Content-Security-Policy"
expect 200 /about
asset=$(cd "$root/srv/docs" && find _app/immutable -name '*.js' ! -name '*.br' ! -name '*.gz' | sort | head -n 1)
expect 200 "/$asset"
grep -qi '^cache-control: public, max-age=31536000, immutable' "$tmp/headers" || fail "GET /$asset: $(grep -i '^cache-control' "$tmp/headers")"
expect 404 /no-such-page
expect 200 /readyz
expect 404 /metrics   # not on the site's port (admin.public_metrics: false)
port=9090
expect 200 /metrics
port=8080
rss=$(awk '$1 == "process_resident_memory_bytes" { printf "%d", $2 }' "$tmp/body")
[ "${rss:-0}" -gt 0 ] || fail "/metrics: process_resident_memory_bytes is ${rss:-missing}"
pass "/, /about, /$asset (immutable), 404, /healthz, /readyz, /metrics on :9090 only (RSS $((rss / 1024)) KiB)"

# ---- SIGTERM to PID 1: drain (readiness 503), then exit 0
t0=$(date +%s)
kill -TERM "$pid"
sleep 0.3
ready=$(get /readyz)
[ "$ready" = 503 ] || fail "/readyz during the drain: $ready, want 503"
rc=0
wait "$upid" || rc=$?
upid=
elapsed=$(( $(date +%s) - t0 ))
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ "$elapsed" -le 15 ] || fail "took $elapsed s to stop after SIGTERM"
grep -q '\[notice\] stopped' "$tmp/stderr" || fail "no '[notice] stopped' line"
pass "SIGTERM: /readyz 503 while draining, exit 0 after $elapsed s"
echo "run-rootfs: PASS ($(( $(date +%s) - start )) s)"
