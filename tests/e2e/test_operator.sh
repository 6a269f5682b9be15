# `foresight run` against the real apiserver and a real Prometheus scraping
# load-gen: it scales Deployments through /scale, explains itself in status,
# Events and /metrics, respects DryRun, and isolates an invalid spec.

# Starts the operator for namespace $1; sets OP_PORT, OP_PID. A port taken
# between the check and the bind (other tests run too) is tried again.
start_operator() {
	local attempt
	for attempt in 1 2 3; do
		OP_PORT=$(free_port)
		"$FORESIGHT" run --namespace "$1" --prometheus-url "$PROM_URL" \
			--listen "127.0.0.1:$OP_PORT" --log-level debug "${@:2}" >"$WORK/operator.log" 2>&1 &
		OP_PID=$!
		echo $OP_PID >>"$WORK/pids"
		wait_until 30 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null || ! kill -0 $OP_PID'
		kill -0 "$OP_PID" 2>/dev/null && return 0
		grep -q "cannot listen" "$WORK/operator.log" || fail "the operator exited: $(tail -5 "$WORK/operator.log")"
	done
	fail "no free port for the operator in 3 attempts"
}

# A ForecastScaler on Deployment $2 reading gauge $3 with 100 per replica.
apply_scaler() { # ns name gauge mode [extra spec yaml lines]
	"$KUBECTL" -n "$1" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $2}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: $2}
  minReplicas: 1
  maxReplicas: 10
  mode: $4
  interval: 2s
  metrics:
  - {name: load, query: 'sum($3)', targetPerReplica: 100}
  forecast: {model: None}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
${5:-}
FS
}

replicas_of() { "$KUBECTL" -n "$1" get deploy "$2" -o jsonpath='{.spec.replicas}'; }
fs_field() { "$KUBECTL" -n "$1" get fs "$2" -o jsonpath="$3"; }

# A new namespace (into NS) with Deployment $1 at $2 replicas, gauge $3 at
# $4 in Prometheus, and a scaler in mode $5 on it (apply_scaler).
scaled_deployment() { # name replicas gauge load mode [extra spec yaml lines]
	NS=$(new_namespace)
	echo "$4" >"$LOAD_DIR/$3"
	"$KUBECTL" -n "$NS" create deployment "$1" --image=nginx --replicas="$2" >/dev/null
	wait_for_series "$3"
	apply_scaler "$NS" "$1" "$3" "$5" "${6:-}"
}

# The evaluations the operator on OP_PORT has made.
evaluations() {
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" |
		awk '$1 == "foresight_reconcile_duration_seconds_count" {print $2}'
}

setup_operator_env() {
	install_crds
	start_load_gen
	start_prometheus
}

test_operator_scales_on_load_and_explains_why() {
	local ns out
	setup_operator_env
	scaled_deployment web 1 web_rps 250 Auto
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 3 ]'
	wait_until 20 '[ "$(fs_field "$ns" web "{.status.desiredReplicas}")" = 3 ]'
	"$KUBECTL" -n "$ns" get fs web -o yaml | sed -n '/^status:/,$p'
	assert_eq "$(fs_field "$ns" web '{.status.decision.reactiveReplicas}')" 3 "reactiveReplicas"
	assert_contains "$(fs_field "$ns" web '{.status.decision.reason}')" "load"
	assert_eq "$(fs_field "$ns" web '{.status.conditions[?(@.type=="Ready")].status}')" True
	assert_eq "$(fs_field "$ns" web '{.status.conditions[?(@.type=="ForecastReady")].reason}')" \
		ForecastDisabled
	out=$("$KUBECTL" -n "$ns" get fs web)
	echo "$out"
	assert_contains "$out" "TARGET"
	assert_contains "$out" "LIMITED-BY"
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"ScaledUp\")] | length > 0"'
	out=$("$KUBECTL" -n "$ns" describe fs web)
	echo "$out" | tail -20
	assert_contains "$out" "ScaledUp"
	assert_contains "$out" "Scaled Deployment/web from 1 to 3"
	assert_contains "$out" "ScalingActive"
	# The load falls: it scales down (no stabilisation window in this spec).
	echo 40 >"$LOAD_DIR/web_rps"
	wait_until 40 '[ "$(replicas_of "$ns" web)" = 1 ]'
	# /metrics is valid Prometheus text with the scaler's series.
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" >"$WORK/metrics.txt"
	promtool check metrics <"$WORK/metrics.txt"
	assert_contains "$(cat "$WORK/metrics.txt")" "foresight_scaler_desired_replicas{namespace=\"$ns\",name=\"web\"}"
	assert_contains "$(cat "$WORK/metrics.txt")" "foresight_scaler_metric_value{namespace=\"$ns\",name=\"web\",metric=\"load\"}"
	# SIGTERM: a clean exit.
	kill -TERM "$OP_PID"
	wait "$OP_PID" || fail "the operator exited with status $? on SIGTERM"
}

