# The dashboard (`/` and `/ws`) in a real browser: Debian's chromium,
# headless, driven by playwright-core (tests/browser/dashboard.cjs), against
# the operator running with the real control plane, Prometheus and load-gen.

# setup_operator_env, apply_scaler, start_operator, replicas_of: from the
# operator's tests, without running those tests again here.
# shellcheck source=tests/e2e/test_operator.sh
source "$REPO/tests/e2e/test_operator.sh"
# shellcheck disable=SC2046 # one name per word
unset -f $(declare -F | awk '$3 ~ /^test_/ {print $3}')

# A scaler with a forecast (LinearTrend on 1 s steps: ready on 20 s of history),
# in ConcurrencyBudget BUDGET (10 units a replica) when one is named.
apply_forecast_scaler() { # ns name gauge [budget]
	local budget=""
	[ -z "${4:-}" ] || budget="  budget: {name: $4, unitsPerReplica: 10}"
	"$KUBECTL" -n "$1" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: $2}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: $2}
  minReplicas: 1
  maxReplicas: 10
  interval: 2s
  metrics:
  - {name: rps, query: 'sum($3)', targetPerReplica: 100}
  forecast: {model: LinearTrend, history: 5m, step: 1s, season: "0", leadTime: 5s}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
$budget
FS
}

# A WebSocket handshake with /ws; prints the HTTP status line.
ws_handshake() { # port [curl header options]
	local port=$1
	shift
	curl -s -i --max-time 2 "http://127.0.0.1:$port/ws" \
		-H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" \
		-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" "$@" 2>/dev/null | head -1 | tr -d '\r'
}

test_dashboard_in_a_browser() {
	local ns cache out pw
	cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
	pw="$cache/node_modules/playwright-core"
	[ -d "$pw" ] || fail "playwright-core is missing in $cache/node_modules: run hack/deps.sh"
	command -v chromium >/dev/null || fail "chromium is missing: run hack/deps.sh"

	setup_operator_env
	ns=$(new_namespace)
	echo 150 >"$LOAD_DIR/web_rps"
	echo 500 >"$LOAD_DIR/api_rps"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	"$KUBECTL" -n "$ns" create deployment api --image=nginx --replicas=1 >/dev/null
	"$KUBECTL" -n "$ns" apply -f - <<CB >/dev/null
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ConcurrencyBudget
metadata: {name: db}
spec: {capacity: 100, maxConcurrentScaleUps: 0}
CB
	apply_forecast_scaler "$ns" web web_rps db
	apply_scaler "$ns" api api_rps DryRun
	# The model's first fit wants 20 samples; one a second.
	wait_until 60 '[ "$(curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=count_over_time(web_rps[5m])" | jq -r ".data.result[0].value[1]")" -ge 25 ]'
	start_operator "$ns"
	wait_until 30 '[ "$(replicas_of "$ns" web)" = 2 ]'

	# --listen 127.0.0.1:PORT is this host only; the page and its two files are served.
	out=$(ss -Htln "sport = :$OP_PORT" | awk '{print $4}')
	assert_eq "$out" "127.0.0.1:$OP_PORT" "the listening address"
	curl -sf "http://127.0.0.1:$OP_PORT/" | grep -q '<script src="dashboard.js"'
	curl -sfI "http://127.0.0.1:$OP_PORT/dashboard.js" | grep -qi '^content-type: text/javascript'
	curl -sfI "http://127.0.0.1:$OP_PORT/dashboard.css" | grep -qi '^content-type: text/css'
	# /ws: its subprotocol, and only from the page's own origin.
	assert_contains "$(ws_handshake "$OP_PORT" -H "Sec-WebSocket-Protocol: foresight-dashboard" \
		-H "Origin: http://127.0.0.1:$OP_PORT")" " 101 " "the handshake from the page's origin"
	assert_not_contains "$(ws_handshake "$OP_PORT" -H "Sec-WebSocket-Protocol: foresight-dashboard" \
		-H "Origin: http://evil.example")" " 101 " "the handshake from another origin"
	assert_not_contains "$(ws_handshake "$OP_PORT")" " 101 " "the handshake without the subprotocol"

	(
		cd "$REPO/tests/browser"
		PLAYWRIGHT_CORE="$pw" DASH_URL="http://127.0.0.1:$OP_PORT/" \
			DASH_KEYS="$ns/api,$ns/web" DASH_BUDGETS="$ns/db" DASH_CHART="$ns/web" \
			DASH_LOAD_FILE="$LOAD_DIR/web_rps" DASH_LOAD_VALUE=450 DASH_OUT="$WORK" \
			DASH_RESTART=1 node dashboard.cjs
	) >"$WORK/browser.log" 2>&1 &
	local browser=$!
	echo "$browser" >>"$WORK/pids"
	wait_until 120 'grep -q "phase 1 ok" "$WORK/browser.log" || ! kill -0 $browser'
	cat "$WORK/browser.log"
	"$KUBECTL" -n "$ns" get cbudget db -o jsonpath='{.status}{"\n"}'
	grep -q "phase 1 ok" "$WORK/browser.log" || fail "the browser test failed"
	# The scale the page showed is the one the Deployment got.
	wait_until 20 '[ "$(replicas_of "$ns" web)" -ge 4 ]'

	# The operator restarts (same port): the page reconnects by itself.
	kill -TERM "$OP_PID"
	wait "$OP_PID" || fail "the operator exited with status $? on SIGTERM"
	"$FORESIGHT" run --namespace "$ns" --prometheus-url "$PROM_URL" \
		--listen "127.0.0.1:$OP_PORT" >"$WORK/operator-2.log" 2>&1 &
	OP_PID=$!
	echo $OP_PID >>"$WORK/pids"
	wait "$browser" || {
		cat "$WORK/browser.log"
		fail "the browser test failed after the restart"
	}
	cat "$WORK/browser.log"
	assert_contains "$(cat "$WORK/browser.log")" "phase 2 ok"
	[ -s "$WORK/dashboard.png" ] || fail "no screenshot"
	echo "screenshots: $WORK/dashboard.png, $WORK/dashboard-after-restart.png"
}

