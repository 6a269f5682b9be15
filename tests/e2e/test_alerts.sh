# Alert rules: the templates in metrics/ pass `promtool check rules` and
# their `promtool test rules` unit tests; every metric a rule reads is
# exported by /metrics; the operator keeps each ForecastScaler's
# PrometheusRule on the real apiserver (created, updated, restored after hand
# edits, deleted when disabled, garbage-collected with the scaler, created
# once the CRD shows up); and a real Prometheus fires the maxed-out alert.

# The Prometheus Operator's CRD, from the project tree next to the repository.
PROMRULE_CRD=${PROMRULE_CRD:-$REPO/tests/fixtures/crds/monitoring.coreos.com_prometheusrules.yaml}

# Starts the operator for namespace $1 on port $2 (free_port when empty); sets OP_PORT, OP_PID.
alerts_start_operator() {
	local attempt
	for attempt in 1 2 3; do
		OP_PORT=${2:-$(free_port)}
		"$FORESIGHT" run --namespace "$1" --prometheus-url "$PROM_URL" \
			--listen "127.0.0.1:$OP_PORT" --log-level debug >"$WORK/operator.log" 2>&1 &
		OP_PID=$!
		echo $OP_PID >>"$WORK/pids"
		wait_until 30 'curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null || ! kill -0 $OP_PID'
		kill -0 "$OP_PID" 2>/dev/null && return 0
		grep -q "cannot listen" "$WORK/operator.log" || fail "the operator exited: $(tail -5 "$WORK/operator.log")"
		[ -z "${2:-}" ] || fail "port $2 is taken"
	done
	fail "no free port for the operator in 3 attempts"
}

install_promrule_crd() {
	[ -f "$PROMRULE_CRD" ] || fail "$PROMRULE_CRD is missing (set PROMRULE_CRD)"
	"$KUBECTL" apply -f "$PROMRULE_CRD" >/dev/null
	"$KUBECTL" wait --for condition=established --timeout=30s \
		crd/prometheusrules.monitoring.coreos.com >/dev/null
}

# Writes the manifest of scaler $2 in namespace $1 to $WORK/$2.yaml and applies it.
alerts_scaler() { # ns name gauge maxReplicas [extra spec lines]
	cat >"$WORK/$2.yaml" <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $2, namespace: $1}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: $2}
  minReplicas: 1
  maxReplicas: $4
  interval: 1s
  metrics:
  - {name: load, query: 'sum($3)', targetPerReplica: 100}
  forecast: {model: None}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
${5:-}
FS
	"$KUBECTL" apply -f "$WORK/$2.yaml" >/dev/null
}

rule_json() { "$KUBECTL" -n "$1" get prometheusrule "$2" -o json --show-managed-fields 2>/dev/null; }
rule_field() { rule_json "$1" "$2" | jq -r "$3"; }
fs_cond() { # ns name type field
	"$KUBECTL" -n "$1" get fs "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].$4}"
}
replicas_of() { "$KUBECTL" -n "$1" get deploy "$2" -o jsonpath='{.spec.replicas}'; }

test_alert_rules_pass_promtool_and_their_unit_tests() {
	local out n
	cp -r "$REPO/metrics" "$WORK/metrics"
	# The binary carries the template of the repository, byte for byte.
	"$FORESIGHT" rules --template | cmp - "$REPO/metrics/scaler-rules.yaml" ||
		fail "the binary's template differs from metrics/scaler-rules.yaml: rebuild"
	"$FORESIGHT" rules -f "$WORK/metrics/tests/scaler.yaml" >"$WORK/metrics/tests/scaler.rules.yaml"
	cat "$WORK/metrics/tests/scaler.rules.yaml"
	out=$(promtool check rules "$WORK/metrics/tests/scaler.rules.yaml" "$REPO/metrics/operator-rules.yaml" 2>&1)
	echo "$out"
	assert_contains "$out" "SUCCESS: 7 rules found"
	assert_contains "$out" "SUCCESS: 10 rules found"
	# A scaler without budget nor forecast has no rules that could never fire;
	# several scalers make one file (group names hold namespace and name).
	cat >"$WORK/plain.yaml" <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: api}
spec:
  targetRef: {kind: StatefulSet, name: api}
  maxReplicas: 4
  metrics: [{name: rps, query: 'sum(x)', targetPerReplica: 10}]
  forecast: {model: None}
