#!/usr/bin/env bash
# e2e: --qmp, driven by one QMP client (tests/e2e/qmp.py) the way scripts drive QEMU: greeting and
# negotiation, query-status, set_link (the guest's carrier follows, pings stop and resume),
# stop/cont (the guest's output and its answers to pings freeze, then resume), system_powerdown
# (the ACPI power button: the guest shuts itself down, the VMM exits 0 after a SHUTDOWN event),
# and quit. The same steps run against minivmm (userspace datapath and vhost-net) and against
# QEMU itself (tests/bench/qemu-as-minivmm.sh), which proves the client side on the reference.
# e2e-timeout: 900
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
E2E=$MINIVMM_SRC/tests/e2e
# A client that died (it could not connect) must fail its checks, not kill this script with
# SIGPIPE when the next command is written to it.
trap '' PIPE
GUEST_IP=10.0.2.15 HOST_IP=10.0.2.1

QMP_PID='' QMP_IN='' QMP_OUT=''
qmp_start() { # SOCKET EVENTS: the client runs on two fifos (a coproc's fds vanish when it exits)
	local dir=$RESULTS/qmp-fifo
	rm -rf "$dir" && mkdir -p "$dir" && mkfifo "$dir/in" "$dir/out"
	python3 "$E2E/qmp.py" "$1" "$2" <"$dir/in" >"$dir/out" &
	QMP_PID=$!
	exec {QMP_IN}>"$dir/in" {QMP_OUT}<"$dir/out"
	QMP_GREETING=''
	read -r -t 60 QMP_GREETING <&"$QMP_OUT" || true
}
qmp() { # JSON -> the reply line in QMP_REPLY
	QMP_REPLY='(no reply)'
	echo "$1" >&"$QMP_IN" 2>/dev/null || return 0
	read -r -t 30 QMP_REPLY <&"$QMP_OUT" || QMP_REPLY='(no reply)'
}
qmp_ok() { # NAME JSON: the command returns
	qmp "$2"
	case $QMP_REPLY in '{"return": '*) pass "$1" ;; *) fail "$1" "reply: $QMP_REPLY" ;; esac
}
qmp_stop_client() { # after the VMM exited: the client has read every event by then
	[ -n "$QMP_PID" ] || return 0
	exec {QMP_IN}>&-
	timeout 10 tail --pid="$QMP_PID" -f /dev/null
	kill "$QMP_PID" 2>/dev/null
	wait "$QMP_PID" 2>/dev/null
	exec {QMP_OUT}<&-
	QMP_PID=''
}
count_in_log() { grep -a -c -- "$1" "$GUEST_LOG" || true; }
wait_count() { # PATTERN N SECS: the log holds at least N lines matching PATTERN
	local end=$((SECONDS + $3))
	while [ "$(count_in_log "$1")" -lt "$2" ]; do
		[ $SECONDS -lt $end ] || return 1
		snooze 0.2
	done
}
event_seen() { grep -q "\"event\": \"$2\"" "$1" 2>/dev/null; }
wait_event() { # EVENTS NAME SECS
	local end=$((SECONDS + $3))
	until event_seen "$1" "$2"; do
		[ $SECONDS -lt $end ] || return 1
		snooze 0.2
	done
}

