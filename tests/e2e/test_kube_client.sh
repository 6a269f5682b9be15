# The Kubernetes client core (operator/kube) against the real apiserver:
# informer recovery, pagination, conflict retries, exec plugins, in-cluster.

PROBE="$BINDIR/kube-probe"

# "key resourceVersion" lines of a fresh LIST, sorted, as the probe writes them.
fresh_list() { # namespace
	"$KUBECTL" -n "$1" get configmaps \
		-o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.resourceVersion}{"\n"}{end}' |
		sort
}

probe_cache() { # file
	grep -v '^#' "$1" 2>/dev/null | sort
}

probe_counter() { # file name
	grep '^#' "$1" | tr ' ' '\n' | grep -A1 -x "$2" | tail -1
}

test_informer_recovers_from_apiserver_kill() {
	local ns cache="$WORK/cache" probe_pid b_env t0
	ns=$(new_namespace)
	"$PROBE" seed --path "/api/v1/namespaces/$ns/configmaps" --count 20 --qps 0
	"$PROBE" informer --path "/api/v1/namespaces/$ns/configmaps" --out "$cache" \
		2>"$WORK/probe.log" &
	probe_pid=$!
	echo "$probe_pid" >>"$WORK/pids"
	defer '"$REPO/hack/control-plane.sh" apiserver kill apiserver-b'
	defer '"$REPO/hack/control-plane.sh" apiserver start'
	wait_until 20 '[ "$(probe_cache "$cache" | wc -l)" = 20 ]'
	[ "$(probe_cache "$cache")" = "$(fresh_list "$ns")" ] || fail "initial cache differs from LIST"

	# A second apiserver on the same etcd takes the writes while the first is dead.
	b_env=$("$REPO/hack/control-plane.sh" apiserver start apiserver-b)
	"$REPO/hack/control-plane.sh" apiserver kill
	(
		eval "$b_env"
		for i in 0 1 2 3 4; do "$KUBECTL" -n "$ns" label configmap "seed-$i" changed=yes; done
		for i in 5 6 7 8 9; do "$KUBECTL" -n "$ns" delete configmap "seed-$i"; done
		for i in 1 2 3; do "$KUBECTL" -n "$ns" create configmap "new-$i" --from-literal=a=b; done
	)
	"$REPO/hack/control-plane.sh" apiserver start >/dev/null
	t0=$SECONDS
	wait_until 10 '[ "$(probe_cache "$cache")" = "$(fresh_list "$ns")" ]'
	echo "cache equal to a fresh LIST $((SECONDS - t0))s after the apiserver returned"
	probe_cache "$cache" | wc -l
	grep '^#' "$cache"
	[ "$(probe_cache "$cache" | wc -l)" = 18 ] || fail "expected 18 objects"
	# The failed watch was followed by a LIST (as client-go's reflector does),
	# which is what brought the cache back.
	[ "$(probe_counter "$cache" failures)" -ge 1 ] || fail "the watch failure was not counted"
	[ "$(probe_counter "$cache" lists)" -ge 2 ] || fail "no LIST after the watch failed"
	[ "$(probe_counter "$cache" deletes)" -ge 5 ] || fail "deletes were not reported"
	[ "$(probe_counter "$cache" updates)" -ge 5 ] || fail "updates were not reported"
	[ "$(probe_counter "$cache" adds)" -ge 23 ] || fail "adds were not reported"
	# And it keeps watching after the relist.
	"$KUBECTL" -n "$ns" create configmap after-restart --from-literal=a=b
	wait_until 10 '[ "$(probe_cache "$cache")" = "$(fresh_list "$ns")" ]'
}

