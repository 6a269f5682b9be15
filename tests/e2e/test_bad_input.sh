# Bad input (issue #10): what a user sees for each mistake of the README's
# table "What bad input looks like", and that nothing else is affected. One
# test per row. Kubeconfig rows run the operator and `version --server`
# against the real apiserver; ForecastScaler rows either are refused by the
# apiserver (the CRD's schema: kubectl's error names the field) or reach a
# running operator, which says so in a condition and an Event while a good
# scaler next to the bad one keeps scaling.

# shellcheck disable=SC2016,SC2034 # wait_until's conditions (and the locals they
# read) are expanded by its eval, in the function's scope

# --- kubeconfig ------------------------------------------------------------------

# Runs `foresight ARGS...` with a deadline; sets OUT (stdout and stderr) and STATUS.
bi_run() { # seconds args...
	local seconds=$1
	shift
	STATUS=0
	OUT=$(timeout "$seconds" "$FORESIGHT" "$@" 2>&1) || STATUS=$?
	echo "\$ foresight $* -> exit $STATUS"
	echo "$OUT" | grep -v "^  " | tail -3
}

# The test kubeconfig with one line changed by a sed expression.
bi_kubeconfig() { # sed-expression out
	sed -e "$1" "$KUBECONFIG" >"$2"
}

test_bad_input_malformed_kubeconfig() {
	local kc="$WORK/broken.kubeconfig" t0
	# A YAML error: the file, line and column, at once; the operator does not start.
	printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: https://127.0.0.1:1\nusers: []\n' >"$kc"
	t0=$SECONDS
	bi_run 20 run --kubeconfig "$kc" --listen "127.0.0.1:$(free_port)"
	assert_eq "$STATUS" 1 "exit status of run"
	[ $((SECONDS - t0)) -le 3 ] || fail "a malformed kubeconfig took $((SECONDS - t0))s to refuse"
	assert_contains "$OUT" "kubeconfig: $kc:6:"
	assert_contains "$OUT" "did not find expected ',' or '}'"
	bi_run 20 version --server --kubeconfig "$kc"
	assert_eq "$STATUS" 1 "exit status of version --server"
	assert_contains "$OUT" "$kc:6:"
	# Well-formed YAML naming what is not there: the key and what it names.
	bi_kubeconfig 's/^\(  *\)cluster: foresight-local$/\1cluster: nowhere/' "$kc"
	bi_run 20 version --server --kubeconfig "$kc"
	assert_eq "$STATUS" 1 "exit status, a context naming no cluster"
	assert_contains "$OUT" "nowhere"
	assert_contains "$OUT" "$kc"
	# Not a kubeconfig at all.
	echo '[1, 2, 3]' >"$kc"
	bi_run 20 run --kubeconfig "$kc" --listen "127.0.0.1:$(free_port)"
	assert_eq "$STATUS" 1 "exit status, a YAML list"
	assert_contains "$OUT" "$kc"
	assert_not_contains "$OUT" "Segmentation"
}

test_bad_input_missing_ca_file() {
	local kc="$WORK/noca.kubeconfig"
	bi_kubeconfig 's|certificate-authority-data: .*|certificate-authority: /nonexistent/ca.crt|' "$kc"
	bi_run 20 run --kubeconfig "$kc" --listen "127.0.0.1:$(free_port)"
	assert_eq "$STATUS" 1 "exit status of run"
	assert_contains "$OUT" "$kc:7: clusters[0].cluster.certificate-authority: /nonexistent/ca.crt: No such file or directory"
	bi_run 20 version --server --kubeconfig "$kc"
	assert_eq "$STATUS" 1 "exit status of version --server"
	assert_contains "$OUT" "/nonexistent/ca.crt: No such file or directory"
}

