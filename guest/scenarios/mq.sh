#!/bin/sh
# Scenario "mq": eth0 with two queue pairs (--net tap,queues=2) on a tap to the test host, in a
# 2-vCPU guest. Args: GUEST_IP HOST_IP. The host runs iperf3 servers on ports 5201 and 5202.
# Checks that Linux uses both pairs (ethtool -l, 5 MSI-X vectors, interrupts on both input queues
# under traffic pinned to each vCPU), iperf3 -P 4 both ways, ethtool -L down to one pair and back,
# and a driver reload. Stops at "MINIVMM-MQ-<step>" markers until the host's "go" on TCP port 5001
# (the host looks at minivmm's threads and the tap's attached queues there).
# Prints "MINIVMM-CHECK <name> ok|fail" lines; fails (exit 1) if any check failed.
ip=$1 host=$2 failed=''
# shellcheck source=lib/check.sh
. /scenarios/lib/check.sh
# shellcheck source=lib/netup.sh
. /scenarios/lib/netup.sh
dev=/sys/bus/pci/devices/0000:00:01.0
# The host's "go": listening before the marker, so the host never connects too early.
host_step() {
	nc -l -p 5001 >/dev/null &
	echo "MINIVMM-MQ-$1"
	wait $!
}
combined() { ethtool -l eth0 | sed -n '/^Current/,$p' | grep -qE "^Combined:[[:space:]]+$1\$"; }
# Interrupts of input queue $1 summed over the CPUs ("NN: c0 c1 PCI-MSI ... virtio0-input.Q").
input_irqs() {
	awk -v q="virtio0-input.$1" '$NF == q { s = 0; for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) s += $i; print s }' \
		/proc/interrupts
}
# One iperf3 -R (host -> guest) per vCPU, each on its own host port: XPS sends each flow's SYN
# from that vCPU's queue, and the tap steers the flow's frames back to the queue it came from.
pinned_rx() {
	taskset 1 iperf3 -c "$host" -p 5201 -t 2 -R >/tmp/pin0.out 2>&1 &
	p0=$!
	taskset 2 iperf3 -c "$host" -p 5202 -t 2 -R >/tmp/pin1.out 2>&1 &
	p1=$!
	wait $p0 && wait $p1
}

netup
echo MINIVMM-DIAG-BEGIN
lspci -vv -s 00:01.0
ethtool -l eth0
echo "msi_irqs=$(ls $dev/msi_irqs | wc -l)"
echo MINIVMM-DIAG-END
check combined_2_after_probe combined 2
check msi_irqs_5 test "$(ls $dev/msi_irqs | wc -l)" -eq 5
host_step LOADED
check ping_host ping -c 3 -i 0.2 -W 3 "$host"
check iperf_P4_guest_to_host iperf3 -c "$host" -P 4 -t 3 -f m
grep -E 'SUM.*(sender|receiver)' /tmp/check.out | sed 's/^/MINIVMM-IPERF guest->host /'
check iperf_P4_host_to_guest iperf3 -c "$host" -P 4 -t 3 -f m -R
grep -E 'SUM.*(sender|receiver)' /tmp/check.out | sed 's/^/MINIVMM-IPERF host->guest /'
a0=$(input_irqs 0) a1=$(input_irqs 1)
check iperf_pinned_to_each_vcpu pinned_rx
b0=$(input_irqs 0) b1=$(input_irqs 1)
echo "MINIVMM-MQ-IRQS input.0 $a0 -> $b0, input.1 $a1 -> $b1"
check interrupts_on_input_0 test "$((${b0:-0} - ${a0:-0}))" -gt 0
check interrupts_on_input_1 test "$((${b1:-0} - ${a1:-0}))" -gt 0
check ethtool_combined_1 ethtool -L eth0 combined 1
check combined_1 combined 1
host_step PAIRS-1
check ping_with_one_pair ping -c 3 -i 0.2 -W 3 "$host"
check ethtool_combined_2 ethtool -L eth0 combined 2
check combined_2 combined 2
host_step PAIRS-2
check ping_with_two_pairs ping -c 3 -i 0.2 -W 3 "$host"
check iperf_pinned_after_combined_2 pinned_rx
check module_unload rmmod virtio_net
check module_reload insmod /lib/modules/virtio_net.ko
check module_reload_eth0_back wait_until test -e /sys/class/net/eth0
netup
check combined_2_after_reload combined 2
check ping_after_reload ping -c 3 -i 0.2 -W 3 "$host"
[ -z "$failed" ] || { echo "MINIVMM-GUEST: failed:$failed"; exit 1; }