# The laptop preview: `foresight run --dry-run` writes nothing, and the page
# shows what it would do (a hollow marker) as it decides it.
test_dashboard_with_dry_run() {
	local ns cache pw
	cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
	pw="$cache/node_modules/playwright-core"
	[ -d "$pw" ] || fail "playwright-core is missing in $cache/node_modules: run hack/deps.sh"

	setup_operator_env
	ns=$(new_namespace)
	echo 150 >"$LOAD_DIR/shop_rps"
	"$KUBECTL" -n "$ns" create deployment shop --image=nginx --replicas=2 >/dev/null
	apply_forecast_scaler "$ns" shop shop_rps
	# Text from outside reaches the page: here Prometheus's error, quoting the
	# markup of a query's regular expression, in the failing metric's condition.
	"$KUBECTL" -n "$ns" create deployment labels --image=nginx --replicas=1 >/dev/null
	"$KUBECTL" -n "$ns" apply -f - <<'FS'
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: labels}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: labels}
  maxReplicas: 4
  interval: 2s
  metrics:
  - name: load
    query: 'label_replace(vector(1), "x", "y", "", "<img src=x onerror=window.pwned=1>(")'
    targetPerReplica: 100
  forecast: {model: None}
FS
	wait_until 60 '[ "$(curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=count_over_time(shop_rps[5m])" | jq -r ".data.result[0].value[1]")" -ge 25 ]'
	start_operator "$ns" --dry-run
	(
		cd "$REPO/tests/browser"
		PLAYWRIGHT_CORE="$pw" DASH_URL="http://127.0.0.1:$OP_PORT/" \
			DASH_KEYS="$ns/shop,$ns/labels" DASH_HOSTILE="$ns/labels" \
			DASH_CHART="$ns/shop" DASH_EVENT=would \
			DASH_LOAD_FILE="$LOAD_DIR/shop_rps" DASH_LOAD_VALUE=450 DASH_OUT="$WORK" \
			node dashboard.cjs
	) >"$WORK/browser.log" 2>&1 || {
		cat "$WORK/browser.log"
		fail "the browser test failed"
	}
	cat "$WORK/browser.log"
	assert_contains "$(cat "$WORK/browser.log")" "would-scale event 2 -> "
	assert_contains "$(cat "$WORK/browser.log")" "markup in a Prometheus error is shown as text"
	# /metrics, for its part, stays valid exposition text (promtool reads it).
	curl -sf "http://127.0.0.1:$OP_PORT/metrics" >"$WORK/metrics.txt"
	promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.log" 2>&1 || true
	! grep -qi "error" "$WORK/promtool.log" || fail "promtool check metrics: $(cat "$WORK/promtool.log")"
	grep -q "^foresight_" "$WORK/metrics.txt" || fail "no metrics"
	# Nothing was written: the replicas and the status are as they were.
	assert_eq "$(replicas_of "$ns" shop)" 2 "replicas"
	assert_eq "$(fs_field "$ns" shop '{.status}')" "" "status"
}
