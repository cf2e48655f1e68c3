#!/bin/sh
# Scenario "qmp": eth0 on a tap (args: GUEST_IP), then report until powered off: the carrier as it
# changes ("MINIVMM-CARRIER 0|1") and the guest's clock every second ("MINIVMM-TICK <uptime>"),
# so the host sees what QMP's set_link, stop and cont do. It never finishes by itself: QMP's
# system_powerdown (the ACPI power button, /bin/powerbtn) ends it.
ip addr add "$1/24" dev eth0 || exit 1
ip link set eth0 up || exit 1
echo MINIVMM-QMP-READY
last='' i=0
while :; do
	c=$(cat /sys/class/net/eth0/carrier 2>/dev/null || true) # (sh -e: a failed read is not the end)
	[ "$c" = "$last" ] || echo "MINIVMM-CARRIER $c"
	last=$c
	i=$((i + 1))
	[ $((i % 5)) -ne 0 ] || echo "MINIVMM-TICK $(cut -d' ' -f1 /proc/uptime)"
	sleep 0.2
done
