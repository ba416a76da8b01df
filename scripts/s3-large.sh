#!/usr/bin/env bash
# Moves 6 GB-class images through the S3 store and reads the peak memory of every step: not
# part of CI (it takes minutes and about 25 GB of free disk).
#
#   scripts/s3-large.sh
#
# Starts the object store of scripts/objectstore.sh on 127.0.0.1 (ports from
# OBJECTSTORE_BASE_PORT, 18390 by default) in a state folder of its own, then, each step under
# /usr/bin/time -v:
#
#   1. imagesctl --store s3://... capture of the 6 GB disk (large.img), gzip level 6
#   2. imagesctl upload of large.img.gz, its raw bytes compressed by pigz
#   3. imagesctl deploy of each to a new disk file; each disk must pass e2fsck -fn and hold
#      the files of large.sums with their SHA-256 (read with debugfs cat); the upload's disk
#      must also equal large.img byte for byte
#   4. imageskit-bench put of 6,000,000,000 random bytes through the store's writer, and get
#      back through its reader; the SHA-256 of what came back must be the file's
#
# Prints one line per step (seconds, peak resident set in MiB, within the 256 MiB target or
# not) and exits 1 when a check fails or a step goes over 256 MiB. The store, its objects and
# every temporary file are removed at the end, failed or not.
#
# Inputs come from $IMAGESKIT_BENCH_WORK (default .build/bench): large.img, large.sums and
# large.img.gz, as scripts/benchmark.sh makes them (scripts/large-disk.sh, then pigz -6 -p2).
set -euo pipefail
cd "$(dirname "$0")/.."

work=${IMAGESKIT_BENCH_WORK:-$PWD/.build/bench}
work=$(cd "$work" && pwd)
state="$work/objectstore-large"
scratch="$work/s3-large"
bucket=large
# The most memory any step may take, in MiB.
limit=256

fail() {
    echo "s3-large: $*" >&2
    exit 1
}

for input in large.img large.sums large.img.gz; do
    [ -s "$work/$input" ] || fail "$work/$input is missing; run scripts/benchmark.sh once (it makes the 6 GB inputs)"
done
for tool in /usr/bin/time e2fsck debugfs sha256sum cmp python3; do
    command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/install-packages.sh"
done

# Stops the store (only the processes objectstore.sh recorded for this state folder) and
# removes it with its objects, and the temporary files.
clean_up() {
    scripts/objectstore.sh stop "$state" --purge >/dev/null 2>&1 ||
        echo "s3-large: could not stop the object store; run scripts/objectstore.sh stop $state" >&2
    rm -rf "$scratch"
}

swift build -c release --product imagesctl >&2
swift build -c release --product imageskit-bench >&2
bin=$(swift build -c release --show-bin-path)

clean_up
trap clean_up EXIT
mkdir -p "$scratch"
OBJECTSTORE_INSTALL=0 OBJECTSTORE_BASE_PORT=${OBJECTSTORE_BASE_PORT:-18390} \
    scripts/objectstore.sh start "$state" >/dev/null || fail "the object store did not start (logs in $state/log)"
scripts/objectstore.sh bucket "$state" "$bucket" >/dev/null || fail "could not make bucket $bucket"
# S3_ENDPOINT, S3_REGION and the credentials, for imagesctl and imageskit-bench.
set -a
# shellcheck disable=SC1091 # written by objectstore.sh start
. "$state/env"
set +a
export AWS_REGION=$S3_REGION

over=0

# Runs a step under /usr/bin/time -v, its output in $scratch/out, and prints its line: the
# process's seconds (and the transfer's own, for imageskit-bench), its peak resident set and
# the verdict. step NAME COMMAND...
step() {
    local name=$1 seconds peak own verdict="within"
    shift
    /usr/bin/time -v -o "$scratch/time" "$@" >"$scratch/out" 2>"$scratch/err" ||
        fail "$name failed: $(tail -n 3 "$scratch/err")"
    seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$scratch/time")
    peak=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$scratch/time")
    own=$(awk '$1 == "seconds" { printf " (transfer %s s)", $2 }' "$scratch/out")
    if [ "$peak" -gt "$limit" ]; then
        verdict="OVER"
        over=1
    fi
    printf '%-48s %8.2f s%s  %4d MiB peak, %s %d MiB\n' "$name" "$seconds" "$own" "$peak" "$verdict" "$limit"
}

# imagesctl against the bucket, its answers as JSON.
imagesctl=("$bin/imagesctl" --store "s3://$bucket/images" --s3-endpoint "$S3_ENDPOINT" --json)

# The id of the image imagesctl's last answer shows.
answered_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' <"$scratch/out"; }

# A deployed disk must pass e2fsck -fn and hold every file of large.sums with its SHA-256.
check_disk() {
    local disk=$1 sum path
    e2fsck -fn "$disk" >/dev/null 2>&1 || fail "$disk does not pass e2fsck -fn"
    while read -r sum path; do
        [ "$(debugfs -R "cat $path" "$disk" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
            fail "$path on $disk differs from the 6 GB disk's"
    done <"$work/large.sums"
}

step "capture large.img (gzip level 6)" "${imagesctl[@]}" capture "$work/large.img" --label large-capture
captured=$(answered_id)
step "upload large.img.gz" "${imagesctl[@]}" upload "$work/large.img.gz" --label large-upload --region local
uploaded=$(answered_id)

step "deploy the capture to a new disk file" "${imagesctl[@]}" deploy "$captured" "$scratch/captured.img"
check_disk "$scratch/captured.img"
rm -f "$scratch/captured.img"
step "deploy the upload to a new disk file" "${imagesctl[@]}" deploy "$uploaded" "$scratch/uploaded.img"
check_disk "$scratch/uploaded.img"
cmp -s "$scratch/uploaded.img" "$work/large.img" || fail "the upload's deployed disk differs from large.img"
rm -f "$scratch/uploaded.img"

# 6,000,000,000 random bytes: nothing in them compresses or repeats.
head -c 6000000000 /dev/urandom >"$scratch/random.bin"
expected=$(sha256sum <"$scratch/random.bin" | cut -d' ' -f1)
bench=("$bin/imageskit-bench" "s3://$bucket/bench")
step "put 6,000,000,000 random bytes (store writer)" "${bench[@]}" put "$scratch/random.bin"
random=$(awk '{ print $4 }' "$scratch/out")
rm -f "$scratch/random.bin"
step "get them back (store reader)" "${bench[@]}" get "$random" "$scratch/random.out"
[ "$(sha256sum <"$scratch/random.out" | cut -d' ' -f1)" = "$expected" ] ||
    fail "the random bytes came back with another SHA-256"
rm -f "$scratch/random.out"

echo "every check passed"
[ "$over" -eq 0 ] || fail "a step took more than $limit MiB"
