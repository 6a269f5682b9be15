# The fault suite (issue #10): the operator against a real apiserver and a
# real Prometheus while things break. Prometheus's faults are injected by
# tests/fixtures/prom/fault-proxy.py in front of the real Prometheus, one
# channel (URL prefix) per scaler; the operator is SIGKILLed mid-reconcile,
# its leader is killed during a scale-up, a writer races it, and the
# apiserver is killed under it. What the cluster saw is read back from the
# apiserver itself: `kubectl get -w` recordings and the audit log.

# shellcheck disable=SC2016,SC2034,SC2153 # wait_until's conditions (and the locals they
# read) are expanded by its eval, in the function's scope; PROM_URL and the like come from lib.sh
FAULT_PROXY="$REPO/tests/fixtures/prom/fault-proxy.py"

# --- helpers ---------------------------------------------------------------

# Starts a fault proxy in front of $PROM_URL; sets PROXY_URL and PROXY_PID; its
# requests are logged in $WORK/NAME/requests.log.
fx_start_proxy() { # name
	local dir="$WORK/$1"
	mkdir -p "$dir"
	python3 "$FAULT_PROXY" "$PROM_URL" "$dir/port" "$dir/requests.log" 2>"$dir/stderr.log" &
	PROXY_PID=$!
	echo "$PROXY_PID" >>"$WORK/pids"
	wait_until 10 '[ -s "$dir/port" ]'
	PROXY_URL="http://127.0.0.1:$(cat "$dir/port")"
}

# Sets the fault of one channel of the proxy at $PROXY_URL.
fx_fault() { # channel mode
	curl -sf -X PUT --data "$2" "$PROXY_URL/-/mode/$1" >/dev/null
}

# Starts `foresight run` for namespace NS, logging to $WORK/LOG.log; sets
# OP_PORT and OP_PID. A port taken between the check and the bind is tried again.
fx_start_operator() { # log ns [run flags...]
	local log="$WORK/$1.log" ns=$2
	shift 2
	for _ in 1 2 3; do
		OP_PORT=$(free_port)
		"$FORESIGHT" run --namespace "$ns" --prometheus-url "$PROM_URL" \
			--listen "127.0.0.1:$OP_PORT" --log-level debug "$@" >>"$log" 2>&1 &
		OP_PID=$!
		echo "$OP_PID" >>"$WORK/pids"
		wait_until 30 'curl -sf "http://127.0.0.1:$OP_PORT/healthz" >/dev/null || ! kill -0 $OP_PID'
		kill -0 "$OP_PID" 2>/dev/null && return 0
		grep -q "cannot listen" "$log" || fail "the operator exited: $(tail -5 "$log")"
	done
	fail "no free port for the operator in 3 attempts"
}

# A Deployment NAME at REPLICAS and a ForecastScaler for it (1..8 replicas,
# 100 a replica, every 2 s, no forecast, no scale-down window unless the
# extra lines have a behavior, no alerts), reading QUERY through URL, with
# extra spec lines (fallback, behavior, maxReplicas...).
fx_scaler() { # ns name replicas url query [onEmpty] [extra spec yaml]
	local behavior="  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}" max="  maxReplicas: 8"
	case "${7:-}" in *behavior:*) behavior="" ;; esac
	case "${7:-}" in *maxReplicas:*) max="" ;; esac
	"$KUBECTL" -n "$1" create deployment "$2" --image=nginx --replicas="$3" >/dev/null
	"$KUBECTL" -n "$1" apply -f - >/dev/null <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $2}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: $2}
  minReplicas: 1
$max
  interval: 2s
  prometheus: {url: '$4'}
  metrics:
  - {name: load, query: '$5', targetPerReplica: 100, onEmpty: ${6:-Hold}}
  forecast: {model: None}
  alerts: {enabled: false}
$behavior
${7:-}
FS
}

fx_replicas() { "$KUBECTL" -n "$1" get deploy "$2" -o jsonpath='{.spec.replicas}'; }
fx_field() { "$KUBECTL" -n "$1" get fs "$2" -o jsonpath="$3"; }
fx_cond() { # ns name type field(status|reason|message)
	fx_field "$1" "$2" "{.status.conditions[?(@.type==\"$3\")].$4}"
}

# Samples the operator's /readyz every half second into $WORK/readyz.log:
# "<unix time> <HTTP code>" lines.
fx_sample_readyz() {
	(while :; do
		echo "$(date +%s.%N) $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OP_PORT/readyz")"
		sleep 0.5
	done) >"$WORK/readyz.log" 2>&1 &
	echo $! >>"$WORK/pids"
}

# The notes of the Events with REASON about scaler NAME, one a line.
fx_event_notes() { # ns name reason
	"$KUBECTL" -n "$1" get events.v1.events.k8s.io -o json |
		jq -r --arg n "$2" --arg r "$3" '.items[] | select(.regarding.name == $n and .reason == $r) | .note'
}

# Records every spec.replicas the apiserver serves for the Deployments of NS
# (a watch: each change is seen) into $WORK/replicas-NS: "name replicas" lines
# (appended: after an outage, a new recording goes on where the old one ended).
fx_record_replicas() { # ns
	local pidfile="$WORK/recorder-$1.pid"
	# One recorder a namespace: one an outage left alive gives way to the new
	# one, whose first lines are the current counts (two would interleave).
	if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
		while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
	fi
	"$KUBECTL" -n "$1" get deploy -w -o custom-columns=NAME:.metadata.name,R:.spec.replicas \
		--no-headers >>"$WORK/replicas-$1" 2>&1 &
	echo $! >"$pidfile"
	echo $! >>"$WORK/pids"
}

# The replica counts recorded for Deployment NAME, each change once: "3 4 3".
fx_seen() { # ns name
	awk -v n="$2" '$1 == n && $2 != last {printf "%s%s", sep, $2; sep = " "; last = $2}' \
		"$WORK/replicas-$1"
}

# The seconds between consecutive lines of fx_scale_writes, one a line.
fx_write_gaps() { # ns name
	local prev="" t ts
	fx_scale_writes "$1" "$2" | while read -r ts _; do
		t=$(date -d "$ts" +%s.%N)
		[ -z "$prev" ] || awk -v a="$prev" -v b="$t" 'BEGIN { printf "%.1f\n", b - a }'
		prev=$t
	done
}

