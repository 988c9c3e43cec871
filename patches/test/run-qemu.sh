#!/bin/sh
# usage: run.sh BZIMAGE LOG
BZ=$1; LOG=$2
cd /tmp/pintest
cp ext4.clean ext4.img; cp ext2.clean ext2.img; truncate -s 0 vda.img nvme.img; truncate -s 64M vda.img nvme.img
timeout 120 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1G -nographic -no-reboot \
  -bios /usr/share/qemu/qboot.rom -kernel "$BZ" -initrd init.cpio.gz \
  -append "console=ttyS0 random.trust_cpu=on panic=-1" \
  -drive file=vda.img,if=none,id=d0,format=raw,cache=none -device virtio-blk-pci,drive=d0 \
  -drive file=ext4.img,if=none,id=d1,format=raw,cache=none -device virtio-blk-pci,drive=d1 \
  -drive file=ext2.img,if=none,id=d2,format=raw,cache=none -device virtio-blk-pci,drive=d2 \
  -drive file=nvme.img,if=none,id=d3,format=raw,cache=none -device nvme,drive=d3,serial=pinlab1 \
  > "$LOG" 2>&1 &
QPID=$!
echo "qemu pid $QPID"
wait $QPID
echo "qemu rc $?"
