#!/bin/sh
# fresh_fixtures.sh PYTHON OUT_DIR — the ctest setup case ref_fixtures.generate:
# regenerate the PyTorch reference fixtures (gen_kernels.py) into OUT_DIR,
# which the "<prog>.<case>.fresh" cases then read (tests/CMakeLists.txt).
#
# Torch is looked for here, when the tests run, not when CMake configures:
# a build directory configured before python3-torch was installed (make demo
# installs only the build packages) runs the fresh cases as soon as torch is
# there. Without it this exits 77 (skipped) and writes the reason to
# OUT_DIR/SKIPPED, which makes every .fresh case skip with that reason
# (ref_fixture.h). OUT_DIR is emptied first, so fixtures of an earlier run
# are never read as fresh ones.
set -u
py=$1
out=$2
rm -rf "$out"
mkdir -p "$out" || exit 1
if ! err=$("$py" -c "import numpy, torch" 2>&1); then
  why="torch is not importable by $py ($(printf '%s\n' "$err" | tail -n 1))"
  printf '%s\n' "$why" > "$out/SKIPPED"
  echo "SKIP: $why; the .fresh reference cases skip too (scripts/install-deps.sh test installs python3-torch)"
  exit 77
fi
exec "$py" "$(dirname "$0")/gen_kernels.py" --out "$out"
