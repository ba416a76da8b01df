#!/usr/bin/env bash
# Makes the large disk of the peak-memory check: an unpartitioned 6 GB ext4 disk file holding
# 4.25 GiB of data that codecs find hard, easy, or hard only for gzip. The disk is 5722 MiB,
# the most whole mebibytes within the product's 6,000,000,000-byte image limit, so that a
# capture, or an upload of the whole disk, is as large as an image may be.
#
#   scripts/large-disk.sh OUT.img
#
# Writes OUT.img and OUT.sums (the SHA-256 of every file, as `sha256sum` prints it with paths
# from the disk's root). The files are made in a folder beside OUT and copied in with
# mkfs.ext4 -d, so about 4.3 GB of free space is needed there for a minute.
#
#   /random/     256 MiB of random bytes: incompressible for gzip and xz alike
#   /echo/       1 GiB in 128 MiB files, each one 64 KiB random block repeated: beyond gzip's
#                32 KiB window, so a gzip copy is as large as the data, but well inside xz's
#   /pattern/    3 GiB in 256 MiB files, each one 4 KiB random block repeated: a few MB in
#                either format
set -euo pipefail

out=${1:?usage: large-disk.sh OUT.img}
tree=$(mktemp -d "$(dirname "$out")/large-tree.XXXXXX")
trap 'rm -rf "$tree"' EXIT

mib=1048576

# Writes COUNT MiB made of one random block of BYTES bytes repeated: repeated BYTES COUNT >OUT.
repeated() {
    local bytes=$1 count=$2 unit="$tree/unit" i
    head -c "$bytes" /dev/urandom >"$unit"
    # Doubling the block up to 1 MiB keeps the number of cat processes small.
    while [ "$(stat -c %s "$unit")" -lt "$mib" ]; do
        cat "$unit" "$unit" >"$unit.next"
        mv "$unit.next" "$unit"
    done
    for ((i = 0; i < count; i++)); do cat "$unit"; done
    rm -f "$unit"
}

mkdir "$tree/root" "$tree/root/random" "$tree/root/echo" "$tree/root/pattern"
for i in 1 2; do head -c $((128 * mib)) /dev/urandom >"$tree/root/random/$i.bin"; done
for i in $(seq 8); do repeated 65536 128 >"$tree/root/echo/$i.bin"; done
for i in $(seq 12); do repeated 4096 256 >"$tree/root/pattern/$i.bin"; done

(cd "$tree/root" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sed 's| \./| /|' >"$out.sums"
rm -f "$out"
truncate -s 5722M "$out"
mkfs.ext4 -q -F -L large -d "$tree/root" "$out"
