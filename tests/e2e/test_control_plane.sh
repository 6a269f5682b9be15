# The local control plane and the fake kubelet behave like a small cluster.

test_deployment_becomes_ready_and_scales() {
	local ns
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=3
	wait_until 60 'test "$("$KUBECTL" -n "$ns" get deploy web -o jsonpath="{.status.readyReplicas}")" = 3'
	"$KUBECTL" -n "$ns" get deploy web
	"$KUBECTL" -n "$ns" get pods -o wide
	# Scaled down, the pods it removes must not hang in Terminating.
	"$KUBECTL" -n "$ns" scale deploy web --replicas=1
	wait_until 60 'test "$("$KUBECTL" -n "$ns" get pods --no-headers | wc -l)" = 1'
	"$KUBECTL" -n "$ns" scale deploy web --replicas=4
	wait_until 60 'test "$("$KUBECTL" -n "$ns" get deploy web -o jsonpath="{.status.readyReplicas}")" = 4'
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_pods_wait_the_start_delay() {
	local ns created ready
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" run solo --image=nginx --restart=Never
	wait_until 30 'test "$("$KUBECTL" -n "$ns" get pod solo -o jsonpath="{.status.phase}")" = Running'
	created=$(date -d "$("$KUBECTL" -n "$ns" get pod solo -o jsonpath='{.metadata.creationTimestamp}')" +%s)
	ready=$(date -d "$("$KUBECTL" -n "$ns" get pod solo -o jsonpath='{.status.startTime}')" +%s)
	echo "ready $((ready - created))s after creation (delay ${FORESIGHT_POD_START_DELAY:-2}s)"
	[ $((ready - created)) -ge 1 ] || fail "pod was ready before the start delay"
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_status_lists_every_component() {
	local out
	out=$("$REPO/hack/control-plane.sh" status)
	for c in etcd kube-apiserver kube-controller-manager fake-kubelet; do
		assert_contains "$out" "$c"
	done
	assert_not_contains "$out" "stopped"
}

test_second_plane_starts_from_cache_and_down_leaves_nothing() {
	local dir="$WORK/plane" up_log env_line start elapsed
	start=$SECONDS
	env_line=$(FORESIGHT_CP_DIR="$dir" "$REPO/hack/control-plane.sh" up 2>"$WORK/up.log")
	elapsed=$((SECONDS - start))
	up_log=$(cat "$WORK/up.log")
	assert_contains "$up_log" "cached build"
	echo "second control plane ready in ${elapsed}s"
	assert_eq "$env_line" "export KUBECONFIG=$dir/admin.kubeconfig" "printed line"
	KUBECONFIG="$dir/admin.kubeconfig" "$KUBECTL" get --raw /readyz
	FORESIGHT_CP_DIR="$dir" "$REPO/hack/control-plane.sh" down
	[ ! -e "$dir" ] || fail "$dir still exists after down"
	if pgrep -f -- "$dir" >/dev/null; then
		pgrep -a -f -- "$dir"
		fail "processes of the second plane still run after down"
	fi
	# The plane of the other tests is untouched.
	"$KUBECTL" get --raw /readyz >/dev/null
}
