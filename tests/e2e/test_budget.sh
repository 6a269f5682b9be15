# ConcurrencyBudgets against the real apiserver and a real Prometheus
# scraping load-gen: members share the capacity fairly and never exceed it
# together, give freed units to the others, scale down freely, take turns
# with maxConcurrentScaleUps, and freeze while the saturationQuery says so.

# Starts the operator for namespace $1; sets OP_PORT, OP_PID (as test_operator.sh).
start_budget_operator() {
	local attempt
	for attempt in 1 2 3; do
		OP_PORT=$(free_port)
		"$FORESIGHT" run --namespace "$1" --prometheus-url "$PROM_URL" \
			--listen "127.0.0.1:$OP_PORT" --log-level debug >"$WORK/operator.log" 2>&1 &
		OP_PID=$!
		echo $OP_PID >>"$WORK/pids"
		wait_until 30 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null || ! kill -0 $OP_PID'
		kill -0 "$OP_PID" 2>/dev/null && return 0
		grep -q "cannot listen" "$WORK/operator.log" || fail "the operator exited: $(tail -5 "$WORK/operator.log")"
	done
	fail "no free port for the operator in 3 attempts"
}

apply_budget() { # ns name capacity maxConcurrentScaleUps [saturationQuery]
	"$KUBECTL" -n "$1" apply -f - <<CB
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ConcurrencyBudget
metadata: {name: $2}
spec:
  capacity: $3
  maxConcurrentScaleUps: $4
${5:+  saturationQuery: '$5'}
CB
}

# A Deployment and a scaler of it in budget $3: gauge $4 at 100 a replica, quick behaviour.
apply_member() { # ns name budget gauge unitsPerReplica weight [minReplicas] [replicas]
	"$KUBECTL" -n "$1" create deployment "$2" --image=nginx --replicas="${8:-1}" >/dev/null
	"$KUBECTL" -n "$1" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $2}
spec:
  targetRef: {kind: Deployment, name: $2}
  minReplicas: ${7:-1}
  maxReplicas: 30
  interval: 2s
  metrics: [{name: load, query: 'sum($4)', targetPerReplica: 100}]
  forecast: {model: None}
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 100, periodSeconds: 1}]}
  budget: {name: $3, unitsPerReplica: $5, weight: $6}
FS
}

replicas() { "$KUBECTL" -n "$1" get deploy "$2" -o jsonpath='{.spec.replicas}'; }
cb_field() { "$KUBECTL" -n "$1" get cbudget "$2" -o jsonpath="$3"; }
fs_get() { "$KUBECTL" -n "$1" get fs "$2" -o jsonpath="$3"; }

