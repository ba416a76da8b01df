#!/usr/bin/env bash
# Measures ImagesKit against gzip, pigz and xz on the golden disk, checks every output, prints
# one Markdown table row per measure and writes the results to Docs/Performance.md.
#
#   scripts/benchmark.sh [--runs N] [--no-doc]     N runs (3 by default), the median quoted
#
# Inputs and outputs live in $IMAGESKIT_BENCH_WORK (default .build/bench); the golden disk and
# its variant with stale data in free blocks are made once and kept there.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
write_doc=1
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=${2:?--runs takes a number}; shift 2 ;;
    --no-doc) write_doc=0; shift ;;
    *) echo "usage: scripts/benchmark.sh [--runs N] [--no-doc]" >&2; exit 2 ;;
    esac
done

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

# Runs a shell command line as a peer; sets `elapsed` and `peak`.
peer() {
    timed sh -c "$1"
}

content() { echo "$1/content/${2#private/}.data"; }
size_of() { stat -c %s "$1"; }
allocated_of() { echo $(($(stat -c '%b' "$1") * $(stat -c '%B' "$1"))); }
used_of() {
    dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/ {c = $2} /^Free blocks/ {f = $2}
        /^Block size/ {b = $2} END { print (c - f) * b }'
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

# Keeps one figure of one run: record NAME VALUE.
record() { echo "$2" >>"$TMPDIR/figures/$1"; }

median() {
    LC_ALL=C sort -g "$TMPDIR/figures/$1" | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- one run -----------------------------------------------------------------------------

# Captures a disk to gzip level 6 with ImagesKit, pigz and gzip: capture_gzip golden|stale.
capture_gzip() {
    local name=$1 disk="$work/$1.img" store="$run_dir/store-$1" stored
    bench "$store" capture "$disk" gzip
    stored=$(content "$store" "$image")
    check_gzip "$stored"
    echo "$image" >"$store.image"
    record "ik-capture-$name" "$elapsed"
    record "ik-capture-$name-peak" "$peak"
    record "ik-capture-$name-size" "$(size_of "$stored")"

    peer "pigz -6 -p2 -c '$disk' >'$run_dir/$name.pigz.gz'"
    record "pigz-$name" "$elapsed"
    check_gzip "$run_dir/$name.pigz.gz"
    record "pigz-$name-size" "$(size_of "$run_dir/$name.pigz.gz")"

    peer "gzip -6 -c '$disk' >'$run_dir/$name.gzip.gz'"
    record "gzip-$name" "$elapsed"
    check_gzip "$run_dir/$name.gzip.gz"
    record "gzip-$name-size" "$(size_of "$run_dir/$name.gzip.gz")"
    rm -f "$run_dir/$name.pigz.gz"
}

# Records a deployed disk's checks and space: deployed KEY DISK.
deployed() {
    check_deployed "$2" "$work/golden.manifest"
    record "$1-allocated" "$(allocated_of "$2")"
    record "$1-used" "$(used_of "$2")"
}

# Deploys the captured golden image to a new disk file, and inflates it with gzip -dc.
deploy_captured() {
    local store="$run_dir/store-golden" image stored
    image=$(cat "$store.image")
    stored=$(content "$store" "$image")
    bench "$store" deploy "$image" "$run_dir/deployed.img"
    record ik-deploy "$elapsed"
    record ik-deploy-peak "$peak"
    deployed ik-deploy "$run_dir/deployed.img"

    peer "gzip -dc '$stored' >'$run_dir/peer-deployed.img'"
    record gunzip-captured "$elapsed"
    record gunzip-captured-size "$(size_of "$run_dir/peer-deployed.img")"
    e2fsck -fn "$run_dir/peer-deployed.img" >/dev/null 2>&1 || fail "gzip -dc's disk does not pass e2fsck"
    rm -f "$run_dir/deployed.img" "$run_dir/peer-deployed.img"
}

# Validates and stores the gzip -6 file of the golden disk, then deploys it; gzip -t and
# gzip -dc on the same file.
upload_and_deploy() {
    local upload="$run_dir/golden.gzip.gz" store="$run_dir/store-upload"
    bench "$store" upload "$upload"
    record ik-upload "$elapsed"
    record ik-upload-peak "$peak"
    cmp -s "$(content "$store" "$image")" "$upload" || fail "the stored upload differs from the file"
    peer "gzip -t '$upload'"
    record gzip-t "$elapsed"

    bench "$store" deploy "$image" "$run_dir/deployed-upload.img"
    record ik-deploy-upload "$elapsed"
    record ik-deploy-upload-peak "$peak"
    deployed ik-deploy-upload "$run_dir/deployed-upload.img"

    peer "gzip -dc '$upload' >'$run_dir/peer-upload.img'"
    record gunzip-upload "$elapsed"
    record gunzip-upload-size "$(size_of "$run_dir/peer-upload.img")"
    cmp -s "$run_dir/peer-upload.img" "$work/golden.img" || fail "gzip -dc did not give back the golden disk"
    rm -f "$run_dir/deployed-upload.img" "$run_dir/peer-upload.img"
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
    peer "cp '$stored' '$run_dir/copy.img.gz'"
    record cp-export "$elapsed"
    record cp-export-size "$(size_of "$run_dir/copy.img.gz")"
}

# Captures the golden disk to xz level 6 with ImagesKit (both cores) and xz -T1, -T2.
capture_xz() {
    local disk="$work/golden.img" store="$run_dir/store-xz" stored threads
    bench "$store" capture "$disk" xz
    stored=$(content "$store" "$image")
    check_xz "$stored"
    record ik-capture-xz "$elapsed"
    record ik-capture-xz-peak "$peak"
    record ik-capture-xz-size "$(size_of "$stored")"
    for threads in 1 2; do
        peer "xz -6 -T$threads -c '$disk' >'$run_dir/golden.xz'"
        record "xz-t$threads" "$elapsed"
        check_xz "$run_dir/golden.xz"
        record "xz-t$threads-size" "$(size_of "$run_dir/golden.xz")"
    done
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
    rm -rf "$run_dir"
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

# Prints one row: row NAME IK_KEY PEER_COMMAND PEER_KEY IK_OUTPUT PEER_OUTPUT PEAK TARGET.
row() {
    printf '| %s | %.2f s | `%s` | %.2f s | %sx | %s | %s | %s | %s |\n' "$1" "$(median "$2")" "$3" \
        "$(median "$4")" "$(ratio_of "$2" "$4")" "$5" "$6" "$7" "$8"
}

peak_of() { echo "$(median "$1-peak") MiB"; }

sparse_text() {
    awk -v a="$(median "$1-allocated")" -v u="$(median "$1-used")" \
        'BEGIN { printf "%.1f MB allocated, %.1f MB in use", a / 1e6, u / 1e6 }'
}

capture_rows() {
    local name=$1 size_target=""
    if [ "$name" = golden ]; then
        size_target="; $(judge "size at most gzip -6's" \
            "$(median ik-capture-golden-size) <= $(median gzip-golden-size)")"
    fi
    row "capture $name disk to gzip level 6" "ik-capture-$name" "pigz -6 -p2 -c" "pigz-$name" \
        "$(mb "ik-capture-$name-size")" "$(mb "pigz-$name-size")" "$(peak_of "ik-capture-$name")" \
        "$(judge "capture $name at least 2x pigz" "$(ratio_of "ik-capture-$name" "pigz-$name") >= 2")$size_target"
    row "the same" "ik-capture-$name" "gzip -6 -c" "gzip-$name" \
        "$(mb "ik-capture-$name-size")" "$(mb "gzip-$name-size")" "$(peak_of "ik-capture-$name")" ""
}

deploy_row() {
    local name=$1 key=$2 peer_key=$3 peer_command=$4 speed sparse
    speed=$(judge "$name at least 5x gzip -dc" "$(ratio_of "$key" "$peer_key") >= 5")
    sparse=$(judge "$name sparse" "$(median "$key-allocated") <= 1.2 * $(median "$key-used")")
    row "$name" "$key" "$peer_command" "$peer_key" "$(sparse_text "$key")" "$(mb "$peer_key-size") written" \
        "$(peak_of "$key")" "$speed; $sparse"
}

xz_rows() {
    local speed size
    speed=$(judge "xz capture at least 1.8x xz -T1" "$(ratio_of ik-capture-xz xz-t1) >= 1.8")
    size=$(judge "xz size within 2% of xz -T1" "$(median ik-capture-xz-size) <= 1.02 * $(median xz-t1-size)")
    row "capture golden disk to xz level 6" ik-capture-xz "xz -6 -T1 -c" xz-t1 "$(mb ik-capture-xz-size)" \
        "$(mb xz-t1-size)" "$(peak_of ik-capture-xz)" "$speed; $size"
    row "the same" ik-capture-xz "xz -6 -T2 -c" xz-t2 "$(mb ik-capture-xz-size)" "$(mb xz-t2-size)" \
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

table() {
    echo '| measure | ImagesKit | peer | peer time | ratio | ImagesKit output | peer output | ImagesKit peak | target |'
    echo '|---|---|---|---|---|---|---|---|---|'
    capture_rows golden
    capture_rows stale
    deploy_row "deploy the captured image to a new disk file" ik-deploy gunzip-captured "gzip -dc IMAGE >DISK"
    deploy_row "deploy a gzip -6 upload to a new disk file" ik-deploy-upload gunzip-upload "gzip -dc FILE >DISK"
    row "validate and store a gzip -6 upload" ik-upload "gzip -t" gzip-t "$(mb gzip-golden-size) stored" "" \
        "$(peak_of ik-upload)" "$(judge "upload at least 0.8x gzip -t" "$(ratio_of ik-upload gzip-t) >= 0.8")"
    row "export the captured image as .img.gz" ik-export "cp STORED OUT" cp-export "$(mb ik-export-size)" \
        "$(mb cp-export-size)" "$(peak_of ik-export)" ""
    xz_rows
    peak_row
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
`/usr/bin/time -v` around `sh -c "COMMAND"`. The ratio is peer time / ImagesKit time: above 1,
ImagesKit is faster. Sizes are decimal megabytes.

- **capture to gzip level 6**: `ImageService.capture` of the disk file into an empty store,
  the image kept as gzip level 6 (reads the used blocks, checks the copy with `e2fsck`,
  shrinks it with `resize2fs -M`, compresses, hashes, commits). Peers compress the whole raw
  file: `pigz -6 -p2 -c DISK >OUT` and `gzip -6 -c DISK >OUT`. Every output passes `gzip -t`.
  The stale disk shows whether deleted data in free blocks is read, stored or costs time.
- **deploy the captured image**: `ImageService.deploy(_:toNewDiskAt:)` of that image at its
  own size, against `gzip -dc IMAGE >DISK` on the stored file. The deployed disk passes
  `e2fsck -fn`, and its files (type, mode, owner, size, link target, SHA-256 of the
  contents, read with `debugfs rdump`) equal the golden disk's; its allocated bytes (from
  `stat`) are set against the bytes its filesystem has in use (from `dumpe2fs`).
- **deploy a gzip -6 upload**: the same for the file `gzip -6` made of the raw golden disk,
  deployed at its full 2 GiB; `gzip -dc FILE >DISK` must give back the golden disk byte for
  byte.
- **validate and store a gzip -6 upload**: `ImageService.upload(_:fileAt:)` of that file
  (every member checked, sizes counted, SHA-256 taken, content committed), against
  `gzip -t FILE`. The stored content must equal the file.
- **export**: `ImageService.export` of the captured image as `.img.gz` (the stored bytes,
  checked against their SHA-256) against `cp` of the stored file. No target; it shows the
  cost of the check.
- **capture to xz level 6**: as the gzip capture, the image kept as xz level 6 on both cores,
  against `xz -6 -T1 -c DISK >OUT` and `xz -6 -T2 -c DISK >OUT`. Outputs pass `xz -t`.
- **peak memory**: the highest maximum resident set of the ImagesKit operations above.

Targets, from the project's performance brief: capture at least 2x `pigz -6 -p2` and no larger
than `gzip -6`; deploy at least 5x `gzip -dc` with allocated bytes at most 1.2x the data in
use; upload at least 0.8x the speed of `gzip -t`; xz capture at least 1.8x `xz -6 -T1` and
within 2% of its size; at most 256 MiB of memory for any operation (the 6 GB case is not
measured here).

Run it with `scripts/benchmark.sh [--runs N]` (3 runs by default, the median quoted); inputs
are cached in `$IMAGESKIT_BENCH_WORK` (default `.build/bench`).
NOTES
}

mb_in_use() { awk -v u="$(used_of "$1")" 'BEGIN { printf "%.0f", u / 1e6 }'; }

write_doc() {
    local doc=Docs/Performance.md
    {
        echo "# Speed, as measured by scripts/benchmark.sh"
        echo
        echo "Taken on $(date -u '+%Y-%m-%d %H:%M UTC') with \`scripts/benchmark.sh --runs $runs\` (median of"
        echo "$runs run(s)) on $(machine). The load average was $load_before when the runs"
        echo "began and $(cut -d' ' -f1-3 /proc/loadavg) when they ended; other jobs shared the machine,"
        echo "so single figures are noisy and the ratios, each taken against a peer run right after"
        echo "ImagesKit on the same input, are what to read."
        echo
        echo "Input: the golden disk of \`scripts/golden-disk.sh\` (2 GiB unpartitioned ext4, Debian"
        echo "bookworm minbase, $(mb_in_use "$work/golden.img") MB in use),"
        echo "and the same disk after a 500 MiB file of random bytes was written into it and deleted."
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

for tool in /usr/bin/time pigz gzip xz debugfs e2fsck dumpe2fs; do
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
for run in $(seq "$runs"); do run_once "$run"; done

table | tee "$results"
[ "$write_doc" -eq 0 ] || write_doc
