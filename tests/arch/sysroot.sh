#!/bin/sh
# Build a target sysroot from Debian's archive without touching dpkg: a private
# apt state (its own lists, cache and an empty status file), so nothing is
# installed on this machine and no version has to match the host's packages.
#
#   tests/arch/sysroot.sh ARCH DIR [SUITES]     e.g.  tests/arch/sysroot.sh armhf build/sysroot-armhf
#
# Downloads the -dev packages tomed builds against (and cmocka), with their whole
# dependency closure, for ARCH from SUITES (default: "bookworm bookworm-updates
# bookworm-security"; the indexes are verified against Debian's archive keyring
# as usual) and unpacks them into DIR. Then:
#
#   S=$PWD/build/sysroot-armhf
#   make CROSS=arm-linux-gnueabihf- BUILD=build/arm-linux-gnueabihf \
#        CC="arm-linux-gnueabihf-gcc --sysroot=$S" \
#        PKG_CONFIG="PKG_CONFIG_SYSROOT_DIR=$S PKG_CONFIG_LIBDIR=$S/usr/lib/arm-linux-gnueabihf/pkgconfig:$S/usr/share/pkgconfig pkg-config"
#   QEMU_LD_PREFIX=$S tests/arch/qemu-run build/arm-linux-gnueabihf/tomed version
#
# This is the fallback when the multiarch way (`make deps-cross`) cannot work:
# without root, or when the mirror's index for ARCH is out of sync with the
# host's (see docs/platforms.md). Needs the cross compiler (gcc-TRIPLET) itself.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 ARCH DIR [SUITES]" >&2; exit 2; }
arch=$1 dir=$(realpath -m "$2") suites=${3:-"bookworm bookworm-updates bookworm-security"}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
pkgs="libmicrohttpd-dev zlib1g-dev libbrotli-dev libyaml-dev libssl-dev libcmocka-dev libc6-dev"

state=$dir.apt
rm -rf "$state" "$dir"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/etc/preferences.d" "$dir"
: >"$state/status"
for s in $suites; do
    case $s in
        *-security) echo "deb [arch=$arch] $security $s main" ;;
        *)          echo "deb [arch=$arch] $mirror $s main" ;;
    esac
done >"$state/sources.list"
set -- -o APT::Architecture="$arch" -o APT::Architectures::="$arch" \
       -o Dir::State="$state" -o Dir::State::Lists="$state/lists" -o Dir::State::status="$state/status" \
       -o Dir::Cache="$state/cache" -o Dir::Etc::SourceList="$state/sources.list" \
       -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::Preferences="$state/etc/preferences" \
       -o Dir::Etc::PreferencesParts="$state/etc/preferences.d" \
       -o Debug::NoLocking=1 -o APT::Install-Recommends=false
apt-get "$@" -qq update
apt-get "$@" -qq -y --download-only install $pkgs
for deb in "$state"/cache/archives/*.deb; do
    dpkg-deb -x "$deb" "$dir"
done
# Absolute symlinks (e.g. libfoo.so -> /lib/...) must point into the sysroot.
find "$dir" -type l | while read -r l; do
    t=$(readlink "$l")
    case $t in /*) ln -sfn "$dir$t" "$l" ;; esac
done
echo "sysroot: $(ls "$state"/cache/archives/*.deb | wc -l) packages for $arch in $dir"
