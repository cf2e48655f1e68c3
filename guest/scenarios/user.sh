#!/bin/sh
# Scenario "user": eth0 on minivmm's user-mode (libslirp) network. Args: [full|dhcp] PORT
#   dhcp: lease an address from slirp's DHCP server and report it.
#   full: also fetch a file from the host (10.0.2.2:PORT), resolve minivmm.test via 10.0.2.3,
#         and serve a hostfwd'ed TCP exchange on port 8022.
mode=${1:-dhcp} port=${2:-0}
ip link set eth0 up
if udhcpc -i eth0 -n -q -t 5 -T 2 -s /etc/udhcpc.script >/tmp/dhcp.out 2>&1; then
	echo "MINIVMM-USER-ADDR $(ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
else
	echo "MINIVMM-USER-DHCP-FAILED"
	cat /tmp/dhcp.out
	exit 1
fi
if [ "$mode" = full ]; then
	socat -u "TCP:10.0.2.2:$port" CREATE:/tmp/fetched 2>&1
	echo "MINIVMM-USER-FETCHED $(md5sum </tmp/fetched | cut -d' ' -f1) $(wc -c </tmp/fetched)"
	# Only the answer's addresses, on a short line: a kernel message on the console cut the whole
	# reply's long line in two once, and the check missed an answer that was there.
	dns=$(nslookup minivmm.test 10.0.2.3 2>&1) || true # (its AAAA query is refused: status 1)
	addrs=$(echo "$dns" | sed -n '/^Name:/,$ s/^Address:[[:space:]]*//p' | tr '\n' ' ')
	if [ -n "$addrs" ]; then echo "MINIVMM-USER-DNS $addrs"; else echo "MINIVMM-USER-DNS-FAILED $dns"; fi
	socat TCP-LISTEN:8022,reuseaddr SYSTEM:'read l; echo "MINIVMM-USER-FWD-GOT $l" >/dev/console; echo guest-hello' &
	# Listening on 8022 (0x1F56): state 0A in /proc/net/tcp. At most 10 s.
	n=0
	until grep -q ':1F56 00000000:0000 0A' /proc/net/tcp; do
		n=$((n + 1))
		[ $n -lt 100 ] || { echo "MINIVMM-USER: socat never listened"; exit 1; }
		sleep 0.1
	done
	echo MINIVMM-USER-LISTENING
	wait
fi
