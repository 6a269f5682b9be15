# Leader election over a coordination.k8s.io/v1 Lease (operator/kube/leader),
# driven through kube-lease-probe against the real apiserver.

LEASE=foresight-leader

# Starts a probe in the background: its stdout in $WORK/ID.out, its pid in $WORK/ID.pid.
start_probe() { # namespace identity
	"$BINDIR/kube-lease-probe" --kubeconfig "$KUBECONFIG" --namespace "$1" --lease "$LEASE" \
		--identity "$2" >"$WORK/$2.out" 2>"$WORK/$2.err" &
	echo $! >"$WORK/$2.pid"
}

# On any exit of a test: shows what the probes said when it failed, and
# kills the processes it started that still run.
on_exit() {
	local status=$? f
	[ "$status" -eq 0 ] || show_probes || true
	for f in "$WORK"/*.pid; do
		[ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
	done
}

# True when the probe's last transition is "leading".
is_leading() { # identity
	[ "$(tail -n 1 "$WORK/$1.out" 2>/dev/null | cut -d' ' -f2)" = leading ]
}

# The unix-ms time of the probe's last "leading" line.
led_at() { # identity
	grep ' leading$' "$WORK/$1.out" | tail -n 1 | cut -d' ' -f1
}

now_ms() {
	date +%s%3N
}

holder() { # namespace
	"$KUBECTL" -n "$1" get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}'
}

# Fails when a probe's stderr holds a sanitizer report (under SANITIZE=...).
assert_no_sanitizer_report() {
	if grep -lE 'Sanitizer|runtime error:' "$WORK"/*.err; then
		fail "a probe reported a sanitizer error"
	fi
	return 0
}

# Prints what each probe wrote (for the log of a failed test).
show_probes() {
	local f
	for f in "$WORK"/*.out; do
		echo "== $(basename "$f" .out):"
		cat "$f"
		tail -n 5 "${f%.out}.err"
	done
}

test_leader_election_hands_over_on_kill_and_on_release() {
	local ns leader other killed_at term_at took lease
	ns=$(new_namespace)
	trap on_exit EXIT

	# Two candidates: exactly one leads, and the Lease names it.
	start_probe "$ns" probe-a
	start_probe "$ns" probe-b
	wait_until 30 'is_leading probe-a || is_leading probe-b'
	sleep 3 # several retry periods: the other must stay a candidate
	if is_leading probe-a && is_leading probe-b; then
		fail "both probes lead"
	fi
	if is_leading probe-a; then leader=probe-a other=probe-b; else leader=probe-b other=probe-a; fi
	assert_eq "$(holder "$ns")" "$leader" "holderIdentity"
	[ ! -s "$WORK/$other.out" ] || fail "$other printed: $(cat "$WORK/$other.out")"
	lease=$("$KUBECTL" -n "$ns" get lease "$LEASE" -o json)
	echo "$lease" | jq .spec
	assert_eq "$(echo "$lease" | jq -r .spec.leaseDurationSeconds)" 15 "leaseDurationSeconds"
	echo "$lease" | jq -r .spec.renewTime | grep -Eq '^[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z$' ||
		fail "renewTime is not a MicroTime: $(echo "$lease" | jq -r .spec.renewTime)"
	echo "$lease" | jq -r .spec.acquireTime | grep -Eq '^[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z$' ||
		fail "acquireTime is not a MicroTime"

	# The leader dies without a word: the other takes over once the lease expires.
	kill -9 "$(cat "$WORK/$leader.pid")"
	killed_at=$(now_ms)
	rm "$WORK/$leader.pid"
	wait_until 25 "is_leading $other"
	took=$(($(led_at "$other") - killed_at))
	echo "$other led ${took} ms after $leader was killed"
	[ "$took" -le 17000 ] || fail "$other took ${took} ms to lead after the kill (> 17 s)"
	[ "$took" -ge 12000 ] || fail "$other led ${took} ms after the kill: before the lease expired"
	assert_eq "$(holder "$ns")" "$other" "holderIdentity after the kill"
	[ "$("$KUBECTL" -n "$ns" get lease "$LEASE" -o jsonpath='{.spec.leaseTransitions}')" -ge 1 ] ||
		fail "leaseTransitions did not count the takeover"

	# A third candidate; the leader is asked to stop and releases: the third leads at once.
	start_probe "$ns" probe-c
	sleep 2.5 # the third has read the lease at least once
	is_leading probe-c && fail "probe-c leads while $other holds the lease"
	kill -TERM "$(cat "$WORK/$other.pid")"
	term_at=$(now_ms)
	wait_until 10 'is_leading probe-c'
	took=$(($(led_at probe-c) - term_at))
	echo "probe-c led ${took} ms after $other was told to stop"
	[ "$took" -le 3000 ] || fail "probe-c took ${took} ms to lead after the release (> 3 s)"
	wait "$(cat "$WORK/$other.pid")" || fail "$other exited with status $? on SIGTERM"
	rm "$WORK/$other.pid"
	[ "$(tail -n 1 "$WORK/$other.out" | cut -d' ' -f2)" = stopped ] ||
		fail "$other did not print stopped: $(cat "$WORK/$other.out")"
	assert_eq "$(holder "$ns")" probe-c "holderIdentity after the release"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_leader_release_leaves_an_expired_lease() {
	local ns lease pid
	ns=$(new_namespace)
	trap on_exit EXIT
	start_probe "$ns" solo
	wait_until 20 'is_leading solo'
	pid=$(cat "$WORK/solo.pid")
	kill -TERM "$pid"
	wait "$pid" || fail "the probe exited with status $? on SIGTERM"
	rm "$WORK/solo.pid"
	lease=$("$KUBECTL" -n "$ns" get lease "$LEASE" -o json)
	echo "$lease" | jq .spec
	assert_eq "$(echo "$lease" | jq -r '.spec.holderIdentity // ""')" "" "released holderIdentity"
	assert_eq "$(echo "$lease" | jq -r .spec.leaseDurationSeconds)" 1 "released leaseDurationSeconds"
	assert_eq "$(cut -d' ' -f2 "$WORK/solo.out" | tr '\n' ' ')" "leading stopped " "transitions"

	# A restart with the same identity takes the released lease at once and counts a transition.
	start_probe "$ns" solo
	wait_until 5 'is_leading solo'
	assert_eq "$(holder "$ns")" solo "holderIdentity after the restart"
	assert_eq "$("$KUBECTL" -n "$ns" get lease "$LEASE" -o jsonpath='{.spec.leaseTransitions}')" 1 \
		"leaseTransitions"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

# A TCP relay to the apiserver on a port of its own, which the test can pause
# (SIGSTOP: connections hang) to cut the probe off. Prints the port.
start_relay() {
	local target
	target=$(sed -nE 's|^ *server: https://127\.0\.0\.1:([0-9]+).*|\1|p' "$KUBECONFIG" | head -n 1)
	python3 -u -c '
import socket, sys, threading
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print(ls.getsockname()[1])
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    for a, b in ((c, u), (u, c)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
' "$target" >"$WORK/relay.port" 2>"$WORK/relay.err" &
	echo $! >"$WORK/relay.pid"
	wait_until 10 'test -s "$WORK/relay.port"'
	cat "$WORK/relay.port"
}

test_leader_steps_down_when_the_api_server_hangs() {
	local ns port stopped_at took
	ns=$(new_namespace)
	trap on_exit EXIT
	port=$(start_relay)
	sed -E "s|^( *)server: .*|\\1server: https://127.0.0.1:$port|" "$KUBECONFIG" >"$WORK/kc"
	KUBECONFIG="$WORK/kc" start_probe "$ns" cut-off
	wait_until 20 'is_leading cut-off'
	sleep 1

	# Requests now hang: each must time out within the renew deadline (10 s),
	# and the leader must stop leading when that deadline passes.
	kill -STOP "$(cat "$WORK/relay.pid")"
	stopped_at=$(now_ms)
	wait_until 20 '[ "$(tail -n 1 "$WORK/cut-off.out" | cut -d" " -f2)" = stopped ]'
	took=$(($(tail -n 1 "$WORK/cut-off.out" | cut -d' ' -f1) - stopped_at))
	echo "stopped leading ${took} ms after the API server stopped answering"
	[ "$took" -ge 7500 ] || fail "stepped down after ${took} ms, before the renew deadline"
	[ "$took" -le 10500 ] || fail "stepped down after ${took} ms, past the renew deadline"

	# Back in touch, nobody else took the lease: it leads again.
	kill -CONT "$(cat "$WORK/relay.pid")"
	wait_until 15 'is_leading cut-off'
	assert_eq "$(holder "$ns")" cut-off "holderIdentity"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}