test_bad_input_wrong_ca() {
	local kc="$WORK/wrongca.kubeconfig" port pid
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=some-other-ca" \
		-keyout "$WORK/other.key" -out "$WORK/other.crt" 2>/dev/null
	bi_kubeconfig "s|certificate-authority-data: .*|certificate-authority-data: $(base64 -w0 "$WORK/other.crt")|" "$kc"
	# Fails closed, saying what to check.
	bi_run 20 version --server --kubeconfig "$kc"
	assert_eq "$STATUS" 1 "exit status of version --server"
	assert_contains "$OUT" "is not trusted: its certificate does not verify against the certificate authority of kubeconfig $kc"
	# The operator keeps trying (the CA may be fixed under it) but reads and
	# writes nothing, says why, and is not ready.
	port=$(free_port)
	"$FORESIGHT" run --kubeconfig "$kc" --listen "127.0.0.1:$port" >"$WORK/operator.log" 2>&1 &
	pid=$!
	echo $pid >>"$WORK/pids"
	wait_until 10 'grep -q "is not trusted" "$WORK/operator.log"'
	wait_until 10 '[ "$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/readyz")" = 503 ]'
	# /readyz names the informer and its error.
	assert_contains "$(curl -s "http://127.0.0.1:$port/readyz")" "LIST failed: "
	assert_contains "$(curl -s "http://127.0.0.1:$port/readyz")" "is not trusted"
	assert_eq "$(curl -s "http://127.0.0.1:$port/metrics" | grep -c 'foresight_kube_api_requests_total{verb="[A-Z]*",code="200"}')" 0 \
		"API requests answered"
	kill -0 $pid || fail "the operator exited: $(tail -3 "$WORK/operator.log")"
	kill -TERM $pid
	wait $pid || fail "exit status $? on SIGTERM"
}

# A client certificate signed by the cluster's CA, valid only in 2020.
test_bad_input_expired_client_cert() {
	local kc="$WORK/expired.kubeconfig" d="$WORK/ca"
	mkdir -p "$d"
	openssl req -newkey rsa:2048 -nodes -keyout "$d/client.key" -out "$d/client.csr" \
		-subj "/O=system:masters/CN=expired-admin" 2>/dev/null
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
default_md = sha256
policy = anything
x509_extensions = client
[anything]
commonName = supplied
organizationName = optional
[client]
extendedKeyUsage = clientAuth
keyUsage = digitalSignature,keyEncipherment
CNF
	openssl ca -batch -config "$d/ca.cnf" -cert "$CP_DIR/pki/ca.crt" -keyfile "$CP_DIR/pki/ca.key" \
		-startdate 20200101000000Z -enddate 20200102000000Z -in "$d/client.csr" \
		-out "$d/client.crt" -notext 2>"$d/ca.log" || fail "openssl ca: $(cat "$d/ca.log")"
	openssl x509 -in "$d/client.crt" -noout -enddate
	bi_kubeconfig "s|client-certificate-data: .*|client-certificate-data: $(base64 -w0 "$d/client.crt")|; s|client-key-data: .*|client-key-data: $(base64 -w0 "$d/client.key")|" "$kc"
	bi_run 20 version --server --kubeconfig "$kc"
	assert_eq "$STATUS" 1 "exit status of version --server"
	assert_contains "$OUT" "401 Unauthorized"
	assert_contains "$OUT" "the client certificate of kubeconfig $kc"
	assert_contains "$OUT" "expired at 2020-01-02T00:00:00Z"
	assert_not_contains "$OUT" "BEGIN" "the message (a key or certificate leaked)"
	# The operator says the same, and is not ready.
	bi_run 4 run --kubeconfig "$kc" --listen "127.0.0.1:$(free_port)"
	assert_contains "$OUT" "expired at 2020-01-02T00:00:00Z"
}

# --- ForecastScalers the apiserver refuses ---------------------------------------

# Applies a ForecastScaler whose spec is SPEC (YAML lines) and expects the
# apiserver (or kubectl's validation) to refuse it; sets OUT to what kubectl said.
bi_refused() { # ns name spec-lines [kubectl flags...]
	local ns=$1 name=$2 spec=$3 status=0
	shift 3
	OUT=$("$KUBECTL" -n "$ns" apply "$@" -f - 2>&1 <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $name}
spec:
$spec
FS
) || status=$?
	echo "$OUT"
	[ "$status" -ne 0 ] || fail "kubectl apply accepted $name"
	"$KUBECTL" -n "$ns" get fs "$name" >/dev/null 2>&1 && fail "$name exists after being refused"
	return 0
}

BI_TARGET="  targetRef: {kind: Deployment, name: web}"
BI_METRICS="  metrics: [{name: rps, query: 'sum(web_rps)', targetPerReplica: 100}]"

