# A periodic load with days of history: the operator provisions a peak one
# lead time ahead, so the replicas it needs are READY before the load rises,
# shows its forecast in `kubectl get fs`, and scales down once the peak has
# passed and the stabilisation window has run out.
#
# The load is a trace load-gen replays 30 times faster than its timestamps
# (a one-minute bucket every 2 s): a compressed "day" of 40 buckets (80 s),
# 80 rps (one replica of 100) for most of it and a peak of 450 (five
# replicas) for about 16 s, with 2% noise. Prometheus gets 8 compressed days
# of it backfilled with promtool before it starts scraping.

# Writes the trace: ROWS one-minute buckets from Unix time 1400000000.
periodic_trace() { # file rows
	awk -v rows="$2" 'BEGIN {
		srand(42)
		print "timestamp,value"
		for (i = 0; i < rows; i++) {
			b = i % 40
			if (b == 29 || b == 36) v = 265
			else if (b >= 30 && b <= 35) v = 450
			else v = 80
			printf "%d,%.2f\n", 1400000000 + 60 * i, v * (1 + 0.04 * (rand() - 0.5))
		}
	}' >"$1"
}

# Time-stamps every line of standard input (Unix seconds, fractional).
stamp_lines() {
	while read -r line; do echo "$(date +%s.%N) $line"; done
}

# The first time in FILE ("time value" lines) where the value meets `cond`
# (an awk expression on v) at or after time FROM; empty when none.
first_time() { # file from cond
	awk -v from="$2" "\$1 >= from { v = \$2; if ($3) { print \$1; exit } }" "$1"
}

test_periodic_load_is_provisioned_before_it_rises() {
	local ns op_port op_pid t0 t_peak t_rise t_safe t_ready t_fall t_down peak out row fc metrics evals \
		queries refits
	# `kubectl wait` fails at once on a CRD whose status is not written yet
	# (a fresh control plane): wait for Established here first.
	"$KUBECTL" apply -f "$REPO/crd/" >/dev/null
	wait_until 30 '[ "$("$KUBECTL" get crd forecastscalers.autoscaling.foresight.dev -o jsonpath="{.status.conditions[?(@.type==\"Established\")].status}")" = True ]'
	install_crds
	ns=$(new_namespace)
	periodic_trace "$WORK/trace.csv" 480

	# load-gen replays from bucket 1 + 320 (phase 1 of a day: the next rise,
	# bucket 28 -> 29, is 54 s away) and writes the 320 buckets before that
	# as OpenMetrics, labelled like the series Prometheus will scrape.
	LOAD_PORT=$(free_port)
	"$BINDIR/load-gen" --replay "$WORK/trace.csv" --speed 30 --metric periodic_rps \
		--offset 1 --history-buckets 320 --backfill "$WORK/history.om" \
		--backfill-labels "job=\"load\",instance=\"127.0.0.1:$LOAD_PORT\"" \
		--listen "127.0.0.1:$LOAD_PORT" >"$WORK/load-gen.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 20 '[ -f "$WORK/history.om" ] && curl -sf "http://127.0.0.1:$LOAD_PORT/metrics"'
	cat "$WORK/load-gen.log"
	assert_eq "$(tail -1 "$WORK/history.om")" "# EOF" "the backfill's last line"
	# The replay's start: the time of the last backfilled sample.
	t0=$(tail -2 "$WORK/history.om" | head -1 | awk '{print $NF}')
	promtool tsdb create-blocks-from openmetrics "$WORK/history.om" "$WORK/prom"
	start_prometheus
	# 640 s of history at one sample a second.
	wait_until 10 '[ "$(curl -sf "$PROM_URL/api/v1/query" --data-urlencode "query=count_over_time(periodic_rps[15m])" | jq -r ".data.result[0].value[1]")" -ge 600 ]'

	# Recorders: the load as load-gen serves it, every 0.2 s; the
	# Deployment's replicas and ready replicas on every change (a watch).
	(
		while :; do
			curl -sf --max-time 1 "http://127.0.0.1:$LOAD_PORT/metrics" |
				awk 'index($1, "periodic_rps{") == 1 {print $2}' | stamp_lines
			sleep 0.2
		done
	) >"$WORK/load.txt" 2>/dev/null &
	echo $! >>"$WORK/pids"
	"$KUBECTL" -n "$ns" create deployment web --image=nginx --replicas=1 >/dev/null
	mkfifo "$WORK/deploy.fifo"
	"$KUBECTL" -n "$ns" get deploy web -w \
		-o jsonpath='{.spec.replicas}{" "}{.status.readyReplicas}{"\n"}' >"$WORK/deploy.fifo" &
	echo $! >>"$WORK/pids"
	stamp_lines <"$WORK/deploy.fifo" >"$WORK/deploy.txt" &
	echo $! >>"$WORK/pids"

	"$KUBECTL" -n "$ns" apply -f - <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: web}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  interval: 2s
  metrics:
  - {name: rps, query: 'sum(periodic_rps)', targetPerReplica: 100}
  forecast: {model: Auto, history: 10m, step: 2s, season: 80s, leadTime: 16s, quantile: 0.9, maxError: 0.3}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 5, periodSeconds: 2}]
    scaleDown:
      stabilizationWindowSeconds: 10
      policies: [{type: Percent, value: 100, periodSeconds: 2}]
