# shellcheck shell=bash
# The hostile-guest e2e scenarios (issue #8), sourced by scenarios/6N-hostile-*.sh after lib.sh and
# net.sh; each runs one case: hostile_setup, then hostile_case NAME SEED NET-A-SPEC GUEST-A-ADDR
# HOST-A-ADDR MINIVMM-BINARY. One scenario a case, so a rerun (the test host's emulation fault,
# tests/e2e/README.md) costs one guest, not three.
#
# A hostile guest cannot hang, crash or flood minivmm. On each datapath (tap
# vhost=off, tap vhost=on, user) the guest's /bin/hostile (guest/hostile/hostile.c) unbinds
# virtio-pci from NIC A and attacks it through its BARs and config space for E2E_HOSTILE_SECS
# (default 10: about 200 rounds, each kind dozens of times) seconds, from a fixed seed, while the
# host floods NIC A (pings to the guest's tap address; UDP through a hostfwd for user) and pings the
# guest's other NIC B (a well-behaved tap), which must answer throughout. Then hostile resets the
# device and rebinds virtio-pci, and: the guest pings the host and fetches a file over NIC A (TCP,
# intact), the host pings the guest back (tap), minivmm's threads are idle again (CPU time of every
# /proc/PID/task/* and vhost worker sampled twice, a state check: a spinning thread uses a whole
# core), its stderr stays under E2E_HOSTILE_MAX_STDERR lines, and SIGTERM ends it within 2 s with
# status 0. The vhost=off case, where the most device code runs in minivmm, uses the ASan/UBSan
# build. A run that hangs leaves every thread's kernel stack and a gdb backtrace in
# build/e2e/<scenario>/<case>.hang.txt.

SECS=${E2E_HOSTILE_SECS:-10}
SEED=${E2E_HOSTILE_SEED:-8}
MAX_STDERR=${E2E_HOSTILE_MAX_STDERR:-40}
IDLE_SECS=3
# "Idle again": while the guest waits in nc after the attack, minivmm's threads together use at
# most IDLE_MORE_PCT of one core more than they did in the same wait before the attack, and no
# thread more than IDLE_THREAD_PCT. (Measured in the nested TCG test host: an idle guest costs its
# vCPU threads 0-15% of a core, depending on the load; a spinning thread costs a whole one.)
IDLE_MORE_PCT=25 IDLE_THREAD_PCT=50
HOST_A=10.77.0.1 GUEST_A=10.77.0.2 HOST_B=10.78.0.1 GUEST_B=10.78.0.2
MAC_A=52:54:00:4e:00:0a MAC_B=52:54:00:4e:00:0b
PORT=47090 UDP_FWD=47091

# NIC A's and NIC B's taps, and the file the guest fetches over NIC A after the attack.
hostile_setup() {
	tap_create mvhtap0 "$HOST_A/24" || fail tap_create_a
	tap_create mvhtap1 "$HOST_B/24" || fail tap_create_b
	file=$RESULTS/payload
	head -c 1048576 /dev/urandom >"$file"
	want=$(md5sum <"$file" | cut -d' ' -f1)
	socat TCP-LISTEN:$PORT,reuseaddr,fork SYSTEM:"cat $file" &
	on_exit kill $!
}

