#!/usr/bin/env bash
# Installs the Debian packages ImagesKit builds, tests and runs with (skips those present).
#
# Daemons shipped by these packages (memcached, rsyslog, the object store servers) must not
# start during the install: the tests run their own copies on loopback, in folders of their
# own. A policy-rc.d that forbids service starts is put in place for the length of the
# install, and whatever policy was there before comes back afterwards.
#
# The object store packages come from OpenStack, whose command-line client (package
# python3-swiftclient) installs a program called `swift` in /usr/bin. On a PATH that lists
# /usr/bin before the toolchain, that program hides the Swift compiler driver. The install
# refuses to pull that package in, and the script ends by checking that `swift` is still the
# toolchain's.
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
    openssl          # the private authority of the HTTPS tests; the checked curl peer's SHA-256
    curl             # signed S3 requests in scripts/objectstore.sh
    libcurl4-openssl-dev # libcurl, the HTTP client of ImagesKitS3
    libxml2          # XMLParser (FoundationXML), which reads S3 answers
    rsyslog          # collects the object store servers' logs (scripts/objectstore.sh)
    # The S3-compatible object store of the ImagesKitS3 tests (scripts/objectstore.sh):
    # OpenStack Swift with its s3api and tempauth middleware, and memcached, which tempauth needs.
    swift
    swift-proxy
    swift-account
    swift-container
    swift-object
    python3-swift
    memcached
)

# Packages that must never be installed by this script (see the top of the file).
forbidden=(python3-swiftclient)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# Fails unless `swift` on PATH is a Swift toolchain's driver. A toolchain keeps swiftc in the
# same folder as swift; the OpenStack client does not come with one.
check_swift_toolchain() {
    local found real folder
    for folder in /usr/local/bin /usr/bin; do
        if [ -e "$folder/swift" ] && [ ! -e "$(dirname "$(readlink -f "$folder/swift")")/swiftc" ]; then
            echo "install-packages.sh: ERROR: $folder/swift is not the Swift toolchain's driver" >&2
            echo "  ($(dpkg -S "$folder/swift" 2>/dev/null || echo 'not from a Debian package'))." >&2
            echo "  It hides the toolchain on a PATH that lists $folder first, and 'swift build' fails." >&2
            echo "  Remove it, e.g. 'apt-get purge python3-swiftclient'." >&2
            exit 1
        fi
    done
    found=$(command -v swift || true)
    if [ -z "$found" ]; then
        echo "install-packages.sh: ERROR: no swift on PATH; add the toolchain's usr/bin to PATH" >&2
        exit 1
    fi
    real=$(readlink -f "$found")
    if [ ! -x "$(dirname "$real")/swiftc" ]; then
        echo "install-packages.sh: ERROR: swift on PATH is $found, not a Swift toolchain's driver" >&2
        exit 1
    fi
}

# Puts a policy-rc.d that refuses every service start (exit status 101) in place, keeping a
# copy of any policy there was; restore_service_policy puts things back as they were.
policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_replaced=0
forbid_service_starts() {
    if [ -e "$policy" ]; then
        policy_backup=$($sudo mktemp /usr/sbin/.policy-rc.d.saved.XXXXXX)
        $sudo cp -p "$policy" "$policy_backup"
    fi
    policy_replaced=1
    printf '#!/bin/sh\n# Written by ImagesKit scripts/install-packages.sh during an install.\nexit 101\n' |
        $sudo tee "$policy" > /dev/null
    $sudo chmod 755 "$policy"
}
restore_service_policy() {
    [ "$policy_replaced" -eq 1 ] || return 0
    if [ -n "$policy_backup" ]; then
        $sudo mv -f "$policy_backup" "$policy"
    else
        $sudo rm -f "$policy"
    fi
    policy_replaced=0
}

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    # Look at what apt would install before letting it install anything.
    plan=$(apt-get install -s -q --no-install-recommends "${missing[@]}")
    for package in "${forbidden[@]}"; do
        if grep -q "^Inst $package " <<< "$plan"; then
            echo "install-packages.sh: ERROR: installing ${missing[*]} would pull in $package; refusing" >&2
            exit 1
        fi
    done
    trap restore_service_policy EXIT
    trap 'exit 130' INT TERM # so that the EXIT trap runs when interrupted too
    forbid_service_starts
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
    restore_service_policy
    trap - EXIT INT TERM
fi

check_swift_toolchain
