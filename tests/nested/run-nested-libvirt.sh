#!/bin/bash
# The nested libvirt tier: real libvirtd and QEMU inside the nested VM
# (Debian's kernel, which has what this host's kernel lacks: libvirt's
# <bandwidth> qdiscs and filters, macvtap).  The VM's root file system is
# this host's, read-only over virtio-9p under a tmpfs overlay, so libvirt,
# QEMU and the build tree are the host's own files; a small initramfs
# (cached beside the nested tier's kernel) mounts it and chroots into it to
# run tests/nested/test-libvirt-nested.sh.
# Usage: run-nested-libvirt.sh BUILD_DIR SOURCE_DIR   (root)
set -u
BUILD=$(cd "$1" && pwd) SRC=$(cd "$2" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "1..0 # SKIP the nested libvirt tier needs root"; exit 77; fi
command -v qemu-system-x86_64 >/dev/null || { echo "not ok - qemu-system-x86_64 is installed"; exit 1; }
# the kernel and its modules: the nested tier's cache (build-nested makes it)
dir=$("$SRC/tests/nested/build-nested" "$BUILD/tests/test-nested" "$BUILD" "$SRC") ||
    { echo "not ok - the nested image builds"; exit 1; }
kv=$(ls "$dir" | sed -n 's/^kroot-//p' | head -1)
kmods=$dir/kroot-$kv/lib/modules/$kv/kernel
log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
r=$work/root
mkdir -p "$r"/{bin,dev,proc,sys,host,newroot,rw,mods}
cp /bin/busybox "$r/bin/"
for a in sh mount insmod mkdir chroot poweroff echo cat sed; do ln -sf busybox "$r/bin/$a"; done
# virtio-pci and 9p come first, in dependency order (the rest load from the
# mounted root's /lib/modules, which is bound to the kernel's tree)
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
      drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci fs/netfs/netfs fs/fscache/fscache
      net/9p/9pnet net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay"
for m in $mods; do cp "$kmods/$m.ko" "$r/mods/" || { echo "not ok - $m.ko is in Debian's kernel"; exit 1; }; done
cat >"$r/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(for m in $mods; do printf '%s ' "${m##*/}"; done); do insmod /mods/\$m.ko || echo "nested: insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /host || { echo "nested: cannot mount the host's root"; poweroff -f; }
mount -t tmpfs tmpfs /rw && mkdir /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || { echo "nested: no overlay"; poweroff -f; }
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/lib/modules/$kv
mount --bind /host$dir/kroot-$kv/lib/modules/$kv /newroot/lib/modules/$kv
chroot /newroot /bin/bash $SRC/tests/nested/test-libvirt-nested.sh $BUILD
echo "nested: exit \$?"
poweroff -f
INIT
chmod +x "$r/init"
(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.img"
# modules.dep for modprobe inside (build-nested leaves the tree without one)
depmod -b "$dir/kroot-$kv" "$kv"
. "$SRC/tests/nested/nested-vm.sh"
nested_vm 27 "$log" -m 1536 -smp 2 -kernel "$dir/vmlinuz" -initrd "$work/initrd.img" -append "console=ttyS0 panic=-1 quiet" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on
