#!/bin/sh
# Scenario "hostile": /bin/hostile (guest/hostile/hostile.c) attacks one NIC while the other stays
# up, then gives it back to virtio-pci; the NIC must work again. The host side is
# tests/e2e/hostile.sh. Args: SEED SECS MAC_A ADDR_A HOST_A PORT MAC_B ADDR_B
#   MAC_A   the attacked NIC; ADDR_A its address/24, or "dhcp" (user networking)
#   HOST_A  the host behind it (ping, and a TCP server on PORT that sends a file)
#   MAC_B   the other NIC, at ADDR_B/24, where the host talks to this script: "go" on TCP 5001
# Prints "MINIVMM-CHECK <name> ok|fail" lines and these markers:
#   MINIVMM-HOSTILE-READY    both NICs up: the host starts its traffic, then sends "go"
#   MINIVMM-HOSTILE-DONE     the attack is over (the driver was rebound if hostile got that far)
#   MINIVMM-HOSTILE-FETCHED <md5> <bytes>   the file fetched over the attacked NIC afterwards
#   MINIVMM-HOSTILE-AFTER    every check is done; the guest idles until the host ends minivmm
seed=$1 secs=$2 mac_a=$3 addr_a=$4 host_a=$5 port=$6 mac_b=$7 addr_b=$8
# shellcheck source=lib/check.sh
. /scenarios/lib/check.sh
# The interface with MAC address $1 (a NIC's name can change when its driver is rebound).
ifname_of() {
	for i in /sys/class/net/*; do
		[ "$(cat "$i/address")" = "$1" ] && basename "$i" && return 0
	done
	return 1
}
up_a() {
	ip link set "$a" up
	if [ "$addr_a" = dhcp ]; then
		udhcpc -i "$a" -n -q -t 5 -T 2 -s /etc/udhcpc.script
	else
		ip addr add "$addr_a/24" dev "$a"
	fi
}

if ! b=$(ifname_of "$mac_b") || ! a=$(ifname_of "$mac_a"); then
	echo "MINIVMM-CHECK nics_found fail"
	ip -br link
	exit 1
fi
ip addr add "$addr_b/24" dev "$b"
ip link set "$b" up
check attacked_nic_up_before up_a
check ping_host_before ping -c 2 -i 0.2 -W 5 "$host_a"
# /sys/class/net/X/device is the virtio device; its parent is the PCI function.
bdf=$(basename "$(dirname "$(readlink -f "/sys/class/net/$a/device")")")
echo "MINIVMM-HOSTILE-READY $a=$bdf $b"
nc -l -p 5001 >/dev/null

# Its output goes straight to the console: if the VMM hangs, the last line shows how far it got.
hostile -s "$seed" -t "$secs" "$bdf" 2>&1
rc=$?
if [ $rc -eq 0 ]; then r=ok; else r=fail; fi
echo "MINIVMM-CHECK hostile_ran_and_rebound $r"
echo MINIVMM-HOSTILE-DONE

# The rebound driver's new interface, found by its PCI function: the attack may have changed
# the MAC address (CTRL_MAC_ADDR_SET). It appears as the probe finishes (no udev to wait on).
a='' n=0
while [ -z "$a" ] && [ $n -lt 50 ]; do
	a=$(ls "/sys/bus/pci/devices/$bdf"/virtio*/net 2>/dev/null) || sleep 0.2
	n=$((n + 1))
done
echo "MINIVMM-HOSTILE-NIC-AFTER ${a:-none} $(cat "/sys/class/net/$a/address" 2>/dev/null)"
check virtio_net_back_on_attacked_nic test -n "$a"
echo "virtio-driver=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")"
check attacked_nic_up_after up_a
check ping_host_after ping -c 3 -i 0.2 -W 5 "$host_a"
socat -u "TCP:$host_a:$port" CREATE:/tmp/fetched
echo "MINIVMM-HOSTILE-FETCHED $(md5sum </tmp/fetched | cut -d' ' -f1) $(wc -c </tmp/fetched)"
check other_nic_still_up test "$(cat "/sys/class/net/$b/operstate")" = up
echo MINIVMM-HOSTILE-AFTER
# Idle until the host ends minivmm (SIGTERM); "go" again powers off instead.
nc -l -p 5001 >/dev/null
echo MINIVMM-SCENARIO-DONE