# "tid name ticks" for every thread of minivmm $1 and its vhost workers.
thread_ticks() {
	local s t rest
	for t in /proc/"$1"/task/* $(pgrep -x "vhost-$1" | sed 's|^|/proc/|'); do
		s=$(cat "$t/stat" 2>/dev/null) || continue
		rest=${s##*) }
		# shellcheck disable=SC2086 # fields of /proc/PID/stat after "(comm) ": utime is 12th
		set -- $rest
		t=${s#*(}
		echo "${s%% *} ${t%%)*} $((${12} + ${13}))"
	done
}

# The CPU each thread of minivmm $1 used over IDLE_SECS, one "name (tid): N% of a core" line
# each; sets IDLE_PCT (all threads) and IDLE_MAX_PCT (the busiest one), in percent of one core
# over the real time that passed (a loaded test host may sleep longer than asked).
idle_sample() {
	local a b t0 t1 tid comm u0 u1 d wall
	t0=$EPOCHREALTIME
	a=$(thread_ticks "$1")
	sleep "$IDLE_SECS"
	b=$(thread_ticks "$1")
	t1=$EPOCHREALTIME
	# elapsed time in clock ticks (t0, t1: seconds with 6 decimals)
	wall=$(((${t1/./} - ${t0/./}) * $(getconf CLK_TCK) / 1000000))
	IDLE_PCT=0 IDLE_MAX_PCT=0
	while read -r tid comm u1; do
		u0=$(awk -v t="$tid" '$1 == t { print $3 }' <<<"$a")
		d=$(((u1 - ${u0:-0}) * 100 / wall))
		echo "    $comm ($tid): $d%"
		IDLE_PCT=$((IDLE_PCT + d))
		[ "$d" -le "$IDLE_MAX_PCT" ] || IDLE_MAX_PCT=$d
	done <<<"$b"
}

# Every thread's state, kernel stack and a backtrace of minivmm $1, into $2.
hang_report() {
	local p=$1 out=$2 t
	{
		for t in /proc/"$p"/task/*; do
			echo "== thread ${t##*/} $(cat "$t/comm") state $(awk '{ print $3 }' "$t/stat")" \
				"wchan $(cat "$t/wchan" 2>/dev/null)"
			cat "$t/stack" 2>/dev/null
		done
		if command -v gdb >/dev/null; then
			timeout 60 gdb -p "$p" -batch -ex 'thread apply all bt' 2>&1
		fi
	} >"$out" 2>&1
	echo "  hang: threads of minivmm $p (kernel stacks and backtraces in $(basename "$out")):"
	grep '^== thread' "$out" | sed 's/^== /    /'
}

# The host's traffic into NIC A while it is attacked; stopped by flood_stop.
FLOOD_PIDS=()
flood_start() {
	local mode=$1 secs=$((SECS + 120))
	if [ "$mode" = user ]; then
		# UDP datagrams to the hostfwd, which slirp sends to the guest's address on NIC A.
		(
			exec 3>/dev/udp/127.0.0.1/$UDP_FWD
			end=$((SECONDS + secs))
			for ((i = 0; i < 200000 && SECONDS < end; i++)); do
				printf '%1200s' "$i" >&3 2>/dev/null
				((i % 20)) || sleep 0.01
			done
		) &
		FLOOD_PIDS+=($!)
	else
		# The guest cannot answer ARP while hostile owns the NIC: the frames go in regardless.
		ip neigh replace "$GUEST_A" lladdr "$MAC_A" dev mvhtap0 nud permanent
		ping -q -i 0.005 -w "$secs" "$GUEST_A" >/dev/null 2>&1 &
		FLOOD_PIDS+=($!)
		ping -q -i 0.02 -s 1400 -w "$secs" "$GUEST_A" >/dev/null 2>&1 &
		FLOOD_PIDS+=($!)
		ping -q -i 0.05 -s 9000 -w "$secs" "$GUEST_A" >/dev/null 2>&1 &
		FLOOD_PIDS+=($!)
	fi
}
flood_stop() {
	local f
	for f in "${FLOOD_PIDS[@]}"; do kill "$f" 2>/dev/null; done
	wait "${FLOOD_PIDS[@]}" 2>/dev/null
	FLOOD_PIDS=()
	ip neigh del "$GUEST_A" dev mvhtap0 2>/dev/null
}

