#!/usr/bin/env bash
# QEMU behind minivmm's command line, so the bench boots both VMMs through the same helper
# with the same kernel, initrd, command line, memory and CPUs. Understands the options the bench
# uses: --kernel --initrd --append --mem --cpus --stats, --net tap,ifname=NAME,vhost=on|off[,queues=N]
# (N pairs: QEMU's mq=on) or user or none, and --qmp unix:PATH (the QMP e2e scenario runs its
# client against QEMU too).
# It execs QEMU (the process the bench measures is QEMU itself).
#   BENCH_QEMU=qemu-system-x86_64   BENCH_QEMU_MACHINE=q35 (or pc)
set -euo pipefail
kernel='' initrd='' append='' mem=512M cpus=1 net=() qmp=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--cpus) cpus=$2; shift 2 ;;
	--stats) shift ;;
	--qmp) qmp=(-qmp "$2,server=on,wait=off"); shift 2 ;;
	--net)
		case $2 in
		none) ;;
		tap,*)
			ifname=$(sed -n 's/.*ifname=\([^,]*\).*/\1/p' <<<"$2")
			vhost=$(sed -n 's/.*vhost=\([^,]*\).*/\1/p' <<<"$2")
			queues=$(sed -n 's/.*queues=\([0-9]*\).*/\1/p' <<<"$2")
			mq=''
			# N pairs: mq=on, and MSI-X vectors for 2N queues, the control queue and config changes.
			[ -z "$queues" ] || [ "$queues" -le 1 ] || mq=",queues=$queues"
			# shellcheck disable=SC2054 # commas belong to QEMU options
			net+=(-netdev "tap,id=n0,ifname=$ifname,script=no,downscript=no,vhost=${vhost:-off}$mq"
				-device "virtio-net-pci,netdev=n0,disable-legacy=on,id=net0${mq:+,mq=on,vectors=$((2 * queues + 2))}")
			;;
		user)
			# shellcheck disable=SC2054 # commas belong to QEMU options
			net+=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0,disable-legacy=on,id=net0)
			;;
		*) echo "qemu-as-minivmm: unsupported --net $2" >&2; exit 2 ;;
		esac
		shift 2 ;;
	*) echo "qemu-as-minivmm: unsupported option $1" >&2; exit 2 ;;
	esac
done
# -nodefaults: no VGA, no default NIC, no monitor; the serial console alone on stdio, like minivmm.
# debug-threads: vCPU threads named "CPU N/KVM", so the bench can tell their CPU time apart.
exec "${BENCH_QEMU:-qemu-system-x86_64}" -enable-kvm -cpu host -M "${BENCH_QEMU_MACHINE:-q35}" \
	-m "$mem" -smp "$cpus" -nographic -nodefaults -serial stdio -no-reboot \
	-name bench,debug-threads=on \
	-kernel "$kernel" ${initrd:+-initrd "$initrd"} -append "$append" "${net[@]}" "${qmp[@]}"
