#!/usr/bin/env bash
# The Linux interop suite (issue 7): ndcm against the Linux kernel CM over soft-RoCE in a
# QEMU guest joined to ndcm's frame tunnel.
#
#   tests/interop/run.sh            prepare, then run the suite (cargo test, NDCM_INTEROP=1)
#   tests/interop/run.sh prepare    only install QEMU/debootstrap and build the guest image;
#                                   exit 0 if the suite can run, 1 (with the reason) if not
#
# Needs, the first time: root (debootstrap, chroot) and apt-get; the image is cached in
# ${NDCM_INTEROP_CACHE:-$HOME/.cache/ndcm-interop} and rebuilt only when its recipe changes.
# Results (captures, guest output) land in target/tmp/interop/ (or $NDCM_INTEROP_OUT).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
log() { echo "[interop] $*" >&2; }

prepare() {
  if ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      log "skipped: QEMU/debootstrap missing and this machine cannot install them (needs root and apt-get)"
      return 1
    fi
    log "installing qemu-system-x86 debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      qemu-system-x86 debootstrap e2fsprogs >&2
  fi
  if ! "$HERE/image.sh" --path >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      log "skipped: the guest image is not built and building it needs root"
      return 1
    fi
    local t0=$SECONDS
    "$HERE/image.sh" >/dev/null || { log "image build failed"; return 1; }
    log "guest image built in $((SECONDS - t0))s"
  fi
  log "guest image: $("$HERE/image.sh" --path)"
}

case ${1:-run} in
  prepare) prepare;;
  run)
    prepare || exit 1
    cd "$ROOT"
    NDCM_INTEROP=1 cargo test -p ndcm-tests --test interop_wire --test interop_linux --test interop_stack --test interop_cli \
      -- --nocapture --test-threads 1;;
  *) sed -n 2,11p "$0"; exit 2;;
esac