# hostile_case NAME SEED NET-A-SPEC GUEST-A-ADDR HOST-A-ADDR MINIVMM-BINARY
hostile_case() {
	local name=$1 seed=$2 neta=$3 addr_a=$4 host_a=$5 bin=$6 pre="$1:" p ok lost
	local vmm=$RESULTS/minivmm-$name err=$RESULTS/$name.stderr pings=$RESULTS/$name.other-nic-pings
	# minivmm's own stderr apart from the guest's console, to be counted. (Leaks at a SIGTERM
	# exit are not this test's business.)
	printf '#!/bin/sh\nexport ASAN_OPTIONS=detect_leaks=0\nexec %q "$@" 2>%q\n' "$bin" "$err" >"$vmm"
	chmod +x "$vmm"
	boot_guest_bg --vmm "$vmm" --log "$name" --scenario hostile --timeout 900 \
		--args "$seed,$SECS,$MAC_A,$addr_a,$host_a,$PORT,$MAC_B,$GUEST_B" -- \
		--cpus 2 --mem 512M --net "$neta,mac=$MAC_A" --net "tap,ifname=mvhtap1,vhost=off,mac=$MAC_B"
	if ! wait_for_log '^MINIVMM-HOSTILE-READY' 400; then
		fail "${pre}guest_ready" "no MINIVMM-HOSTILE-READY"
		kill "$GUEST_PID" 2>/dev/null
		wait_guest
		return
	fi
	p=$(pgrep -P "$GUEST_PID" | head -n1) # minivmm (or minivmm-san) under boot_guest_bg's timeout
	echo "  $name: CPU use of minivmm's threads while the guest idles before the attack:"
	idle_sample "$p"
	local idle_before=$IDLE_PCT
	flood_start "$name"
	rm -f "$pings.stop"
	(
		while [ ! -e "$pings.stop" ]; do
			if ping -c 1 -W 5 "$GUEST_B" >/dev/null 2>&1; then echo ok; else echo lost; fi
			sleep 0.5
		done
	) >"$pings" &
	local pinger=$!
	echo go | nc -N -w 10 "$GUEST_B" 5001 || fail "${pre}start_attack" "guest not listening on NIC B"
	local done=1
	if wait_for_log '^MINIVMM-HOSTILE-DONE' $((SECS + 120)); then
		pass "${pre}attack_completes"
	else
		done=0
		fail "${pre}attack_completes" "no MINIVMM-HOSTILE-DONE $((SECS + 120)) s after the attack began"
		kill -0 "$p" 2>/dev/null && hang_report "$p" "$RESULTS/$name.hang.txt"
	fi
	touch "$pings.stop"
	wait "$pinger"
	flood_stop
	ok=$(grep -c '^ok' "$pings") lost=$(grep -c '^lost' "$pings")
	echo "  $name: host -> NIC B during the attack: $ok answered, $lost lost"
	if [ "$lost" -eq 0 ] && [ "$ok" -ge 1 ]; then
		pass "${pre}other_nic_answers_during_attack"
	else
		fail "${pre}other_nic_answers_during_attack" "$ok answered, $lost lost"
	fi
	tr -d '\r' <"$GUEST_LOG" | grep -E '^hostile: [0-9]+ rounds \(' | sed "s/^/  $name: /"

	if [ $done = 1 ] && wait_for_log '^MINIVMM-HOSTILE-AFTER' 200; then
		if expect_in_log "^MINIVMM-HOSTILE-FETCHED $want 1048576"; then
			pass "${pre}tcp_fetch_after_attack"
		else
			fail "${pre}tcp_fetch_after_attack" "file fetched over NIC A differs or is missing"
		fi
		if [ "$name" != user ]; then
			check "${pre}host_pings_guest_after_attack" ping -c 3 -i 0.2 -W 5 "$GUEST_A"
		fi
	elif [ $done = 1 ]; then
		fail "${pre}guest_checks_after_attack" "no MINIVMM-HOSTILE-AFTER"
	fi

	if kill -0 "$p" 2>/dev/null; then
		# Idle: the guest waits in nc, no traffic flows.
		echo "  $name: CPU use of minivmm's threads while the guest idles after the attack:"
		idle_sample "$p"
		if [ "$IDLE_PCT" -le $((idle_before + IDLE_MORE_PCT)) ] && [ "$IDLE_MAX_PCT" -le "$IDLE_THREAD_PCT" ]; then
			pass "${pre}threads_idle_after_attack"
		else
			local why="$IDLE_PCT% of a core (before the attack: $idle_before%, limit +$IDLE_MORE_PCT%)"
			fail "${pre}threads_idle_after_attack" "$why, busiest thread $IDLE_MAX_PCT% (limit $IDLE_THREAD_PCT%)"
		fi

		kill -TERM "$p"
		local i
		for i in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$p" 2>/dev/null; then
			fail "${pre}sigterm_exits_within_2s" "still running"
			hang_report "$p" "$RESULTS/$name.sigterm-hang.txt"
			kill -KILL "$p"
		else
			pass "${pre}sigterm_exits_within_2s"
		fi
	else
		fail "${pre}minivmm_still_running_after_attack" "it exited ($(tail -n 1 "$err"))"
	fi
	wait_guest
	check "${pre}exit_status_0" test "$GUEST_RC" -eq 0
	local lines
	lines=$(wc -l <"$err")
	echo "  $name: minivmm stderr: $lines lines"
	sed -n '1,8p' "$err" | sed 's/^/    /'
	if [ "$lines" -le "$MAX_STDERR" ]; then pass "${pre}stderr_bounded"
	else fail "${pre}stderr_bounded" "$lines lines (limit $MAX_STDERR)"; fi
	if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$err"; then
		fail "${pre}no_sanitizer_report" "$(grep -m1 -E 'ERROR: AddressSanitizer|runtime error:' "$err")"
	elif [ "$bin" = "$MINIVMM_SAN" ]; then
		pass "${pre}no_sanitizer_report"
	fi
	net_guest_results "$pre"
}