test_bad_input_max_replicas_zero() {
	local ns
	install_crds
	ns=$(new_namespace)
	bi_refused "$ns" zero "$BI_TARGET
  maxReplicas: 0
$BI_METRICS"
	assert_contains "$OUT" "spec.maxReplicas: Invalid value: 0: spec.maxReplicas in body should be greater than or equal to 1"
}

test_bad_input_duration_5x() {
	local ns
	install_crds
	ns=$(new_namespace)
	bi_refused "$ns" fivex "$BI_TARGET
  maxReplicas: 4
  interval: 5x
$BI_METRICS"
	assert_contains "$OUT" 'spec.interval: Invalid value: "5x": spec.interval in body should match'
	bi_refused "$ns" fivex "$BI_TARGET
  maxReplicas: 4
  forecast: {leadTime: 5x}
$BI_METRICS"
	assert_contains "$OUT" 'spec.forecast.leadTime: Invalid value: "5x"'
	# The operator's own parser, which `foresight rules` and `backtest --spec`
	# use on manifests that never reached an apiserver, names file, line and field.
	cat >"$WORK/fivex.yaml" <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: fivex, namespace: $ns}
spec:
$BI_TARGET
  maxReplicas: 4
  interval: 5x
$BI_METRICS
FS
	bi_run 10 rules -f "$WORK/fivex.yaml"
	assert_eq "$STATUS" 2 "exit status of foresight rules"
	assert_contains "$OUT" "spec.interval"
	assert_contains "$OUT" "5x"
}

test_bad_input_negative_target() {
	local ns
	install_crds
	ns=$(new_namespace)
	bi_refused "$ns" negative "$BI_TARGET
  maxReplicas: 4
  metrics: [{name: rps, query: 'sum(web_rps)', targetPerReplica: -100}]"
	assert_contains "$OUT" "spec.metrics.targetPerReplica: Invalid value: -100: spec.metrics.targetPerReplica in body should be greater than 0"
}

test_bad_input_unknown_fields() {
	local ns
	install_crds
	ns=$(new_namespace)
	# kubectl checks the object against the CRD's schema and names the field...
	bi_refused "$ns" unknown "$BI_TARGET
  maxReplicas: 4
  maxReplica: 9
$BI_METRICS"
	assert_contains "$OUT" 'unknown field "maxReplica"'
	assert_contains "$OUT" "ForecastScaler.spec"
	# ...and without that check the apiserver drops what its schema does not
	# know (structural pruning): the object is stored without it.
	"$KUBECTL" -n "$ns" apply --validate=false -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: unknown}
spec:
$BI_TARGET
  maxReplicas: 4
  maxReplica: 9
$BI_METRICS
FS
	assert_eq "$("$KUBECTL" -n "$ns" get fs unknown -o jsonpath='{.spec.maxReplicas}/{.spec.maxReplica}')" "4/" \
		"what was stored"
}

test_bad_input_one_mib_annotation() {
	local ns big
	install_crds
	ns=$(new_namespace)
	big=$(head -c 1048576 /dev/zero | tr '\0' a)
	cat >"$WORK/big.yaml" <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata:
  name: big
  annotations: {note: $big}
spec:
$BI_TARGET
  maxReplicas: 4
$BI_METRICS
FS
	OUT=$("$KUBECTL" -n "$ns" create -f "$WORK/big.yaml" 2>&1) && fail "a 1 MiB annotation was accepted"
	echo "$OUT"
	assert_contains "$OUT" "metadata.annotations: Too long: must have at most 262144 bytes"
	"$KUBECTL" -n "$ns" get fs big >/dev/null 2>&1 && fail "big exists"
	return 0
}

# --- ForecastScalers the operator refuses ----------------------------------------

