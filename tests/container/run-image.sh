#!/bin/sh
# The container test with Debian's buildah and podman: build the runtime stage
# of deploy/Dockerfile and the site image of deploy/site.Dockerfile, and run the
# site image with podman as the Deployment runs it: read-only root, UID/GID
# 65532, all capabilities dropped, no_new_privs, tomed as PID 1 with the
# image's own ENTRYPOINT and CMD; then fetch the site, stop it (SIGTERM) and
# require exit status 0.
#
#   tests/container/run-image.sh [BINARY]        as root
#
# No registry is reachable here, so deploy/Dockerfile's build stage (FROM
# debian:13-slim) cannot run: its output, /rootfs, is assembled locally by the
# same script (tests/container/mkrootfs.sh) from what that stage builds: tomed
# compiled in a Debian 13 root against Debian 13's packages, and that root's
# libraries (tests/trixie/build.sh, whose root `make test-trixie` caches in
# build/trixie/root), so the image runs libmicrohttpd 1.0.1 as the cluster's
# does, which is checked. A BINARY argument uses that binary and this
# machine's libraries instead (a Debian 12 build). The tree is put into an image with
# `buildah from scratch` + `buildah copy`, and passed as ROOTFS_IMAGE; buildah
# then builds the Dockerfile's real runtime stage (`--target runtime`), skipping
# the unused build stage. Everything lives in a private storage directory (vfs
# driver, chroot isolation) that is removed afterwards.
#
# Here (Debian 12, cgroup v1 + v2 hybrid, no CAP_SYS_RESOURCE) podman needs:
#   --runtime runc   crun 1.8 refuses: "cgroups in hybrid mode not supported,
#                    drop all controllers from cgroupv2"
#   --ulimit ...     podman's default RLIMIT_NOFILE/NPROC exceed this machine's
#                    hard limits: "error setting rlimit type 7: operation not
#                    permitted"
#   --network none   no CNI bridge needed; curl runs in the container's network
#                    namespace through nsenter.
# Not root, or buildah/podman/runc missing: prints SKIP and exits 0.
set -eu

cd "$(dirname "$0")/../.."
bin=${1:-}
uid=65532

if [ "$(id -u)" != 0 ]; then
    echo "run-image: SKIP: needs root"; exit 0
fi
for tool in buildah podman runc nsenter curl; do
    command -v $tool >/dev/null || { echo "run-image: SKIP: $tool not installed (make test-container installs it as root)"; exit 0; }
done
if [ -z "$bin" ]; then
    tests/trixie/build.sh >/dev/null
    export SYSROOT=$PWD/build/trixie/root
    bin=$SYSROOT/src/build/tomed
    want_mhd=$(chroot "$SYSROOT" dpkg-query -W -f '${Version}' libmicrohttpd-dev | sed 's/-[^-]*$//')
else
    want_mhd=
fi
[ -x "$bin" ] || { echo "run-image: $bin not built (make)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/tomed-image.XXXXXX)
S="--root $tmp/storage --runroot $tmp/run --storage-driver vfs"
P="$S --tmpdir $tmp/tmp --runtime runc --events-backend none --cgroup-manager cgroupfs"
name=tomed-test-$$
cleanup() {
    podman $P rm -f -t 0 "$name" >/dev/null 2>&1 || true
    buildah $S rm --all >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "run-image: FAIL: $*" >&2; podman $P logs "$name" 2>&1 | sed 's/^/  tomed: /' >&2 || true; exit 1; }
pass() { echo "run-image: ok: $*"; }
start=$(date +%s)

# ---- images
mkdir -p "$tmp/rootfs-ctx" "$tmp/empty" "$tmp/site-ctx"
STRIP=${STRIP:-strip} tests/container/mkrootfs.sh "$bin" conf/tomed.yaml "$tmp/rootfs-ctx/rootfs"
c=$(buildah $S from scratch)
buildah $S copy "$c" "$tmp/rootfs-ctx/rootfs" /rootfs >/dev/null
buildah $S commit -q "$c" localhost/tomed-rootfs:test >/dev/null
arch=$(dpkg --print-architecture)
buildah $S bud -q --isolation chroot --target runtime \
    --build-arg ROOTFS_IMAGE=localhost/tomed-rootfs:test \
    --build-arg TARGETARCH="$arch" --build-arg BUILDARCH="$arch" --build-arg TARGETVARIANT= \
    -f deploy/Dockerfile -t localhost/tomed:test "$tmp/empty" >/dev/null 2>"$tmp/bud.err" ||
    { cat "$tmp/bud.err" >&2; fail "buildah bud deploy/Dockerfile"; }
cp -R examples/site/docs "$tmp/site-ctx/docs"
buildah $S bud -q --isolation chroot --build-arg TOMED_IMAGE=localhost/tomed:test \
    -f deploy/site.Dockerfile -t localhost/tomed-site:test "$tmp/site-ctx" >/dev/null 2>"$tmp/bud.err" ||
    { cat "$tmp/bud.err" >&2; fail "buildah bud deploy/site.Dockerfile"; }

# The site image's build ran `tomed precompress` (on the build platform): its
# compressible files have brotli and gzip siblings that decode to the file.
c=$(buildah $S from -q localhost/tomed-site:test)
m=$(buildah $S mount "$c")
nbr=$(find "$m/srv/docs" -name '*.br' | wc -l)
ngz=$(find "$m/srv/docs" -name '*.gz' | wc -l)
[ "$nbr" -gt 0 ] && [ "$ngz" -gt 0 ] || fail "site image: no precompressed siblings ($nbr .br, $ngz .gz)"
for f in $(find "$m/srv/docs" -name '*.br' | head -n 5); do
    brotli -dc "$f" | cmp -s - "${f%.br}" || fail "site image: ${f#$m} does not decode to its file"
done
buildah $S umount "$c" >/dev/null; buildah $S rm "$c" >/dev/null
pass "site image precompressed at build: $nbr .br and $ngz .gz siblings"

if [ -n "$want_mhd" ]; then
    v=$(podman $P run --rm --network none --read-only --user "$uid:$uid" --ulimit nofile=4096:4096 \
        --ulimit nproc=4096:4096 localhost/tomed:test version 2>&1) || fail "tomed version: $v"
    case $v in *"(libmicrohttpd $want_mhd,"*) ;; *) fail "image runs '$v', want libmicrohttpd $want_mhd" ;; esac
    pass "the image's tomed was built on Debian 13: $v"
