#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzzing/, makes their seed inputs with real tools, runs each
# target in turn for the given seconds, and exits non-zero when any target found a crash.
#
#   scripts/fuzz.sh [seconds-per-target]        (default 300)
#
# Environment: IMAGESKIT_FUZZ_WORK (work folder, default .build/fuzz), IMAGESKIT_FUZZ_TARGETS
# (targets to run, default all five), IMAGESKIT_CORPUS (public codec corpus, read for seeds).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
work=$(realpath -m "${IMAGESKIT_FUZZ_WORK:-.build/fuzz}")
corpus=${IMAGESKIT_CORPUS:-../shared/corpus}
read -r -a targets <<<"${IMAGESKIT_FUZZ_TARGETS:-FuzzGzip FuzzIndexedGzip FuzzXz FuzzDiskProbe FuzzRecords}"
bin=Fuzzing/.build/release

# Swift's runtime keeps caches LeakSanitizer counts as leaks; memory growth is caught by -rss_limit_mb.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# Swift's own crash backtracer reads freed memory while it runs, which AddressSanitizer reports on
# top of the real failure; libFuzzer prints the stack itself.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

build() {
    swift build --package-path Fuzzing -c release -Xswiftc -sanitize=fuzzer,address
}

# Sample data to compress: text, zeros and incompressible bytes, a few KiB each.
make_samples() {
    local dir=$1
    mkdir -p "$dir"
    seq 1 2000 >"$dir/text"
    head -c 8192 /dev/zero >"$dir/zeros"
    head -c 4096 /dev/urandom >"$dir/random"
    : >"$dir/empty"
}

seed_gzip() {
    local out=$1 samples=$2 name
    for name in text zeros random empty; do
        gzip -1 -c "$samples/$name" >"$out/$name-1.gz"
        gzip -9 -n -c "$samples/$name" >"$out/$name-9.gz"
        pigz -c "$samples/$name" >"$out/$name-pigz.gz"
    done
    cat "$out/text-1.gz" "$out/zeros-9.gz" >"$out/two-members.gz"
    { cat "$out/text-1.gz"; head -c 512 /dev/zero; } >"$out/padded.gz"
    copy_corpus_seeds "$out" '*.gz' go-compress-gzip-vectors flate2-rs-tests node-zlib-fixtures \
        libarchive-gzip-compat swcompression-2017-gzip commons-compress-multi
}

# Streams in 64 KiB chunks, each deflated from an empty window and ended with a full flush, as
# ChunkedGzipEncoder writes them, each behind the index FuzzIndexedGzip reads: the chunk count,
# then each chunk's compressed size in two bytes, little-endian.
seed_indexed_gzip() {
    local out=$1 samples=$2
    python3 - "$out" "$samples" <<'PYTHON'
import struct, sys, zlib
out, samples = sys.argv[1], sys.argv[2]
def chunked(data, level):
    pieces = [data[i:i + 65536] for i in range(0, len(data), 65536)] or [b""]
    chunks = []
    for number, piece in enumerate(pieces):
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
        last = number == len(pieces) - 1
        chunks.append(deflater.compress(piece) + deflater.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH))
    if any(len(chunk) > 65535 for chunk in chunks) or len(chunks) > 8:
        return None
    index = bytes([len(chunks) - 1]) + b"".join(struct.pack("<H", len(chunk)) for chunk in chunks)
    header = bytes([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xffffffff)
    return index + header + b"".join(chunks) + trailer
numbers = b"".join(b"%d\n" % number for number in range(40000))
inputs = {
    "empty": b"",
    "text": open(f"{samples}/text", "rb").read(),
    "numbers": numbers[:3 * 65536 + 777],
    "zeros-then-numbers": bytes(2 * 65536) + numbers[:65536 + 5],
}
for name, data in inputs.items():
    for level in (1, 6):
        seed = chunked(data, level)
        if seed is not None:
            open(f"{out}/{name}-{level}.idx", "wb").write(seed)
PYTHON
}

seed_xz() {
    local out=$1 samples=$2 name check
    for name in text zeros random empty; do
        xz -0 -c "$samples/$name" >"$out/$name-0.xz"
        xz -6 -c "$samples/$name" >"$out/$name-6.xz"
    done
    for check in none crc32 sha256; do xz -1 --check=$check -c "$samples/text" >"$out/text-$check.xz"; done
    xz -T2 --block-size=1024 -c "$samples/text" >"$out/text-blocks.xz"
    xz --format=lzma -c "$samples/text" >"$out/text.lzma"
    cat "$out/text-0.xz" "$out/zeros-0.xz" >"$out/two-streams.xz"
    { cat "$out/text-0.xz"; head -c 8 /dev/zero; } >"$out/padded.xz"
    copy_corpus_seeds "$out" '*' xz-utils-tests-files
}