test_dry_run_mode_never_scales_but_reports() {
	local ns
	setup_operator_env
	scaled_deployment api 1 api_rps 500 DryRun
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(fs_field "$ns" api "{.status.desiredReplicas}")" = 1 ]'
	wait_until 30 '[ "$(fs_field "$ns" api "{.status.decision.recommendedReplicas}")" = 5 ]'
	assert_eq "$(fs_field "$ns" api '{.status.decision.limitedBy}')" DryRun "limitedBy"
	sleep 3
	assert_eq "$(replicas_of "$ns" api)" 1 "replicas on the apiserver"
}

test_invalid_spec_is_reported_and_others_go_on() {
	local ns
	setup_operator_env
	ns=$(new_namespace)
	echo 250 >"$LOAD_DIR/good_rps"
	"$KUBECTL" -n "$ns" create deployment good --image=nginx --replicas=1 >/dev/null
	"$KUBECTL" -n "$ns" create deployment bad --image=nginx --replicas=1 >/dev/null
	apply_scaler "$ns" good good_rps Auto
	apply_scaler "$ns" bad good_rps Auto
	"$KUBECTL" -n "$ns" patch fs bad --type merge -p '{"spec":{"minReplicas":8,"maxReplicas":4}}'
	start_operator "$ns"
	wait_until 30 '[ "$(fs_field "$ns" bad "{.status.conditions[?(@.type==\"Ready\")].reason}")" = InvalidSpec ]'
	assert_contains "$(fs_field "$ns" bad '{.status.conditions[?(@.type=="Ready")].message}')" \
		"spec.minReplicas: must not exceed spec.maxReplicas (8 > 4)"
	wait_until 30 '[ "$(replicas_of "$ns" good)" = 3 ]'
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"InvalidSpec\")] | length > 0"'
	assert_eq "$(replicas_of "$ns" bad)" 1 "replicas of the invalid scaler's target"
	# A query Prometheus cannot parse is the spec's fault too, named as such.
	"$KUBECTL" -n "$ns" patch fs bad --type merge \
		-p '{"spec":{"minReplicas":1,"maxReplicas":4,"metrics":[{"name":"load","query":"sum(good_rps","targetPerReplica":100}]}}'
	wait_until 30 '[ "$(fs_field "$ns" bad "{.status.observedGeneration}")" = 3 ]'
	assert_eq "$(fs_field "$ns" bad '{.status.conditions[?(@.type=="Ready")].reason}')" InvalidSpec
	assert_contains "$(fs_field "$ns" bad '{.status.conditions[?(@.type=="Ready")].message}')" \
		"spec.metrics[0].query:"
	assert_contains "$(fs_field "$ns" bad '{.status.conditions[?(@.type=="Ready")].message}')" \
		"parse error"
}

test_dry_run_flag_writes_nothing_and_prints_a_table() {
	local ns out
	setup_operator_env
	ns=$(new_namespace)
	echo 720 >"$LOAD_DIR/shop_rps"
	"$KUBECTL" -n "$ns" create deployment shop --image=nginx --replicas=2 >/dev/null
	apply_scaler "$ns" shop shop_rps Auto
	wait_for_series shop_rps
	out=$("$FORESIGHT" run --once --dry-run --namespace "$ns" --prometheus-url "$PROM_URL")
	echo "$out"
	assert_contains "$out" "$ns/shop"
	# 720 at 100 a replica needs 8; the default scale-up policy allows 2 -> 6 now.
	assert_eq "$(echo "$out" | awk -v k="$ns/shop" '$1 == k {print $3, $4, $5, $7, $8}')" \
		"2 6 8 8 Behavior" "current, desired, reactive, recommended, limited-by"
	assert_eq "$(replicas_of "$ns" shop)" 2 "replicas"
	assert_eq "$(fs_field "$ns" shop '{.status}')" "" "status"
	assert_eq "$("$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json |
		jq '[.items[] | select(.reportingController == "foresight.dev/operator")] | length')" \
		0 "events by foresight"
}

leader_of() { # port -> 1 when that operator leads
	curl -sf "http://127.0.0.1:$1/metrics" | awk '$1 == "foresight_leader" {print $2}'
}

lease_holder() {
	"$KUBECTL" -n "$1" get lease foresight -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}

