#!/bin/sh
# The integration suite against Debian 13's own packages (libmicrohttpd 1.0.1)
# on this Debian 12 machine (0.9.75): `make test-trixie`, part of `make test`.
#
#   tests/trixie/run.sh [PYTEST ARGS...]         as root
#
# tests/trixie/build.sh builds tomed in a cached trixie root and the wrapper
# build/trixie/tomed; the suite then runs with TOMED_BIN set to it. Tests whose
# expected behaviour depends on the library read its version from `tomed
# version` (conftest.libmhd_version) and assert what each version does.
# Not root: prints SKIP and exits 0 (as tests/container/ does).
set -eu
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
    echo "test-trixie: SKIP: needs root (debootstrap, chroot)"; exit 0
fi
start=$(date +%s)
tests/trixie/build.sh
TOMED_BIN=$PWD/build/trixie/tomed ${PYTHON:-/usr/bin/python3} -m pytest -q tests/integration "$@"
echo "test-trixie: $(( $(date +%s) - start )) s in all"
