#!/usr/bin/env bash
# The main job on the default store: make a small ext4 disk, capture it, list, deploy, check.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build -c release --product imagesctl >/dev/null
imagesctl=$(swift build -c release --show-bin-path)/imagesctl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree/etc" "$work/tree/srv/www"
echo "demo-server" >"$work/tree/etc/hostname"
head -c 8000000 /dev/urandom >"$work/tree/srv/www/payload.bin"
cp -r scripts "$work/tree/srv/"

echo "== making a 256 MiB ext4 disk with mkfs.ext4 -d"
truncate -s 256M "$work/source.img"
mkfs.ext4 -q -F -L demo -d "$work/tree" "$work/source.img"

echo "== capture"
"$imagesctl" capture "$work/source.img" --label "demo disk" --tag demo --description "made by scripts/demo.sh"
id=$("$imagesctl" --json list | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][-1]["id"])')

echo "== list"
"$imagesctl" list

echo "== deploy $id to a new 512 MiB disk"
"$imagesctl" deploy "$id" "$work/deployed.img" --size 512M

echo "== check the deployed disk"
e2fsck -fn "$work/deployed.img"
debugfs -R "dump /srv/www/payload.bin $work/payload.copy" "$work/deployed.img" 2>/dev/null
cmp "$work/tree/srv/www/payload.bin" "$work/payload.copy"
echo "deployed disk is clean and holds the same files"