# Starts what the operator rows need: CRDs, load-gen, Prometheus, a namespace
# with a good scaler (Deployment good at 3, 250 load at 100 a replica: 3) and the
# operator watching it; sets NS, OP_PORT, OP_PID.
bi_operator() {
	install_crds
	start_load_gen
	start_prometheus
	NS=$(new_namespace)
	echo 250 >"$LOAD_DIR/good_rps"
	echo 250 >"$LOAD_DIR/bad_rps"
	wait_for_series good_rps
	"$KUBECTL" -n "$NS" create deployment good --image=nginx --replicas=3 >/dev/null
	bi_scaler good "  targetRef: {kind: Deployment, name: good}" "sum(good_rps)"
	for _ in 1 2 3; do
		OP_PORT=$(free_port)
		"$FORESIGHT" run --namespace "$NS" --prometheus-url "$PROM_URL" \
			--listen "127.0.0.1:$OP_PORT" --log-level debug >>"$WORK/operator.log" 2>&1 &
		OP_PID=$!
		echo $OP_PID >>"$WORK/pids"
		wait_until 30 'curl -sf "http://127.0.0.1:$OP_PORT/healthz" >/dev/null || ! kill -0 $OP_PID'
		kill -0 "$OP_PID" 2>/dev/null && break
		grep -q "cannot listen" "$WORK/operator.log" || fail "the operator exited: $(tail -5 "$WORK/operator.log")"
	done
	wait_until 30 '[ "$(bi_cond good Ready status)" = True ] && [ "$("$KUBECTL" -n "$NS" get fs good -o jsonpath="{.status.desiredReplicas}")" = 3 ]'
}

# A ForecastScaler NAME in $NS: TARGET line, QUERY, 1..8 replicas (unless the
# extra lines set minReplicas), every 2 s, and extra lines.
bi_scaler() { # name target-line query [extra spec lines]
	local min="  minReplicas: 1"
	case "${4:-}" in *minReplicas:*) min="" ;; esac
	"$KUBECTL" -n "$NS" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $1}
spec:
$2
$min
  maxReplicas: 8
  interval: 2s
  metrics: [{name: rps, query: '$3', targetPerReplica: 100}]
  forecast: {model: None}
  alerts: {enabled: false}
${4:-}
FS
}

bi_replicas() { "$KUBECTL" -n "$NS" get deploy "$1" -o jsonpath='{.spec.replicas}'; }
bi_cond() { # name type field
	"$KUBECTL" -n "$NS" get fs "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].$3}"
}
bi_events() { # name reason -> notes
	"$KUBECTL" -n "$NS" get events.v1.events.k8s.io -o json |
		jq -r --arg n "$1" --arg r "$2" '.items[] | select(.regarding.name == $n and .reason == $r) | .note'
}

# Waits for condition TYPE of scaler NAME to have REASON, then checks its message.
bi_expect() { # name type status reason message
	local x_name=$1 x_type=$2 x_reason=$4
	wait_until 30 '[ "$(bi_cond "$x_name" "$x_type" reason)" = "$x_reason" ]'
	assert_eq "$(bi_cond "$1" "$2" status)" "$3" "$1: $2 status"
	assert_contains "$(bi_cond "$1" "$2" message)" "$5" "$1: $2 message"
	echo "$1: $2=$3 $4: $(bi_cond "$1" "$2" message)"
}

bi_expect_event() { # name reason text
	local x_name=$1 x_reason=$2 x_text=$3
	wait_until 20 'bi_events "$x_name" "$x_reason" | grep -qF -- "$x_text"'
	echo "$1: Event $2: $(bi_events "$1" "$2" | head -1)"
}