test_informer_cache_strips_managed_fields_and_last_applied() {
	local ns objects="$WORK/objects" applied plain
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" apply -f - <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: applied, annotations: {team: web}}
data: {a: b}
EOF
	"$KUBECTL" -n "$ns" create configmap plain --from-literal=c=d
	# What the server holds: both, so the test below can fail.
	assert_contains "$("$KUBECTL" -n "$ns" get configmap applied -o json --show-managed-fields |
		jq -c '[(.metadata.managedFields | length > 0),
			(.metadata.annotations | has("kubectl.kubernetes.io/last-applied-configuration"))]')" \
		'[true,true]'
	"$PROBE" informer --path "/api/v1/namespaces/$ns/configmaps" --out "$WORK/cache" \
		--objects "$objects" 2>"$WORK/probe.log" &
	echo $! >>"$WORK/pids"
	wait_until 20 '[ "$(jq -r '"'"'select(.metadata.name == "plain") | .data.c'"'"' "$objects" 2>/dev/null)" = d ]'
	applied=$(jq -c 'select(.metadata.name == "applied")' "$objects")
	plain=$(jq -c 'select(.metadata.name == "plain")' "$objects")
	echo "cached: $applied"
	assert_eq "$(echo "$applied" | jq -c '[.metadata.annotations, .data, (.metadata | has("managedFields"))]')" \
		'[{"team":"web"},{"a":"b"},false]'
	assert_eq "$(echo "$plain" | jq -c '[(.metadata | has("annotations")), (.metadata | has("managedFields"))]')" \
		'[false,false]'
}

# kube_informer_opts.keep: only identity and the kept paths are cached.
test_informer_cache_keeps_only_the_paths_asked_for() {
	local ns objects="$WORK/objects" cached
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=2
	"$PROBE" informer --path "/apis/apps/v1/namespaces/$ns/deployments" --out "$WORK/cache" \
		--objects "$objects" --keep spec.replicas --keep status.readyReplicas \
		--keep spec.missing.path 2>"$WORK/probe.log" &
	echo $! >>"$WORK/pids"
	wait_until 20 '[ -s "$objects" ]'
	cached=$(head -1 "$objects")
	echo "cached: $cached"
	assert_eq "$(echo "$cached" | jq -c '[.metadata.name, .spec]')" '["web",{"replicas":2}]'
	assert_eq "$(echo "$cached" | jq -c '[keys, (.metadata | keys)]')" \
		'[["metadata","spec","status"],["generation","name","namespace","resourceVersion","uid"]]'
	assert_eq "$(echo "$cached" | jq -r '.metadata.resourceVersion')" \
		"$("$KUBECTL" -n "$ns" get deployment web -o jsonpath='{.metadata.resourceVersion}')"
	[ "${#cached}" -lt 400 ] || fail "a pruned Deployment takes ${#cached} bytes"
	"$KUBECTL" -n "$ns" scale deployment web --replicas=5
	wait_until 20 '[ "$(jq -r .spec.replicas "$objects")" = 5 ]'
}

# kube_informer_stamp, which spares the operator a parse of an unchanged
# spec: a status write leaves it; a spec change, or the object deleted and
# made again under the same name (generation 1 again), changes it.
test_informer_stamp_follows_spec_and_uid_not_status() {
	local ns stamps="$WORK/stamps" cache="$WORK/cache" first second
	ns=$(new_namespace)
	install_crds
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler
	apply_scaler "$ns" web web_rps Auto >/dev/null
	"$PROBE" informer --path "/apis/autoscaling.foresight.dev/v1alpha1/namespaces/$ns/forecastscalers" \
		--out "$cache" --stamps "$stamps" 2>"$WORK/probe.log" &
	echo $! >>"$WORK/pids"
	cached_rv_is_live() {
		[ "$(probe_cache "$cache")" = "$ns/web $("$KUBECTL" -n "$ns" get fs web -o jsonpath='{.metadata.resourceVersion}')" ]
	}
	wait_until 20 cached_rv_is_live
	first=$(cat "$stamps")
	echo "stamp: $first"
	assert_contains "$first" "$ns/web "

	"$KUBECTL" -n "$ns" patch fs web --subresource=status --type merge \
		-p '{"status":{"observedGeneration":1,"desiredReplicas":3}}' >/dev/null
	wait_until 20 cached_rv_is_live
	assert_eq "$(cat "$stamps")" "$first" "the stamp after a status write"

	"$KUBECTL" -n "$ns" patch fs web --type merge -p '{"spec":{"maxReplicas":7}}' >/dev/null
	wait_until 20 cached_rv_is_live
	second=$(cat "$stamps")
	[ "$second" != "$first" ] || fail "a spec change left the stamp as it was"

	"$KUBECTL" -n "$ns" delete fs web >/dev/null
	apply_scaler "$ns" web web_rps Auto >/dev/null
	assert_eq "$("$KUBECTL" -n "$ns" get fs web -o jsonpath='{.metadata.generation}')" 1
	wait_until 20 cached_rv_is_live
	echo "stamp of the new object: $(cat "$stamps")"
	[ "$(cat "$stamps")" != "$first" ] && [ "$(cat "$stamps")" != "$second" ] ||
		fail "the object made again under the same name kept a stamp of the old one"
}

