# Helpers for the end-to-end tests; sourced by tests/e2e/run.sh.
# A test is a shell function named test_* in a tests/e2e/test_*.sh file. It
# runs in its own subshell with `set -e`; it passes when it returns 0.
# Available: $REPO, $BINDIR, $FORESIGHT, $KUBECTL, $KUBECONFIG, $CP_DIR,
# $WORK (a scratch dir of the test's own).

# Fails the test with a message.
fail() {
	echo "FAIL: $*" >&2
	return 1
}

assert_contains() { # haystack needle [what]
	case "$1" in
	*"$2"*) return 0 ;;
	esac
	fail "${3:-output} does not contain \"$2\"; it is:
$1"
}

assert_not_contains() { # haystack needle [what]
	case "$1" in
	*"$2"*) fail "${3:-output} contains \"$2\"; it is:
$1" ;;
	esac
	return 0
}

assert_eq() { # actual expected [what]
	[ "$1" = "$2" ] || fail "${3:-value} is \"$1\", expected \"$2\""
}

# Re-evaluates a condition (one shell string, quoted so that it is expanded
# anew each time) until it holds, for at most SECONDS.
wait_until() { # seconds 'condition'
	local seconds=$1 deadline
	deadline=$((SECONDS + seconds))
	until eval "$2" >/dev/null 2>&1; do
		# return as well: inside `if` or `||`, set -e would not end the loop
		[ $SECONDS -lt $deadline ] || { fail "not true after ${seconds}s: $2"; return 1; }
		sleep 0.5
	done
}

# The value of one series (name and labels, exactly) on the operator's /metrics at OP_PORT.
op_series() { # 'name{labels}'
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" | awk -v s="$1" '$1 == s {print $2}'
}

# Creates a namespace of the test's own and prints its name.
new_namespace() {
	local ns
	ns="e2e-$(echo "${FUNCNAME[1]:-t}" | tr '_' '-' | cut -c1-40)-$RANDOM"
	"$KUBECTL" create namespace "$ns" >/dev/null
	echo "$ns"
}

# A free TCP port on loopback.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		ss -Htln "sport = :$p" | grep -q . || {
			echo "$p"
			return
		}
	done
}

# Installs Foresight's CRDs (idempotent) and waits until they are served.
install_crds() {
	"$KUBECTL" apply -f "$REPO/crd/" >/dev/null
	# Not `kubectl wait`: it fails at once on a CRD whose status is not written yet.
	local crd
	for crd in forecastscalers concurrencybudgets; do
		wait_until 30 "[ \"\$(\"\$KUBECTL\" get crd $crd.autoscaling.foresight.dev -o jsonpath='{.status.conditions[?(@.type==\"Established\")].status}')\" = True ]"
	done
}

# Starts load-gen serving the numbers in $WORK/load/NAME as gauges; sets LOAD_DIR, LOAD_PORT.
start_load_gen() {
	LOAD_DIR="$WORK/load"
	LOAD_PORT=$(free_port)
	mkdir -p "$LOAD_DIR"
	"$BINDIR/load-gen" --listen "127.0.0.1:$LOAD_PORT" --dir "$LOAD_DIR" \
		>"$WORK/load-gen.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 10 'curl -sf "http://127.0.0.1:$LOAD_PORT/metrics" >/dev/null'
}

# Starts a Prometheus scraping load-gen every second; sets PROM_URL, PROM_PORT.
start_prometheus() {
	PROM_PORT=$(free_port)
	PROM_URL="http://127.0.0.1:$PROM_PORT"
	mkdir -p "$WORK/prom"
	cat >"$WORK/prometheus.yml" <<PROMCFG
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: load
  static_configs: [{targets: ["127.0.0.1:$LOAD_PORT"]}]
PROMCFG
	prometheus --config.file "$WORK/prometheus.yml" --storage.tsdb.path "$WORK/prom" \
		--web.listen-address "127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
	echo $! >"$WORK/prometheus.pid"
	echo $! >>"$WORK/pids"
	wait_until 30 'curl -sf "$PROM_URL/-/ready" >/dev/null'
}

# Runs a command when the test ends, passed or failed (the harness calls
# stop_started on exit).
defer() { # 'command'
	echo "$1" >>"$WORK/deferred"
}

# Runs what was deferred, then kills every process a test started with
# start_* (their pids are in $WORK/pids). The harness calls it when a test
# ends; a test may call it earlier.
stop_started() {
	if [ -f "$WORK/deferred" ]; then
		while read -r cmd; do eval "$cmd" >/dev/null 2>&1 || true; done <"$WORK/deferred"
		rm -f "$WORK/deferred"
	fi
	[ -f "$WORK/pids" ] || return 0
	while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$WORK/pids"
	rm -f "$WORK/pids"
}

# Waits until Prometheus ($PROM_URL) has a sample for QUERY.
wait_for_series() { # query [curl options]
	local q=$1
	shift
	local opts="$*"
	# shellcheck disable=SC2086 # curl options are split on purpose
	wait_until 20 '[ -n "$(curl -sf $opts "$PROM_URL/api/v1/query?query=$q" | jq -r ".data.result[0].value[1] // empty")" ]'
}