FS
	"$FORESIGHT" rules -n ops -f "$WORK/plain.yaml" -f "$WORK/metrics/tests/scaler.yaml" >"$WORK/two.rules.yaml"
	out=$(promtool check rules "$WORK/two.rules.yaml" 2>&1)
	assert_contains "$out" "SUCCESS: 12 rules found"
	n=$("$FORESIGHT" rules -n ops -f "$WORK/plain.yaml" -o json | jq '[.spec.groups[].rules[].alert] | join(",")')
	assert_eq "$n" '"ForesightScalerMaxedOut,ForesightScalerUnderProvisioned,ForesightScalerMetricsUnavailable,ForesightScalerFallbackActive,ForesightScalerNotReady"' "alerts of a plain scaler"
	# A spec error is named with its file and line.
	sed 's/maxReplicas: 4/maxReplicas: 0/' "$WORK/plain.yaml" >"$WORK/bad.yaml"
	if out=$("$FORESIGHT" rules -f "$WORK/bad.yaml" 2>&1); then fail "an invalid spec rendered"; fi
	assert_contains "$out" "bad.yaml:6: spec.maxReplicas:"
	# Each alert fires and resolves on synthetic series.
	out=$(promtool test rules "$WORK"/metrics/tests/*.test.yaml 2>&1) || fail "promtool test rules: $out"
	echo "$out"
	assert_eq "$(echo "$out" | grep -c SUCCESS)" 2 "test files passed"
}

# The metric names a PromQL query reads (functions, keywords, labels, strings and ranges left out).
query_metric_names() {
	sed -E 's/"([^"\\]|\\.)*"//g; s/\{[^}]*\}//g; s/\[[^]]*\]//g' |
		sed -E 's/\b(by|without|on|ignoring|group_left|group_right) *\([^)]*\)//g' |
		grep -oE '[a-zA-Z_:][a-zA-Z0-9_:]*( *\()?' | grep -v '($' |
		grep -vxE 'and|or|unless|bool|offset|by|without|on|ignoring|group_left|group_right|[Ii]nf|[Nn]a[Nn]' |
		sort -u
}

test_alert_rules_read_only_metrics_the_operator_exports() {
	local ns used missing
	install_crds
	ns=$(new_namespace)
	# Rule files as Prometheus reads them: its rules API prints each query parsed.
	"$FORESIGHT" rules -f "$REPO/metrics/tests/scaler.yaml" >"$WORK/scaler.rules.yaml"
	PROM_PORT=$(free_port)
	PROM_URL="http://127.0.0.1:$PROM_PORT"
	mkdir -p "$WORK/prom"
	cat >"$WORK/prometheus.yml" <<PROMCFG
global: {evaluation_interval: 1s}
rule_files: ["$WORK/scaler.rules.yaml", "$REPO/metrics/operator-rules.yaml"]
PROMCFG
	prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prom" \
		--web.listen-address "127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 30 'curl -sf "$PROM_URL/-/ready" >/dev/null'
	curl -sf "$PROM_URL/api/v1/rules" | jq -r '.data.groups[].rules[].query' >"$WORK/queries"
	assert_eq "$(wc -l <"$WORK/queries")" 17 "rules loaded by Prometheus"
	query_metric_names <"$WORK/queries" >"$WORK/used"
	echo "metrics the rules read:"
	cat "$WORK/used"
	# Not vacuous: the rules do read the scaler's and the operator's series.
	grep -qx foresight_scaler_recommended_replicas "$WORK/used" || fail "the name extraction lost the scaler's series"
	grep -qx foresight_build_info "$WORK/used" || fail "the name extraction lost the operator's series"
	alerts_start_operator "$ns"
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" >"$WORK/metrics.txt"
	promtool check metrics <"$WORK/metrics.txt"
	awk '$1 == "#" && $2 == "TYPE" { print $3; if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }' \
		"$WORK/metrics.txt" | sort -u >"$WORK/exported"
	missing=$(comm -23 "$WORK/used" "$WORK/exported")
	[ -z "$missing" ] || fail "the rules read metrics /metrics does not export: $missing"
	used=$(wc -l <"$WORK/used")
	echo "all $used metric names the rules read are exported"
}

test_prometheusrule_follows_its_scaler() {
	local ns uid
	install_crds
	install_promrule_crd
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	echo 250 >"$LOAD_DIR/pr_rps"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	wait_for_series pr_rps
	alerts_scaler "$ns" web pr_rps 10 "  alerts: {labels: {release: prom}, maxedOutFor: 5m}"
	alerts_start_operator "$ns"
	wait_until 30 'rule_json "$ns" web-foresight'
	rule_json "$ns" web-foresight | jq .
	uid=$("$KUBECTL" -n "$ns" get fs web -o jsonpath='{.metadata.uid}')
	assert_eq "$(rule_field "$ns" web-foresight '.metadata.ownerReferences[0] | "\(.kind) \(.name) \(.uid) \(.controller)"')" \
		"ForecastScaler web $uid true" "ownerReference"
	assert_eq "$(rule_field "$ns" web-foresight '.metadata.labels.release')" prom "label from spec.alerts.labels"
	assert_eq "$(rule_field "$ns" web-foresight '.metadata.labels["app.kubernetes.io/managed-by"]')" foresight
	assert_eq "$(rule_field "$ns" web-foresight '[.spec.groups[].rules[]] | length')" 5 "rules"
	assert_eq "$(rule_field "$ns" web-foresight '.spec.groups[0].rules[] | select(.alert == "ForesightScalerMaxedOut") | .for')" 5m
	# Applied server-side by its field manager.
	assert_contains "$(rule_field "$ns" web-foresight '[.metadata.managedFields[] | "\(.manager)/\(.operation)"] | join(" ")')" \
		"foresight/Apply"
	wait_until 20 '[ "$(fs_cond "$ns" web AlertsReady reason)" = RulesApplied ]'
	assert_contains "$(fs_cond "$ns" web AlertsReady message)" "PrometheusRule web-foresight holds 5 alert rules"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 3 ]'

	# An edit of the scaler updates the rule.
	"$KUBECTL" -n "$ns" patch fs web --type merge \
		-p '{"spec":{"alerts":{"maxedOutFor":"7m","labels":{"release":"prom","team":"shop"}}}}'
	wait_until 20 '[ "$(rule_field "$ns" web-foresight ".spec.groups[0].rules[] | select(.alert == \"ForesightScalerMaxedOut\") | .for")" = 7m ]'
	assert_eq "$(rule_field "$ns" web-foresight '.metadata.labels.team')" shop "new label"

	# A hand edit is undone: the operator's version wins.
	"$KUBECTL" -n "$ns" patch prometheusrule web-foresight --type merge \
		-p "{\"spec\":{\"groups\":[{\"name\":\"foresight.$ns.web\",\"rules\":[{\"alert\":\"Silenced\",\"expr\":\"vector(0)\"}]}]}}"
	wait_until 20 '[ "$(rule_field "$ns" web-foresight "[.spec.groups[].rules[].alert] | length")" = 5 ]'
	assert_eq "$(rule_field "$ns" web-foresight '[.spec.groups[].rules[].alert] | index("Silenced")')" null "hand-made rule"
	grep -q "its PrometheusRule was changed by someone else" "$WORK/operator.log" ||
		fail "the operator did not notice the hand edit"
	# So is a label taken off (the one the operator watches its rules by, too).
	"$KUBECTL" -n "$ns" label prometheusrule web-foresight release- app.kubernetes.io/managed-by- >/dev/null
	wait_until 20 '[ "$(rule_field "$ns" web-foresight ".metadata.labels.release")" = prom ]'
	assert_eq "$(rule_field "$ns" web-foresight '.metadata.labels["app.kubernetes.io/managed-by"]')" foresight
	# So is a hand deletion.
	"$KUBECTL" -n "$ns" delete prometheusrule web-foresight >/dev/null
	wait_until 20 'rule_json "$ns" web-foresight'

	# Alerts disabled: deleted; enabled again: back.
	"$KUBECTL" -n "$ns" patch fs web --type merge -p '{"spec":{"alerts":{"enabled":false}}}'
	wait_until 20 '! rule_json "$ns" web-foresight'
	wait_until 20 '[ "$(fs_cond "$ns" web AlertsReady reason)" = AlertsDisabled ]'
	assert_eq "$(fs_cond "$ns" web AlertsReady status)" False
	"$KUBECTL" -n "$ns" patch fs web --type merge -p '{"spec":{"alerts":{"enabled":true}}}'
	wait_until 20 'rule_json "$ns" web-foresight'
	wait_until 20 '[ "$(fs_cond "$ns" web AlertsReady reason)" = RulesApplied ]'

	# The scaler deleted with the operator stopped: the garbage collector of
	# kube-controller-manager deletes the rule (it notices a new CRD within 30 s).
	kill -TERM "$OP_PID"
	wait "$OP_PID" || fail "the operator exited with status $? on SIGTERM"
	"$KUBECTL" -n "$ns" delete fs web >/dev/null
	wait_until 120 '! rule_json "$ns" web-foresight'
}

test_alerts_wait_for_the_prometheusrule_crd() {
	local ns
	install_crds
	# Other tests install it: this one starts without.
	"$KUBECTL" delete crd prometheusrules.monitoring.coreos.com --ignore-not-found >/dev/null
	defer "install_promrule_crd"
	wait_until 60 '! "$KUBECTL" get --raw /apis/monitoring.coreos.com/v1'
	start_load_gen
	start_prometheus
	ns=$(new_namespace)
	echo 250 >"$LOAD_DIR/nocrd_rps"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	wait_for_series nocrd_rps
	alerts_scaler "$ns" web nocrd_rps 10
	alerts_start_operator "$ns"
	# It says so, and scales all the same.
	wait_until 30 '[ "$(fs_cond "$ns" web AlertsReady reason)" = CRDNotInstalled ]'
	assert_eq "$(fs_cond "$ns" web AlertsReady status)" False
	assert_contains "$(fs_cond "$ns" web AlertsReady message)" "PrometheusRule CRD (monitoring.coreos.com/v1) is not installed"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 3 ]'
	assert_eq "$(fs_cond "$ns" web Ready status)" True
	echo 420 >"$LOAD_DIR/nocrd_rps"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 5 ]'
	# The CRD arrives: the rules follow, without a restart.
	install_promrule_crd
	wait_until 60 'rule_json "$ns" web-foresight'
	wait_until 20 '[ "$(fs_cond "$ns" web AlertsReady reason)" = RulesApplied ]'
	assert_eq "$(fs_cond "$ns" web AlertsReady status)" True
	kill -0 "$OP_PID" || fail "the operator is gone"
	grep -q "the PrometheusRule CRD is installed" "$WORK/operator.log" || fail "no log of the CRD arriving"
}

test_maxed_out_alert_fires_in_a_real_prometheus() {
	local ns op_port t0 state
	install_crds
	start_load_gen
	ns=$(new_namespace)
	echo 500 >"$LOAD_DIR/mx_rps"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	# 500 at 100 a replica needs 5; it may have 2. Maxed out after 5 s.
	alerts_scaler "$ns" web mx_rps 2 "  alerts: {maxedOutFor: 5s}"
	"$FORESIGHT" rules -f "$WORK/web.yaml" >"$WORK/web.rules.yaml"
	promtool check rules "$WORK/web.rules.yaml"
	# Prometheus scrapes load-gen and the operator, and evaluates the rules every second.
	op_port=$(free_port)
	PROM_PORT=$(free_port)
	PROM_URL="http://127.0.0.1:$PROM_PORT"
	mkdir -p "$WORK/prom"
	cat >"$WORK/prometheus.yml" <<PROMCFG
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$WORK/web.rules.yaml"]
scrape_configs:
- job_name: load
  static_configs: [{targets: ["127.0.0.1:$LOAD_PORT"]}]
- job_name: foresight
  static_configs: [{targets: ["127.0.0.1:$op_port"]}]
PROMCFG
	prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prom" \
		--web.listen-address "127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 30 'curl -sf "$PROM_URL/-/ready" >/dev/null'
	wait_for_series mx_rps
	alerts_start_operator "$ns" "$op_port"
	t0=$SECONDS
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 2 ]'
	wait_until 60 '[ "$(curl -sf "$PROM_URL/api/v1/alerts" | jq -r ".data.alerts[] | select(.labels.alertname == \"ForesightScalerMaxedOut\" and .labels.namespace == \"$ns\" and .labels.name == \"web\") | .state")" = firing ]'
	echo "maxed-out alert firing $((SECONDS - t0))s after the operator started"
	curl -sf "$PROM_URL/api/v1/alerts" | jq '.data.alerts[] | select(.labels.alertname == "ForesightScalerMaxedOut")' | tee "$WORK/alert.json"
	assert_eq "$(jq -r .labels.severity "$WORK/alert.json")" warning "severity"
	assert_contains "$(jq -r .annotations.description "$WORK/alert.json")" \
		"ForecastScaler $ns/web has recommended 5 replicas for Deployment/web, above its maxReplicas 2"
	# The load falls within what 2 replicas carry: the alert resolves.
	echo 150 >"$LOAD_DIR/mx_rps"
	wait_until 60 '[ -z "$(curl -sf "$PROM_URL/api/v1/alerts" | jq -r ".data.alerts[] | select(.labels.alertname == \"ForesightScalerMaxedOut\") | .state")" ]'
	state=$(curl -sf "$PROM_URL/api/v1/query?query=foresight_scaler_recommended_replicas" | jq -r '.data.result[0].value[1]')
	assert_eq "$state" 2 "recommended replicas after the load fell"
}
