# The laptop preview, proven read-only: `foresight run --dry-run` runs as an
# account that could write anything (cluster-admin), and the apiserver's
# audit log shows that it only read.

# A ServiceAccount bound to cluster-admin and a kubeconfig with its token;
# sets DRY_USER (the audit log's user name) and DRY_KC.
admin_account() { # ns
	local sa=previewer token server ca
	"$KUBECTL" -n "$1" create serviceaccount "$sa" >/dev/null
	"$KUBECTL" create clusterrolebinding "$1-$sa" --clusterrole=cluster-admin \
		--serviceaccount="$1:$sa" >/dev/null
	defer "'$KUBECTL' delete clusterrolebinding '$1-$sa'"
	token=$("$KUBECTL" -n "$1" create token "$sa" --duration 1h)
	server=$("$KUBECTL" config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
	ca=$("$KUBECTL" config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
	DRY_USER="system:serviceaccount:$1:$sa"
	DRY_KC="$WORK/previewer.kubeconfig"
	cat >"$DRY_KC" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: u
  user: {token: "$token"}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
EOF
}

# The verbs DRY_USER used, one per line with counts (from the audit log).
verbs_of_user() {
	# A line the apiserver is still writing is skipped, not a parse error.
	jq -R -r --arg u "$DRY_USER" 'fromjson? | select(.user.username == $u and
		.stage == "ResponseComplete") | .verb' "$AUDIT_LOG" | sort | uniq -c
}

test_dry_run_only_reads_per_the_audit_log() {
	local ns out verbs
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler, replicas_of, fs_field
	setup_operator_env
	ns=$(new_namespace)
	admin_account "$ns"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	echo 640 >"$LOAD_DIR/web_rps"
	apply_scaler "$ns" web web_rps Auto
	wait_for_series web_rps
	# The one-shot table.
	out=$("$FORESIGHT" run --dry-run --once --kubeconfig "$DRY_KC" --namespace "$ns" \
		--prometheus-url "$PROM_URL")
	echo "$out"
	assert_contains "$out" "$ns/web"
	# And the long-running preview, for a while.
	OP_PORT=$(free_port)
	"$FORESIGHT" run --dry-run --kubeconfig "$DRY_KC" --namespace "$ns" --prometheus-url "$PROM_URL" \
		--listen "127.0.0.1:$OP_PORT" >"$WORK/preview.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 30 'grep -q "$ns/web would scale" "$WORK/preview.log"'
	sleep 5
	# The dashboard and metrics of the preview are served on localhost.
	wait_until 20 'curl -sf "http://127.0.0.1:$OP_PORT/metrics" | grep -q "^foresight_scaler_desired_replicas{"' 
	# The throttles' own counters: queries made, and waits for a slot or a worker.
	wait_until 20 'curl -sf "http://127.0.0.1:$OP_PORT/metrics" | awk "/^foresight_prometheus_queries_total / {n = \$2} END {exit !(n > 0)}"'
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" | grep -E '^foresight_(prometheus_throttled_total|workqueue_depth|kube_throttled_total)' ||
		fail "the throttles are not on /metrics"
	stop_started
	cat "$WORK/preview.log" | tail -5
	assert_eq "$(replicas_of "$ns" web)" 1 "replicas"
	assert_eq "$(fs_field "$ns" web '{.status}')" "" "status"
	# The audit log flushes in batches: wait until the account's requests show.
	wait_until 30 '[ -n "$(verbs_of_user)" ]'
	verbs=$(verbs_of_user)
	echo "requests by $DRY_USER:"
	echo "$verbs"
	assert_contains "$verbs" " list"
	assert_contains "$verbs" " watch"
	if awk '$2 !~ /^(get|list|watch)$/' <<<"$verbs" | grep .; then
		fail "the dry run wrote to the cluster"
	fi
}

# A manifest evaluated before it is applied: `run --dry-run --once -f`.
test_dry_run_evaluates_a_manifest_before_it_is_applied() {
	local ns out status
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # replicas_of
	setup_operator_env
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create deployment api --image=nginx --replicas=2 >/dev/null
	echo 530 >"$LOAD_DIR/api_rps"
	wait_for_series api_rps
	cat >"$WORK/api.yaml" <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata:
  name: api
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - {name: rps, query: 'sum(api_rps)', targetPerReplica: 100}
  forecast: {model: None}
FS
	out=$("$FORESIGHT" run --dry-run --once -f "$WORK/api.yaml" --namespace "$ns" \
		--prometheus-url "$PROM_URL")
	echo "$out"
	# 530 at 100 a replica needs 6; maxReplicas caps it at 5, from the 2 it has.
	assert_eq "$(awk -v k="$ns/api" '$1 == k {print $3, $4, $5, $8}' <<<"$out")" "2 5 6 MaxReplicas"
	assert_eq "$(grep -c "^$ns/" <<<"$out")" 1 "only the manifest is evaluated"
	"$KUBECTL" -n "$ns" get fs api 2>/dev/null && fail "the manifest was applied"
	assert_eq "$(replicas_of "$ns" api)" 2
	# Only with --dry-run --once, and only ForecastScalers, named with file and line.
	status=0
	out=$("$FORESIGHT" run --dry-run -f "$WORK/api.yaml" 2>&1) || status=$?
	assert_eq "$status" 2
	assert_contains "$out" "-f evaluates manifests before they are applied: it needs --dry-run --once"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' >"$WORK/cm.yaml"
	status=0
	out=$("$FORESIGHT" run --dry-run --once -f "$WORK/cm.yaml" --namespace "$ns" 2>&1) || status=$?
	assert_eq "$status" 2
	assert_contains "$out" "$WORK/cm.yaml:2: kind ConfigMap: -f takes ForecastScaler manifests"
}
