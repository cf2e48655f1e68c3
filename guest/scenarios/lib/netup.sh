# shellcheck shell=sh
# Sourced by guest scenarios that bring eth0 up with a fixed address ($ip, set by the caller).
#   wait_until CMD...   polls for an event (at most 10 s): a state change the kernel makes
#                       asynchronously (link up, an interface appearing)
#   netup               address $ip/24 on eth0, link up, and wait for it
wait_until() {
	n=0
	until "$@" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 100 ] || return 1
		sleep 0.1
	done
}
link_up() { [ "$(cat /sys/class/net/eth0/operstate)" = up ]; }
netup() {
	ip addr add "$ip/24" dev eth0
	ip link set eth0 up
	wait_until link_up
}