# Nothing else is affected: the bad scaler's target kept its count (no
# write of it in the audit log), and the good scaler still follows its load.
bi_nothing_else_affected() { # bad-target replicas
	local writes
	if [ -n "${1:-}" ]; then
		assert_eq "$(bi_replicas "$1")" "$2" "replicas of $1"
		writes=$(grep -F "\"namespace\":\"$NS\"" "$AUDIT_LOG" | jq -R -r --arg n "$1" 'fromjson? |
			select(.stage == "ResponseComplete" and .objectRef.resource == "deployments" and
			       .objectRef.name == $n and .objectRef.subresource == "scale" and .verb != "get")' | wc -l)
		assert_eq "$writes" 0 "writes of $1's scale"
	fi
	echo 520 >"$LOAD_DIR/good_rps"
	wait_until 30 '[ "$(bi_replicas good)" = 6 ]'
	assert_eq "$(bi_cond good Ready status)" True "the good scaler's Ready"
	kill -0 "$OP_PID" || fail "the operator exited: $(tail -3 "$WORK/operator.log")"
}

test_bad_input_min_above_max() {
	bi_operator
	"$KUBECTL" -n "$NS" create deployment bad --image=nginx --replicas=2 >/dev/null
	# The schema cannot compare two fields (no CEL in 1.20): the operator does.
	bi_scaler bad "  targetRef: {kind: Deployment, name: bad}" "sum(bad_rps)" "  minReplicas: 9"
	bi_expect bad Ready False InvalidSpec "spec.minReplicas: must not exceed spec.maxReplicas (9 > 8)"
	bi_expect_event bad InvalidSpec "spec.minReplicas: must not exceed spec.maxReplicas (9 > 8)"
	bi_nothing_else_affected bad 2
}

test_bad_input_unknown_target_kind() {
	bi_operator
	bi_scaler bad "  targetRef: {apiVersion: apps/v1, kind: Deploymnet, name: bad}" "sum(bad_rps)"
	bi_expect bad Ready False InvalidSpec "spec.targetRef.kind: apps/v1 has no kind Deploymnet with a /scale subresource"
	bi_expect_event bad FailedGetScale "has no kind Deploymnet"
	# A group the cluster does not serve at all.
	bi_scaler bad2 "  targetRef: {apiVersion: nope.example.com/v1, kind: Web, name: bad}" "sum(bad_rps)"
	bi_expect bad2 Ready False InvalidSpec "spec.targetRef.apiVersion: the cluster serves no nope.example.com/v1"
	bi_nothing_else_affected
}

test_bad_input_target_does_not_exist() {
	bi_operator
	bi_scaler bad "  targetRef: {kind: Deployment, name: bad}" "sum(bad_rps)"
	bi_expect bad Ready False TargetNotFound "bad"
	bi_expect bad AbleToScale False FailedGetScale "404"
	bi_expect_event bad FailedGetScale "404"
	bi_nothing_else_affected
	# The target appears: the scaler picks it up by itself.
	"$KUBECTL" -n "$NS" create deployment bad --image=nginx --replicas=1 >/dev/null
	wait_until 30 '[ "$(bi_replicas bad)" = 3 ]'
	wait_until 20 '[ "$(bi_cond bad Ready status)" = True ]'
}

test_bad_input_query_does_not_parse() {
	bi_operator
	"$KUBECTL" -n "$NS" create deployment bad --image=nginx --replicas=2 >/dev/null
	bi_scaler bad "  targetRef: {kind: Deployment, name: bad}" "sum(rate(bad_rps[1m])"
	bi_expect bad Ready False InvalidSpec "spec.metrics[0].query:"
	assert_contains "$(bi_cond bad Ready message)" "parse error"
	bi_expect_event bad InvalidSpec "parse error"
	bi_nothing_else_affected bad 2
}

test_bad_input_budget_does_not_exist() {
	bi_operator
	"$KUBECTL" -n "$NS" create deployment bad --image=nginx --replicas=2 >/dev/null
	bi_scaler bad "  targetRef: {kind: Deployment, name: bad}" "sum(bad_rps)" \
		"  budget: {name: no-such-budget, unitsPerReplica: 10}"
	bi_expect bad Throttled True BudgetNotFound \
		"spec.budget.name: there is no ConcurrencyBudget no-such-budget in namespace $NS; no scale-up until it exists"
	bi_expect_event bad Throttled "there is no ConcurrencyBudget no-such-budget"
	bi_nothing_else_affected bad 2
	# The budget is created: the scale-up it held back happens.
	"$KUBECTL" -n "$NS" apply -f - <<CB
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ConcurrencyBudget
metadata: {name: no-such-budget}
spec: {capacity: 100}
CB
	wait_until 30 '[ "$(bi_replicas bad)" = 3 ]'
}

# The largest annotation the apiserver takes (256 KiB in all) on a scaler it
# watches: the operator reads it like any other.
test_bad_input_largest_annotation_is_read() {
	local big
	bi_operator
	"$KUBECTL" -n "$NS" create deployment bad --image=nginx --replicas=1 >/dev/null
	big=$(head -c 250000 /dev/zero | tr '\0' a)
	bi_scaler bad "  targetRef: {kind: Deployment, name: bad}" "sum(bad_rps)"
	printf '{"metadata":{"annotations":{"note":"%s"}}}' "$big" >"$WORK/patch.json"
	"$KUBECTL" -n "$NS" patch fs bad --type merge --patch-file "$WORK/patch.json" >/dev/null
	wait_until 30 '[ "$(bi_replicas bad)" = 3 ]'
	"$KUBECTL" -n "$NS" patch fs bad --type merge -p '{"spec":{"maxReplicas":2}}'
	wait_until 30 '[ "$(bi_replicas bad)" = 2 ]'
	bi_nothing_else_affected
}