FS
	op_port=$(free_port)
	"$FORESIGHT" run --namespace "$ns" --prometheus-url "$PROM_URL" \
		--listen "127.0.0.1:$op_port" --log-level debug >"$WORK/operator.log" 2>&1 &
	op_pid=$!
	echo $op_pid >>"$WORK/pids"
	wait_until 30 'curl -sf "http://127.0.0.1:$op_port/readyz"'

	# The forecast is ready at once (history was backfilled), before the rise.
	wait_until 30 '[ "$("$KUBECTL" -n "$ns" get fs web -o jsonpath="{.status.conditions[?(@.type==\"ForecastReady\")].status}")" = True ]'
	out=$("$KUBECTL" -n "$ns" get fs web)
	echo "$out"
	row=$(echo "$out" | awk '$1 == "web"')
	fc=$(echo "$row" | awk '{print $7}')
	[[ "$fc" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "the FORECAST column is \"$fc\", not a number: $row"
	assert_eq "$(echo "$row" | awk '{print $8}')" Auto "MODE column"
	"$KUBECTL" -n "$ns" get fs web -o jsonpath='{.status.metrics[0]}'
	echo
	assert_eq "$(head -1 "$WORK/deploy.txt" | awk '{print $2}')" 1 "replicas before the peak"

	# The peak comes ~54 s after t0 and lasts ~16 s; then the load falls
	# and, 10 s of stabilisation later, the replicas follow.
	wait_until 120 '[ -n "$(first_time "$WORK/load.txt" "$t0" "v > 400")" ]'
	t_peak=$(first_time "$WORK/load.txt" "$t0" "v > 400")
	wait_until 60 '[ -n "$(first_time "$WORK/load.txt" "$t_peak" "v < 400")" ]'
	t_fall=$(first_time "$WORK/load.txt" "$t_peak" "v < 400")
	wait_until 60 'awk -v t="$t_peak" "\$1 > t && \$2 == 1" "$WORK/deploy.txt" | grep -q .'
	echo "load (time value):"
	awk -v t0="$t0" '{printf "  %6.1f %s\n", $1 - t0, $2}' "$WORK/load.txt" | awk 'NR % 5 == 1'
	echo "deployment (time replicas ready):"
	awk -v t0="$t0" '{printf "  %6.1f %s %s\n", $1 - t0, $2, $3}' "$WORK/deploy.txt"
	grep -E 'Scaled|fitted' "$WORK/operator.log" || true

	# When the load rose past what one replica carries (100): the last
	# sample still under it, to be fair to the load.
	t_rise=$(first_time "$WORK/load.txt" "$t0" "v > 100")
	t_safe=$(awk -v t="$t_rise" '$1 < t { last = $1 } END { print last }' "$WORK/load.txt")
	# When five replicas (450 at 100 each) were ready.
	t_ready=$(awk '$3 >= 5 { print $1; exit }' "$WORK/deploy.txt")
	[ -n "$t_ready" ] || fail "five replicas were never ready"
	echo "five replicas ready at t0+$(awk -v a="$t_ready" -v b="$t0" 'BEGIN {printf "%.1f", a - b}') s; the load passed 100 at t0+$(awk -v a="$t_safe" -v b="$t0" 'BEGIN {printf "%.1f", a - b}') s"
	awk -v r="$t_ready" -v s="$t_safe" 'BEGIN { exit !(r < s) }' ||
		fail "five replicas were ready at $t_ready, after the load rose past one replica's 100 at $t_safe"

	# The scale-down: not before the load fell under the peak's need and the
	# 10 s window (less one 2 s interval) had passed; then down to one.
	peak=$(awk '$2 > m { m = $2 } END { print m }' "$WORK/deploy.txt")
	t_down=$(awk -v t="$t_ready" -v p="$peak" '$1 > t && $2 < p { print $1; exit }' "$WORK/deploy.txt")
	echo "the load fell under 400 at t0+$(awk -v a="$t_fall" -v b="$t0" 'BEGIN {printf "%.1f", a - b}') s; the first scale-down at t0+$(awk -v a="$t_down" -v b="$t0" 'BEGIN {printf "%.1f", a - b}') s"
	awk -v d="$t_down" -v f="$t_fall" 'BEGIN { exit !(d >= f + 7) }' ||
		fail "scaled down at $t_down, within the 10 s stabilisation window after the load fell at $t_fall"
	assert_eq "$("$KUBECTL" -n "$ns" get deploy web -o jsonpath='{.spec.replicas}')" 1 "replicas after the peak"

	# The interval is the step: every evaluation falls on a bucket and reads
	# it and the current value in one range query. A refit reads the history
	# and then the value: one query more each.
	metrics=$(curl -sf "http://127.0.0.1:$op_port/metrics")
	evals=$(echo "$metrics" | awk '$1 == "foresight_reconcile_duration_seconds_count" {print $2}')
	queries=$(echo "$metrics" | awk '$1 == "foresight_prometheus_queries_total" {print $2}')
	refits=$(grep -c ': fitted ' "$WORK/operator.log" || true)
	echo "$queries Prometheus queries for $evals evaluations and $refits refits"
	[ "$evals" -ge 30 ] || fail "only $evals evaluations"
	[ "$queries" -le $((evals + refits + 2)) ] ||
		fail "$queries Prometheus queries for $evals evaluations and $refits refits: not one an evaluation"
	kill -TERM "$op_pid"
	wait "$op_pid" || fail "the operator exited with status $? on SIGTERM"
}