# Samples, every 0.2 s until the test ends, the units the Deployments of
# namespace $1 hold together (JSON object $2: unitsPerReplica by name) and
# how many are scaling up (more replicas wanted than ready), into $WORK/samples.
start_sampler() { # ns uprs-json
	(
		while :; do
			"$KUBECTL" -n "$1" get deploy -o json 2>/dev/null | jq -r --argjson u "$2" \
				'[([.items[] | .spec.replicas * ($u[.metadata.name] // 0)] | add),
				  ([.items[] | select(.spec.replicas > (.status.readyReplicas // 0))] | length),
				  ([.items[] | "\(.metadata.name)=\(.spec.replicas)/\(.status.readyReplicas // 0)"] | join(" "))]
				 | @tsv' >>"$WORK/samples" || true
			sleep 0.2
		done
	) &
	echo $! >>"$WORK/pids"
}

# The largest value of column $1 of the samples.
sample_max() { awk -F'\t' -v k="$1" 'BEGIN {m = 0} $k + 0 > m {m = $k + 0} END {print m}' "$WORK/samples"; }

test_budget_members_share_fairly_and_never_exceed_it() {
	local ns out
	install_crds
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	for m in a b c; do echo 50 >"$LOAD_DIR/jb_$m"; done
	apply_budget "$ns" db 200 0
	# c's replicas cost twice as much and it weighs twice as much: equal replica counts.
	apply_member "$ns" a db jb_a 10 1
	apply_member "$ns" b db jb_b 10 1
	apply_member "$ns" c db jb_c 20 2
	wait_for_series jb_c
	start_sampler "$ns" '{"a":10,"b":10,"c":20}'
	start_budget_operator "$ns"
	wait_until 30 '[ "$(cb_field "$ns" db "{.status.memberCount}")" = 3 ]'
	# A joint spike: each needs 20 replicas, 800 units of 200. Shares: 5 5 5.
	for m in a b c; do echo 2000 >"$LOAD_DIR/jb_$m"; done
	wait_until 60 '[ "$(replicas "$ns" a) $(replicas "$ns" b) $(replicas "$ns" c)" = "5 5 5" ]'
	wait_until 20 '[ "$(cb_field "$ns" db "{.status.allocatedUnits}")" = 200 ]'
	"$KUBECTL" -n "$ns" get cbudget db -o yaml | sed -n '/^status:/,$p'
	assert_eq "$(cb_field "$ns" db '{.status.requestedUnits}')" 800 "requestedUnits"
	assert_eq "$(cb_field "$ns" db '{.status.members[*].allocatedReplicas}')" "5 5 5" "allocations"
	assert_eq "$(cb_field "$ns" db '{.status.conditions[?(@.type=="Overcommitted")].status}')" False
	wait_until 20 '[ "$(fs_get "$ns" a "{.status.conditions[?(@.type==\"Throttled\")].message}")" = "wants 20 replicas, has 5, may have 5: budget db: its fair share is 5 replicas (50 units); the 3 members ask for 800 of the 200 units" ]'
	assert_eq "$(fs_get "$ns" a '{.status.decision.limitedBy}')" Budget
	assert_eq "$(fs_get "$ns" a '{.status.conditions[?(@.type=="Throttled")].status}')" True
	assert_eq "$(fs_get "$ns" a '{.status.conditions[?(@.type=="Throttled")].reason}')" FairShare
	assert_contains "$(fs_get "$ns" c '{.status.decision.reason}')" "capped at 5 by budget db"
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"Throttled\")] | length > 0"'
	out=$("$KUBECTL" -n "$ns" get cbudget)
	echo "$out"
	assert_contains "$out" "CAPACITY"
	assert_contains "$out" "SATURATED"
	assert_eq "$(echo "$out" | awk 'NR == 2 {print $1, $2, $3, $4, $5, $6}')" "db 200 800 200 3 False" \
		"NAME CAPACITY REQUESTED ALLOCATED MEMBERS SATURATED"
	# a's load falls: it scales down (never held back), and b and c grow into what it frees:
	# 190 units left, equal levels: b 7 (70), c 6 (120), the tie to the smaller name.
	echo 100 >"$LOAD_DIR/jb_a"
	wait_until 60 '[ "$(replicas "$ns" a) $(replicas "$ns" b) $(replicas "$ns" c)" = "1 7 6" ]'
	# At no sampled moment did they hold more than the capacity together.
	echo "samples: $(wc -l <"$WORK/samples"), most units held: $(sample_max 1)"
	[ "$(sample_max 1)" -le 200 ] || fail "the members held $(sample_max 1) units of 200: $(sort -t$'\t' -k1 -n -r "$WORK/samples" | head -3)"
	# Their loads fall: everyone goes down, the budget does not hold them.
	for m in b c; do echo 100 >"$LOAD_DIR/jb_$m"; done
	wait_until 60 '[ "$(replicas "$ns" a) $(replicas "$ns" b) $(replicas "$ns" c)" = "1 1 1" ]'
	wait_until 20 '[ "$(fs_get "$ns" b "{.status.conditions[?(@.type==\"Throttled\")].status}")" = False ]'
}

test_budget_max_concurrent_scale_ups_one_at_a_time() {
	local ns
	install_crds
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	for m in p q r; do echo 50 >"$LOAD_DIR/cc_$m"; done
	apply_budget "$ns" pool 1000 1
	for m in p q r; do apply_member "$ns" "$m" pool "cc_$m" 10 1; done
	wait_for_series cc_r
	start_sampler "$ns" '{"p":10,"q":10,"r":10}'
	start_budget_operator "$ns"
	wait_until 30 '[ "$(cb_field "$ns" pool "{.status.memberCount}")" = 3 ]'
	# All three need 8: plenty of units, but one scale-up at a time (pods take
	# ${FORESIGHT_POD_START_DELAY:-2}s to be ready under the fake kubelet).
	for m in p q r; do echo 800 >"$LOAD_DIR/cc_$m"; done
	wait_until 90 '[ "$(replicas "$ns" p) $(replicas "$ns" q) $(replicas "$ns" r)" = "8 8 8" ]'
	wait_until 30 '[ "$("$KUBECTL" -n "$ns" get deploy -o json | jq "[.items[] | select(.status.readyReplicas == 8)] | length")" = 3 ]'
	sed 's/^/sample: /' "$WORK/samples" | awk -F'\t' '$2 > 0' | head -40
	echo "most scaling up at once: $(sample_max 2)"
	[ "$(sample_max 2)" -le 1 ] || fail "$(sample_max 2) members were scaling up at once"
	# In the operator's own order of events: each scale-up after the last one was ready.
	grep -E "Scaled Deployment/. from 1 to 8|replicas ready" "$WORK/operator.log" | sed 's/.*Z //' | cut -c1-140
	grep -E "Scaled Deployment/. from 1 to 8|replicas ready" "$WORK/operator.log" |
		awk '/Scaled/ {up++; n++; if (up > 1) exit 1} /ready/ {if (up > 0) up--} END {exit n != 3}' ||
		fail "the scale-ups overlapped, or there were not three"
	# Someone waited its turn, and said so.
	grep -q "waits its turn" "$WORK/operator.log" || fail "no member waited its turn"
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"Throttled\" and (.note | contains(\"waits its turn\")))] | length > 0"'
	wait_until 20 '[ "$(cb_field "$ns" pool "{.status.scalingUp}")" = 0 ]'
	assert_eq "$(cb_field "$ns" pool '{.status.members[*].limitedBy}')" "None None None" "limitedBy at the end"
}

test_budget_saturation_freezes_scale_ups_and_says_why() {
	local ns
	install_crds
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	echo 1 >"$LOAD_DIR/sat_db"
	echo 50 >"$LOAD_DIR/sat_x"
	apply_budget "$ns" db 1000 0 'sum(sat_db)'
	apply_member "$ns" x db sat_x 10 1 1 3
	wait_for_series sat_db
	wait_for_series sat_x
	start_budget_operator "$ns"
	wait_until 30 '[ "$(cb_field "$ns" db "{.status.conditions[?(@.type==\"Saturated\")].status}")" = True ]'
	assert_eq "$(cb_field "$ns" db '{.status.conditions[?(@.type=="Saturated")].reason}')" SaturationQueryAboveZero
	assert_contains "$(cb_field "$ns" db '{.status.conditions[?(@.type=="Saturated")].message}')" \
		"the saturationQuery returned 1 (above 0): no member scales up"
	assert_eq "$("$KUBECTL" -n "$ns" get cbudget db --no-headers | awk '{print $6}')" True "SATURATED column"
	# Saturated: the scale-down goes through.
	wait_until 30 '[ "$(replicas "$ns" x)" = 1 ]'
	# The scale-up does not, and the scaler says why.
	echo 500 >"$LOAD_DIR/sat_x"
	wait_until 30 '[ "$(fs_get "$ns" x "{.status.conditions[?(@.type==\"Throttled\")].reason}")" = Saturated ]'
	assert_contains "$(fs_get "$ns" x '{.status.conditions[?(@.type=="Throttled")].message}')" \
		"wants 5 replicas, has 1, may have 1: budget db: the saturationQuery returned 1; no member scales up"
	assert_eq "$(fs_get "$ns" x '{.status.decision.limitedBy}')" Budget
	sleep 4
	assert_eq "$(replicas "$ns" x)" 1 "replicas while saturated"
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"Saturated\")] | length > 0"'
	# Saturation ends: the scale-up goes.
	echo 0 >"$LOAD_DIR/sat_db"
	wait_until 30 '[ "$(replicas "$ns" x)" = 5 ]'
	assert_eq "$(cb_field "$ns" db '{.status.conditions[?(@.type=="Saturated")].status}')" False
	# A query that fails is not "not saturated": scale-ups stop, and the status says why.
	"$KUBECTL" -n "$ns" patch cbudget db --type merge -p '{"spec":{"saturationQuery":"sum(sat_db"}}'
	wait_until 30 '[ "$(cb_field "$ns" db "{.status.conditions[?(@.type==\"Saturated\")].status}")" = Unknown ]'
	assert_contains "$(cb_field "$ns" db '{.status.conditions[?(@.type=="Saturated")].message}')" \
		"the saturationQuery failed"
	echo 800 >"$LOAD_DIR/sat_x"
	wait_until 30 '[ "$(fs_get "$ns" x "{.status.conditions[?(@.type==\"Throttled\")].reason}")" = SaturationUnknown ]'
	sleep 3
	assert_eq "$(replicas "$ns" x)" 5 "replicas while the saturation query fails"
}

test_budget_overcommitted_minimums_are_kept() {
	local ns
	install_crds
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	echo 50 >"$LOAD_DIR/oc_m"
	echo 50 >"$LOAD_DIR/oc_n"
	apply_budget "$ns" tiny 30 0
	apply_member "$ns" mm tiny oc_m 10 1 2 1
	apply_member "$ns" nn tiny oc_n 10 1 2 1
	wait_for_series oc_n
	start_budget_operator "$ns"
	# The minimums (2 + 2 replicas, 40 units) exceed the capacity (30): kept, and reported.
	wait_until 30 '[ "$(replicas "$ns" mm) $(replicas "$ns" nn)" = "2 2" ]'
	wait_until 30 '[ "$(cb_field "$ns" tiny "{.status.conditions[?(@.type==\"Overcommitted\")].status}")" = True ]'
	assert_contains "$(cb_field "$ns" tiny '{.status.conditions[?(@.type=="Overcommitted")].message}')" \
		"the members' minReplicas need 40 units, more than the capacity 30"
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"Overcommitted\")] | length > 0"'
	# Nobody gets more meanwhile.
	echo 600 >"$LOAD_DIR/oc_m"
	wait_until 30 '[ "$(fs_get "$ns" mm "{.status.decision.limitedBy}")" = Budget ]'
	assert_eq "$(replicas "$ns" mm)" 2 "replicas of mm"
	# /metrics has the budget's series.
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" >"$WORK/metrics.txt"
	promtool check metrics <"$WORK/metrics.txt"
	assert_contains "$(cat "$WORK/metrics.txt")" "foresight_budget_overcommitted{namespace=\"$ns\",name=\"tiny\"} 1"
	assert_contains "$(cat "$WORK/metrics.txt")" "foresight_budget_capacity_units{namespace=\"$ns\",name=\"tiny\"} 30"
}