test_list_paginates_1200_objects() {
	local ns out
	ns=$(new_namespace)
	"$PROBE" seed --path "/api/v1/namespaces/$ns/configmaps" --count 1200 --qps 0
	out=$("$PROBE" list --path "/api/v1/namespaces/$ns/configmaps" --limit 500)
	echo "$out"
	assert_contains "$out" "items 1200 pages 3"
	"$KUBECTL" delete namespace "$ns" --wait=false >/dev/null
}

test_conflict_on_status_update_is_retried() {
	local ns out
	ns=$(new_namespace)
	install_crds
	# A ForecastScaler's status: no operator runs here, so only the probe's
	# own stale writes may conflict. (A Deployment's status is also written
	# by its controller, at times between the probe's read and its write.)
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler
	apply_scaler "$ns" web web_rps Auto >/dev/null
	out=$("$PROBE" conflict --path "/apis/autoscaling.foresight.dev/v1alpha1/namespaces/$ns/forecastscalers/web" \
		--annotate foresight.dev/probe=1 --stale-writes 2)
	echo "$out"
	# Two reads were made stale on purpose: two 409s, then success.
	assert_eq "$out" "attempts 3" "attempts"
	[ "$("$KUBECTL" -n "$ns" get fs web -o jsonpath='{.metadata.annotations.kube-probe/concurrent-write}')" = 2 ] ||
		fail "the concurrent writes did not happen"
}

# A service account with read access to configmaps of one namespace.
make_sa() { # namespace name
	"$KUBECTL" -n "$1" create serviceaccount "$2" >/dev/null
	"$KUBECTL" -n "$1" create role "$2-cm-reader" --verb=get,list,watch \
		--resource=configmaps >/dev/null
	"$KUBECTL" -n "$1" create rolebinding "$2-cm-reader" --role="$2-cm-reader" \
		--serviceaccount="$1:$2" >/dev/null
}

server_of() { grep 'server:' "$KUBECONFIG" | awk '{print $2}'; }
ca_data_of() { grep 'certificate-authority-data:' "$KUBECONFIG" | awk '{print $2}'; }

test_exec_plugin_authenticates_and_is_called_again_after_expiry() {
	local ns out calls
	ns=$(new_namespace)
	make_sa "$ns" execsa
	cat >"$WORK/plugin.sh" <<PLUGIN
#!/usr/bin/env bash
set -e
echo "\$(date +%s.%N) \$KUBERNETES_EXEC_INFO" >>"$WORK/calls"
token=\$(KUBECONFIG="$KUBECONFIG" "$KUBECTL" -n "$ns" create token execsa --duration=10m)
cat <<JSON
{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
 "status": {"token": "\$token", "expirationTimestamp": "\$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)"}}
JSON
PLUGIN
	chmod +x "$WORK/plugin.sh"
	cat >"$WORK/kc" <<KC
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$(server_of)", certificate-authority-data: "$(ca_data_of)"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin.sh
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- {name: x, context: {cluster: c, user: u, namespace: $ns}}
current-context: x
KC
	out=$("$PROBE" get --kubeconfig "$WORK/kc" --path "/api/v1/namespaces/$ns/configmaps" \
		--repeat 8 --interval 1)
	echo "$out"
	calls=$(wc -l <"$WORK/calls")
	assert_contains "$out" "ok 8"
	[ "$calls" -ge 2 ] || fail "the plugin ran $calls times in 7 s with 3 s credentials"
	assert_contains "$(head -1 "$WORK/calls")" '"cluster":{"server":"https://127.0.0.1'
	# The identity is the service account's: another namespace is forbidden.
	out=$("$PROBE" get --kubeconfig "$WORK/kc" --path /api/v1/namespaces/default/secrets 2>&1) &&
		fail "a service account read secrets of another namespace"
	assert_contains "$out" "403 Forbidden"
	assert_contains "$out" "system:serviceaccount:$ns:execsa"
	assert_not_contains "$out" "eyJ" "error output (a token leaked)"
}

