#!/bin/sh
# Assemble the container image's runtime filesystem: tomed, exactly the shared
# libraries it needs (its DT_NEEDED closure), the dynamic loader, a default
# config, passwd/group naming UID 65532, and an empty /srv/docs. Nothing else:
# no shell, no package manager, no /etc/ld.so.cache.
#
#   tests/container/mkrootfs.sh BINARY CONFIG OUTDIR
#
# Used by `make rootfs` (and so by deploy/Dockerfile's build stage and by the
# container test), for any architecture: the closure is read with readelf, not
# ldd, so a cross-built binary works on the build machine. Libraries are looked
# up in Debian's multiarch directories for the binary's architecture.
#
# Environment: READELF (default readelf; any GNU readelf reads every ELF
# target), STRIP (e.g. aarch64-linux-gnu-strip; unset: keep symbols), SYSROOT
# (look the libraries up under it instead of /, for a binary linked against a
# sysroot such as tests/arch/sysroot.sh makes).
set -eu

[ $# -eq 3 ] || { echo "usage: $0 BINARY CONFIG OUTDIR" >&2; exit 2; }
bin=$1 conf=$2 out=$3
readelf=${READELF:-readelf}

machine=$(LC_ALL=C "$readelf" -h "$bin" | sed -n 's/^ *Machine: *//p')
case $machine in
    AArch64)                        triplet=aarch64-linux-gnu ;;
    ARM)                            triplet=arm-linux-gnueabihf ;;
    "Advanced Micro Devices X86-64") triplet=x86_64-linux-gnu ;;
    *) echo "$0: $bin: unsupported machine '$machine'" >&2; exit 1 ;;
esac
interp=$(LC_ALL=C "$readelf" -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
[ -n "$interp" ] || { echo "$0: $bin: no program interpreter (static?)" >&2; exit 1; }
sysroot=${SYSROOT:-}
search="$sysroot/lib/$triplet $sysroot/usr/lib/$triplet $sysroot/lib $sysroot/usr/lib"

rm -rf "$out"
mkdir -p "$out/lib/$triplet" "$out/etc/tomed" "$out/srv/docs" "$out${interp%/*}"

needed() { LC_ALL=C "$readelf" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }

# Breadth-first over DT_NEEDED. The loader satisfies its own soname (libc
# needs it) without a second copy.
queue=$bin seen=" ${interp##*/} "
while [ -n "$queue" ]; do
    set -- $queue; f=$1; shift; queue=$*
    for n in $(needed "$f"); do
        case $seen in *" $n "*) continue ;; esac
        seen="$seen$n "
        path=
        for d in $search; do
            if [ -e "$d/$n" ]; then path=$d/$n; break; fi
        done
        [ -n "$path" ] || { echo "$0: $n (needed by $f) not found in $search" >&2; exit 1; }
        cp -L "$path" "$out/lib/$triplet/$n"
        queue="$queue $path"
    done
done
found=
for d in $search $sysroot/lib64 $sysroot/usr/lib64; do
    if [ -e "$d/${interp##*/}" ]; then found=$d/${interp##*/}; break; fi
done
[ -n "$found" ] || { echo "$0: loader $interp not found" >&2; exit 1; }
cp -L "$found" "$out$interp"

cp "$bin" "$out/tomed"
if [ -n "${STRIP:-}" ]; then "$STRIP" "$out/tomed"; fi
cp "$conf" "$out/etc/tomed/tomed.yaml"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$out/etc/group"

chmod 0755 "$out/tomed" "$out$interp" "$out/lib/$triplet"/*
chmod 0644 "$out/etc/tomed/tomed.yaml" "$out/etc/passwd" "$out/etc/group"
find "$out" -type d -exec chmod 0755 {} +
