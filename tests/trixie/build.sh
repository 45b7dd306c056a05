#!/bin/sh
# tomed built against Debian 13's own packages (libmicrohttpd 1.0.1) on this
# Debian 12 machine, and a wrapper that runs it:
#
#   tests/trixie/build.sh            as root; then build/trixie/tomed is the binary to test
#
# 1. build/trixie/root: a trixie root from tests/trixie/mkroot.sh (cached:
#    about a minute the first time, nothing afterwards);
# 2. tomed built inside it (chroot) with trixie's gcc, headers and
#    pkg-config, from a copy of Makefile, src/ and include/ in ROOT/src
#    (mtimes kept, so a second run only recompiles what changed): the binary
#    is ROOT/src/build/tomed;
# 3. build/trixie/tomed, a wrapper that runs that binary with the root's own
#    dynamic loader and libraries (--library-path): every library it loads,
#    libc included, is trixie's, while the paths, users and uids the tests
#    hand it are this machine's, exactly as for the native binary (a chroot
#    could not serve the test that drops to the pod's uid before exec'ing
#    tomed); `exec` keeps the PID, so the harness's signals reach tomed.
# Checks that the wrapper's `tomed version` names libmicrohttpd 1.x.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 2; }
out=$PWD/build/trixie
root=$out/root
start=$(date +%s)
tests/trixie/mkroot.sh "$root"
t_root=$(( $(date +%s) - start ))

mkdir -p "$root/src"
rm -rf "$root/src/src" "$root/src/include"
tar -cf - Makefile src include | tar -xf - -C "$root/src"
chroot "$root" make -C /src -j"$(nproc)" WERROR=1 all >"$out/build.log" 2>&1 ||
    { cat "$out/build.log" >&2; echo "trixie: build inside $root failed" >&2; exit 1; }

triplet=$(chroot "$root" gcc -print-multiarch)
interp=$(LC_ALL=C readelf -l "$root/src/build/tomed" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
cat >"$out/tomed" <<WRAP
#!/bin/sh
# tomed built in $root, run with that root's loader and libraries (tests/trixie/build.sh)
exec $root$interp --library-path $root/lib/$triplet:$root/usr/lib/$triplet \\
    --argv0 "\$0" $root/src/build/tomed "\$@"
WRAP
chmod +x "$out/tomed"
version=$("$out/tomed" version)
case $version in
    *"libmicrohttpd 1."*) ;;
    *) echo "trixie: $out/tomed does not run libmicrohttpd 1.x: $version" >&2; exit 1 ;;
esac
echo "trixie: root ${t_root} s, build $(( $(date +%s) - start - t_root )) s: $version"
