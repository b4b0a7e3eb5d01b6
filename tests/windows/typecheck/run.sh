#!/usr/bin/env bash
# Type-check and lint the KMDF driver (driver/) for x86_64-pc-windows-msvc on
# Linux, once per KMDF version the INF allows (1.33 and 1.31), with wdk-sys's
# own build script generating the bindings (bindgen with wdk-build 0.6's exact
# configuration) from a substitute WDK root:
#   - Microsoft's KMDF public headers, read from ../shared/third_party/kmdf/<ver>
#     (github microsoft/Windows-Driver-Frameworks, MIT; never copied here);
#   - Debian's mingw-w64 DDK headers for km/ and shared/;
#   - the four shims in shim/ (clang-in-MSVC-mode vs mingw-w64, ExAllocatePool2);
#   - wdk-build 0.6.0 patched (patch_wdk_build.py) to configure on a non-Windows
#     host, applied with `cargo --config patch.crates-io…`: driver/Cargo.toml is
#     what Windows builds.
# What this proves and what it does not: README.md, "Windows".
#
# usage: tests/windows/typecheck/run.sh [KMDF_VERSION ...]      (default: 1.33 1.31)
# env:   NDCM_REQUIRE_WINDOWS=1   a missing prerequisite fails instead of skipping (CI)
#        NDCM_WINDOWS_CACHE       cache (WDK roots, patched wdk-build, build trees);
#                                 default ~/.cache/ndcm-windows
#        NDCM_KMDF_HEADERS        folder holding <ver>/wdf.h; default ../shared/third_party/kmdf
#        LLVM=16                  Debian's clang/libclang (bindgen, cc for wdf.c)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${NDCM_WINDOWS_CACHE:-$HOME/.cache/ndcm-windows}
KMDF_HEADERS=${NDCM_KMDF_HEADERS:-$REPO/../shared/third_party/kmdf}
LLVM=${LLVM:-16}
TARGET=x86_64-pc-windows-msvc
MINGW=/usr/x86_64-w64-mingw32
SDKVER=10.0.26100.0
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(1.33 1.31)

skip() {
  echo "driver type-check: SKIPPED: $*"
  if [ "${NDCM_REQUIRE_WINDOWS:-0}" = 1 ]; then exit 1; fi
  exit 0
}

have_tools() {
  command -v clang-$LLVM >/dev/null && command -v llvm-ar-$LLVM >/dev/null \
    && [ -e /usr/lib/llvm-$LLVM/lib/libclang.so ] && [ -d $MINGW/include/ddk ] && command -v rsync >/dev/null
}
if ! have_tools && [ "$(id -u)" -eq 0 ]; then
  echo "== installing clang-$LLVM, libclang, llvm, mingw-w64 headers, rsync (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q clang-$LLVM libclang-$LLVM-dev llvm-$LLVM mingw-w64-x86-64-dev rsync python3 >/dev/null
fi
have_tools || skip "clang-$LLVM, libclang-$LLVM-dev, llvm-$LLVM, mingw-w64-x86-64-dev and rsync are needed (root installs them)"
for v in "${VERSIONS[@]}"; do
  [ -f "$KMDF_HEADERS/$v/wdf.h" ] || skip "no KMDF $v headers at $KMDF_HEADERS/$v (../shared/third_party is absent)"
done
rustup target add $TARGET >/dev/null 2>&1 || true
rustup component add clippy >/dev/null 2>&1 || true
rustup target list --installed | grep -qx $TARGET || skip "the $TARGET standard library is not installed"
mkdir -p "$CACHE"

