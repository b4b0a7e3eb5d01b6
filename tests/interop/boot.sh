#!/usr/bin/env bash
# Boots the interop guest once under TCG, its NIC joined to the ndcm frame tunnel.
#
#   tests/interop/boot.sh SHARE_DIR [ndcm.shell=1 ...extra kernel args]
#
# SHARE_DIR is exported to the guest over 9p; the guest runs SHARE_DIR/guest.sh (if present),
# writes its output to SHARE_DIR/guest.out and powers off. The serial console goes to
# SHARE_DIR/serial.log (or to stdio with ndcm.shell=1).
# Environment:
#   NDCM_TUNNEL_PORT  UDP port on 127.0.0.1 where ndcm's tunnel listens (default 5555)
#   NDCM_QEMU_PORT    UDP port on 127.0.0.1 where QEMU listens (default 5556)
#   NDCM_GUEST_IP     guest address/prefix (default 10.77.0.2/24)
#   NDCM_HOST_IP      ndcm's address on the segment (default 10.77.0.1)
#   NDCM_VM_PCAP      if set, QEMU's own capture of the guest NIC (filter-dump) goes there
#   NDCM_VM_TIMEOUT   seconds before the VM is killed (default 300)
# The guest NIC is 52:54:00:12:34:56; the image comes from image.sh (built if missing).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SHARE=$(cd "${1:?usage: boot.sh SHARE_DIR [kernel args]}" && pwd); shift
IMG=$("$HERE/image.sh")
TP=${NDCM_TUNNEL_PORT:-5555}; QP=${NDCM_QEMU_PORT:-5556}
GUEST_IP=${NDCM_GUEST_IP:-10.77.0.2/24}; HOST_IP=${NDCM_HOST_IP:-10.77.0.1}
SERIAL="file:$SHARE/serial.log"
case " $* " in *" ndcm.shell=1 "*) SERIAL=mon:stdio;; esac
# KVM is not usable on the build machines (nested PVM); TCG boots to a ready rxe0 in ~8 s.
ARGS=(-accel tcg -smp 1 -m 1024 -nodefaults -display none -no-reboot
  -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img"
  -append "console=ttyS0 root=LABEL=ndcmroot ro init=/sbin/ndcm-init net.ifnames=0 panic=-1 ndcm.ip=$GUEST_IP ndcm.peer=$HOST_IP $*"
  -drive "file=$IMG/rootfs.img,format=raw,if=virtio,snapshot=on"
  -netdev "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=$QP,remote.type=inet,remote.host=127.0.0.1,remote.port=$TP"
  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=
  -virtfs "local,path=$SHARE,mount_tag=share,security_model=none,id=share"
  -serial "$SERIAL")
[ -n "${NDCM_VM_PCAP:-}" ] && ARGS+=(-object "filter-dump,id=fd0,netdev=n0,file=$NDCM_VM_PCAP")
exec timeout "${NDCM_VM_TIMEOUT:-300}" qemu-system-x86_64 "${ARGS[@]}"
