#!/usr/bin/env bash
# Installs what the tests need, builds with warnings as errors, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-packages.sh
swift build --build-tests -Xswiftc -warnings-as-errors
swift test --skip-build "$@"
