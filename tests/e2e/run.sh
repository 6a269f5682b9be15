#!/usr/bin/env bash
# The end-to-end harness: brings a real control plane (etcd, kube-apiserver,
# kube-controller-manager, fake kubelet) up once, runs every test_* function
# of tests/e2e/test_*.sh against it, and brings it down at the end, also on
# failure or interrupt. Ends with `e2e: N passed, N failed`.
#   tests/e2e/run.sh [PATTERN]    run only the tests whose function or file name has PATTERN
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$here/../.." && pwd)
pattern=${1:-}
cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
BINDIR=$(cd "$REPO/${BINDIR:-bin}" && pwd)
FORESIGHT="$BINDIR/foresight"
KUBECTL="$cache/bin/kubectl"
out="${E2E_OUT:-$REPO/tests/out/e2e}"
export REPO BINDIR FORESIGHT KUBECTL
export FORESIGHT_BINDIR="$BINDIR"

[ -x "$FORESIGHT" ] || { echo "e2e: $FORESIGHT is missing: run make"; echo "e2e: 0 passed, 1 failed"; exit 1; }
[ -x "$KUBECTL" ] || { echo "e2e: $KUBECTL is missing: run hack/deps.sh"; echo "e2e: 0 passed, 1 failed"; exit 1; }

CP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/foresight-e2e.XXXXXX")
export CP_DIR FORESIGHT_CP_DIR="$CP_DIR"
rm -rf "$out"
mkdir -p "$out"

cleanup() {
	"$REPO/hack/control-plane.sh" down >/dev/null 2>&1 || true
	rm -rf "$CP_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every request is audited (metadata only), so a test can prove what a
# client did or did not write: AUDIT_LOG, one JSON event per line.
mkdir -p "$out/audit"
audit_dir=$(cd "$out/audit" && pwd)
AUDIT_LOG="$audit_dir/audit.log"
cat >"$audit_dir/policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
POLICY
export AUDIT_LOG FORESIGHT_APISERVER_ARGS="${FORESIGHT_APISERVER_ARGS:-} --audit-policy-file=$audit_dir/policy.yaml --audit-log-path=$AUDIT_LOG --audit-log-maxsize=200 --audit-log-maxbackup=1"

echo "e2e: starting the control plane in $CP_DIR"
if ! env_line=$("$REPO/hack/control-plane.sh" up 2>"$out/control-plane-up.log"); then
	cat "$out/control-plane-up.log"
	echo "e2e: 0 passed, 1 failed"
	exit 1
fi
eval "$env_line"
export KUBECONFIG

passed=0
failed=0
failed_names=()
for file in "$here"/test_*.sh; do
	for name in $(bash -c "source '$file'; declare -F" | awk '$3 ~ /^test_/ {print $3}'); do
		[ -z "$pattern" ] || [[ "$name" == *$pattern* ]] || [[ "$(basename "$file")" == *$pattern* ]] || continue
		log="$out/$name.log"
		WORK=$(mktemp -d "$out/$name.XXXX")
		start=$SECONDS
		(
			export WORK
			set -e
			[ -z "${E2E_TRACE:-}" ] || set -x
			# shellcheck source=/dev/null
			source "$here/lib.sh"
			# Whatever the test started is stopped, also when it fails half-way.
			trap stop_started EXIT
			# shellcheck source=/dev/null
			source "$file"
			"$name"
		) >"$log" 2>&1
		status=$?
		if [ $status -eq 0 ]; then
			passed=$((passed + 1))
			printf 'ok      %-60s %3ds\n' "$name" $((SECONDS - start))
		else
			failed=$((failed + 1))
			failed_names+=("$name")
			printf 'FAILED  %-60s %3ds\n' "$name" $((SECONDS - start))
			sed 's/^/    | /' "$log" | tail -25
		fi
	done
done

# The fake kubelet ran all along, built like the rest (with sanitizers under
# SANITIZE=...): stop it first and read its log for their reports.
if kubelet_pid=$(cat "$CP_DIR/pids/fake-kubelet" 2>/dev/null) && kill -TERM "$kubelet_pid" 2>/dev/null; then
	for _ in $(seq 1 50); do
		kill -0 "$kubelet_pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -qE 'Sanitizer|runtime error:' "$CP_DIR/logs/fake-kubelet.log"; then
		failed=$((failed + 1))
		failed_names+=(fake-kubelet-sanitizer)
		echo "FAILED  the fake kubelet's log has a sanitizer report:"
		sed 's/^/    | /' "$CP_DIR/logs/fake-kubelet.log" | head -40
	fi
fi

if [ $failed -gt 0 ]; then
	echo "e2e: failed: ${failed_names[*]} (logs in $out; control plane logs copied to $out/control-plane)"
	cp -r "$CP_DIR/logs" "$out/control-plane" 2>/dev/null || true
fi
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
