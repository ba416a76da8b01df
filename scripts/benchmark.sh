#!/usr/bin/env bash
# Measures ImagesKit against gzip, pigz, libdeflate-gzip, igzip, xz and pixz on the golden
# disk, its S3 store against curl on a local object store, then the peak memory of its
# operations on a 6 GB disk; checks every output, prints one Markdown table row per measure and
# writes the results to Docs/Performance.md.
#
#   scripts/benchmark.sh [--runs N] [--no-large] [--no-s3] [--no-doc]
#
#   --runs N      N runs on the golden disk (3 by default); every time quoted is the median
#   --no-large    skips the peak-memory pass on the 6 GB disk (made once, run once, after the
#                 runs on the golden disk)
#   --no-s3       skips the S3 transfers, which start the object store of scripts/objectstore.sh
#                 on 127.0.0.1 (ports from OBJECTSTORE_BASE_PORT, 18380 by default) for the runs
#   --no-doc      prints the table without writing Docs/Performance.md
#
# Inputs and outputs live in $IMAGESKIT_BENCH_WORK (default .build/bench); the golden disk, its
# variant with stale data in free blocks and the 6 GB disk with its gzip file are made once and
# kept there.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/benchmark.sh [--runs N] [--no-large] [--no-s3] [--no-doc]"
runs=3
large=1
s3=1
write_doc=1
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=${2:?--runs takes a number}; shift 2 ;;
    --no-large) large=0; shift ;;
    --no-s3) s3=0; shift ;;
    --no-doc) write_doc=0; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
    esac
