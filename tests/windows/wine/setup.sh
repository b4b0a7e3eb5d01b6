#!/usr/bin/env bash
# The user-mode side for Windows, built on Linux and made ready to run under
# Wine for tests/tests/wine.rs:
#   1. Debian's mingw-w64 and Wine, the x86_64-pc-windows-gnu standard library;
#   2. cargo clippy -D warnings for that target: ndcm-provider (its Windows
#      NtDeviceIoControlFile backend) and the ndcm CLI (ndcm agent's \\.\ndcm
#      path, the console Ctrl-C handler, GetThreadTimes/GetProcessTimes);
#   3. ndcm.exe (release);
#   4. a Wine prefix with what Wine 8 lacks and Rust's std needs: a stand-in
#      bcryptprimitives.dll (ProcessPrng, from bcryptprimitives.c beside this
#      file). Test set-up only: nothing of it is in the product.
# Progress goes to stderr; stdout is the environment the tests read, for
#   eval "$(tests/windows/wine/setup.sh)"
# NDCM_REQUIRE_WINE=1: a missing prerequisite or a failed step is an error
# (CI); otherwise the script says why it skips and prints nothing to eval.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${NDCM_WINDOWS_CACHE:-$HOME/.cache/ndcm-windows}
TARGET=x86_64-pc-windows-gnu
log() { echo "$*" >&2; }
skip() {
  log "wine set-up: SKIPPED: $*"
  if [ "${NDCM_REQUIRE_WINE:-0}" = 1 ]; then exit 1; fi
  exit 0
}

have_tools() { command -v wine >/dev/null && command -v x86_64-w64-mingw32-gcc >/dev/null; }
if ! have_tools && [ "$(id -u)" -eq 0 ]; then
  log "== installing wine and mingw-w64 (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q wine wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
have_tools || skip "wine and gcc-mingw-w64-x86-64 are needed (root installs them)"
rustup target add $TARGET >/dev/null 2>&1 || true
rustup component add clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx $TARGET || skip "the $TARGET standard library is not installed"
mkdir -p "$CACHE"

# Kept between runs on one machine: the Windows target's build directory
# (the Linux build keeps the workspace's own target/).
export CARGO_TARGET_DIR=$CACHE/target-$TARGET
cd "$REPO"
log "== cargo clippy --target $TARGET -p ndcm-provider -p ndcm -- -D warnings"
cargo clippy -q --target $TARGET -p ndcm-provider -p ndcm -- -D warnings >&2
log "== cargo build --release --target $TARGET -p ndcm"
cargo build -q --release --target $TARGET -p ndcm >&2
EXE=$CARGO_TARGET_DIR/$TARGET/release/ndcm.exe

export WINEPREFIX=$CACHE/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  log "== creating the Wine prefix $WINEPREFIX"
  wineboot -i >/dev/null 2>&1 || true
  wineserver -w || true
fi
[ -d "$WINEPREFIX/drive_c/windows/system32" ] || skip "wineboot did not create $WINEPREFIX"
x86_64-w64-mingw32-gcc -shared -O2 -o "$CACHE/bcryptprimitives.dll" "$HERE/bcryptprimitives.c" -ladvapi32
cp "$CACHE/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

log "== wine ndcm.exe --version"
wine "$EXE" --version >&2 || skip "ndcm.exe does not start under Wine"
echo "export NDCM_WINE_EXE='$EXE'"
echo "export WINEPREFIX='$WINEPREFIX'"
echo "export WINEDLLOVERRIDES='mscoree,mshtml='"