test_two_operators_with_leader_election() {
	local ns p1 p2 pid1 pid2 leader_pid other_port t0 pid3 p3
	install_crds
	ns=$(new_namespace)
	PROM_URL=http://127.0.0.1:9 # no scaler here: only the election matters
	start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
	p1=$OP_PORT pid1=$OP_PID
	mv "$WORK/operator.log" "$WORK/operator-1.log"
	start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
	p2=$OP_PORT pid2=$OP_PID
	wait_until 20 '[ "$(($(leader_of $p1) + $(leader_of $p2)))" = 1 ]'
	if [ "$(leader_of $p1)" = 1 ]; then leader_pid=$pid1 other_port=$p2; else leader_pid=$pid2 other_port=$p1; fi
	echo "leader: pid $leader_pid, holder $(lease_holder "$ns")"
	assert_contains "$(lease_holder "$ns")" "_$leader_pid"

	# kill -9: no release; the other waits out the 15 s lease.
	kill -9 "$leader_pid"
	t0=$SECONDS
	wait_until 17 '[ "$(leader_of $other_port)" = 1 ]'
	echo "took over $((SECONDS - t0))s after kill -9"

	# A third replica stands by; SIGTERM the leader: it releases the Lease.
	mv "$WORK/operator.log" "$WORK/operator-2.log"
	start_operator "$ns" --leader-elect --leader-election-namespace "$ns"
	p3=$OP_PORT pid3=$OP_PID
	[ "$(leader_of $p3)" = 0 ] || fail "the third replica leads while another does"
	if [ "$other_port" = "$p1" ]; then leader_pid=$pid1; else leader_pid=$pid2; fi
	kill -TERM "$leader_pid"
	t0=$SECONDS
	wait_until 3 '[ "$(leader_of $p3)" = 1 ]'
	echo "took over $((SECONDS - t0))s after SIGTERM"
	wait "$leader_pid" || fail "the leader exited with status $? on SIGTERM"
}

test_prometheus_outage_falls_back_and_recovers() {
	local ns prom_pid
	setup_operator_env
	scaled_deployment svc 1 svc_rps 420 Auto "  fallback: {failureThreshold: 2, action: Replicas, replicas: 3}"
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(replicas_of "$ns" svc)" = 5 ]'
	# Prometheus stops: no value is read as zero; after two failures the fallback applies.
	prom_pid=$(cat "$WORK/prometheus.pid")
	kill "$prom_pid"
	wait_until 30 '[ "$(fs_field "$ns" svc "{.status.conditions[?(@.type==\"FallbackActive\")].status}")" = True ]'
	fs_field "$ns" svc '{.status.conditions[?(@.type=="FallbackActive")].message}'
	echo
	wait_until 30 '[ "$(replicas_of "$ns" svc)" = 3 ]'
	assert_eq "$(fs_field "$ns" svc '{.status.conditions[?(@.type=="ScalingActive")].status}')" False
	wait_until 20 '"$KUBECTL" -n "$ns" get events.v1.events.k8s.io -o json | jq -e "[.items[] | select(.reason==\"FallbackActive\")] | length > 0"'
	# Prometheus returns (same data dir): normal scaling resumes.
	prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prom" \
		--web.listen-address "127.0.0.1:$PROM_PORT" >>"$WORK/prometheus.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 60 '[ "$(fs_field "$ns" svc "{.status.conditions[?(@.type==\"FallbackActive\")].status}")" = False ]'
	wait_until 30 '[ "$(replicas_of "$ns" svc)" = 5 ]'
}

