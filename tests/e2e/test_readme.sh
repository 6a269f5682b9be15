# The README's copy-paste commands ("Install with Helm", "Try it on your
# cluster without changing anything") run as written against the real
# apiserver, with this run's Prometheus, kubeconfig and build in place of
# localhost:9090, ~/.kube/config and bin/foresight. `make` and `make image`
# are left out: `make test` built the binary, test_image.sh builds the image.

# The shell commands of a README section, continuation lines joined.
readme_commands() { # heading
	awk -v h="$1" '
		/^## / {on = ($0 == "## " h); next}
		on && /^```sh/ {code = 1; next}
		on && /^```/ {code = 0; next}
		on && code {
			sub(/[ \t]+#.*$/, "")
			if (sub(/\\$/, "")) {cont = cont $0; next}
			print cont $0; cont = ""
		}' "$REPO/README.md"
}

run_readme() { # heading
	local cmd status
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		case "$cmd" in make | "make "*) echo "skipped: $cmd"; continue ;; esac
		cmd=${cmd//bin\/foresight/$FORESIGHT}
		cmd=${cmd//\~\/.kube\/config/$KUBECONFIG}
		cmd=${cmd//http:\/\/localhost:9090/${PROM_URL:-http://localhost:9090}}
		echo "\$ $cmd"
		status=0
		(cd "$REPO" && PATH="$(dirname "$KUBECTL"):$PATH" bash -c "$cmd") || status=$?
		# `run --once` exits 1 when some scaler could not be evaluated: the
		# cluster holds the other tests' broken scalers on purpose.
		[ "$status" -eq 0 ] || { [ "$status" -eq 1 ] && [[ "$cmd" == *" --once "* ]]; } ||
			fail "README command failed with status $status: $cmd"
	done < <(readme_commands "$1")
}

test_readme_install_with_helm() {
	local cmds
	cmds=$(readme_commands "Install with Helm")
	echo "$cmds"
	assert_contains "$cmds" "helm install foresight charts/foresight -n foresight-system"
	defer "'$(dirname "$KUBECTL")/helm' uninstall foresight -n foresight-system"
	defer "'$KUBECTL' delete namespace foresight-system --wait=false"
	defer "'$KUBECTL' delete deployment web -n default"
	defer "'$KUBECTL' delete fs web -n default"
	run_readme "Install with Helm"
	assert_eq "$("$KUBECTL" -n foresight-system get deploy foresight -o jsonpath='{.status.readyReplicas}')" 1
	assert_eq "$("$KUBECTL" get fs web -o jsonpath='{.spec.targetRef.name}')" web
}

test_readme_try_it_without_changing_anything() {
	local out ns
	# shellcheck source=/dev/null
	source "$REPO/tests/e2e/test_operator.sh" # apply_scaler
	setup_operator_env
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create deployment shop --image=nginx --replicas=1 >/dev/null
	echo 250 >"$LOAD_DIR/shop_rps"
	apply_scaler "$ns" shop shop_rps Auto
	wait_for_series shop_rps
	out=$(run_readme "Try it on your cluster without changing anything")
	echo "$out"
	# Every scaler of the cluster is in the table, the broken ones with why.
	assert_contains "$out" "SCALER"
	assert_contains "$out" "$ns/shop"
	# 250 at 100 a replica: 1 would go to 3 (current, desired).
	assert_eq "$(awk -v k="$ns/shop" '$1 == k {print $3, $4}' <<<"$out")" "1 3"
	assert_eq "$(replicas_of "$ns" shop)" 1
}
