#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
echo "KERNEL $(uname -r) $(cat /proc/cmdline)"
grep foll_pin /proc/vmstat
/piotest vda /dev/vda 0
mount -t ext4 /dev/vdb /m4 && /piotest ext4 /m4/f 0 /m4/g && umount /m4
mount -t ext2 /dev/vdc /m2 && /piotest ext2 /m2/f 0 /m2/g && umount /m2
[ -b /dev/nvme0n1 ] && /piotest nvme /dev/nvme0n1 0
sync
echo "FINAL $(grep foll_pin /proc/vmstat | tr '\n' ' ')"
echo "DMESG-CHECK-BEGIN"
dmesg | grep -E "WARNING|BUG:|kernel BUG|Call Trace|bad page|Bad page|refcount_t|underflow"
echo "DMESG-CHECK-END"
echo b > /proc/sysrq-trigger