test_two_metrics_the_larger_need_wins_within_bounds() {
	local ns
	setup_operator_env
	ns=$(new_namespace)
	echo 250 >"$LOAD_DIR/mm_rps"
	echo 3 >"$LOAD_DIR/mm_queue"
	"$KUBECTL" -n "$ns" create deployment mm --image=nginx --replicas=2 >/dev/null
	wait_for_series mm_queue
	"$KUBECTL" -n "$ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: mm}
spec:
  targetRef: {kind: Deployment, name: mm}
  minReplicas: 2
  maxReplicas: 6
  interval: 2s
  metrics:
  - {name: rps, query: 'sum(mm_rps)', targetPerReplica: 100}
  - {name: queue, query: 'sum(mm_queue)', targetPerReplica: 1}
  forecast: {model: None}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
FS
	start_operator "$ns"
	# rps needs 3, queue needs 3: 3.
	wait_until 30 '[ "$(replicas_of "$ns" mm)" = 3 ]'
	# queue needs 5: the larger need wins.
	echo 5 >"$LOAD_DIR/mm_queue"
	wait_until 30 '[ "$(replicas_of "$ns" mm)" = 5 ]'
	# rps needs 9: capped at maxReplicas 6, and the status says so.
	echo 900 >"$LOAD_DIR/mm_rps"
	wait_until 30 '[ "$(replicas_of "$ns" mm)" = 6 ]'
	wait_until 20 '[ "$(fs_field "$ns" mm "{.status.decision.limitedBy}")" = MaxReplicas ]'
	assert_eq "$(fs_field "$ns" mm '{.status.decision.recommendedReplicas}')" 9 "recommended"
	# Both fall: floored at minReplicas 2.
	echo 10 >"$LOAD_DIR/mm_rps"
	echo 0 >"$LOAD_DIR/mm_queue"
	wait_until 40 '[ "$(replicas_of "$ns" mm)" = 2 ]'
	wait_until 20 '[ "$(fs_field "$ns" mm "{.status.decision.limitedBy}")" = MinReplicas ]'
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" >"$WORK/metrics.txt"
	promtool check metrics <"$WORK/metrics.txt"
	assert_contains "$(cat "$WORK/metrics.txt")" 'foresight_kube_api_requests_total{verb="PATCH",code="200"}'
	assert_contains "$(cat "$WORK/metrics.txt")" 'foresight_kube_api_requests_total{verb="LIST",code="200"}'
}

test_any_kind_with_a_scale_subresource() {
	local ns
	setup_operator_env
	ns=$(new_namespace)
	echo 330 >"$LOAD_DIR/db_rps"
	"$KUBECTL" -n "$ns" apply -f - >/dev/null <<STS
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres}]}
STS
	wait_for_series db_rps
	"$KUBECTL" -n "$ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: db}
spec:
  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: db}
  maxReplicas: 8
  interval: 2s
  metrics: [{name: rps, query: 'sum(db_rps)', targetPerReplica: 100}]
  forecast: {model: None}
FS
	"$KUBECTL" -n "$ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: nope}
spec:
  targetRef: {apiVersion: v1, kind: ConfigMap, name: whatever}
  maxReplicas: 8
  metrics: [{name: rps, query: 'sum(db_rps)', targetPerReplica: 100}]
FS
	start_operator "$ns"
	wait_until 30 '[ "$("$KUBECTL" -n "$ns" get statefulset db -o jsonpath="{.spec.replicas}")" = 4 ]'
	wait_until 20 '[ "$(fs_field "$ns" nope "{.status.conditions[?(@.type==\"Ready\")].reason}")" = InvalidSpec ]'
	assert_contains "$(fs_field "$ns" nope '{.status.conditions[?(@.type=="Ready")].message}')" \
		"spec.targetRef.kind: v1 has no kind ConfigMap with a /scale subresource"
}