# One VMM: $1 = name, $2 = the VMM binary, $3 = vhost=on|off, $4 = its tap.
qmp_run() {
	local n=$1 vmm=$2 vhost=$3
	local sock=$RESULTS/$n.sock events=$RESULTS/$n.events
	rm -f "$sock" "$events"
	local tap=$4
	tap_create "$tap" "$HOST_IP/24" || { fail "$n:tap" "cannot create $tap"; return; }
	boot_guest_bg --log "$n" --vmm "$vmm" --scenario qmp --args "$GUEST_IP" --timeout 400 -- \
		--net "tap,ifname=$tap,vhost=$vhost" --qmp "unix:$sock"
	qmp_start "$sock" "$events"
	case $QMP_GREETING in '{"QMP": {"version": {"qemu": '*) pass "$n:greeting" ;; *) fail "$n:greeting" "got '$QMP_GREETING'" ;; esac
	qmp '{"execute": "query-status"}'
	case $QMP_REPLY in *CommandNotFound*) pass "$n:commands_wait_for_negotiation" ;; *) fail "$n:commands_wait_for_negotiation" "reply: $QMP_REPLY" ;; esac
	qmp_ok "$n:qmp_capabilities" '{"execute": "qmp_capabilities"}'
	qmp '{"execute": "query-status", "id": "s1"}'
	case $QMP_REPLY in *'"status": "running"'*) ;; *) QMP_REPLY="bad: $QMP_REPLY" ;; esac
	case $QMP_REPLY in '{"return": '*'"id": "s1"}') pass "$n:query_status_running" ;; *) fail "$n:query_status_running" "reply: $QMP_REPLY" ;; esac
	if ! wait_for_log '^MINIVMM-QMP-READY' 240; then
		fail "$n:guest_ready" "no MINIVMM-QMP-READY"
		kill "$GUEST_PID" 2>/dev/null
		wait_guest
		qmp_stop_client
		return
	fi
	check "$n:ping_before" ping -c 3 -i 0.2 -W 3 "$GUEST_IP"

	# set_link: the guest's carrier goes down (its driver reads the status after the config
	# interrupt) and pings fail; up again, they work.
	local ups
	ups=$(count_in_log '^MINIVMM-CARRIER 1')
	qmp_ok "$n:set_link_down" '{"execute": "set_link", "arguments": {"name": "net0", "up": false}}'
	if wait_count '^MINIVMM-CARRIER 0' 1 30; then pass "$n:guest_sees_carrier_down"; else fail "$n:guest_sees_carrier_down" "no MINIVMM-CARRIER 0"; fi
	if ping -c 2 -W 1 "$GUEST_IP" >/dev/null 2>&1; then fail "$n:ping_fails_link_down" "a reply came"; else pass "$n:ping_fails_link_down"; fi
	qmp_ok "$n:set_link_up" '{"execute": "set_link", "arguments": {"name": "net0", "up": true}}'
	if wait_count '^MINIVMM-CARRIER 1' $((ups + 1)) 30; then pass "$n:guest_sees_carrier_up"; else fail "$n:guest_sees_carrier_up" "no second MINIVMM-CARRIER 1"; fi
	check "$n:ping_after_link_up" ping -c 3 -i 0.2 -W 3 "$GUEST_IP"

	# stop: nothing runs in the guest (no clock ticks, no ping answers) until cont.
	qmp_ok "$n:stop" '{"execute": "stop"}'
	if wait_event "$events" STOP 10; then pass "$n:stop_event"; else fail "$n:stop_event" "no STOP event"; fi
	qmp '{"execute": "query-status"}'
	case $QMP_REPLY in *'"status": "paused"'*) ;; *) QMP_REPLY="bad: $QMP_REPLY" ;; esac
	case $QMP_REPLY in '{"return": '*'"running": false'*) pass "$n:query_status_paused" ;; *) fail "$n:query_status_paused" "reply: $QMP_REPLY" ;; esac
	local t0 t1
	t0=$(count_in_log '^MINIVMM-TICK')
	if ping -c 3 -W 1 "$GUEST_IP" >/dev/null 2>&1; then fail "$n:ping_fails_paused" "a reply came"; else pass "$n:ping_fails_paused"; fi
	t1=$(count_in_log '^MINIVMM-TICK')
	if [ "$t0" = "$t1" ]; then pass "$n:guest_frozen_while_paused"; else fail "$n:guest_frozen_while_paused" "ticks $t0 -> $t1"; fi
	qmp_ok "$n:cont" '{"execute": "cont"}'
	if wait_event "$events" RESUME 10; then pass "$n:resume_event"; else fail "$n:resume_event" "no RESUME event"; fi
	if wait_count '^MINIVMM-TICK' $((t1 + 1)) 30; then pass "$n:guest_runs_after_cont"; else fail "$n:guest_runs_after_cont" "no tick"; fi
	check "$n:ping_after_cont" ping -c 3 -i 0.2 -W 3 "$GUEST_IP"

	# system_powerdown: the guest's power button handler shuts it down; the VMM exits 0.
	qmp_ok "$n:system_powerdown" '{"execute": "system_powerdown"}'
	if wait_event "$events" POWERDOWN 10; then pass "$n:powerdown_event"; else fail "$n:powerdown_event" "no POWERDOWN event"; fi
	wait_guest
	qmp_stop_client
	expect "$n:guest_saw_power_button" '^MINIVMM-GUEST-POWERBUTTON'
	check "$n:exits_zero_after_powerdown" test "$GUEST_RC" -eq 0
	if grep -q '"event": "SHUTDOWN".*"reason": "guest-shutdown"' "$events"; then pass "$n:shutdown_event"; else fail "$n:shutdown_event" "events: $(tr '\n' ' ' <"$events")"; fi
	if [ -e "$sock" ] && [ "$vmm" = "$MINIVMM" ]; then fail "$n:socket_removed" "$sock is still there"; elif [ "$vmm" = "$MINIVMM" ]; then pass "$n:socket_removed"; fi
	ip link del "$tap" 2>/dev/null
}

# quit: the VMM stops at once with status 0 and says why.
quit_run() {
	local n=$1 vmm=$2 sock=$RESULTS/$1-quit.sock events=$RESULTS/$1-quit.events
	rm -f "$sock" "$events"
	# The qmp guest scenario never ends by itself, so only quit can end this VM.
	boot_guest_bg --log "$n-quit" --vmm "$vmm" --scenario qmp --args "$GUEST_IP" --timeout 300 -- \
		--net user --qmp "unix:$sock"
	qmp_start "$sock" "$events"
	qmp_ok "$n:quit_negotiate" '{"execute": "qmp_capabilities"}'
	qmp_ok "$n:quit" '{"execute": "quit"}'
	wait_guest
	qmp_stop_client
	check "$n:exits_zero_after_quit" test "$GUEST_RC" -eq 0
	if grep -q '"event": "SHUTDOWN".*"guest": false.*"host-qmp-quit"' "$events"; then pass "$n:quit_shutdown_event"; else fail "$n:quit_shutdown_event" "events: $(tr '\n' ' ' <"$events")"; fi
}

# A path that is not a socket is refused: one line, exit 2.
touch "$RESULTS/not-a-socket"
boot_guest --log refuse -- --net none --qmp "unix:$RESULTS/not-a-socket"
check qmp_refuses_non_socket_path test "$GUEST_RC" -eq 2
check qmp_refusal_is_one_line test "$(grep -c . "$GUEST_LOG")" -eq 1

qmp_run minivmm-userspace "$MINIVMM" off tq0
qmp_run minivmm-vhost "$MINIVMM" on tq1
quit_run minivmm "$MINIVMM"
qmp_run qemu "$MINIVMM_SRC/tests/bench/qemu-as-minivmm.sh" off tq2
quit_run qemu "$MINIVMM_SRC/tests/bench/qemu-as-minivmm.sh"
e2e_finish
