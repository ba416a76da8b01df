#!/usr/bin/env bash
# Installs the Debian packages ImagesKit builds, tests and runs with (skips those present).
set -euo pipefail

packages=(
    zlib1g-dev       # zlib, the gzip codec
    libssl-dev       # libcrypto, SHA-256
    e2fsprogs        # mkfs.ext4, e2fsck, resize2fs, debugfs, dumpe2fs
    debootstrap      # the Debian system of the end-to-end test
    gzip             # reference tool in codec tests
    pigz             # reference tool in codec tests
    xfsprogs         # xfs disks the capture must refuse
    btrfs-progs      # btrfs disks the capture must refuse
    fdisk            # sfdisk, partitioned disks the capture must refuse
    dosfstools       # vfat disks the capture must refuse
    util-linux       # mkswap
    mount            # mount, umount: the small tmpfs the full-disk tests fill
    python3          # builds hostile inputs in tests; checks the store in scripts/crash-soak.sh
    xz-utils         # other formats an upload must refuse by name
    liblzma-dev      # liblzma, the xz codec
    pixz             # reference tool in xz codec tests (parallel xz with an index)
    libisal-dev      # ISA-L, the inflate of indexed gzip chunks and its CRC-32
    isal             # igzip, reference tool in codec tests
    tabix            # bgzip, reference tool in codec tests
    time             # /usr/bin/time, peak memory in scripts/benchmark.sh
    libdeflate-tools # libdeflate-gzip, a gzip peer in scripts/benchmark.sh
    bzip2
    zstd
    ca-certificates
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
