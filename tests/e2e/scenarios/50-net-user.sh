#!/usr/bin/env bash
# e2e: --net user (libslirp): DHCP gives 10.0.2.15; the guest fetches a file from a TCP server on
# the host (as 10.0.2.2) intact; a hostfwd rule carries a TCP exchange both ways; DNS queries to
# 10.0.2.3 are answered by the host's resolver (a dnsmasq on loopback with a name of its own).
# Without any --net, the guest gets the same user network; two --net give two NICs.
# e2e-timeout: 600
set -uo pipefail
# A private mount namespace, so the test's /etc/resolv.conf (slirp reads it) is ours alone.
if [ -z "${E2E_USER_NS:-}" ]; then
	E2E_USER_NS=1 exec unshare -m "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"

PORT=47080 FWD=47022
file=$RESULTS/payload
head -c 1048576 /dev/urandom >"$file"
want=$(md5sum <"$file" | cut -d' ' -f1)
socat TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork SYSTEM:"cat $file" &
on_exit kill $!
echo "nameserver 127.0.0.1" >"$RESULTS/resolv.conf"
mount --bind "$RESULTS/resolv.conf" /etc/resolv.conf
dnsmasq --keep-in-foreground --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
	--port=53 --address=/minivmm.test/10.9.8.7 --pid-file="$RESULTS/dnsmasq.pid" &
on_exit kill $!

boot_guest_bg --scenario user --args "full,$PORT" --timeout 300 -- --net "user,hostfwd=tcp:127.0.0.1:$FWD-:8022"
if wait_for_log '^MINIVMM-USER-LISTENING' 200; then
	got=$(echo host-hello | timeout 20 socat -t 10 - TCP:127.0.0.1:$FWD 2>&1)
	if [ "$got" = guest-hello ]; then pass user_hostfwd_guest_to_host; else fail user_hostfwd_guest_to_host "got '$got'"; fi
else
	fail user_hostfwd_guest_to_host "guest never listened"
fi
wait_guest
expect user_dhcp_address '^MINIVMM-USER-ADDR 10\.0\.2\.15/24'
expect user_fetch_from_host "^MINIVMM-USER-FETCHED $want 1048576"
expect user_dns_via_10_0_2_3 '^MINIVMM-USER-DNS .*10\.9\.8\.7'
expect user_hostfwd_host_to_guest '^MINIVMM-USER-FWD-GOT host-hello'
expect user_scenario_done '^MINIVMM-SCENARIO-DONE'
check user_exit_status_0 test "$GUEST_RC" -eq 0

boot_guest --log default-net --scenario user --args dhcp --timeout 200 --
expect user_is_the_default_network '^MINIVMM-USER-ADDR 10\.0\.2\.15/24'
check user_default_exit_status_0 test "$GUEST_RC" -eq 0

# Several --net options give several NICs.
boot_guest --log two-nics --timeout 200 -- --net user --net user,net=10.0.3.0/24
expect two_nics_eth0 '^eth0 '
expect two_nics_eth1 '^eth1 '
check two_nics_exit_status_0 test "$GUEST_RC" -eq 0
e2e_finish
