# The Helm chart (charts/foresight) with the real helm v4 against the real
# apiserver: lint, template, schema, CRDs in step with crd/, install and
# uninstall; and its RBAC proven by running the operator as the chart's
# ServiceAccount through a scale-up and a scale-down, then asking the
# apiserver what else that account may do.

CHART="$REPO/charts/foresight"
HELM="${HELM:-$(dirname "$KUBECTL")/helm}"

test_chart_lints_templates_and_keeps_its_crds_in_step() {
	local out status
	out=$("$HELM" lint --strict "$CHART" 2>&1) || fail "helm lint: $out"
	echo "$out"
	assert_contains "$out" "0 chart(s) failed"
	# The chart ships the same CRDs (and operator rules) as the repository.
	diff -r "$REPO/crd" "$CHART/crds" --exclude README.md ||
		fail "charts/foresight/crds drifted from crd/: copy crd/*.yaml there"
	diff "$REPO/metrics/operator-rules.yaml" "$CHART/files/operator-rules.yaml" ||
		fail "charts/foresight/files/operator-rules.yaml drifted from metrics/"
	# Defaults: every namespace, one replica, no leader election.
	out=$("$HELM" template rel "$CHART" -n ops)
	echo "$out"
	assert_contains "$out" "kind: ClusterRoleBinding"
	assert_not_contains "$out" "rel-foresight-secrets"
	assert_not_contains "$out" "--leader-elect"
	assert_contains "$out" "readOnlyRootFilesystem: true"
	assert_contains "$out" "runAsNonRoot: true"
	assert_contains "$out" "drop: [ALL]"
	assert_contains "$out" "type: RuntimeDefault"
	assert_not_contains "$out" "kind: PrometheusRule" # no monitoring.coreos.com/v1 here
	assert_not_contains "$out" "--status-refresh"
	# Two namespaces, two replicas, one scaler's Secrets.
	out=$("$HELM" template rel "$CHART" -n ops --set 'watchNamespaces={shop,web}' --set replicaCount=2 \
		--set 'secrets[0].namespace=shop' --set 'secrets[0].names={prom-token}' \
		--set prometheusRule.enabled=true --set serviceMonitor.enabled=true --set statusRefresh=5m)
	assert_contains "$out" "- --status-refresh=5m"
	assert_contains "$out" "- --namespace=shop,web"
	assert_contains "$out" "- --leader-elect"
	assert_contains "$out" "- --leader-election-namespace=ops"
	assert_not_contains "$out" "kind: ClusterRoleBinding"
	assert_eq "$(grep -c '^kind: RoleBinding' <<<"$out")" 4 "RoleBindings: shop, web, lease, secrets"
	assert_contains "$out" "resourceNames: [prom-token]"
	assert_contains "$out" "kind: ServiceMonitor"
	assert_contains "$out" "kind: PrometheusRule"
	assert_contains "$out" "alert: ForesightOperatorDown"
	# The schema turns bad values away, naming them.
	status=0
	out=$("$HELM" template rel "$CHART" --set log.level=loud 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1
	assert_contains "$out" "/log/level"
	status=0
	out=$("$HELM" template rel "$CHART" --set prometheus.url=prometheus:9090 2>&1) || status=$?
	assert_eq "$status" 1
	assert_contains "$out" "/prometheus/url"
	# What the operator would refuse to start with, the schema refuses first.
	status=0
	out=$("$HELM" template rel "$CHART" --set statusRefresh='5 minutes' 2>&1) || status=$?
	assert_eq "$status" 1
	assert_contains "$out" "/statusRefresh"
	status=0
	out=$("$HELM" template rel "$CHART" --set maxConcurrentReconciles=500 2>&1) || status=$?
	assert_eq "$status" 1
	assert_contains "$out" "/maxConcurrentReconciles"
}

test_chart_installs_every_object_and_uninstalls_them() {
	local ns rel=inst$RANDOM out kind name
	ns=$(new_namespace)
	defer "'$HELM' uninstall '$rel' -n '$ns'"
	out=$("$HELM" install "$rel" "$CHART" -n "$ns" --wait --timeout 90s 2>&1) ||
		fail "helm install: $out"
	echo "$out"
	assert_contains "$out" "STATUS: deployed"
	assert_contains "$out" "kubectl get fs -A" # NOTES.txt
	while read -r kind name; do
		"$KUBECTL" get "$kind" "$name" ${ns:+-n "$ns"} >/dev/null ||
			fail "$kind $name was not created"
	done <<EOF
serviceaccount $rel-foresight
role $rel-foresight-leader-election
rolebinding $rel-foresight-leader-election
service $rel-foresight
deployment $rel-foresight
EOF
	"$KUBECTL" get clusterrole "$rel-foresight" >/dev/null || fail "no ClusterRole"
	"$KUBECTL" get clusterrolebinding "$rel-foresight" >/dev/null || fail "no ClusterRoleBinding"
	"$KUBECTL" get crd forecastscalers.autoscaling.foresight.dev concurrencybudgets.autoscaling.foresight.dev >/dev/null
	# The pod the fake kubelet runs has the hardened spec.
	assert_eq "$("$KUBECTL" -n "$ns" get deploy "$rel-foresight" -o jsonpath='{.status.readyReplicas}')" 1
	assert_eq "$("$KUBECTL" -n "$ns" get pod -l "app.kubernetes.io/instance=$rel" \
		-o jsonpath='{.items[0].spec.containers[0].securityContext.readOnlyRootFilesystem}')" true
	out=$("$HELM" uninstall "$rel" -n "$ns" 2>&1) || fail "helm uninstall: $out"
	echo "$out"
	wait_until 30 '! "$KUBECTL" -n "$ns" get deploy "$rel-foresight"'
	for kind in serviceaccount role rolebinding service; do
		"$KUBECTL" -n "$ns" get "$kind" "$rel-foresight" 2>/dev/null && fail "$kind survived the uninstall"
	done
	"$KUBECTL" get clusterrole "$rel-foresight" 2>/dev/null && fail "the ClusterRole survived"
	"$KUBECTL" get clusterrolebinding "$rel-foresight" 2>/dev/null && fail "the ClusterRoleBinding survived"
	true
}

# A kubeconfig for ServiceAccount $2 in namespace $1 with a TokenRequest token.
sa_kubeconfig() { # ns sa file
	local token server ca
	token=$("$KUBECTL" -n "$1" create token "$2" --duration 1h)
	server=$("$KUBECTL" config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
	ca=$("$KUBECTL" config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
	cat >"$3" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: sa
  user: {token: "$token"}
contexts:
- name: sa
  context: {cluster: c, user: sa, namespace: $1}
current-context: sa
EOF
}

# Deployment web in APP with a scaler on GAUGE (at 50), and the operator for
# APP out of cluster as the account; sets OP_PORT.
run_as_account() { # ns sa app gauge [run args...]
	local kc="$WORK/sa.kubeconfig"
	sa_kubeconfig "$1" "$2" "$kc"
	"$KUBECTL" -n "$3" create deployment web --image=nginx --replicas=1 >/dev/null
	echo 50 >"$LOAD_DIR/$4"
	apply_scaler "$3" web "$4" Auto
	wait_for_series "$4"
	OP_PORT=$(free_port)
	"$FORESIGHT" run --kubeconfig "$kc" --namespace "$3" --prometheus-url "$PROM_URL" \
		--listen "127.0.0.1:$OP_PORT" "${@:5}" >"$WORK/operator.log" 2>&1 &
	echo $! >>"$WORK/pids"
}

# What the account may do: "yes" or "no" from the apiserver itself.
can_i() { # ns sa verb resource [kubectl args...]
	"$KUBECTL" auth can-i "$3" "$4" --as "system:serviceaccount:$1:$2" "${@:5}" 2>/dev/null || true
}

test_chart_rbac_is_enough_to_scale_and_no_more() {
	local rel=rbac$RANDOM ops app other sa
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler, replicas_of
	setup_operator_env
	ops=$(new_namespace)
	app=$(new_namespace)
	other=$(new_namespace)
	sa="$rel-foresight"
	defer "'$HELM' uninstall '$rel' -n '$ops'"
	"$HELM" install "$rel" "$CHART" -n "$ops" --set "watchNamespaces={$app}" \
		--set "secrets[0].namespace=$app" --set 'secrets[0].names={prom-token}' \
		--set replicaCount=0 >/dev/null
	# The account may do its job, in its namespaces only.
	assert_eq "$(can_i "$ops" "$sa" patch deployments.apps/web -n "$app" --subresource=scale)" yes
	assert_eq "$(can_i "$ops" "$sa" patch forecastscalers.autoscaling.foresight.dev/web -n "$app" --subresource=status)" yes
	assert_eq "$(can_i "$ops" "$sa" create events.events.k8s.io -n "$app")" yes
	assert_eq "$(can_i "$ops" "$sa" watch deployments.apps -n "$app")" yes
	assert_eq "$(can_i "$ops" "$sa" get secrets/prom-token -n "$app")" yes
	assert_eq "$(can_i "$ops" "$sa" update leases.coordination.k8s.io/foresight -n "$ops")" yes
	# ... and nothing else.
	assert_eq "$(can_i "$ops" "$sa" get secrets --all-namespaces)" no
	assert_eq "$(can_i "$ops" "$sa" list secrets -n "$app")" no
	assert_eq "$(can_i "$ops" "$sa" get secrets/other -n "$app")" no
	assert_eq "$(can_i "$ops" "$sa" delete deployments.apps/web -n "$app")" no
	assert_eq "$(can_i "$ops" "$sa" update deployments.apps/web -n "$app")" no
	assert_eq "$(can_i "$ops" "$sa" patch deployments.apps/web -n "$other" --subresource=scale)" no
	assert_eq "$(can_i "$ops" "$sa" watch deployments.apps -n "$other")" no
	assert_eq "$(can_i "$ops" "$sa" update leases.coordination.k8s.io/foresight -n "$other")" no
	assert_eq "$(can_i "$ops" "$sa" update leases.coordination.k8s.io/other -n "$ops")" no
	assert_eq "$(can_i "$ops" "$sa" patch forecastscalers.autoscaling.foresight.dev/web -n "$app")" no
	# The operator, out of cluster as that account, through a scale-up and a scale-down.
	run_as_account "$ops" "$sa" "$app" web_rps --leader-elect --leader-election-namespace "$ops"
	echo 450 >"$LOAD_DIR/web_rps"
	wait_until 60 '[ "$(replicas_of "$app" web)" = 5 ]'
	wait_until 30 '[ "$(fs_field "$app" web "{.status.desiredReplicas}")" = 5 ]'
	echo 150 >"$LOAD_DIR/web_rps"
	wait_until 60 '[ "$(replicas_of "$app" web)" = 2 ]'
	assert_eq "$("$KUBECTL" -n "$ops" get lease foresight -o jsonpath='{.spec.holderIdentity}' | grep -c .)" 1 "a Lease holder"
	assert_eq "$("$KUBECTL" -n "$app" get events.v1.events.k8s.io -o json |
		jq '[.items[] | select(.reportingController == "foresight.dev/operator")] | length > 0')" true
	# Nothing was refused along the way.
	if grep -Ei 'forbidden|403' "$WORK/operator.log"; then
		fail "the operator was refused something it needs"
	fi
}

# RBAC without list/watch on Deployments (a hand-made role, or an older
# chart's): the operator says so once, stops asking, and reads /scale with a
# GET; it still scales.
test_chart_rbac_without_watch_on_targets_falls_back_to_get() {
	local rel=nowatch$RANDOM ops app sa refused denied
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler, replicas_of
	setup_operator_env
	ops=$(new_namespace)
	app=$(new_namespace)
	sa="$rel-foresight"
	defer "'$HELM' uninstall '$rel' -n '$ops'"
	"$HELM" install "$rel" "$CHART" -n "$ops" --set "watchNamespaces={$app}" \
		--set replicaCount=0 >/dev/null
	"$KUBECTL" get clusterrole "$sa" -o json |
		jq '(.rules[] | select(.resources == ["deployments", "statefulsets", "replicasets"]) | .verbs) = ["get"]' |
		"$KUBECTL" replace -f - >/dev/null
	wait_until 10 '[ "$(can_i "$ops" "$sa" watch deployments.apps -n "$app")" = no ]'
	run_as_account "$ops" "$sa" "$app" nowatch_rps
	echo 450 >"$LOAD_DIR/nowatch_rps"
	wait_until 60 '[ "$(replicas_of "$app" web)" = 5 ]'
	sleep 10
	grep -E "informer targets|not allowed" "$WORK/operator.log" || true
	denied=$(grep -c "not allowed to list and watch deployments in $app: their scale is read with a GET" "$WORK/operator.log")
	assert_eq "$denied" 1 "warnings that the watch is not allowed"
	# The watch gave up at the first refused LIST and never asked again.
	assert_eq "$(grep -c "informer targets deployments: LIST denied; not retrying" "$WORK/operator.log")" 1 \
		"refused LISTs"
	assert_eq "$(grep -c "informer targets deployments: LIST failed" "$WORK/operator.log" || true)" 0 \
		"LISTs retried"
	curl -sf "http://127.0.0.1:$OP_PORT/readyz" >/dev/null || fail "not ready without the watch"
}
