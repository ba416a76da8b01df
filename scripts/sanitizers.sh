#!/usr/bin/env bash
# Builds and runs the tests under one or all of the thread, address and undefined-behaviour
# sanitizers, each in its own build folder, and prints a summary line per sanitizer.
#
#   scripts/sanitizers.sh [thread|address|undefined|all] [swift test options...]
#
# Any report from a sanitizer fails the run. Leak checking is off: the Swift runtime keeps
# some allocations for the life of the process on purpose. Swift has no undefined-behaviour
# sanitizer of its own (it traps on overflow and bad indexes in every build); "undefined"
# checks the C code compiled into the package.
set -euo pipefail
cd "$(dirname "$0")/.."

which="${1:-all}"
shift || true
case "$which" in
    all) kinds=(thread address undefined) ;;
    thread | address | undefined) kinds=("$which") ;;
    *)
        echo "usage: scripts/sanitizers.sh [thread|address|undefined|all] [swift test options...]" >&2
        exit 2
        ;;
esac

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=0 halt_on_error=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 ${UBSAN_OPTIONS:-}"

summary=()
status=0
for kind in "${kinds[@]}"; do
    scratch="${SANITIZE_BUILD_ROOT:-.build}/sanitize-$kind"
    log="${SANITIZE_BUILD_ROOT:-.build}/sanitize-$kind.log"
    mkdir -p "${SANITIZE_BUILD_ROOT:-.build}"
    started=$(date +%s)
    flags=(--sanitize="$kind")
    if [ "$kind" = undefined ]; then
        # Swift code traps on overflow and out-of-bounds access by itself; the C side (the
        # shims' inline functions) is built with clang's checks and linked with their runtime.
        runtime=$(dirname "$(find "$(dirname "$(command -v swift)")/../lib/clang" \
            -name 'libclang_rt.ubsan_standalone-x86_64.so' | head -n 1)")
        flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
            -Xlinker -L"$runtime" -Xlinker -lclang_rt.ubsan_standalone-x86_64 -Xlinker -rpath -Xlinker "$runtime")
    fi
    echo "== $kind sanitizer: building in $scratch"
    swift build --build-tests "${flags[@]}" --scratch-path "$scratch" 2>&1 | tail -n 3
    echo "== $kind sanitizer: testing (log in $log)"
    if swift test --skip-build "${flags[@]}" --scratch-path "$scratch" "$@" >"$log" 2>&1; then
        result="passed"
    else
        result="FAILED"
        status=1
    fi
    if grep -Eq "^(WARNING|ERROR): [A-Za-z]+Sanitizer|runtime error:" "$log"; then
        result="FAILED (sanitizer report in $log)"
        status=1
    fi
    tests=$(grep -Eo "Test run with [0-9]+ tests? in [0-9]+ suites? (passed|failed)[^.]*" "$log" | tail -n 1 || true)
    summary+=("$kind: $result in $(($(date +%s) - started)) s; ${tests:-no test summary}")
    tail -n 5 "$log"
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
