#!/usr/bin/env bash
# Configures and builds fedlead. Usage: deploy/build.sh BUILD_DIR [cmake options...]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