# The writes of a Deployment's replicas (PATCH or PUT of /scale, or of the
# Deployment itself) in the audit log, as "time verb code user-agent" lines.
fx_scale_writes() { # ns name
	# A line the apiserver is still writing is skipped, not a parse error.
	grep -F "\"namespace\":\"$1\"" "$AUDIT_LOG" | jq -R -r --arg n "$2" 'fromjson? |
		select(.stage == "ResponseComplete" and .objectRef.resource == "deployments" and
		       .objectRef.name == $n and (.verb == "patch" or .verb == "update") and
		       ((.objectRef.subresource // "") == "scale" or ((.userAgent // "") | startswith("foresight")))) |
		"\(.stageTimestamp) \(.verb) \(.responseStatus.code) \(.userAgent)"'
}

# Waits until condition TYPE of a scaler has STATUS, then checks its message has TEXT.
fx_expect_cond() { # ns name type status text
	local x_ns=$1 x_name=$2 x_type=$3 x_status=$4
	wait_until 40 '[ "$(fx_cond "$x_ns" "$x_name" "$x_type" status)" = "$x_status" ]'
	assert_contains "$(fx_cond "$1" "$2" "$3" message)" "$5" "$2: condition $3's message"
}

# Waits until an Event REASON about scaler NAME has TEXT in its note.
fx_expect_event() { # ns name reason text
	local x_ns=$1 x_name=$2 x_reason=$3 x_text=$4
	wait_until 20 'fx_event_notes "$x_ns" "$x_name" "$x_reason" | grep -qF -- "$x_text"'
	echo "$2: Event $3: $(fx_event_notes "$1" "$2" "$3" | grep -F -- "$4" | head -1)"
}

fx_setup() {
	install_crds
	start_load_gen
	start_prometheus
}

# Every scaler of NS was evaluated (Ready) and wants what its target has.
fx_all_settled() { # ns names...
	local ns=$1 n
	shift
	for n in "$@"; do
		[ "$(fx_cond "$ns" "$n" Ready status)" = True ] || return 1
		[ "$(fx_field "$ns" "$n" '{.status.desiredReplicas}')" = "$(fx_replicas "$ns" "$n")" ] || return 1
	done
}

# --- Prometheus faults -------------------------------------------------------

# Transport and protocol faults: HTTP 500, truncated JSON, a body past the
# 32 MiB cap, an answer of type string, no answer within the 15 s timeout,
# and Prometheus unreachable (its proxy killed: connection refused). Each
# scaler starts at 3 replicas for a load of 300 (100 a replica), between 1 and
# 8: it holds 3 or goes to its fallback.replicas 4, never 1 or 8.
test_faults_prometheus_errors() {
	local ns name down_url down_pid q='sum(fx_load)'
	fx_setup
	echo 300 >"$LOAD_DIR/fx_load"
	echo 100 >"$LOAD_DIR/fx_ctl"
	wait_for_series fx_ctl
	fx_start_proxy proxy
	local main_proxy=$PROXY_URL
	fx_start_proxy down-proxy
	down_url=$PROXY_URL down_pid=$PROXY_PID
	PROXY_URL=$main_proxy
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" e500 3 "$PROXY_URL/e500" "$q" Hold "  fallback: {failureThreshold: 2, action: Hold}"
	fx_scaler "$ns" etrunc 3 "$PROXY_URL/etrunc" "$q" Hold \
		"  fallback: {failureThreshold: 2, action: Replicas, replicas: 4}"
	fx_scaler "$ns" ecut 3 "$PROXY_URL/ecut" "$q" Hold "  fallback: {failureThreshold: 2, action: Hold}"
	fx_scaler "$ns" ehuge 3 "$PROXY_URL/ehuge" "$q" Hold "  fallback: {failureThreshold: 2, action: Hold}"
	fx_scaler "$ns" estring 3 "$PROXY_URL/estring" "$q" Hold \
		"  fallback: {failureThreshold: 1, action: Replicas, replicas: 4}"
	fx_scaler "$ns" eslow 3 "$PROXY_URL/eslow" "$q" Hold \
		"  fallback: {failureThreshold: 1, action: Replicas, replicas: 4}"
	fx_scaler "$ns" edown 3 "$down_url/edown" "$q" Hold \
		"  fallback: {failureThreshold: 2, action: Replicas, replicas: 4}"
	# A bystander on the real Prometheus directly: it must keep scaling.
	fx_scaler "$ns" ctl 1 "$PROM_URL" 'sum(fx_ctl)'
	fx_start_operator operator "$ns"
	wait_until 40 'fx_all_settled "$ns" e500 etrunc ecut ehuge estring eslow edown ctl'
	for name in e500 etrunc ecut ehuge estring eslow edown; do
		assert_eq "$(fx_replicas "$ns" $name)" 3 "$name replicas before the fault"
	done

	fx_fault e500 http500
	fx_fault etrunc truncate
	fx_fault ecut cut
	fx_fault ehuge huge
	fx_fault estring string
	fx_fault eslow slow:20
	{ kill -9 "$down_pid" && wait "$down_pid"; } 2>/dev/null || true
	echo 420 >"$LOAD_DIR/fx_ctl"

	# Hold: FallbackActive once failureThreshold evaluations failed in a row,
	# an Event, ScalingActive=False; the count stays.
	fx_expect_cond "$ns" e500 FallbackActive True "HTTP 500"
	fx_expect_event "$ns" e500 FallbackActive "HTTP 500"
	fx_expect_cond "$ns" e500 ScalingActive False "HTTP 500"
	fx_expect_cond "$ns" ehuge FallbackActive True "larger than 33554432 bytes"
	fx_expect_event "$ns" ehuge FallbackActive "larger than"
	fx_expect_cond "$ns" ecut FallbackActive True "metric load failed"
	fx_expect_cond "$ns" ecut ScalingActive False "request failed"
	fx_expect_event "$ns" ecut FallbackActive "metric load failed"
	# Replicas: the fallback count, 4.
	fx_expect_cond "$ns" etrunc FallbackActive True "the JSON ends before it is complete (a truncated answer)"
	fx_expect_cond "$ns" etrunc ScalingActive False "not an answer of the Prometheus API (HTTP 200)"
	fx_expect_event "$ns" etrunc FallbackActive "a truncated answer"
	fx_expect_cond "$ns" edown FallbackActive True "Couldn't connect to server"
	fx_expect_cond "$ns" edown ScalingActive False "cannot reach Prometheus"
	fx_expect_event "$ns" edown FallbackActive "Couldn't connect to server"
	fx_expect_cond "$ns" eslow FallbackActive True "Operation timed out after 15"
	fx_expect_cond "$ns" eslow ScalingActive False "no answer within 15000 ms"
	fx_expect_event "$ns" eslow FallbackActive "Operation timed out after 15"
	# A string is no number: the query's fault (a string literal), so the
	# scaler stops as for an invalid spec and holds; no fallback.
	fx_expect_cond "$ns" estring Ready False "returns a string, not a number"
	assert_eq "$(fx_cond "$ns" estring Ready reason)" InvalidSpec "estring Ready reason"
	fx_expect_event "$ns" estring InvalidSpec "returns a string, not a number"
	wait_until 20 '[ "$(fx_replicas "$ns" etrunc)" = 4 ] && [ "$(fx_replicas "$ns" edown)" = 4 ] && [ "$(fx_replicas "$ns" eslow)" = 4 ]'
	wait_until 20 '[ "$(fx_replicas "$ns" ctl)" = 5 ]'
	sleep 4 # two more intervals of faults
	for name in e500 ecut ehuge estring; do
		assert_eq "$(fx_replicas "$ns" $name)" 3 "$name replicas (held)"
		assert_eq "$(fx_seen "$ns" $name)" 3 "$name: replica counts the apiserver ever served"
		assert_eq "$(fx_scale_writes "$ns" $name | wc -l)" 0 "$name: scale writes"
	done
	for name in etrunc edown eslow; do
		assert_eq "$(fx_replicas "$ns" $name)" 4 "$name replicas (fallback.replicas)"
		assert_eq "$(fx_seen "$ns" $name)" "3 4" "$name: replica counts the apiserver ever served"
		assert_eq "$(fx_scale_writes "$ns" $name | wc -l)" 1 "$name: scale writes"
	done
	assert_eq "$(fx_seen "$ns" ctl)" "1 5" "the bystander's replica counts"
	fx_field "$ns" e500 '{.status.decision.reason}'
	echo
	grep -c . "$WORK/proxy/requests.log"

	# The faults end: normal scaling resumes, and says so.
	for name in e500 etrunc eslow; do fx_fault $name pass; done
	fx_expect_cond "$ns" e500 FallbackActive False "the metrics answer"
	fx_expect_event "$ns" e500 FallbackEnded "normal scaling resumes"
	wait_until 40 '[ "$(fx_cond "$ns" eslow FallbackActive status)" = False ] && [ "$(fx_replicas "$ns" etrunc)" = 3 ] && [ "$(fx_replicas "$ns" eslow)" = 3 ]'
	grep -E 'Sanitizer|runtime error:' "$WORK/operator.log" && fail "sanitizer report in the operator's log"
	kill -0 "$OP_PID" || fail "the operator died"
}

# Answers that are well-formed but no usable number: NaN, +Inf, an empty
# vector (onEmpty Hold and Error), a sample 10 minutes old; and a matrix
# where a vector was expected, which the client reads by its newest sample.
test_faults_prometheus_bad_values() {
	local ns name q='sum(fx_load)'
	fx_setup
	echo 300 >"$LOAD_DIR/fx_load"
	echo 300 >"$LOAD_DIR/fx_mload"
	wait_for_series fx_mload
	fx_start_proxy proxy
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" vnan 3 "$PROXY_URL/vnan" "$q" Hold "  fallback: {failureThreshold: 2, action: Hold}"
	fx_scaler "$ns" vinf 3 "$PROXY_URL/vinf" "$q" Hold \
		"  fallback: {failureThreshold: 2, action: Replicas, replicas: 4}"
	fx_scaler "$ns" vempty-hold 3 "$PROXY_URL/vempty-hold" "$q" Hold \
		"  fallback: {failureThreshold: 1, action: Replicas, replicas: 4}"
	fx_scaler "$ns" vempty-error 3 "$PROXY_URL/vempty-error" "$q" Error \
		"  fallback: {failureThreshold: 2, action: Replicas, replicas: 4}"
	fx_scaler "$ns" vempty-zero 3 "$PROXY_URL/vempty-zero" "$q" Zero
	fx_scaler "$ns" vstale 3 "$PROXY_URL/vstale" "$q" Hold "  fallback: {failureThreshold: 2, action: Hold}"
	fx_scaler "$ns" vmatrix 3 "$PROXY_URL/vmatrix" 'sum(fx_mload)'
	fx_start_operator operator "$ns"
	wait_until 40 'fx_all_settled "$ns" vnan vinf vempty-hold vempty-error vempty-zero vstale vmatrix'

	fx_fault vnan nan
	fx_fault vinf inf
	fx_fault vempty-hold empty
	fx_fault vempty-error empty
	fx_fault vempty-zero empty
	fx_fault vstale stale
	fx_fault vmatrix matrix

	fx_expect_cond "$ns" vnan FallbackActive True "NaN"
	fx_expect_event "$ns" vnan FallbackActive "NaN"
	fx_expect_cond "$ns" vinf FallbackActive True "metric load failed: the query returned +Inf"
	fx_expect_event "$ns" vinf FallbackActive "metric load failed: the query returned +Inf"
	fx_expect_cond "$ns" vempty-error FallbackActive True "returned no data (onEmpty: Error)"
	fx_expect_event "$ns" vempty-error FallbackActive "returned no data (onEmpty: Error)"
	fx_expect_cond "$ns" vstale FallbackActive True "stale (600s old)"
	fx_expect_event "$ns" vstale FallbackActive "stale (600s old)"
	# onEmpty Hold: no failure, the metric proposes the current count, and the status says why.
	wait_until 20 '[ "$(fx_field "$ns" vempty-hold "{.status.decision.reason}")" != "" ] && fx_field "$ns" vempty-hold "{.status.decision.reason}" | grep -q "onEmpty: Hold"'
	assert_contains "$(fx_cond "$ns" vempty-hold ScalingActive message)" "returned no data, so it holds 3 replicas (onEmpty: Hold)"
	assert_eq "$(fx_cond "$ns" vempty-hold FallbackActive status)" False "vempty-hold FallbackActive"
	# onEmpty Zero: the user said an empty answer is no load, so it goes to minReplicas.
	wait_until 20 '[ "$(fx_replicas "$ns" vempty-zero)" = 1 ]'
	# The matrix is read by its newest sample: the load goes on counting.
	echo 500 >"$LOAD_DIR/fx_mload"
	wait_until 30 '[ "$(fx_replicas "$ns" vmatrix)" = 5 ]'
	wait_until 20 '[ "$(fx_replicas "$ns" vinf)" = 4 ] && [ "$(fx_replicas "$ns" vempty-error)" = 4 ]'
	sleep 4 # two more intervals of faults
	for name in vnan vempty-hold vstale; do
		assert_eq "$(fx_replicas "$ns" $name)" 3 "$name replicas (held)"
		assert_eq "$(fx_seen "$ns" $name)" 3 "$name: replica counts the apiserver ever served"
		assert_eq "$(fx_scale_writes "$ns" $name | wc -l)" 0 "$name: scale writes"
	done
	for name in vinf vempty-error; do
		assert_eq "$(fx_replicas "$ns" $name)" 4 "$name replicas (fallback.replicas)"
		assert_eq "$(fx_seen "$ns" $name)" "3 4" "$name: replica counts the apiserver ever served"
		assert_eq "$(fx_scale_writes "$ns" $name | wc -l)" 1 "$name: scale writes"
	done
	assert_eq "$(fx_seen "$ns" vmatrix)" "3 5" "vmatrix: replica counts"
	assert_eq "$(fx_seen "$ns" vempty-zero)" "3 1" "vempty-zero: replica counts"
	kill -0 "$OP_PID" || fail "the operator died"
}

# --- the operator killed and restarted --------------------------------------

# Two namespaces, the same scaler in each (Pods 2 per 10 s up, from 2 to 7
# replicas), each with its own operator; every query takes 3 s (the proxy), so
# an evaluation is mostly in flight. Operator B is SIGKILLed while a query of
# its scaler is in flight, just after its first step of the scale-up, and
# started again: it must rebuild what it needs from the cluster and
# Prometheus and end where the uninterrupted operator A ends, by the same
# steps, at the pace the policy allows.
test_faults_operator_killed_mid_reconcile_decides_the_same() {
	local a b ns pid_b field va vb gaps rules="  behavior:
    scaleUp: {stabilizationWindowSeconds: 0, selectPolicy: Max, policies: [{type: Pods, value: 2, periodSeconds: 10}]}
    scaleDown: {stabilizationWindowSeconds: 30}
  maxReplicas: 12"
	fx_setup
	echo 150 >"$LOAD_DIR/fx_kill"
	wait_for_series fx_kill
	fx_start_proxy proxy
	fx_fault ka slow:3
	fx_fault kb slow:3
	a=$(new_namespace)
	b=$(new_namespace)
	fx_record_replicas "$a"
	fx_record_replicas "$b"
	fx_scaler "$a" web 2 "$PROXY_URL/ka" 'sum(fx_kill)' Hold "$rules"
	fx_scaler "$b" web 2 "$PROXY_URL/kb" 'sum(fx_kill)' Hold "$rules"
	fx_start_operator operator-a "$a"
	fx_start_operator operator-b "$b"
	pid_b=$OP_PID
	wait_until 30 'fx_all_settled "$a" web && fx_all_settled "$b" web'

	echo 700 >"$LOAD_DIR/fx_kill"
	wait_until 30 '[ "$(fx_replicas "$b" web)" = 4 ]'
	# Mid-reconcile: B's next query is being answered.
	wait_until 10 '[ "$(curl -sf "$PROXY_URL/-/inflight/kb")" -ge 1 ]'
	kill -9 "$pid_b"
	wait "$pid_b" 2>/dev/null || true
	echo "operator B killed with a query in flight at $(date +%T.%N)"
	fx_start_operator operator-b "$b"

	wait_until 60 '[ "$(fx_replicas "$a" web)" = 7 ] && [ "$(fx_replicas "$b" web)" = 7 ]'
	wait_until 30 '[ "$(fx_field "$a" web "{.status.currentReplicas}")" = 7 ] && [ "$(fx_field "$b" web "{.status.currentReplicas}")" = 7 ]'
	sleep 3 # the next evaluations agree as well
	for field in desiredReplicas currentReplicas decision.reactiveReplicas \
		decision.forecastReplicas decision.recommendedReplicas decision.limitedBy \
		decision.reason 'metrics[0].value'; do
		va=$(fx_field "$a" web "{.status.$field}")
		vb=$(fx_field "$b" web "{.status.$field}")
		echo "status.$field: $va"
		assert_eq "$vb" "$va" "status.$field of the restarted operator's scaler"
	done
	va=$(fx_field "$a" web '{range .status.conditions[*]}{.type}={.status}/{.reason} {end}')
	vb=$(fx_field "$b" web '{range .status.conditions[*]}{.type}={.status}/{.reason} {end}')
	assert_eq "$vb" "$va" "conditions of the restarted operator's scaler"
	assert_eq "$(fx_seen "$a" web)" "2 4 6 7" "A's steps"
	assert_eq "$(fx_seen "$b" web)" "2 4 6 7" "B's steps"
	assert_eq "$(fx_scale_writes "$b" web | wc -l)" 3 "B's scale writes"
	# The policy (2 pods per 10 s) held across the restart too.
	gaps=$(fx_write_gaps "$b" web | tr '\n' ' ')
	echo "seconds between B's scale writes: $gaps (A's: $(fx_write_gaps "$a" web | tr '\n' ' '))"
	for va in $gaps; do
		awk -v g="$va" 'BEGIN { exit !(g >= 9.5) }' ||
			fail "the restarted operator scaled ${va}s after the previous step, inside the policy's 10 s period (gaps: $gaps)"
	done
	# What carried the policy across the restart: the steps in the status.
	grep -q "1 scale event taken from its status" "$WORK/operator-b.log" ||
		fail "the restarted operator did not take the step before the kill from the status"
	assert_eq "$(fx_field "$b" web '{range .status.recentScales[*]}{.from}>{.to} {end}')" \
		"2>4 4>6 6>7 " "B's status.recentScales"
}

# --- leader election ----------------------------------------------------------

# Two replicas with --leader-elect. The leader is SIGKILLed during a scale-up
# of two steps (Pods 2 per 20 s, 2 -> 6), right after the first: the standby
# takes over once the Lease expires (15 s) and finishes it. Every count the
# apiserver served is a step of the policy, once; the scale writes are the
# steps, no more; and the new leader waits out what is left of the policy's
# period after the old leader's step.
test_faults_leader_killed_during_scale_up() {
	local ns p1 p2 pid1 pid2 leader_pid other_port killed_at gap rules="  behavior:
    scaleUp: {stabilizationWindowSeconds: 0, selectPolicy: Max, policies: [{type: Pods, value: 2, periodSeconds: 20}]}
    scaleDown: {stabilizationWindowSeconds: 60}
  maxReplicas: 12"
	fx_setup
	echo 200 >"$LOAD_DIR/fx_lead"
	wait_for_series fx_lead
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" web 2 "$PROM_URL" 'sum(fx_lead)' Hold "$rules"
	fx_start_operator operator-1 "$ns" --leader-elect --leader-election-namespace "$ns"
	p1=$OP_PORT pid1=$OP_PID
	fx_start_operator operator-2 "$ns" --leader-elect --leader-election-namespace "$ns"
	p2=$OP_PORT pid2=$OP_PID
	wait_until 30 '[ "$(($(fx_leader $p1) + $(fx_leader $p2)))" = 1 ]'
	if [ "$(fx_leader "$p1")" = 1 ]; then leader_pid=$pid1 other_port=$p2; else leader_pid=$pid2 other_port=$p1; fi
	wait_until 30 'fx_all_settled "$ns" web'

	echo 600 >"$LOAD_DIR/fx_lead"
	wait_until 30 '[ "$(fx_replicas "$ns" web)" = 4 ]'
	kill -9 "$leader_pid"
	wait "$leader_pid" 2>/dev/null || true
	killed_at=$SECONDS
	echo "leader (pid $leader_pid) killed after the first step"
	wait_until 25 '[ "$(fx_leader $other_port)" = 1 ]'
	echo "the standby leads $((SECONDS - killed_at))s later"
	wait_until 30 '[ "$(fx_replicas "$ns" web)" = 6 ]'
	wait_until 20 'fx_all_settled "$ns" web'
	sleep 4 # nothing more happens
	assert_eq "$(fx_seen "$ns" web)" "2 4 6" "the replica counts the apiserver served"
	fx_scale_writes "$ns" web
	assert_eq "$(fx_scale_writes "$ns" web | wc -l)" 2 "scale writes"
	assert_eq "$(fx_scale_writes "$ns" web | awk '$3 != 200' | wc -l)" 0 "failed scale writes"
	assert_eq "$(fx_event_notes "$ns" web ScaledUp | wc -l)" 2 "ScaledUp Events"
	assert_eq "$(fx_field "$ns" web '{.status.desiredReplicas}')" 6 "desiredReplicas"
	kill -0 "$(if [ "$other_port" = "$p1" ]; then echo "$pid1"; else echo "$pid2"; fi)" ||
		fail "the new leader exited"
	gap=$(fx_write_gaps "$ns" web)
	echo "seconds between the two steps: $gap"
	awk -v g="$gap" 'BEGIN { exit !(g >= 19.5) }' ||
		fail "the new leader scaled ${gap}s after the old leader's step, inside the policy's 20 s period"
}

fx_leader() { # port -> 1 when that operator leads
	curl -sf "http://127.0.0.1:$1/metrics" | awk '$1 == "foresight_leader" {print $2}'
}

# Like wait_until, but quiet on timeout (returns 1 with no FAIL line), for a
# condition the test branches on.
fx_eventually() { # seconds 'condition'
	local deadline=$((SECONDS + $1))
	until eval "$2" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.5
	done
}

# --- 409 storms -----------------------------------------------------------------

# A writer of the tests' own racing the operator for SECONDS: threads that
# GET an object and PUT it back changed (optimistic concurrency, as any
# controller writes), as fast as they can, on the scaler (two racing each
# other on its annotations, one on its status), on the Deployment's
# annotations and on the Lease's annotations. Prints, per target, how many
# PUTs succeeded and how many met a 409, and writes the last value each
# target's thread wrote to $WORK/storm.last.
fx_storm() { # ns seconds
	cat >"$WORK/storm.py" <<'PY'
import http.client, json, ssl, sys, threading, time
server, pki, ns, seconds, out = sys.argv[1:6]
host, port = server.split("://")[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
fs = "/apis/autoscaling.foresight.dev/v1alpha1/namespaces/%s/forecastscalers/web" % ns
targets = {
    "fs-annotations-1": (fs, "", "annotate"),
    "fs-annotations-2": (fs, "", "annotate"),
    "fs-status": (fs, "/status", "status"),
    "deployment-annotations-1": ("/apis/apps/v1/namespaces/%s/deployments/web" % ns, "", "annotate"),
    "deployment-annotations-2": ("/apis/apps/v1/namespaces/%s/deployments/web" % ns, "", "annotate"),
    "lease-annotations-1": ("/apis/coordination.k8s.io/v1/namespaces/%s/leases/foresight" % ns, "", "annotate"),
    "lease-annotations-2": ("/apis/coordination.k8s.io/v1/namespaces/%s/leases/foresight" % ns, "", "annotate"),
}
counts = {t: {"ok": 0, "conflict": 0, "other": 0} for t in targets}
last = {}
end = time.time() + float(seconds)

def run(name, path, sub, how):
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
    i = 0
    while time.time() < end:
        i += 1
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            obj = json.loads(r.read())
            if r.status != 200:
                counts[name]["other"] += 1
                time.sleep(0.05)
                continue
            value = "%s-%d" % (name, i)
            if how == "annotate":
                obj["metadata"].setdefault("annotations", {})["storm.foresight.dev/" + name] = value
            else:
                obj.setdefault("status", {}).setdefault("decision", {})["reason"] = "storm " + value
            conn.request("PUT", path + sub, body=json.dumps(obj),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                counts[name]["ok"] += 1
                last[name] = value
            elif r.status == 409:
                counts[name]["conflict"] += 1
            else:
                counts[name]["other"] += 1
        except (OSError, http.client.HTTPException, ValueError):
            counts[name]["other"] += 1
            conn.close()
            conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=10)
            time.sleep(0.05)

threads = [threading.Thread(target=run, args=(n,) + t) for n, t in targets.items()]
for t in threads:
    t.start()
for t in threads:
    t.join()
for n in targets:
    print(n, "ok", counts[n]["ok"], "conflict", counts[n]["conflict"], "other", counts[n]["other"])
with open(out, "w") as f:
    json.dump(last, f)
PY
	python3 "$WORK/storm.py" "$(sed -n 's/^ *server: //p' "$KUBECONFIG" | head -1)" "$CP_DIR/pki" \
		"$1" "$2" "$WORK/storm.last"
}

# The operator's requests in the audit log of NS as "verb resource/subresource code" lines.
fx_operator_requests() { # ns
	grep -F "\"namespace\":\"$1\"" "$AUDIT_LOG" | jq -R -r 'fromjson? |
		select(.stage == "ResponseComplete" and ((.userAgent // "") | startswith("foresight/")) and
		       .objectRef.resource != "pods") |
		"\(.verb) \(.objectRef.resource)/\(.objectRef.subresource // "") \(.responseStatus.code)"'
}

# The longest time, in seconds, between two of the operator's Lease renewals
# that succeeded (from the audit log).
fx_longest_renewal_gap() { # ns
	grep -F "\"namespace\":\"$1\"" "$AUDIT_LOG" | jq -R -r 'fromjson? |
		select(.stage == "ResponseComplete" and ((.userAgent // "") | startswith("foresight/")) and
		       .objectRef.resource == "leases" and .verb == "update" and
		       .responseStatus.code == 200) | .stageTimestamp' |
		while read -r ts; do date -d "$ts" +%s.%N; done |
		awk 'NR > 1 && $1 - last > max { max = $1 - last } { last = $1 } END { printf "%.1f\n", max }'
}

# A writer races the operator (leader-elected) on the scaler's metadata and
# status, the Deployment and the Lease while the load changes: the operator's
# own writes (merge patches of /scale and /status) never conflict, its Lease
# renewals that meet a 409 are tried again and it keeps leading, and when
# the storm ends everything is as it should be: the replicas the load needs,
# the scaler's status the operator's, every annotation the writer made kept.
test_faults_conflict_storm_on_status_and_scale() {
	local ns storm last conflicts gap restored
	fx_setup
	echo 300 >"$LOAD_DIR/fx_storm"
	wait_for_series fx_storm
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" web 3 "$PROM_URL" 'sum(fx_storm)'
	fx_start_operator operator "$ns" --leader-elect --leader-election-namespace "$ns"
	wait_until 30 '[ "$(fx_leader $OP_PORT)" = 1 ]'
	wait_until 30 'fx_all_settled "$ns" web'
	(sleep 4 && echo 600 >"$LOAD_DIR/fx_storm") &
	storm=$(fx_storm "$ns" 15)
	echo "$storm"
	# The storm happened: the writers met 409s on every object.
	for t in fs-annotations-1 fs-status deployment-annotations-1 lease-annotations-1; do
		conflicts=$(echo "$storm" | awk -v t=$t '$1 == t {print $5}')
		[ "${conflicts:-0}" -ge 1 ] || fail "no 409 for the writer on $t: the storm did not race"
	done
	kill -0 "$OP_PID" || fail "the operator exited during the storm: $(tail -3 "$WORK/operator.log")"
	assert_eq "$(fx_leader "$OP_PORT")" 1 "the operator still leads"
	grep -q "stopped leading" "$WORK/operator.log" && fail "the operator stopped leading during the storm"
	wait_until 20 '[ "$(fx_replicas "$ns" web)" = 6 ]'
	wait_until 20 'fx_all_settled "$ns" web'
	assert_eq "$(fx_seen "$ns" web)" "3 6" "replica counts"
	# The writer's annotations survived the operator's writes.
	last=$(cat "$WORK/storm.last")
	for t in fs-annotations-1 fs-annotations-2; do
		assert_eq "$(fx_field "$ns" web "{.metadata.annotations.storm\.foresight\.dev/$t}")" \
			"$(echo "$last" | jq -r --arg t $t '.[$t]')" "the writer's last annotation $t on the scaler"
	done
	for t in deployment-annotations-1 deployment-annotations-2; do
		assert_eq "$("$KUBECTL" -n "$ns" get deploy web -o jsonpath="{.metadata.annotations.storm\.foresight\.dev/$t}")" \
			"$(echo "$last" | jq -r --arg t $t '.[$t]')" "the writer's last annotation $t on the Deployment"
	done
	# The operator's own writes: merge patches, none refused.
	fx_operator_requests "$ns" | sort | uniq -c
	assert_eq "$(fx_operator_requests "$ns" | awk '$1 == "patch" && $3 != 200' | wc -l)" 0 \
		"the operator's refused patches"
	conflicts=$(fx_operator_requests "$ns" | awk '$1 == "update" && $2 == "leases/" && $3 == 409' | wc -l)
	echo "the operator's Lease renewals that met a 409: $conflicts"
	# A renewal that meets a 409 is read and tried again at once, so the
	# leader stays far from its 10 s renew deadline (waiting a whole retry
	# period after each 409, it came within 2 s of it in a 15 s storm).
	gap=$(fx_longest_renewal_gap "$ns")
	echo "the longest time between two renewals: ${gap}s"
	awk -v g="$gap" 'BEGIN { exit !(g < 6) }' || fail "${gap}s between two Lease renewals in the storm"
	assert_eq "$(fx_operator_requests "$ns" | tail -n 200 | awk '$2 == "leases/" && $1 == "update"' | tail -1 | cut -d' ' -f3)" \
		200 "the operator's last Lease renewal"
	# Its status is its own again, not what the writer left in it.
	fx_eventually 10 '! fx_field "$ns" web "{.status.decision.reason}" | grep -q storm' ||
		fail "the scaler's status keeps what another writer put in it: $(fx_field "$ns" web '{.status.decision.reason}')"
	assert_contains "$(fx_field "$ns" web '{.status.decision.reason}')" \
		"observed 600 load needs 6 replicas" "decision.reason"
	assert_eq "$(fx_field "$ns" web '{.status.desiredReplicas}')" 6 "desiredReplicas"
	# and /metrics counts those writes as restoring another writer's edit.
	restored=$(op_series 'foresight_status_writes_total{cause="restored"}')
	[ "${restored:-0}" -ge 1 ] || fail "no status write counted as restored: ${restored:-none}"
}

# --- the apiserver answering 429, 500, slowly ----------------------------------

# The operator reaches the apiserver through a fault proxy of the tests
# (tests/fixtures/kube/api-fault-proxy.py), which for eight seconds at a time
# answers every request 429 with Retry-After: 1, then 500, then only after
# 4 s (past the operator's --kube-timeout 2s), cutting the watches in flight
# as each fault begins. During each fault the load or the scaler's spec
# changes (through the real apiserver). After each: the same operator
# process is ready again, acts on what changed once (its cache is the
# apiserver's: the maxReplicas it could not watch is the one it obeys), and
# /readyz said 503 during the fault; over the whole run nothing was scaled
# twice or spuriously.
test_faults_apiserver_429_500_and_slow_answers() {
	local ns dir="$WORK/apiproxy" kc step mode load max want t0 t1 codes busiest
	fx_setup
	mkdir -p "$dir"
	echo pass >"$dir/mode"
	python3 "$REPO/tests/fixtures/kube/api-fault-proxy.py" "$(awk '$1 == "server:" {print $2; exit}' "$KUBECONFIG")" \
		"$CP_DIR/pki" "$dir/mode" "$dir/port" "$dir/requests.log" 2>"$dir/stderr.log" &
	echo $! >>"$WORK/pids"
	wait_until 10 '[ -s "$dir/port" ]'
	kc="$WORK/proxy.kubeconfig"
	sed "s|server: .*|server: https://127.0.0.1:$(cat "$dir/port")|" "$KUBECONFIG" >"$kc"
	echo 300 >"$LOAD_DIR/fx_apif"
	wait_for_series fx_apif
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" web 3 "$PROM_URL" 'sum(fx_apif)'
	KUBECONFIG="$kc" fx_start_operator operator "$ns" --kube-timeout 2s
	wait_until 30 'fx_all_settled "$ns" web'
	fx_sample_readyz

	# fault, the load during it, maxReplicas set during it, replicas after it
	for step in "429:1 400 7 4" "500 700 5 5" "slow:4 700 6 6"; do
		read -r mode load max want <<<"$step"
		echo "$mode" >"$dir/mode"
		t0=$(date +%s.%N)
		echo "$load" >"$LOAD_DIR/fx_apif"
		"$KUBECTL" -n "$ns" patch fs web --type merge -p "{\"spec\":{\"maxReplicas\":$max}}" >/dev/null
		sleep 8
		echo pass >"$dir/mode"
		t1=$(date +%s.%N)
		echo "fault $mode: $(awk -v a="$t0" -v b="$t1" '$1 > a && $1 < b {print $5}' "$dir/requests.log" | sort | uniq -c | tr '\n' ' ')"
		wait_until 40 '[ "$(fx_replicas "$ns" web)" = "$want" ]'
		wait_until 20 'fx_all_settled "$ns" web'
		wait_until 20 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null'
		codes=$(awk -v a="$t0" -v b="$t1" '$1 > a && $1 < b {print $2}' "$WORK/readyz.log" | sort | uniq -c | tr '\n' ' ')
		echo "/readyz during $mode: $codes"
		case "$codes" in *503*) ;; *) fail "/readyz never answered 503 during the fault $mode" ;; esac
		if [ "$mode" = 429:1 ]; then
			# Retry-After is obeyed: no burst of requests in any second.
			busiest=$(awk -v a="$t0" -v b="$t1" '$1 > a && $1 < b && $5 == 429 {print int($1)}' "$dir/requests.log" | uniq -c | sort -n | tail -1 | awk '{print $1}')
			echo "the most requests answered 429 in one second: ${busiest:-0}"
			[ "${busiest:-0}" -le 10 ] || fail "$busiest requests in one second while the apiserver said Retry-After: 1"
		fi
	done
	sleep 3
	assert_eq "$(fx_seen "$ns" web)" "3 4 5 6" "replica counts the apiserver served"
	fx_scale_writes "$ns" web
	# One scale a step, each decided once and answered in time once. A PATCH
	# the proxy holds past --kube-timeout is sent again (the same replicas:
	# it is idempotent), so the apiserver may count more that succeeded
	# late, never another value (the counts above).
	assert_eq "$(grep -c "web: Scaled Deployment/web from" "$WORK/operator.log")" 3 "scales made"
	assert_eq "$(awk '$2 == "pass" && $3 == "PATCH" && $4 ~ /\/deployments\/web\/scale$/ && $5 == 200' \
		"$dir/requests.log" | wc -l)" 3 "scale writes answered in time"
	assert_eq "$(fx_field "$ns" web '{.status.observedGeneration}')" 4 "observedGeneration"
	kill -0 "$OP_PID" || fail "the operator exited"
	grep -c " 429 \| 500 " "$dir/requests.log" >/dev/null || fail "the proxy injected nothing"
}

# --- etcd restarted --------------------------------------------------------------

# etcd is SIGKILLed for ten seconds under a running apiserver and operator,
# while the load rises, and started again on its data. The same operator
# process scales once for the load it saw during the outage, then obeys a
# spec change made after it (so its watch goes on), and nothing else.
test_faults_etcd_restarted_operator_recovers() {
	local ns codes
	fx_setup
	echo 300 >"$LOAD_DIR/fx_etcd"
	wait_for_series fx_etcd
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" web 3 "$PROM_URL" 'sum(fx_etcd)'
	fx_start_operator operator "$ns" --kube-timeout 3s
	wait_until 30 'fx_all_settled "$ns" web'
	fx_sample_readyz

	defer '"$REPO/hack/control-plane.sh" etcd start'
	"$REPO/hack/control-plane.sh" etcd kill
	echo 500 >"$LOAD_DIR/fx_etcd"
	sleep 10
	kill -0 "$OP_PID" || fail "the operator exited while etcd was down: $(tail -3 "$WORK/operator.log")"
	"$REPO/hack/control-plane.sh" etcd start
	wait_until 60 '"$KUBECTL" get --raw /readyz >/dev/null 2>&1'
	fx_record_replicas "$ns"
	wait_until 40 '[ "$(fx_replicas "$ns" web)" = 5 ]'
	wait_until 20 'fx_all_settled "$ns" web'
	"$KUBECTL" -n "$ns" patch fs web --type merge -p '{"spec":{"maxReplicas":4}}' >/dev/null
	wait_until 30 '[ "$(fx_replicas "$ns" web)" = 4 ]'
	wait_until 20 'fx_all_settled "$ns" web'
	sleep 3
	assert_eq "$(fx_seen "$ns" web)" "3 5 4" "replica counts the apiserver served"
	fx_scale_writes "$ns" web
	# Two scales made, one each for the load and the spec change. The first
	# was decided from the watch of the Deployment (the apiserver serves it
	# from its cache while etcd is down), so its PATCH may have met 500s
	# (nothing applied) and been sent again until etcd was back: no other
	# failure, and no other value served (the counts above).
	assert_eq "$(grep -c "web: Scaled Deployment/web from" "$WORK/operator.log")" 2 "scales made"
	assert_eq "$(fx_scale_writes "$ns" web | awk '$3 != 200 && $3 != 500' | wc -l)" 0 \
		"scale writes that failed otherwise than on etcd"
	kill -0 "$OP_PID" || fail "the operator exited"
	wait_until 40 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null'
	codes=$(awk '{print $2}' "$WORK/readyz.log" | uniq -c | tr '\n' ' ')
	echo "/readyz over the run: $codes"
}

# --- the apiserver killed -------------------------------------------------------

# The apiserver is SIGKILLed under a running operator for about ten seconds;
# meanwhile the scaler's spec is changed through a second apiserver on the
# same etcd (minReplicas 3 -> 5). Nothing is scaled while the operator is
# blind; once the apiserver is back the same operator process (no restart)
# sees the change it missed, scales once for it and once for a new load, and
# nothing else. /readyz is sampled all along (informer-level recovery is
# test_kube_client.sh's test_informer_recovers_from_apiserver_kill).
test_faults_apiserver_killed_operator_recovers() {
	local ns b_env killed_at back_at outage codes
	fx_setup
	"$REPO/hack/control-plane.sh" apiserver start apiserver-b >"$WORK/apiserver-b.env" 2>"$WORK/apiserver-b.log" &
	local b_starter=$!
	defer '"$REPO/hack/control-plane.sh" apiserver kill apiserver-b'
	defer '"$REPO/hack/control-plane.sh" apiserver start'
	echo 300 >"$LOAD_DIR/fx_api"
	wait_for_series fx_api
	ns=$(new_namespace)
	fx_record_replicas "$ns"
	fx_scaler "$ns" web 3 "$PROM_URL" 'sum(fx_api)'
	fx_start_operator operator "$ns"
	wait_until 30 'fx_all_settled "$ns" web'
	wait "$b_starter" || fail "the second apiserver did not start: $(tail -3 "$WORK/apiserver-b.log")"
	b_env=$(cat "$WORK/apiserver-b.env")
	fx_sample_readyz

	"$REPO/hack/control-plane.sh" apiserver kill
	killed_at=$(date +%s.%N)
	(
		eval "$b_env"
		"$KUBECTL" -n "$ns" patch fs web --type merge -p '{"spec":{"minReplicas":5}}'
	)
	sleep 10
	kill -0 "$OP_PID" || fail "the operator exited while the apiserver was down: $(tail -3 "$WORK/operator.log")"
	"$REPO/hack/control-plane.sh" apiserver start >/dev/null
	back_at=$(date +%s.%N)
	fx_record_replicas "$ns" # the first recording ended with the apiserver
	# The change made during the outage is seen, and acted on once.
	wait_until 30 '[ "$(fx_replicas "$ns" web)" = 5 ]'
	wait_until 20 '[ "$(fx_field "$ns" web "{.status.observedGeneration}")" = 2 ]'
	echo 700 >"$LOAD_DIR/fx_api"
	wait_until 30 '[ "$(fx_replicas "$ns" web)" = 7 ]'
	wait_until 20 'fx_all_settled "$ns" web'
	sleep 2
	assert_eq "$(fx_seen "$ns" web)" "3 5 7" "replica counts the apiserver served"
	fx_scale_writes "$ns" web
	assert_eq "$(fx_scale_writes "$ns" web | wc -l)" 2 "scale writes"
	assert_eq "$(fx_scale_writes "$ns" web | awk '$3 != 200' | wc -l)" 0 "failed scale writes"
	kill -0 "$OP_PID" || fail "the operator exited"
	grep -c "cannot reach the API server" "$WORK/operator.log" || fail "the outage left no trace in the operator's log"
	# Ready again once every informer has listed; a LIST the restarting
	# apiserver held may take up to the request timeout (30 s) to give up.
	wait_until 40 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null'
	# What /readyz said while the apiserver was down (after 2 s, to let the
	# watches notice).
	codes=$(awk -v a="$killed_at" -v b="$back_at" '$1 > a + 2 && $1 < b {print $2}' "$WORK/readyz.log" | sort | uniq -c)
	echo "/readyz during the outage: $codes"
	outage=$(awk -v a="$killed_at" -v b="$back_at" '$1 > a + 2 && $1 < b && $2 != 200' "$WORK/readyz.log" | wc -l)
	[ "$outage" -gt 0 ] || fail "/readyz answered 200 all through the apiserver outage"
}