# Copies the public corpus's small data files of the given folders, when the corpus is there.
copy_corpus_seeds() {
    local out=$1 pattern=$2 folder
    shift 2
    for folder in "$@"; do
        [[ -d $corpus/$folder ]] || continue
        find "$corpus/$folder" -maxdepth 1 -type f -name "$pattern" ! -name '*.md' ! -name 'LICENSE*' \
            -size -64k -exec cp -t "$out" {} +
    done
}

# Small ext2/3/4 filesystems of many layouts, cut to their first max_len bytes (the rest is zeros
# or file data the probe does not read; the target lays each input on a disk of the claimed size).
seed_disk() {
    local out=$1 max_len=$2 files=$work/disk-files index=0 size options
    mkdir -p "$files/etc"
    seq 1 3000 >"$files/numbers"
    echo hello >"$files/etc/hostname"
    while read -r size options; do
        index=$((index + 1))
        rm -f "$out/raw.img"
        # shellcheck disable=SC2086
        mkfs.ext4 -q -F -E nodiscard -d "$files" $options "$out/raw.img" "$size" </dev/null >/dev/null 2>&1 || continue
        head -c "$max_len" "$out/raw.img" >"$out/mkfs-$index.img"
    done <<'LAYOUTS'
2M -b 1024 -g 1024 -N 64 -t ext4
1M -b 1024 -N 32 -O ^has_journal -t ext2
4M -b 1024 -g 2048 -N 64 -t ext3
8M -b 4096 -N 64 -t ext4
2M -b 1024 -g 512 -N 64 -O 64bit,meta_bg,^resize_inode
2M -b 1024 -g 1024 -N 64 -O ^flex_bg,^metadata_csum,uninit_bg
2M -b 1024 -g 1024 -N 64 -O ^flex_bg
2M -b 1024 -g 1024 -N 64 -O sparse_super2 -E num_backup_sb=2
16M -b 4096 -C 16384 -N 64 -O bigalloc
2M -b 1024 -g 256 -N 128 -I 128 -O ^metadata_csum
4M -b 2048 -g 1024 -N 64 -O inline_data
LAYOUTS
    rm -f "$out/raw.img"
}

seed_records() {
    local out=$1 store=$work/record-store
    rm -rf "$store"
    IMAGESKIT_FUZZ_WRITE_SEEDS=$store "$bin/FuzzRecords"
    cp "$store"/records/*.json "$out/"
    cp Fuzzing/Seeds/records/*.json "$out/"
}

max_len_of() {
    case $1 in
    FuzzGzip | FuzzXz) echo 65536 ;;
    FuzzIndexedGzip) echo 131072 ;;
    FuzzDiskProbe) echo 131072 ;;
    FuzzRecords) echo 8192 ;;
    esac
}

make_seeds() {
    local target=$1 seeds=$work/$1/seeds
    rm -rf "$seeds"
    mkdir -p "$seeds"
    case $target in
    FuzzGzip) seed_gzip "$seeds" "$work/samples" ;;
    FuzzIndexedGzip) seed_indexed_gzip "$seeds" "$work/samples" ;;
    FuzzXz) seed_xz "$seeds" "$work/samples" ;;
    FuzzDiskProbe) seed_disk "$seeds" "$(max_len_of "$target")" ;;
    FuzzRecords) seed_records "$seeds" ;;
    esac
}

# Runs one target; its growing corpus and any crash inputs stay in its work folder.
run_target() {
    local target=$1 dir=$work/$1
    mkdir -p "$dir/corpus" "$dir/artifacts"
    echo "== $target: ${seconds}s"
    IMAGESKIT_FUZZ_STORE=$store "$bin/$target" "$dir/corpus" "$dir/seeds" \
        -max_total_time="$seconds" -max_len="$(max_len_of "$target")" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 >"$dir/log" 2>&1
}

main() {
    build
    mkdir -p "$work"
    make_samples "$work/samples"
    # The records target saves through a folder store; memory-backed storage makes its fsyncs cheap.
    store=$(mktemp -d "${TMPDIR:-/tmp}/imageskit-fuzz-store.XXXXXX")
    [[ -d /dev/shm && -w /dev/shm ]] && store=$(mktemp -d /dev/shm/imageskit-fuzz-store.XXXXXX)
    trap 'rm -rf "$store"' EXIT

    local failed=()
    for target in "${targets[@]}"; do
        make_seeds "$target"
        if ! run_target "$target"; then failed+=("$target"); fi
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec)' "$work/$target/log" || true
    done

    if ((${#failed[@]} > 0)); then
        echo "crashed: ${failed[*]}; inputs and logs are in $work/<target>/" >&2
        exit 1
    fi
    echo "no crash; corpora and logs are in $work"
}

main