test_prometheus_credentials_come_from_secrets() {
	local ns tls="$WORK/tls" hash audit_from
	# The audit log's lines before this test are other tests' requests.
	audit_from=$(($(wc -l <"$AUDIT_LOG") + 1))
	install_crds
	start_load_gen
	mkdir -p "$tls" "$WORK/prom"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=prom-ca" \
		-keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
	openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
		-CAcreateserial -days 1 -extfile "$tls/ext" -out "$tls/server.crt" 2>/dev/null
	# bcrypt of "s3cret-pw".
	# shellcheck disable=SC2016 # a literal hash, not an expansion
	hash='$2b$12$AY8mJ1SC4CCgFZBay4If4.agSPCi6cYsG.U.o1f3v9LULDCEXrLV.'
	printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  ops: %s\n' \
		"$tls/server.crt" "$tls/server.key" "$hash" >"$tls/web.yml"
	PROM_PORT=$(free_port)
	cat >"$WORK/prometheus.yml" <<PROMCFG
global: {scrape_interval: 1s}
scrape_configs:
- job_name: load
  static_configs: [{targets: ["127.0.0.1:$LOAD_PORT"]}]
PROMCFG
	prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prom" \
		--web.listen-address "127.0.0.1:$PROM_PORT" --web.config.file "$tls/web.yml" \
		>"$WORK/prometheus.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 30 'curl -sf --cacert "$tls/ca.crt" -u ops:s3cret-pw "https://127.0.0.1:$PROM_PORT/-/ready"'
	echo 275 >"$LOAD_DIR/sec_rps"
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create secret generic prom-auth --from-literal=user=ops \
		--from-literal=password=s3cret-pw --from-file=ca.crt="$tls/ca.crt" >/dev/null
	"$KUBECTL" -n "$ns" create deployment sec --image=nginx --replicas=1 >/dev/null
	wait_until 20 '[ -n "$(curl -sf --cacert "$tls/ca.crt" -u ops:s3cret-pw "https://127.0.0.1:$PROM_PORT/api/v1/query?query=sec_rps" | jq -r ".data.result[0].value[1] // empty")" ]'
	"$KUBECTL" -n "$ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: sec}
spec:
  targetRef: {kind: Deployment, name: sec}
  maxReplicas: 8
  interval: 2s
  prometheus:
    url: https://127.0.0.1:$PROM_PORT
    basicAuth:
      username: {name: prom-auth, key: user}
      password: {name: prom-auth, key: password}
    tls: {caSecretRef: {name: prom-auth, key: ca.crt}}
  metrics: [{name: rps, query: 'sum(sec_rps)', targetPerReplica: 100}]
  forecast: {model: None}
FS
	# The operator's default Prometheus is unreachable: only the scaler's own one works.
	PROM_URL=http://127.0.0.1:9
	start_operator "$ns"
	wait_until 30 '[ "$(replicas_of "$ns" sec)" = 3 ]'
	# A wrong password is an error the status names, and no secret is shown.
	"$KUBECTL" -n "$ns" create secret generic prom-auth --from-literal=user=ops \
		--from-literal=password=wrong --from-file=ca.crt="$tls/ca.crt" \
		--dry-run=client -o yaml | "$KUBECTL" -n "$ns" apply -f - >/dev/null
	"$KUBECTL" -n "$ns" patch fs sec --type merge -p '{"spec":{"interval":"3s"}}'
	wait_until 30 '[ "$(fs_field "$ns" sec "{.status.conditions[?(@.type==\"ScalingActive\")].status}")" = False ]'
	assert_contains "$(fs_field "$ns" sec '{.status.conditions[?(@.type=="ScalingActive")].message}')" "401"
	assert_not_contains "$("$KUBECTL" -n "$ns" get fs sec -o yaml)" "s3cret-pw"
	cp "$WORK/operator.log" "$WORK/operator-1.log"

	# A bearer token (this Prometheus takes basic auth only: 401), and a
	# scaler in another namespace naming the Secret that exists only here.
	local nsb key_part out x_ns x_name x_secret
	nsb=$(new_namespace)
	"$KUBECTL" -n "$ns" create secret generic prom-token --from-literal=token=tok-9f3c1e77aa \
		--from-file=ca.crt="$tls/ca.crt" >/dev/null
	for x in "$ns tok prom-token" "$nsb other prom-auth"; do
		read -r x_ns x_name x_secret <<<"$x"
		"$KUBECTL" -n "$x_ns" create deployment "$x_name" --image=nginx --replicas=1 >/dev/null
		"$KUBECTL" -n "$x_ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $x_name}
spec:
  targetRef: {kind: Deployment, name: $x_name}
  maxReplicas: 8
  interval: 2s
  prometheus:
    url: https://127.0.0.1:$PROM_PORT
    bearerTokenSecretRef: {name: $x_secret, key: token}
    tls: {caSecretRef: {name: $x_secret, key: ca.crt}}
  metrics: [{name: rps, query: 'sum(sec_rps)', targetPerReplica: 100}]
  forecast: {model: None}
FS
	done
	kill "$OP_PID"
	wait "$OP_PID" || true
	start_operator "$ns,$nsb"
	wait_until 30 '[ "$(fs_field "$ns" tok "{.status.conditions[?(@.type==\"ScalingActive\")].status}")" = False ]'
	assert_contains "$(fs_field "$ns" tok '{.status.conditions[?(@.type=="ScalingActive")].message}')" "401"
	# The other namespace's scaler cannot reach this namespace's Secret.
	wait_until 30 '[ "$(fs_field "$nsb" other "{.status.conditions[?(@.type==\"Ready\")].status}")" = False ]'
	assert_contains "$(fs_field "$nsb" other '{.status.conditions[?(@.type=="Ready")].message}')" \
		"Secret prom-auth"
	assert_contains "$(fs_field "$nsb" other '{.status.conditions[?(@.type=="Ready")].message}')" "not found"
	out=$(tail -n "+$audit_from" "$AUDIT_LOG" | grep -F '"resource":"secrets"' | jq -R -r 'fromjson? |
		select(.stage == "ResponseComplete" and ((.userAgent // "") | startswith("foresight/"))) |
		"\(.objectRef.namespace)/\(.objectRef.name // "") \(.verb)"' | sort | uniq -c)
	echo "the operator's Secret requests: $out"
	assert_contains "$out" "$nsb/prom-auth get"
	assert_eq "$(echo "$out" | awk '{print $2}' | grep -v -e "^$ns/prom-auth$" -e "^$ns/prom-token$" -e "^$nsb/prom-auth$" | wc -l)" 0 \
		"Secrets read other than the scalers' own, in their own namespaces"
	assert_eq "$(echo "$out" | awk '$3 != "get"' | wc -l)" 0 "Secret requests other than get (list, watch)"

	# Nothing the operator shows holds a password, a token or its own key:
	# its logs (debug), Events, the scalers' status, /metrics, /readyz, the
	# dashboard page and what /ws sends.
	key_part=$(grep client-key-data "$KUBECONFIG" | awk '{print $2}' | base64 -d | sed -n 5p | cut -c1-40)
	sleep 4 # a few evaluations of each
	{
		cat "$WORK/operator-1.log" "$WORK/operator.log"
		"$KUBECTL" get events -n "$ns" -o json
		"$KUBECTL" get events -n "$nsb" -o json
		"$KUBECTL" get fs -n "$ns" -o json
		"$KUBECTL" get fs -n "$nsb" -o json
		curl -s "http://127.0.0.1:$OP_PORT/metrics"
		curl -s "http://127.0.0.1:$OP_PORT/readyz"
		curl -s "http://127.0.0.1:$OP_PORT/"
		python3 "$REPO/tests/fixtures/ws-dump.py" "$OP_PORT" 3
	} >"$WORK/everything.txt" 2>&1
	grep -q '"kind": "Event"' "$WORK/everything.txt" || fail "no Events collected"
	grep -q "foresight_" "$WORK/everything.txt" || fail "no /metrics collected"
	grep -q "$ns/tok" "$WORK/everything.txt" || fail "nothing collected from /ws"
	for secret in s3cret-pw tok-9f3c1e77aa "$key_part"; do
		grep -n -F -- "$secret" "$WORK/everything.txt" && fail "\"$secret\" is shown (see above)"
	done
	echo "$(wc -c <"$WORK/everything.txt") bytes of output searched"
}

test_paused_mode_leaves_the_target_alone() {
	local ns
	setup_operator_env
	scaled_deployment pz 2 pz_rps 800 Paused
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(fs_field "$ns" pz "{.status.decision.limitedBy}")" = Paused ]'
	assert_eq "$(fs_field "$ns" pz '{.status.decision.recommendedReplicas}')" 8 "recommended"
	assert_eq "$(fs_field "$ns" pz '{.status.desiredReplicas}')" 2 "desired"
	sleep 4
	assert_eq "$(replicas_of "$ns" pz)" 2 "replicas"
	# Back to Auto: it scales.
	"$KUBECTL" -n "$ns" patch fs pz --type merge -p '{"spec":{"mode":"Auto"}}'
	wait_until 30 '[ "$(replicas_of "$ns" pz)" -gt 2 ]'
}

test_several_namespaces_are_watched() {
	local a b c
	setup_operator_env
	a=$(new_namespace)
	b=$(new_namespace)
	c=$(new_namespace)
	echo 300 >"$LOAD_DIR/ns_rps"
	for ns in "$a" "$b" "$c"; do
		"$KUBECTL" -n "$ns" create deployment app --image=nginx --replicas=1 >/dev/null
		apply_scaler "$ns" app ns_rps Auto
	done
	wait_for_series ns_rps
	start_operator "$a,$b"
	wait_until 30 '[ "$(replicas_of "$a" app)" = 3 ] && [ "$(replicas_of "$b" app)" = 3 ]'
	# The third namespace is not watched: not touched.
	assert_eq "$(replicas_of "$c" app)" 1 "replicas outside the watched namespaces"
	assert_eq "$(fs_field "$c" app '{.status}')" "" "status outside the watched namespaces"
}

test_lead_time_auto_is_learned_from_scale_up_to_ready() {
	local ns delay=${FORESIGHT_POD_START_DELAY:-2} learned
	setup_operator_env
	scaled_deployment lt 1 lt_rps 80 Auto
	ns=$NS
	"$KUBECTL" -n "$ns" patch fs lt --type merge -p '{"spec":{"forecast":{"leadTime":"auto"}}}'
	start_operator "$ns"
	# Nothing measured yet: the default, and the status says so.
	wait_until 30 '[ "$(fs_field "$ns" lt "{.status.leadTime.source}")" = Default ]'
	assert_eq "$(fs_field "$ns" lt '{.status.leadTime.seconds}')" 60 "default lead time"
	assert_eq "$(fs_field "$ns" lt '{.status.conditions[?(@.type=="Ready")].status}')" True
	# A scale-up: the time until its pods are ready is learned.
	echo 350 >"$LOAD_DIR/lt_rps"
	wait_until 30 '[ "$(replicas_of "$ns" lt)" = 4 ]'
	wait_until 30 '[ "$(fs_field "$ns" lt "{.status.leadTime.source}")" = Learned ]'
	"$KUBECTL" -n "$ns" get fs lt -o jsonpath='{.status.leadTime}'
	echo
	learned=$(fs_field "$ns" lt '{.status.leadTime.seconds}')
	assert_eq "$(fs_field "$ns" lt '{.status.leadTime.samples}')" 1 "samples"
	# The fake kubelet makes pods ready $delay s after they are bound; polled every second.
	awk -v x="$learned" -v d="$delay" 'BEGIN { exit !(x >= d - 0.5 && x <= d + 8) }' ||
		fail "learned lead time ${learned}s is not near the pod start delay ${delay}s"
	assert_eq "$("$KUBECTL" -n "$ns" get deploy lt -o jsonpath='{.status.readyReplicas}')" 4 "ready"
	grep -q "replicas ready .* after the scale-up; learned lead time" "$WORK/operator.log" ||
		fail "the operator did not log the measurement"
}

# The operator's requests about RESOURCE in NS, from the audit log, as
# "verb resource/subresource name" lines.
operator_requests() { # ns resource
	grep -F "\"namespace\":\"$1\"" "$AUDIT_LOG" | jq -R -r --arg r "$2" 'fromjson? |
		select(.stage == "ResponseComplete" and ((.userAgent // "") | startswith("foresight/")) and
		       .objectRef.resource == $r) |
		"\(.verb) \(.objectRef.resource)/\(.objectRef.subresource // "") \(.objectRef.name // "")"'
}
deployment_requests() { operator_requests "$1" deployments; }

# The target's replicas come from a watch of Deployments, not from a GET of
# /scale at every evaluation (the audit log says which); a scale made by
# someone else is seen at the next evaluation, and the operator never scales
# twice for one decision from a cache a moment behind its own write.
test_targets_are_watched_not_polled() {
	local ns evals0 evals requests
	setup_operator_env
	scaled_deployment web 1 watched_rps 250 Auto
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 3 ]'
	evals0=$(evaluations)
	sleep 16
	# Someone else scales it: the next evaluations see it and scale back.
	"$KUBECTL" -n "$ns" scale deployment web --replicas=6
	wait_until 20 '[ "$(replicas_of "$ns" web)" = 3 ]'
	sleep 6
	evals=$(($(evaluations) - evals0))
	grep -E "Scaled Deployment/web" "$WORK/operator.log" | sed 's/^.*: Scaled/Scaled/'
	assert_eq "$(grep -c 'Scaled Deployment/web from 6 to 3' "$WORK/operator.log")" 1 "scales back"
	# The audit log is written in batches: wait for the last scale in it.
	wait_until 20 '[ "$(deployment_requests "$ns" | grep -c "^patch deployments/scale")" -ge 2 ]'
	requests=$(deployment_requests "$ns" | sort | uniq -c)
	echo "$evals evaluations after the first scale; the operator's requests on Deployments:"
	echo "$requests"
	[ "$evals" -ge 10 ] || fail "only $evals evaluations"
	assert_eq "$(deployment_requests "$ns" | grep -c '^patch deployments/scale')" 2 "scale writes"
	assert_contains "$requests" "list deployments/"
	# The watch's LIST above (the watch itself is audited only when it ends); a
	# GET of /scale only before the watch had synced and after one of its own
	# scales if the watch had not shown it yet: at most 3, not one an evaluation.
	[ "$(deployment_requests "$ns" | grep -c '^get deployments/scale')" -le 3 ] ||
		fail "the operator polled /scale: $(deployment_requests "$ns" | grep -c '^get deployments/scale') GETs"
}

# The operator's PATCHes of scaler NAME's status in NS, from the audit log.
status_writes() { # ns name
	operator_requests "$1" forecastscalers | grep -c "^patch forecastscalers/status $2\$" || true
}

# The operator's status writes made for `cause` (foresight_status_writes_total).
writes_for() { # cause
	op_series "foresight_status_writes_total{cause=\"$1\"}"
}

# The value of the metric of namespace $1's one scaler, as the operator's /metrics shows it.
live_value() { # ns
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" |
		awk -v ns="$1" 'index($1, "foresight_scaler_metric_value{namespace=\"" ns "\"") == 1 {print $2}'
}

# A status write per changed decision: a load that moves without changing
# what it needs is not written at every evaluation (its figures follow
# with the next changed decision; --status-refresh, off by default, would
# write them sooner: see the next test), but a changed decision is written
# at once.
test_status_is_written_per_changed_decision() {
	local ns writes0 evals0 load decisions0
	setup_operator_env
	scaled_deployment fig 1 fig_rps 250 Auto
	ns=$NS
	start_operator "$ns"
	wait_until 30 '[ "$(fs_field "$ns" fig "{.status.desiredReplicas}")" = 3 ]'
	wait_until 30 '[ "$(fs_field "$ns" fig "{.status.conditions[?(@.type==\"Ready\")].status}")" = True ]'
	sleep 6
	wait_until 20 '[ "$(status_writes "$ns" fig)" -gt 0 ]'
	writes0=$(status_writes "$ns" fig)
	evals0=$(evaluations)
	for load in 260 240 270 230 255 265; do
		echo "$load" >"$LOAD_DIR/fig_rps"
		sleep 4
	done
	# Prometheus saw the load move; the operator read it.
	assert_eq "$(live_value "$ns")" 265 "the value /metrics shows"
	[ $(($(evaluations) - evals0)) -ge 8 ] || fail "only $(($(evaluations) - evals0)) evaluations"
	sleep 3 # the audit log is written in batches
	assert_eq "$(status_writes "$ns" fig)" "$writes0" "status writes while only the load's figures moved"
	assert_eq "$(fs_field "$ns" fig '{.status.desiredReplicas}')" 3 "desiredReplicas"
	# A changed decision is written at once; /metrics counts each write by its cause.
	decisions0=$(writes_for decision)
	echo 450 >"$LOAD_DIR/fig_rps"
	wait_until 30 '[ "$(fs_field "$ns" fig "{.status.desiredReplicas}")" = 5 ]'
	wait_until 20 '[ "$(status_writes "$ns" fig)" -gt "$writes0" ]'
	assert_contains "$(fs_field "$ns" fig '{.status.metrics[0].value}')" 450
	[ "$(writes_for decision)" -gt "$decisions0" ] || fail "no write counted for the changed decision"
	assert_eq "$(writes_for figures)" 0 "writes for figures alone"
	assert_eq "$(writes_for restored)" 0 "writes restoring another writer's edit"
	# Each counted write is one the apiserver saw (its audit log is written in batches).
	wait_until 10 '[ "$(($(writes_for first) + $(writes_for decision)))" = "$(status_writes "$ns" fig)" ]'
}

# With --status-refresh, a status whose decision stands is written again for
# its figures alone, once one of them is more than 5% off what it says and
# the refresh has passed; a figure within 5% is left as written.
test_status_refresh_rewrites_figures_that_drifted() {
	local ns writes0 bad out status
	for bad in 500ms 25h 5minutes; do
		status=0
		out=$("$FORESIGHT" run --status-refresh "$bad" 2>&1) || status=$?
		assert_eq "$status" 2 "exit status for --status-refresh $bad"
		assert_contains "$out" "--status-refresh $bad: must be 0 (never) or a duration from 1s to 24h"
	done
	setup_operator_env
	scaled_deployment drift 1 drift_rps 250 Auto
	ns=$NS
	start_operator "$ns" --status-refresh 2s
	wait_until 30 '[ "$(fs_field "$ns" drift "{.status.desiredReplicas}")" = 3 ]'
	wait_until 30 '[ "$(fs_field "$ns" drift "{.status.conditions[?(@.type==\"Ready\")].status}")" = True ]'
	sleep 6
	wait_until 20 '[ "$(status_writes "$ns" drift)" -gt 0 ]'
	writes0=$(status_writes "$ns" drift)
	# 2% off, for several refresh periods: not written.
	echo 255 >"$LOAD_DIR/drift_rps"
	wait_until 30 '[ "$(live_value "$ns")" = 255 ]'
	sleep 8
	assert_eq "$(status_writes "$ns" drift)" "$writes0" "status writes while the value is 2% off"
	assert_eq "$(fs_field "$ns" drift '{.status.metrics[0].value}')" 250 "the value the status says"
	# 8% off: written, though the decision stands.
	echo 270 >"$LOAD_DIR/drift_rps"
	wait_until 30 '[ "$(fs_field "$ns" drift "{.status.metrics[0].value}")" = 270 ]'
	assert_eq "$(fs_field "$ns" drift '{.status.desiredReplicas}')" 3 "desiredReplicas"
	wait_until 20 '[ "$(status_writes "$ns" drift)" -gt "$writes0" ]'
	[ "$(writes_for figures)" -ge 1 ] || fail "the refresh was not counted as a write for figures"
}
