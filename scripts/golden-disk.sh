#!/usr/bin/env bash
# Makes a golden disk: an unpartitioned ext4 disk file holding a minimal Debian system.
#
#   scripts/golden-disk.sh OUT.img [SIZE]      SIZE as truncate reads it, 2G by default
#
# The Debian tree is made once with debootstrap (as root) and cached as a tarball in
# $IMAGESKIT_CACHE (default ~/.cache/imageskit); the disk is made with mkfs.ext4 -d.
set -euo pipefail

out=${1:?usage: golden-disk.sh OUT.img [SIZE]}
size=${2:-2G}
cache=${IMAGESKIT_CACHE:-$HOME/.cache/imageskit}
suite=${IMAGESKIT_SUITE:-bookworm}
mirror=${IMAGESKIT_MIRROR:-http://deb.debian.org/debian}
tarball="$cache/debian-$suite-minbase.tar"

if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/debootstrap.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$work/log" 2>&1 || {
        tail -20 "$work/log" >&2
        echo "golden-disk: debootstrap failed; it needs root and a reachable Debian mirror" >&2
        exit 1
    }
    tar -C "$work/root" --numeric-owner -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
fi

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
tar -C "$tree" --numeric-owner -xf "$tarball"
rm -f "$out"
truncate -s "$size" "$out"
mkfs.ext4 -q -F -L golden -d "$tree" "$out"
