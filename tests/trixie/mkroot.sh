#!/bin/sh
# A Debian 13 (trixie) root to build and test tomed against Debian 13's own
# packages (libmicrohttpd 1.0.1) on a Debian 12 machine: debootstrap's minbase,
# then the build packages with apt-get inside it (chroot), like a `FROM
# debian:13-slim` build stage would install them.
#
#   tests/trixie/mkroot.sh DIR          as root; e.g. build/trixie/root
#
# The archive is the one this machine's apt already uses (the first
# deb.debian.org-style URI for "debian" in /etc/apt/sources.list{,.d/*}, and the
# one for "debian-security"), so no other host is contacted; DEBIAN_MIRROR and
# DEBIAN_SECURITY_MIRROR override them. Indexes are verified with this
# machine's debian-archive-keyring, which carries the trixie keys.
#
# Cached: DIR/.tomed-root names a hash of this script; when it matches, nothing
# is done (a second run takes well under a second). Delete DIR to start over.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 2; }
dir=$(realpath -m "$1")
suite=trixie
pkgs="make gcc libc6-dev pkgconf libmicrohttpd-dev zlib1g-dev libbrotli-dev libyaml-dev libssl-dev"
stamp="$dir/.tomed-root"
key=$(cat "$0" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
    exit 0
fi

# The URIs this machine's apt uses for Debian and its security archive (both
# the one-line and the deb822 formats).
apt_uris() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
               -e 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' |
        tr ' ' '\n'
}
mirror=${DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian/?$' | head -n 1)}
security=${DEBIAN_SECURITY_MIRROR:-$(apt_uris | grep -E '/debian-security/?$' | head -n 1)}
[ -n "$mirror" ] || { echo "$0: no Debian archive in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2; exit 1; }
mirror=${mirror%/} security=${security%/}

start=$(date +%s)
rm -rf "$dir"
mkdir -p "$dir"
echo "trixie-root: debootstrap $suite from $mirror into $dir"
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$suite" "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 ||
    { tail -n 30 "$dir.debootstrap.log" >&2; echo "$0: debootstrap failed (log: $dir.debootstrap.log)" >&2; exit 1; }
{
    echo "deb $mirror $suite main"
    echo "deb $mirror $suite-updates main"
    [ -z "$security" ] || echo "deb $security $suite-security main"
} >"$dir/etc/apt/sources.list"
cp /etc/resolv.conf /etc/hosts "$dir/etc/"
chroot "$dir" sh -c "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq -y \
    --no-install-recommends install $pkgs >/dev/null && apt-get clean" ||
    { echo "$0: apt-get inside $dir failed" >&2; exit 1; }
echo "$key" >"$stamp"
echo "trixie-root: $(chroot "$dir" dpkg-query -W -f '${Version}' libmicrohttpd-dev | sed 's/^/libmicrohttpd-dev /') in $(( $(date +%s) - start )) s"