fi

cfg=$(buildah $S inspect --type image --format '{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Cmd}}' localhost/tomed:test)
[ "$cfg" = '65532:65532|[/tomed]|[run --config /etc/tomed/tomed.yaml]' ] || fail "image config: $cfg"

# Compressed size as a registry stores it: push to an OCI layout with gzip.
buildah $S push -q --compression-format gzip localhost/tomed:test "oci:$tmp/oci:tomed" >/dev/null
layers=$(python3 - "$tmp/oci" <<'EOF'
import json, sys, os
root = sys.argv[1]
index = json.load(open(os.path.join(root, "index.json")))
def blob(d): return os.path.join(root, "blobs", *d["digest"].split(":"))
manifest = json.load(open(blob(index["manifests"][0])))
print(sum(l["size"] for l in manifest["layers"]) + manifest["config"]["size"])
EOF
)
[ "$layers" -lt 10000000 ] || fail "image is $layers bytes compressed, over 10 MB"
pass "built deploy/Dockerfile (runtime stage) and deploy/site.Dockerfile; tomed image $(( layers / 1024 )) KiB compressed"

# ---- run the site image as the Deployment does
podman $P run -d --name "$name" --read-only --user "$uid:$uid" --cap-drop=ALL \
    --security-opt no-new-privileges --network none \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    localhost/tomed-site:test >/dev/null 2>"$tmp/run.err" || { cat "$tmp/run.err" >&2; fail "podman run"; }
pid=$(podman $P inspect -f '{{.State.Pid}}' "$name")
get() {
    p=$1; shift
    nsenter --target "$pid" --net curl -sS --max-time 5 -o "$tmp/body" -D "$tmp/headers" \
        -w '%{http_code}' "$@" "http://127.0.0.1:8080$p" 2>/dev/null || echo 000
}
for _ in $(seq 100); do
    [ "$(get /healthz)" = 200 ] && break
    [ "$(podman $P inspect -f '{{.State.Running}}' "$name")" = true ] || fail "exited before serving"
    sleep 0.05
done
[ "$(get /healthz)" = 200 ] || fail "/healthz never answered 200"

status=/proc/$pid/status
grep -q "^Uid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" "$status" || fail "$(grep ^Uid "$status")"
grep -q "^Gid:[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid[[:space:]]*$uid$" "$status" || fail "$(grep ^Gid "$status")"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
    grep -q "^$c:[[:space:]]*0000000000000000$" "$status" || fail "capabilities: $(grep "^$c" "$status")"
done
grep -q '^NoNewPrivs:[[:space:]]*1$' "$status" || fail "no_new_privs not set"
[ "$(awk '/^NSpid:/ {print $NF}' "$status")" = 1 ] || fail "not PID 1: $(grep ^NSpid "$status")"
awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' || fail "root filesystem is not read-only"
pass "podman: UID/GID $uid, no capabilities (bounding set empty), no_new_privs, PID 1, read-only root"

expect() {
    want=$1 p=$2; shift 2
    got=$(get "$p" "$@")
    [ "$got" = "$want" ] || fail "GET $p: $got, want $want"
}
expect 200 /
grep -qi '<html' "$tmp/body" || fail "GET /: not the index page"
expect 200 /about
asset=$(cd examples/site/docs && find _app/immutable -name '*.js' ! -name '*.br' ! -name '*.gz' | sort | head -n 1)
expect 200 "/$asset"
grep -qi '^cache-control: public, max-age=31536000, immutable' "$tmp/headers" || fail "GET /$asset: not immutable"
expect 404 /no-such-page
expect 200 /readyz
pass "/, /about, /$asset (immutable), 404, /healthz, /readyz"

# ---- podman stop: SIGTERM (the image's STOPSIGNAL), then exit 0
t0=$(date +%s)
podman $P stop -t 20 "$name" >/dev/null
code=$(podman $P inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit status $code after SIGTERM"
podman $P logs "$name" 2>&1 | grep -q '\[notice\] stopped' || fail "no '[notice] stopped' line"
pass "podman stop: exit 0 after $(( $(date +%s) - t0 )) s"
echo "run-image: PASS ($(( $(date +%s) - start )) s)"
