#!/usr/bin/env bash
# Builds (once) the Linux interop guest: Debian bookworm with the stock kernel, soft-RoCE
# (rdma_rxe) and the rdma-core tools (ucmatose, rping, udaddy, cmtime, perftest).
#
#   tests/interop/image.sh          build if missing, print the image directory on stdout
#   tests/interop/image.sh --path   print the image directory if it exists (exit 1 if not)
#
# The image is cached OUTSIDE the source tree, in ${NDCM_INTEROP_CACHE:-$HOME/.cache/ndcm-interop},
# under a key that hashes this recipe and the guest init, so a change to either builds a new one.
# Building needs root (debootstrap, chroot) and network access to a Debian mirror; running the
# image afterwards needs neither. Installs debootstrap and qemu-system-x86 with apt-get if missing.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${NDCM_INTEROP_CACHE:-$HOME/.cache/ndcm-interop}
MIRROR=${NDCM_INTEROP_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PKGS=linux-image-amd64,rdma-core,ibverbs-providers,librdmacm1,rdmacm-utils,ibverbs-utils,iproute2,kmod,systemd-sysv,udev,iputils-ping,perftest,infiniband-diags,procps
KEY=$(cat "$0" "$HERE/guest/ndcm-init" | sha256sum | cut -c1-16)
IMG=$CACHE/image-$KEY
log() { echo "[image.sh] $*" >&2; }

if [ "${1:-}" = --path ]; then
  [ -e "$IMG/.done" ] && { echo "$IMG"; exit 0; }
  exit 1
fi
if [ -e "$IMG/.done" ]; then echo "$IMG"; exit 0; fi

[ "$(id -u)" = 0 ] || { log "building the guest image needs root (debootstrap, chroot)"; exit 2; }
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

T0=$(date +%s)
mkdir -p "$CACHE"
WORK=$CACHE/build-$KEY
R=$WORK/rootfs
rm -rf "$WORK"; mkdir -p "$WORK" "$CACHE/debs"
log "debootstrap $SUITE -> $R (log: $WORK/debootstrap.log)"
# The .deb cache survives recipe changes, so a rebuild downloads nothing it already has.
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include=$PKGS "$SUITE" "$R" "$MIRROR" \
  > "$WORK/debootstrap.log" 2>&1 || { tail -30 "$WORK/debootstrap.log" >&2; exit 1; }
K=$(ls "$R/lib/modules" | head -n1)
install -m755 "$HERE/guest/ndcm-init" "$R/sbin/ndcm-init"
mkdir -p "$R/mnt/share"; echo ndcm-peer > "$R/etc/hostname"
# Trim what a virtio guest never loads, so the ext4 image is small and quick to make.
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/{doc,man,locale}/*
M=$R/lib/modules/$K/kernel
rm -rf "$M"/sound "$M"/drivers/{gpu,media,iio,staging,usb,hid,hwmon,platform,bluetooth,infiniband/hw} \
       "$M"/drivers/net/{wireless,ethernet} "$M"/net/{wireless,mac80211,bluetooth}
chroot "$R" depmod -a "$K"
# A minimal initramfs: only what mounting the root from virtio-blk needs.
printf 'virtio_pci\nvirtio_blk\next4\n' > "$R/etc/initramfs-tools/modules"
mkdir -p "$R/etc/initramfs-tools/conf.d"; echo MODULES=list > "$R/etc/initramfs-tools/conf.d/ndcm.conf"
chroot "$R" mkinitramfs -o /boot/initrd-ndcm.img "$K" 2>/dev/null
NEW=$WORK/image; mkdir -p "$NEW"
cp "$R/boot/vmlinuz-$K" "$NEW/vmlinuz"; cp "$R/boot/initrd-ndcm.img" "$NEW/initrd.img"
mkfs.ext4 -q -F -L ndcmroot -d "$R" "$NEW/rootfs.img" 768M >&2
echo "$K" > "$NEW/kernel-release"
touch "$NEW/.done"
rm -rf "$IMG"; mv "$NEW" "$IMG"; rm -rf "$WORK"
# Older images of other recipes are dead weight.
for old in "$CACHE"/image-*; do [ "$old" = "$IMG" ] || rm -rf "$old"; done
log "built $IMG (kernel $K) in $(( $(date +%s) - T0 ))s"
echo "$IMG"