test_in_cluster_config_from_env_and_files() {
	local ns sa_dir="$WORK/sa" port out
	ns=$(new_namespace)
	make_sa "$ns" incluster
	mkdir -p "$sa_dir"
	"$KUBECTL" -n "$ns" create token incluster >"$sa_dir/token"
	ca_data_of | base64 -d >"$sa_dir/ca.crt"
	echo -n "$ns" >"$sa_dir/namespace"
	port=$(server_of | sed 's/.*://')
	# The real path, /var/run/secrets/kubernetes.io/serviceaccount, in a
	# private mount namespace so the host is untouched.
	out=$(unshare -m bash -c "
		mount -t tmpfs tmpfs /run &&
		mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
		cp '$sa_dir'/* /run/secrets/kubernetes.io/serviceaccount/ &&
		unset KUBECONFIG &&
		export KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$port HOME=/nonexistent &&
		'$FORESIGHT' version --server &&
		'$PROBE' get --path /api/v1/namespaces/$ns/configmaps &&
		{ '$PROBE' get --path /api/v1/namespaces/default/configmaps 2>&1 || true; }")
	echo "$out"
	assert_contains "$out" "server v1.20.2"
	assert_contains "$out" "ok 1"
	assert_contains "$out" "system:serviceaccount:$ns:incluster"
}

test_requests_are_retried_while_the_apiserver_restarts() {
	local ns out probe_pid
	ns=$(new_namespace)
	defer '"$REPO/hack/control-plane.sh" apiserver start'
	"$REPO/hack/control-plane.sh" apiserver kill
	# Refused connections are retried with capped backoff (up to 10 s a wait).
	"$PROBE" get --path "/api/v1/namespaces/$ns/configmaps" --retries 8 >"$WORK/get.out" 2>&1 &
	probe_pid=$!
	sleep 2
	"$REPO/hack/control-plane.sh" apiserver start >/dev/null
	wait "$probe_pid" || fail "the GET failed: $(cat "$WORK/get.out")"
	out=$(cat "$WORK/get.out")
	echo "$out"
	assert_contains "$out" "ok 1"
	[ "$(echo "$out" | sed 's/.*retries //')" -ge 1 ] || fail "no retry was counted"
}

test_patch_types_and_server_side_apply() {
	local ns path out
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap cm --from-literal=a=1 >/dev/null
	path="/api/v1/namespaces/$ns/configmaps/cm"
	"$PROBE" patch --path "$path" --type merge --body '{"data":{"b":"2"}}'
	"$PROBE" patch --path "$path" --type json --body '[{"op":"replace","path":"/data/a","value":"3"}]'
	"$PROBE" patch --path "$path" --type apply --field-manager foresight-test \
		--body '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"c":"4"}}'
	out=$("$KUBECTL" -n "$ns" get configmap cm -o json --show-managed-fields)
	assert_eq "$(echo "$out" | jq -c .data)" '{"a":"3","b":"2","c":"4"}' "data"
	assert_contains "$(echo "$out" | jq -r '[.metadata.managedFields[].manager] | join(",")')" \
		"foresight-test"
	# A JSON patch whose test fails is the server's 422, reported with its message.
	out=$("$PROBE" patch --path "$path" --type json --body '[{"op":"test","path":"/data/a","value":"nope"}]' 2>&1) &&
		fail "a failing JSON patch test succeeded"
	assert_contains "$out" "PATCH $path: 422"
}