done
case "$runs" in
'' | *[!0-9]*) runs=0 ;;
*) runs=$((10#$runs)) ;;
esac
[ "$runs" -ge 1 ] || { echo "benchmark: --runs takes a whole number of runs, at least 1" >&2; exit 2; }

work=${IMAGESKIT_BENCH_WORK:-$PWD/.build/bench}
mkdir -p "$work"
work=$(cd "$work" && pwd)
export TMPDIR="$work/tmp"
results="$work/results.md"

fail() {
    echo "benchmark: $*" >&2
    exit 1
}

# --- inputs ------------------------------------------------------------------------------

make_golden() {
    [ -s "$work/golden.img" ] && return
    scripts/golden-disk.sh "$work/golden.img.partial" 2G
    mv "$work/golden.img.partial" "$work/golden.img"
}

# The golden disk after a 500 MiB file of random bytes was written into it and deleted: its
# free blocks hold stale data.
make_stale() {
    [ -s "$work/stale.img" ] && return
    local partial="$work/stale.img.partial"
    cp --sparse=always "$work/golden.img" "$partial"
    head -c 500M /dev/urandom >"$work/stale.data"
    debugfs -w -R "write $work/stale.data /stale.data" "$partial" >/dev/null 2>&1
    debugfs -w -R "rm /stale.data" "$partial" >/dev/null 2>&1
    rm -f "$work/stale.data"
    e2fsck -fn "$partial" >/dev/null 2>&1 || fail "the stale variant does not pass e2fsck"
    mv "$partial" "$work/stale.img"
}

# The 6 GB disk of scripts/large-disk.sh, its checksums in large.sums, and large.img.gz, the
# upload: its raw bytes compressed by pigz -6 -p2.
make_large() {
    if [ ! -s "$work/large.img" ] || [ ! -s "$work/large.sums" ]; then
        echo "benchmark: making the 6 GB disk" >&2
        rm -f "$work/large.img.gz"
        scripts/large-disk.sh "$work/large.img.partial"
        mv "$work/large.img.partial.sums" "$work/large.sums"
        mv "$work/large.img.partial" "$work/large.img"
    fi
    [ "$work/large.img.gz" -nt "$work/large.img" ] && return
    pigz -6 -p2 -c "$work/large.img" >"$work/large.img.gz.partial"
    check_gzip "$work/large.img.gz.partial"
    mv "$work/large.img.gz.partial" "$work/large.img.gz"
}

# Lists a disk's files (type, mode, owner, size, link target, path) and the SHA-256 of each
# regular file, read with debugfs so that no mount is needed.
manifest() {
    local disk=$1 out=$2 tree
    tree=$(mktemp -d)
    debugfs -R "rdump / $tree" "$disk" >/dev/null 2>&1
    rm -rf "$tree/lost+found"
    (
        cd "$tree"
        find . -printf '%y %m %U %G %s %l %p\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    ) >"$out"
    rm -rf "$tree"
}

# --- measuring ---------------------------------------------------------------------------

# Runs a command under /usr/bin/time -v; sets `elapsed` (seconds) and `peak` (MiB).
timed() {
    /usr/bin/time -v -o "$TMPDIR/time" "$@" >"$TMPDIR/stdout" || fail "failed: $*"
    elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$TMPDIR/time")
    peak=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$TMPDIR/time")
}

# Runs imageskit-bench; sets `elapsed` to the operation's own seconds, `peak`, and `image`.
bench() {
    timed "$bench_bin" "$@"
    elapsed=$(awk '{ print $2 }' "$TMPDIR/stdout")
    image=$(awk '{ print $4 }' "$TMPDIR/stdout")
}

# Runs a shell command line as a peer and keeps its time and peak memory: peer KEY COMMAND.
peer() {
    timed sh -c "$2"
    record "$1" "$elapsed"
    record "$1-peak" "$peak"
}

# Runs a peer that writes OUT, checks OUT with CHECK and keeps its size:
# peer_to KEY COMMAND OUT CHECK.
peer_to() {
    peer "$1" "$2 >'$3'"
    "$4" "$3"
    record "$1-size" "$(size_of "$3")"
}

# Runs a peer that inflates to OUT, which must equal EXPECTED byte for byte; removes OUT:
# inflating_peer KEY COMMAND OUT EXPECTED.
inflating_peer() {
    peer "$1" "$2 >'$3'"
    record "$1-size" "$(size_of "$3")"
    cmp -s "$3" "$4" || fail "$2 did not give back $4 byte for byte"
    rm -f "$3"
}

content() { echo "$1/content/${2#private/}.data"; }
size_of() { stat -L -c %s "$1"; }
allocated_of() { echo $(($(stat -c '%b' "$1") * $(stat -c '%B' "$1"))); }
# Bytes in use on a disk's filesystem, in full: mawk prints numbers past 2^31 with six digits.
used_of() {
    dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/ {c = $2} /^Free blocks/ {f = $2}
        /^Block size/ {b = $2} END { printf "%.0f\n", (c - f) * b }'
}

check_gzip() { gzip -t "$1" || fail "$1 is not a valid gzip file"; }
check_xz() { xz -t "$1" || fail "$1 is not a valid xz file"; }

# A deployed disk must pass e2fsck and hold exactly the source's files.
check_deployed() {
    local disk=$1 expected=$2
    e2fsck -fn "$disk" >/dev/null 2>&1 || fail "$disk does not pass e2fsck -fn"
    manifest "$disk" "$TMPDIR/deployed.manifest"
    cmp -s "$TMPDIR/deployed.manifest" "$expected" || fail "$disk does not hold the golden disk's files"
}

# A disk deployed from the 6 GB disk must pass e2fsck and hold its files, each with the
# SHA-256 in large.sums (read with debugfs cat, so that no copy is needed).
check_large_deployed() {
    local disk=$1 sum path
    e2fsck -fn "$disk" >/dev/null 2>&1 || fail "$disk does not pass e2fsck -fn"
    while read -r sum path; do
        [ "$(debugfs -R "cat $path" "$disk" 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$sum" ] ||
            fail "$path on $disk differs from the 6 GB disk's"
    done <"$work/large.sums"
}

# Keeps one figure of one run: record NAME VALUE.
record() { echo "$2" >>"$TMPDIR/figures/$1"; }

# The median of every run's figure: median NAME. Printed in full, as awk's default format
# would give a large byte count, or one halfway between two others, six digits and an exponent.
median() {
    LC_ALL=C sort -g "$TMPDIR/figures/$1" | awk '{ v[NR] = $1 }
        END { printf "%.15g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- S3 transfers ------------------------------------------------------------------------

# The object store lives in $work/objectstore while the runs last; it is started empty and
# removed, objects and all, when the benchmark ends.
s3_state="$work/objectstore"
s3_bucket=bench
# What curl sends with every request: SigV4 signing, and the payload header s3api requires,
# which curl 7.88 does not add by itself. UNSIGNED-PAYLOAD leaves the bytes unchecked.
s3_curl_signing="curl -sS --fail --noproxy '*' --aws-sigv4 aws:amz:us-east-1:s3"
s3_curl="$s3_curl_signing -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD'"

# Percent-encodes $1 for the user part of a URL: all but letters, digits and -._~
url_encode() {
    local text=$1 char i
    for ((i = 0; i < ${#text}; i++)); do
        char=${text:i:1}
        case "$char" in
        [A-Za-z0-9._~-]) printf '%s' "$char" ;;
        *) printf '%%%02X' "'$char" ;;
        esac
    done
}

# Writes a curl configuration file, readable by its owner only, that names object KEY of the
# bucket with the credentials in the URL: tempauth's access key holds a ':', which curl's
# --user would take for the end of the user name. The secret stays off command lines.
# s3_curl_config FILE KEY.
s3_curl_config() {
    (
        umask 077
        printf 'url = "http://%s:%s@%s/%s/%s"\n' "$(url_encode "$AWS_ACCESS_KEY_ID")" \
            "$(url_encode "$AWS_SECRET_ACCESS_KEY")" "${S3_ENDPOINT#http://}" "$s3_bucket" "$2" >"$1"
    )
}

stop_s3() {
    scripts/objectstore.sh stop "$s3_state" --purge >/dev/null 2>&1 ||
        echo "benchmark: could not stop the object store in $s3_state; run scripts/objectstore.sh stop $s3_state" >&2
}

# Starts an empty object store with its bucket, stopped when the script exits, and exports its
# settings (S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) for
# imageskit-bench. Sets s3_input: large.img.gz when it is there, else 1 GiB of random bytes
# made once.
start_s3() {
    stop_s3
    trap stop_s3 EXIT
    OBJECTSTORE_INSTALL=0 OBJECTSTORE_BASE_PORT=${OBJECTSTORE_BASE_PORT:-18380} \
        scripts/objectstore.sh start "$s3_state" >/dev/null ||
        fail "the object store did not start (other ports: OBJECTSTORE_BASE_PORT=N; logs in $s3_state/log)"
    scripts/objectstore.sh bucket "$s3_state" "$s3_bucket" >/dev/null || fail "could not make bucket $s3_bucket"
    set -a
    # shellcheck disable=SC1091 # written by objectstore.sh start
    . "$s3_state/env"
    set +a
    s3_input="$work/large.img.gz"
    if [ ! -s "$s3_input" ]; then
        s3_input="$work/s3.data"
        if [ ! -s "$s3_input" ]; then
            head -c 1G /dev/urandom >"$s3_input.partial"
            mv "$s3_input.partial" "$s3_input"
        fi
    fi
    s3_curl_config "$TMPDIR/s3-curl.conf" curl/upload
}

# Streams the input through S3ImageStore's writer into a new image, then back through its
# reader to a file; PUTs the same bytes with curl -T and GETs them back with curl -o, and GETs
# the object ImagesKit stored with curl too. Every download must equal the input.
s3_transfers() {
    local ik_out="$run_dir/s3-imageskit.out" curl_out="$run_dir/s3-curl.out" number
    record s3-size "$(size_of "$s3_input")"
    bench "s3://$s3_bucket/imageskit" put "$s3_input"
    record ik-s3-put "$elapsed"
    record ik-s3-put-peak "$peak"
    peer curl-put "$s3_curl -T '$s3_input' -o /dev/null --config '$TMPDIR/s3-curl.conf'"
    # The same PUT with the file's SHA-256 signed, so that the service checks every byte as it
    # does ImagesKit's parts; the hash is taken by openssl, as fast as libcrypto goes.
    peer curl-put-checked "$s3_curl_signing -H \"x-amz-content-sha256: \$(openssl dgst -sha256 -r \
        <'$s3_input' | cut -c1-64)\" -T '$s3_input' -o /dev/null --config '$TMPDIR/s3-curl.conf'"

    bench "s3://$s3_bucket/imageskit" get "$image" "$ik_out"
    record ik-s3-get "$elapsed"
    record ik-s3-get-peak "$peak"
    cmp -s "$ik_out" "$s3_input" || fail "the S3 store gave back other bytes than $s3_input"
    rm -f "$ik_out"
    peer curl-get "$s3_curl -o '$curl_out' --config '$TMPDIR/s3-curl.conf'"
    cmp -s "$curl_out" "$s3_input" || fail "curl -o gave back other bytes than $s3_input"
    rm -f "$curl_out"

    # The store keeps image N's content at PREFIX/content/N.data, N in twelve digits.
    number=$(printf '%012d' "${image#private/}")
    s3_curl_config "$TMPDIR/s3-imageskit.conf" "imageskit/content/$number.data"
    peer curl-get-imageskit "$s3_curl -o '$curl_out' --config '$TMPDIR/s3-imageskit.conf'"
    cmp -s "$curl_out" "$s3_input" || fail "curl -o of ImagesKit's object gave back other bytes than $s3_input"
    rm -f "$curl_out"
}

# --- one run -----------------------------------------------------------------------------

# Captures a disk to gzip level 6 with ImagesKit, then with pigz, gzip, libdeflate-gzip and
# igzip: capture_gzip golden|stale. Keeps gzip's file of the golden disk as the upload.
capture_gzip() {
    local name=$1 disk="$work/$1.img" store="$run_dir/store-$1" stored
    bench "$store" capture "$disk" gzip
    stored=$(content "$store" "$image")
    check_gzip "$stored"
    echo "$image" >"$store.image"
    record "ik-capture-$name" "$elapsed"
    record "ik-capture-$name-peak" "$peak"
    record "ik-capture-$name-size" "$(size_of "$stored")"

    peer_to "pigz-$name" "pigz -6 -p2 -c '$disk'" "$run_dir/$name.pigz.gz" check_gzip
    peer_to "gzip-$name" "gzip -6 -c '$disk'" "$run_dir/$name.gzip.gz" check_gzip
    peer_to "libdeflate-$name" "libdeflate-gzip -6 -c '$disk'" "$run_dir/$name.libdeflate.gz" check_gzip
    peer_to "igzip-$name" "igzip -1 -c '$disk'" "$run_dir/$name.igzip.gz" check_gzip
    rm -f "$run_dir/$name.pigz.gz" "$run_dir/$name.libdeflate.gz" "$run_dir/$name.igzip.gz"
}

# Records a deployed disk's checks and space: deployed KEY DISK.
deployed() {
    check_deployed "$2" "$work/golden.manifest"
    record "$1-allocated" "$(allocated_of "$2")"
    record "$1-used" "$(used_of "$2")"
}

# Deploys the captured golden image to a new disk file, and inflates it with gzip -dc (whose
# disk must pass e2fsck), pigz -dc and igzip -dc (whose disks must equal gzip's).
deploy_captured() {
    local store="$run_dir/store-golden" image stored inflated="$run_dir/peer-deployed.img"
    image=$(cat "$store.image")
    stored=$(content "$store" "$image")
    bench "$store" deploy "$image" "$run_dir/deployed.img"
    record ik-deploy "$elapsed"
    record ik-deploy-peak "$peak"
    deployed ik-deploy "$run_dir/deployed.img"
    rm -f "$run_dir/deployed.img"

    peer gunzip-captured "gzip -dc '$stored' >'$inflated'"
    record gunzip-captured-size "$(size_of "$inflated")"
    e2fsck -fn "$inflated" >/dev/null 2>&1 || fail "gzip -dc's disk does not pass e2fsck"
    inflating_peer pigz-d-captured "pigz -dc '$stored'" "$run_dir/peer-other.img" "$inflated"
    inflating_peer igzip-d-captured "igzip -dc '$stored'" "$run_dir/peer-other.img" "$inflated"
    rm -f "$inflated"
}

# Validates and stores the gzip -6 file of the golden disk, then deploys it; gzip -t and
# pigz -t on the same file, and gzip -dc, pigz -dc and igzip -dc, each of which must give
# back the golden disk.
upload_and_deploy() {
    local upload="$run_dir/golden.gzip.gz" store="$run_dir/store-upload" command
    bench "$store" upload "$upload"
    record ik-upload "$elapsed"
    record ik-upload-peak "$peak"
    cmp -s "$(content "$store" "$image")" "$upload" || fail "the stored upload differs from the file"
    peer gzip-t "gzip -t '$upload'"
    peer pigz-t "pigz -t '$upload'"

    bench "$store" deploy "$image" "$run_dir/deployed-upload.img"
    record ik-deploy-upload "$elapsed"
    record ik-deploy-upload-peak "$peak"
    deployed ik-deploy-upload "$run_dir/deployed-upload.img"
    rm -f "$run_dir/deployed-upload.img"

    for command in gunzip:gzip pigz-d:pigz igzip-d:igzip; do
        inflating_peer "${command%:*}-upload" "${command#*:} -dc '$upload'" "$run_dir/peer-upload.img" \
            "$work/golden.img"
    done
}

# Exports the captured golden image as .img.gz; a plain copy of the stored file beside it.
export_image() {
    local store="$run_dir/store-golden" image stored
    image=$(cat "$store.image")
    stored=$(content "$store" "$image")
    bench "$store" export "$image" "$run_dir/export.img.gz"
    record ik-export "$elapsed"
    record ik-export-peak "$peak"
    check_gzip "$run_dir/export.img.gz"
    record ik-export-size "$(size_of "$run_dir/export.img.gz")"
    peer cp-export "cp '$stored' '$run_dir/copy.img.gz'"
    record cp-export-size "$(size_of "$run_dir/copy.img.gz")"
}

# Captures the golden disk to xz level 6 with ImagesKit (both cores), xz -T1, xz -T2 and pixz.
capture_xz() {
    local disk="$work/golden.img" store="$run_dir/store-xz" stored
    bench "$store" capture "$disk" xz
    stored=$(content "$store" "$image")
    check_xz "$stored"
    record ik-capture-xz "$elapsed"
    record ik-capture-xz-peak "$peak"
    record ik-capture-xz-size "$(size_of "$stored")"
    peer_to xz-t1 "xz -6 -T1 -c '$disk'" "$run_dir/golden.xz" check_xz
    peer_to xz-t2 "xz -6 -T2 -c '$disk'" "$run_dir/golden.xz" check_xz
    peer_to pixz "pixz -6 -p2 <'$disk'" "$run_dir/golden.xz" check_xz
    rm -f "$run_dir/golden.xz"
}

run_once() {
    run_dir="$work/run"
    rm -rf "$run_dir"
    mkdir -p "$run_dir"
    echo "benchmark: run $1 of $runs" >&2
    capture_gzip golden
    capture_gzip stale
    deploy_captured
    upload_and_deploy
    export_image
    capture_xz
    [ "$s3" -eq 0 ] || s3_transfers
    rm -rf "$run_dir"
}

# --- the 6 GB disk -----------------------------------------------------------------------

# Keeps the time and peak memory of the operation imageskit-bench just ran: large_record KEY.
large_record() {
    record "large-$1" "$elapsed"
    record "large-$1-peak" "$peak"
}

# Deploys image IMAGE of STORE to a new disk file, checks it and removes it:
# large_deploy KEY STORE IMAGE.
large_deploy() {
    local disk="$large_dir/deployed.img"
    bench "$2" deploy "$3" "$disk"
    large_record "$1"
    check_large_deployed "$disk"
    record "large-$1-allocated" "$(allocated_of "$disk")"
    record "large-$1-used" "$(used_of "$disk")"
    rm -f "$disk"
}

# Captures the 6 GB disk to gzip and to xz, validates and stores its pigz file, and deploys
# the gzip capture and the upload, each once, for their peak memory.
large_pass() {
    large_dir="$work/large-run"
    local store="$large_dir/store" upload_store="$large_dir/store-upload" stored captured
    rm -rf "$large_dir"
    mkdir -p "$large_dir"
    echo "benchmark: peak memory on the 6 GB disk" >&2

    bench "$store" capture "$work/large.img" gzip
    captured=$image
    stored=$(content "$store" "$image")
    check_gzip "$stored"
    large_record capture-gzip
    record large-capture-gzip-size "$(size_of "$stored")"

    bench "$store" capture "$work/large.img" xz
    stored=$(content "$store" "$image")
    check_xz "$stored"
    large_record capture-xz
    record large-capture-xz-size "$(size_of "$stored")"

    bench "$upload_store" upload "$work/large.img.gz"
    large_record upload
    cmp -s "$(content "$upload_store" "$image")" "$work/large.img.gz" || fail "the stored upload differs from the file"
    record large-upload-size "$(size_of "$work/large.img.gz")"

    large_deploy deploy "$store" "$captured"
    large_deploy deploy-upload "$upload_store" "$image"
    rm -rf "$large_dir"
}

# --- report ------------------------------------------------------------------------------

mb() { awk -v b="$(median "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
ratio_of() { awk -v p="$(median "$2")" -v i="$(median "$1")" 'BEGIN { printf "%.2f", p / i }'; }

# Says "met" when the awk condition holds, else "missed" and notes the target: judge TEXT COND.
judge() {
    if awk "BEGIN { exit !($2) }"; then
        echo "$1: met"
    else
        echo "$1" >>"$TMPDIR/missed"
        echo "$1: **missed**"
    fi
}

# Prints one row: row NAME IK_KEY PEER_COMMAND PEER_KEY IK_OUTPUT PEER_OUTPUT PEAK TARGET. The
# peer's output cell ends with the peer's peak memory.
row() {
    local peer_output
    peer_output="${6:+$6, }$(median "$4-peak") MiB peak"
    printf "| %s | %.2f s | \`%s\` | %.2f s | %sx | %s | %s | %s | %s |\n" "$1" "$(median "$2")" "$3" \
        "$(median "$4")" "$(ratio_of "$2" "$4")" "$5" "$peer_output" "$7" "$8"
}

peak_of() { echo "$(median "$1-peak") MiB"; }

sparse_text() {
    awk -v a="$(median "$1-allocated")" -v u="$(median "$1-used")" \
        'BEGIN { printf "%.1f MB allocated, %.1f MB in use", a / 1e6, u / 1e6 }'
}

capture_rows() {
    local name=$1 size_target="" ik="ik-capture-$1" peer_key command
    if [ "$name" = golden ]; then
        size_target="; $(judge "size at most gzip -6's" "$(median "$ik-size") <= $(median gzip-golden-size)")"
    fi
    row "capture $name disk to gzip level 6" "$ik" "pigz -6 -p2 -c" "pigz-$name" "$(mb "$ik-size")" \
        "$(mb "pigz-$name-size")" "$(peak_of "$ik")" \
        "$(judge "capture $name at least 2x pigz" "$(ratio_of "$ik" "pigz-$name") >= 2")$size_target"
    for peer_key in gzip libdeflate igzip; do
        case $peer_key in
        gzip) command="gzip -6 -c" ;;
        libdeflate) command="libdeflate-gzip -6 -c" ;;
        igzip) command="igzip -1 -c" ;;
        esac
        row "the same" "$ik" "$command" "$peer_key-$name" "$(mb "$ik-size")" "$(mb "$peer_key-$name-size")" \
            "$(peak_of "$ik")" ""
    done
}

# Prints a deploy's row against gzip -dc and its rows against pigz -dc and igzip -dc:
# deploy_rows NAME KEY PEER_KEY_SUFFIX SOURCE FACTOR, where FACTOR is the ratio to reach.
deploy_rows() {
    local name=$1 key=$2 suffix=$3 source=$4 factor=$5 speed sparse tool
    speed=$(judge "$name at least ${factor}x gzip -dc" "$(ratio_of "$key" "gunzip-$suffix") >= $factor")
    sparse=$(judge "$name sparse" "$(median "$key-allocated") <= 1.2 * $(median "$key-used")")
    row "$name" "$key" "gzip -dc $source >DISK" "gunzip-$suffix" "$(sparse_text "$key")" \
        "$(mb "gunzip-$suffix-size") written" "$(peak_of "$key")" "$speed; $sparse"
    for tool in pigz igzip; do
        row "the same" "$key" "$tool -dc $source >DISK" "$tool-d-$suffix" "$(sparse_text "$key")" \
            "$(mb "$tool-d-$suffix-size") written" "$(peak_of "$key")" ""
    done
}

upload_rows() {
    row "validate and store a gzip -6 upload" ik-upload "gzip -t" gzip-t "$(mb gzip-golden-size) stored" "" \
        "$(peak_of ik-upload)" "$(judge "upload at least 0.8x gzip -t" "$(ratio_of ik-upload gzip-t) >= 0.8")"
    row "the same" ik-upload "pigz -t" pigz-t "$(mb gzip-golden-size) stored" "" "$(peak_of ik-upload)" ""
}

xz_rows() {
    local speed size
    speed=$(judge "xz capture at least 1.8x xz -T1" "$(ratio_of ik-capture-xz xz-t1) >= 1.8")
    size=$(judge "xz size within 2% of xz -T1" "$(median ik-capture-xz-size) <= 1.02 * $(median xz-t1-size)")
    row "capture golden disk to xz level 6" ik-capture-xz "xz -6 -T1 -c" xz-t1 "$(mb ik-capture-xz-size)" \
        "$(mb xz-t1-size)" "$(peak_of ik-capture-xz)" "$speed; $size"
    row "the same" ik-capture-xz "xz -6 -T2 -c" xz-t2 "$(mb ik-capture-xz-size)" "$(mb xz-t2-size)" \
        "$(peak_of ik-capture-xz)" ""
    row "the same" ik-capture-xz "pixz -6 -p2" pixz "$(mb ik-capture-xz-size)" "$(mb pixz-size)" \
        "$(peak_of ik-capture-xz)" ""
}

peak_row() {
    local key highest=0 value
    for key in ik-capture-golden ik-capture-stale ik-deploy ik-upload ik-deploy-upload ik-export ik-capture-xz; do
        value=$(median "$key-peak")
        highest=$(awk -v a="$highest" -v b="$value" 'BEGIN { print (b > a) ? b : a }')
    done
    printf '| highest peak memory of any ImagesKit operation | | | | | | | %s MiB | %s |\n' "$highest" \
        "$(judge "peak memory at most 256 MiB" "$highest <= 256")"
}

# The S3 rows: upload against curl -T, and against curl -T with the payload's SHA-256 signed;
# download against curl -o of curl's object, and against curl -o of the object ImagesKit stored.
s3_rows() {
    local size speed memory
    size=$(mb s3-size)
    speed=$(judge "S3 upload at least 0.8x curl -T" "$(ratio_of ik-s3-put curl-put) >= 0.8")
    memory=$(judge "S3 upload within 256 MiB" "$(median ik-s3-put-peak) <= 256")
    row "S3 upload through S3ImageStore" ik-s3-put "curl -T FILE" curl-put "$size stored" "$size stored" \
        "$(peak_of ik-s3-put)" "$speed; $memory"
    row "the same, against a PUT the service checks" ik-s3-put \
        'curl -H "x-amz-content-sha256: $(openssl dgst -sha256 FILE)" -T FILE' curl-put-checked \
        "$size stored" "$size stored, SHA-256 checked" "$(peak_of ik-s3-put)" ""
    speed=$(judge "S3 download at least 0.8x curl -o" "$(ratio_of ik-s3-get curl-get) >= 0.8")
    memory=$(judge "S3 download within 256 MiB" "$(median ik-s3-get-peak) <= 256")
    row "S3 download through S3ImageStore" ik-s3-get "curl -o OUT" curl-get "$size, equal to the input" \
        "curl's one-PUT object" "$(peak_of ik-s3-get)" "$speed; $memory"
    row "the same" ik-s3-get "curl -o OUT" curl-get-imageskit "$size, equal to the input" \
        "ImagesKit's multipart object" "$(peak_of ik-s3-get)" ""
}

# Prints one operation's row of the 6 GB pass: large_row NAME KEY OUTPUT.
large_row() {
    local peak
    peak=$(median "large-$2-peak")
    printf '| peak memory: %s | %.2f s | | | | %s | | %s MiB | %s |\n' "$1" "$(median "large-$2")" "$3" "$peak" \
        "$(judge "$1 within 256 MiB" "$peak <= 256")"
}

large_rows() {
    large_row "capture the 6 GB disk to gzip level 6" capture-gzip "$(mb large-capture-gzip-size)"
    large_row "capture the 6 GB disk to xz level 6" capture-xz "$(mb large-capture-xz-size)"
    large_row "validate and store its pigz -6 file" upload "$(mb large-upload-size) stored"
    large_row "deploy the gzip capture to a new disk file" deploy "$(sparse_text large-deploy)"
    large_row "deploy the upload to a new disk file" deploy-upload "$(sparse_text large-deploy-upload)"
}

table() {
    echo '| measure | ImagesKit | peer | peer time | ratio | ImagesKit output | peer output | ImagesKit peak | target |'
    echo '|---|---|---|---|---|---|---|---|---|'
    capture_rows golden
    capture_rows stale
    deploy_rows "deploy the captured image to a new disk file" ik-deploy captured IMAGE 5
    deploy_rows "deploy a gzip -6 upload to a new disk file" ik-deploy-upload upload FILE 1
    upload_rows
    row "export the captured image as .img.gz" ik-export "cp STORED OUT" cp-export "$(mb ik-export-size)" \
        "$(mb cp-export-size)" "$(peak_of ik-export)" ""
    xz_rows
    peak_row
    [ "$s3" -eq 0 ] || s3_rows
    [ "$large" -eq 0 ] || large_rows
}

machine() {
    local cpu memory
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    echo "$(nproc) processors ($cpu), $memory of memory, $(uname -sr)"
}

missed_text() {
    if [ -s "$TMPDIR/missed" ]; then
        echo "Targets missed in this run:"
        echo
        sed 's/^/- /' "$TMPDIR/missed"
    else
        echo "Every target was met in this run."
    fi
}

notes() {
    cat <<'NOTES'
## What each measure is

Every ImagesKit figure is the service call alone, timed inside `imageskit-bench` (a release
build composing the library with the folder store and both codecs, as `imagesctl` does), one
operation per process so `/usr/bin/time -v` reports that operation's maximum resident set
(children such as `e2fsck` and `resize2fs` included in the maximum). Peers are timed with
`/usr/bin/time -v` around `sh -c "COMMAND"`, and their maximum resident set ends the peer
output cell. The ratio is peer time / ImagesKit time: above 1, ImagesKit is faster. Each
target is judged on the ratio against the peer it names (the first row of a measure); the
rows headed "the same" set the same ImagesKit figures against other peers and decide
nothing. With `--runs N` every time, size and peak is the median of the N runs, taken for
ImagesKit and for each peer on its own. Sizes are decimal megabytes.

- **capture to gzip level 6**: `ImageService.capture` of the disk file into an empty store,
  the image kept as gzip level 6 (reads the used blocks, checks the copy with `e2fsck`,
  shrinks it with `resize2fs -M`, compresses, hashes, commits). Peers compress the whole raw
  file: `pigz -6 -p2 -c DISK >OUT`, `gzip -6 -c DISK >OUT`, `libdeflate-gzip -6 -c DISK >OUT`
  (which reads the whole file into memory) and `igzip -1 -c DISK >OUT` (ISA-L's fastest
  level; it has no level 6). Every output passes `gzip -t`. The stale disk shows whether
  deleted data in free blocks is read, stored or costs time.
- **deploy the captured image**: `ImageService.deploy(_:toNewDiskAt:)` of that image at its
  own size, against `gzip -dc IMAGE >DISK`, `pigz -dc IMAGE >DISK` and `igzip -dc IMAGE >DISK`
  on the stored file. The deployed disk passes `e2fsck -fn`, and its files (type, mode,
  owner, size, link target, SHA-256 of the contents, read with `debugfs rdump`) equal the
  golden disk's; its allocated bytes (from `stat`) are set against the bytes its filesystem
  has in use (from `dumpe2fs`). gzip's disk passes `e2fsck -fn`; pigz's and igzip's equal it
  byte for byte.
- **deploy a gzip -6 upload**: the same for the file `gzip -6` made of the raw golden disk,
  deployed at its full 2 GiB; `gzip -dc FILE >DISK`, `pigz -dc FILE >DISK` and
  `igzip -dc FILE >DISK` must each give back the golden disk byte for byte.
- **validate and store a gzip -6 upload**: `ImageService.upload(_:fileAt:)` of that file
  (every member checked, sizes counted, SHA-256 taken, content committed), against
  `gzip -t FILE` and `pigz -t FILE`. The stored content must equal the file.
- **export**: `ImageService.export` of the captured image as `.img.gz` (the stored bytes,
  checked against their SHA-256) against `cp` of the stored file. No target; it shows the
  cost of the check.
- **capture to xz level 6**: as the gzip capture, the image kept as xz level 6 on both cores,
  against `xz -6 -T1 -c DISK >OUT`, `xz -6 -T2 -c DISK >OUT` and `pixz -6 -p2 <DISK >OUT`.
  Outputs pass `xz -t`.
- **highest peak memory**: the highest maximum resident set of the ImagesKit operations above,
  on the golden disk.
- **S3 upload and download** (left out with `--no-s3`): a one-node OpenStack Swift with its
  s3api middleware on 127.0.0.1 (`scripts/objectstore.sh`, started empty for the runs and
  removed after them), and `large.img.gz` (else 1 GiB of random bytes) as the bytes to move.
  The upload is `imageskit-bench s3://BUCKET/PREFIX put FILE`: the file read in 1 MiB pieces
  into `S3ImageStore`'s content writer and committed with a record, as an upload through the
  service would (a multipart upload of 32 MiB parts, two in flight, each part's SHA-256
  signed); the file's SHA-256 for the record is taken before the clock starts. Its peer PUTs
  the same file in one request: `curl -T FILE --aws-sigv4 aws:amz:us-east-1:s3 -H
  'x-amz-content-sha256: UNSIGNED-PAYLOAD' http://KEY:SECRET@HOST/BUCKET/KEY` (the key's `:`
  written `%3A`; curl 7.88 sends no payload header of its own, which s3api requires), which
  leaves the bytes unchecked. The row after it sets the upload against the same PUT with the
  file's SHA-256 signed instead (`-H "x-amz-content-sha256: HASH"`, the hash taken by
  `openssl dgst -sha256` and timed with it), so that the service checks every byte, as it
  checks ImagesKit's parts. The download is `imageskit-bench s3://BUCKET/PREFIX get ID OUT`:
  the content read back through the store's reader (8 MiB ranged GETs, four ahead) in 1 MiB
  pieces into a new file. Its peer
  is `curl -o OUT` of the object curl PUT; the row after it sets the same download against
  `curl -o OUT` of the object ImagesKit stored, whose parts the server joins as it sends them.
  Every download must equal the file byte for byte.
- **peak memory on the 6 GB disk** (left out with `--no-large`): the disk of
  `scripts/large-disk.sh`, 5722 MiB of unpartitioned ext4 (the most whole mebibytes within the
  product's 6,000,000,000-byte image limit) holding 4.25 GiB of files: 256 MiB of random
  bytes, 1 GiB of 64 KiB random blocks repeated (as large as the data once gzipped, since
  gzip's window is 32 KiB, but small in xz) and 3 GiB of 4 KiB random blocks repeated. It is
  made once, with `mkfs.ext4 -d`, beside `pigz -6 -p2 -c DISK >large.img.gz` of its raw bytes,
  and each operation runs once, after the runs on the golden disk: capture to gzip level 6
  and to xz level 6 (outputs pass `gzip -t` and `xz -t`), upload of the pigz file (the stored
  content must equal it), deploy of the gzip capture at its own size and of the upload at
  its full size (each deployed disk passes `e2fsck -fn` and its files' SHA-256, read with
  `debugfs cat`, equal the ones recorded when the disk was made). A row gives the
  operation's time and its maximum resident set, children included, against the 256 MiB
  target; a single run, as peak memory barely moves between runs and the pass takes
  minutes.

Targets, from the project's performance brief: capture at least 2x `pigz -6 -p2` and no larger
than `gzip -6`; deploy of the captured image at least 5x `gzip -dc`, and of a plain `gzip -6`
upload no slower than it, each with allocated bytes at most 1.2x the data in use; upload at least 0.8x the speed of `gzip -t`; xz capture at least 1.8x `xz -6 -T1` and
within 2% of its size; S3 upload and download at least 0.8x the speed of `curl -T` and
`curl -o`; at most 256 MiB of memory for any operation, on the golden disk and on the 6 GB
disk.

Run it with `scripts/benchmark.sh [--runs N] [--no-large] [--no-s3] [--no-doc]` (3 runs by
default, the median quoted; the 6 GB pass unless `--no-large`, the S3 transfers unless
`--no-s3`); inputs are cached in
`$IMAGESKIT_BENCH_WORK` (default `.build/bench`), which needs about 20 GB free for the 6 GB
pass.

How the speed is reached and what it costs (details and figures in `Docs/Design.md`): a
capture reads only the blocks the filesystem uses and compresses 4 MiB chunks on every core,
reusing the bytes of zero chunks (0.03% larger than one zlib stream); its record keeps an index
of the chunks, so a deploy inflates them on every core with ISA-L, passes over chunks of zeros,
writes only non-zero blocks and starts writeback as it goes. The chunk buffers raise the gzip
capture's and deploy's peak memory from about 30 MiB to about 60 to 80 MiB. xz uses liblzma's
threads within a 192 MiB budget, with a 4 MiB dictionary (about 1.1% larger than `xz -6 -T1`).
NOTES
}

mb_in_use() { awk -v u="$(used_of "$1")" 'BEGIN { printf "%.0f", u / 1e6 }'; }

write_doc() {
    local doc=Docs/Performance.md flags=""
    [ "$large" -eq 1 ] || flags=" --no-large"
    [ "$s3" -eq 1 ] || flags="$flags --no-s3"
    {
        echo "# Speed, as measured by scripts/benchmark.sh"
        echo
        echo "Taken on $(date -u '+%Y-%m-%d %H:%M UTC') with \`scripts/benchmark.sh --runs $runs$flags\` (median of"
        echo "$runs run(s)) on $(machine). The load average was $load_before when the runs"
        echo "began and $(cut -d' ' -f1-3 /proc/loadavg) when they ended; other jobs shared the machine,"
        echo "so single figures are noisy and the ratios, each taken against a peer run right after"
        echo "ImagesKit on the same input, are what to read."
        echo
        echo "Input: the golden disk of \`scripts/golden-disk.sh\` (2 GiB unpartitioned ext4, Debian"
        echo "bookworm minbase, $(mb_in_use "$work/golden.img") MB in use),"
        echo "and the same disk after a 500 MiB file of random bytes was written into it and deleted."
        [ "$s3" -eq 0 ] || echo "S3 transfers: $(basename "$s3_input") ($(mb s3-size)) to a local object store."
        [ "$large" -eq 0 ] || echo "Peak memory also on the 6 GB disk of \`scripts/large-disk.sh\` ($(mb_in_use "$work/large.img") MB in use)."
        echo
        cat "$results"
        echo
        missed_text
        echo
        notes
    } >"$doc"
    echo "benchmark: wrote $doc" >&2
}

# --- main --------------------------------------------------------------------------------

for tool in /usr/bin/time pigz gzip libdeflate-gzip igzip xz pixz debugfs e2fsck dumpe2fs mkfs.ext4 curl cmp; do
    command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/install-packages.sh"
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR/figures"
swift build -c release --product imageskit-bench >&2
bench_bin="$(swift build -c release --show-bin-path)/imageskit-bench"

make_golden
make_stale
[ "$work/golden.manifest" -nt "$work/golden.img" ] || manifest "$work/golden.img" "$work/golden.manifest"
[ "$large" -eq 0 ] || make_large
[ "$s3" -eq 0 ] || start_s3
for run in $(seq "$runs"); do run_once "$run"; done
if [ "$s3" -eq 1 ]; then
    stop_s3
    trap - EXIT
fi
[ "$large" -eq 0 ] || large_pass

table | tee "$results"
[ "$write_doc" -eq 0 ] || write_doc
