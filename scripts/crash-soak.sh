#!/usr/bin/env bash
# Crash-safety soak: kills imagesctl with SIGKILL at random moments of capture, upload, deploy,
# delete, replicate, expiry and server-delete, and checks the folder store after each restart.
#
#   scripts/crash-soak.sh [--seed N] [--kills K] [--keep]
#
# The same seed makes the same choices, so a violation is reproduced by running its seed again
# (timings still vary from run to run). Exits non-zero on any violation. Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

seed=4711
kills=200
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        --kills) kills="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: scripts/crash-soak.sh [--seed N] [--kills K] [--keep]" >&2; exit 2 ;;
    esac
done

scripts/install-packages.sh
swift build -c release --product imagesctl
bin="$(swift build -c release --show-bin-path)/imagesctl"

work="$(mktemp -d "${TMPDIR:-/tmp}/imageskit-soak.XXXXXX")"
if [ -z "$keep" ]; then trap 'rm -rf "$work"' EXIT; else echo "keeping $work"; fi

python3 scripts/crash_soak.py --imagesctl "$bin" --work "$work" --seed "$seed" --kills "$kills"