# wdk-build 0.6.0 as the driver's lock file names it, patched once per cache.
PATCHED=$CACHE/wdk-build-0.6.0
if [ ! -f "$PATCHED/.ndcm-patched" ]; then
  ( cd "$REPO/driver" && cargo fetch -q --target $TARGET )
  src=$(cd "$REPO/driver" && cargo metadata -q --format-version 1 --filter-platform $TARGET \
    | python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(os.path.dirname([p["manifest_path"] for p in m["packages"] if p["name"]=="wdk-build" and p["version"]=="0.6.0"][0]))')
  rm -rf "$PATCHED"; cp -r "$src" "$PATCHED"
  python3 "$HERE/patch_wdk_build.py" "$PATCHED"
  touch "$PATCHED/.ndcm-patched"
fi

# A WDK-shaped root (what wdk-build calls WDKContentRoot) for KMDF version $1:
#   Include/<SDK>/km/crt   the shims (searched first)    Include/<SDK>/km      mingw-w64 ddk/
#   Include/<SDK>/shared   mingw-w64 include/            Include/wdf/kmdf/<v>  Microsoft's KMDF headers
#   Lib/...                empty or mingw import libraries: check and clippy do not link.
make_wdk_root() {
  local v=$1 root=$2
  local inc=$root/Include/$SDKVER klib=$root/Lib/$SDKVER/km/x64 wlib=$root/Lib/wdf/kmdf/x64/$v
  rm -rf "$root"
  mkdir -p "$inc/km/crt" "$inc/km/ufx/1.1" "$inc/shared" "$root/Include/wdf/kmdf/$v" "$klib" "$wlib"
  cp -rL $MINGW/include/ddk/. "$inc/km/"
  find $MINGW/include -maxdepth 1 -mindepth 1 ! -name ddk -exec cp -rL {} "$inc/shared/" \;
  rm -f "$inc/shared/intrin.h"   # the compiler's own, as with the real WDK
  cp -a "$KMDF_HEADERS/$v/." "$root/Include/wdf/kmdf/$v/"
  cp -a "$HERE/shim/." "$inc/km/crt/"
  python3 "$HERE/fix_case.py" "$inc/km/crt" "$inc/km" "$inc/shared" "$root/Include/wdf/kmdf/$v"
  cp $MINGW/lib/libntoskrnl.a "$klib/ntoskrnl.lib"
  cp $MINGW/lib/libhal.a "$klib/hal.lib"
  cp $MINGW/lib/libwmilib.a "$klib/wmilib.lib"
  for l in "$klib/BufferOverflowFastFailK.lib" "$wlib/WdfLdr.lib" "$wlib/WdfDriverEntry.lib"; do
    llvm-ar-$LLVM rc "$l"
  done
}

# Everything the environment must say to wdk-build, bindgen and cc.
unset CARGO_TARGET_DIR RUSTFLAGS LINK
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM/lib
export BINDGEN_EXTRA_CLANG_ARGS_x86_64_pc_windows_msvc="-resource-dir=/usr/lib/llvm-$LLVM/lib/clang/$LLVM"
export CC_x86_64_pc_windows_msvc=clang-$LLVM
export AR_x86_64_pc_windows_msvc=llvm-ar-$LLVM

failed=()
for v in "${VERSIONS[@]}"; do
  minor=${v#1.}
  root=$CACHE/wdkroot-$v
  stamp="$(cat "$HERE"/shim/* "$HERE/fix_case.py" | md5sum) $(ls -l --time-style=+%s "$KMDF_HEADERS/$v" | md5sum)"
  if [ "$(cat "$root/.ndcm-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "== KMDF $v: building the substitute WDK root in $root"
    make_wdk_root "$v" "$root" && echo "$stamp" > "$root/.ndcm-stamp"
  fi
  # A build tree per version, kept between runs so wdk-sys's bindings are
  # generated once: driver/ copied (its target/ stays; wdk-build finds the
  # manifest by walking up from OUT_DIR, so the target directory must be
  # driver/target), the rest of the repository linked (the crates inherit
  # from the root manifest).
  tree=$CACHE/tree-$v
  mkdir -p "$tree/driver"
  for entry in "$REPO"/* "$REPO"/.cargo; do
    name=$(basename "$entry")
    [ -e "$entry" ] && [ "$name" != driver ] && [ "$name" != target ] && ln -sfn "$entry" "$tree/$name"
  done
  rsync -a --delete --exclude /target "$REPO/driver/" "$tree/driver/"
  sed -i "s/^target-kmdf-version-minor = .*/target-kmdf-version-minor = $minor/" "$tree/driver/Cargo.toml"
  grep -q "^target-kmdf-version-minor = $minor\$" "$tree/driver/Cargo.toml" \
    || { echo "driver/Cargo.toml has no target-kmdf-version-minor"; exit 1; }
  patch=(--config "patch.crates-io.wdk-build.path=\"$PATCHED\"")
  echo "== KMDF $v: cargo check --target $TARGET (driver/)"
  rc=0
  ( cd "$tree/driver" && WDKContentRoot=$root nice -n 5 cargo check -q --target $TARGET "${patch[@]}" ) || rc=$?
  if [ $rc -eq 0 ]; then
    echo "== KMDF $v: cargo clippy --target $TARGET -- -D warnings (the driver's lint set)"
    ( cd "$tree/driver" && WDKContentRoot=$root nice -n 5 cargo clippy -q --target $TARGET "${patch[@]}" -- -D warnings ) || rc=$?
  fi
  if [ $rc -eq 0 ]; then echo "driver type-check and clippy, KMDF $v: ok"; else failed+=("$v"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "driver type-check or clippy FAILED for KMDF ${failed[*]} (paths above are in the build tree $CACHE/tree-<ver>/driver = driver/)"
  exit 1
fi
