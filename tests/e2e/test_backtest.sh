# `foresight backtest` (../shared/BACKTEST.md) on the shared traces: the
# frontier against the reference table of issue #4, bad input, gaps, the CSV
# and SVG outputs, a ForecastScaler manifest as --spec, and a real Prometheus
# (promtool-backfilled) as the source, which must give the CSV's figures.

TRACES="$REPO/tests/fixtures/traces"

# The cost_ratio of POLICY in a --frontier table; "-" when it cannot meet the SLO.
frontier_cost() { # output policy
	awk -v p="$2" '/^frontier:/ {f = 1} f && $1 == p {print (/cannot/ ? "-" : $(NF - 1))}' <<<"$1"
}

# foresight within 3% of the reference (statsmodels Holt-Winters, one step
# ahead, same warm-up) and cheaper than reactive, on every row of the table.
test_backtest_meets_the_reference_table() {
	local file season cap slo reactive_ref reference out fs re
	while read -r file season cap slo reactive_ref reference; do
		out=$("$FORESIGHT" backtest --season "$season" --capacity-per-replica "$cap" \
			--frontier "$slo" "$TRACES/$file")
		echo "$out"
		fs=$(frontier_cost "$out" foresight)
		re=$(frontier_cost "$out" reactive)
		[ "$fs" != "-" ] || fail "$file at $slo%: foresight cannot meet the SLO"
		awk -v fs="$fs" -v ref="$reference" 'BEGIN {exit !(fs <= ref * 1.03)}' ||
			fail "$file at $slo%: foresight costs $fs, more than 3% over the reference $reference"
		awk -v fs="$fs" -v re="$re" 'BEGIN {exit !(fs < re)}' ||
			fail "$file at $slo%: foresight $fs is not cheaper than reactive $re"
		# Our reactive is the same policy as the reference's: its cost agrees.
		awk -v re="$re" -v ref="$reactive_ref" 'BEGIN {d = re / ref; exit !(d > 0.97 && d < 1.03)}' ||
			fail "$file at $slo%: reactive costs $re, the reference's reactive $reactive_ref"
	done <<'TABLE'
nyc_taxi.csv 1d 1000 1 1.645 1.162
Twitter_volume_AMZN.csv 1d 20 5 1.334 1.271
Twitter_volume_AMZN.csv 1d 20 1 1.816 1.564
Twitter_volume_GOOG.csv 1d 5 5 2.090 1.554
TABLE
}

# At every SLO that reactive can meet, foresight meets it for less.
test_backtest_foresight_beats_reactive_at_every_slo() {
	local file cap slo out fs re
	while read -r file cap; do
		for slo in 0.5 2 10; do
			out=$("$FORESIGHT" backtest --season 1d --capacity-per-replica "$cap" \
				--frontier "$slo" "$TRACES/$file")
			fs=$(frontier_cost "$out" foresight)
			re=$(frontier_cost "$out" reactive)
			echo "$file SLO $slo%: reactive $re foresight $fs"
			[ "$re" != "-" ] || continue
			[ "$fs" != "-" ] || fail "$file at $slo%: reactive meets it, foresight does not"
			awk -v fs="$fs" -v re="$re" 'BEGIN {exit !(fs < re)}' ||
				fail "$file at $slo%: foresight $fs is not cheaper than reactive $re"
		done
	done <<'TRACES'
nyc_taxi.csv 1000
Twitter_volume_AMZN.csv 20
Twitter_volume_GOOG.csv 5
TRACES
}

# Runs the backtest expecting exit status 2 and one line naming WHERE.
expect_bad_input() { # where args...
	local where=$1 status=0 err
	shift
	err=$("$FORESIGHT" backtest "$@" 2>&1 >/dev/null) || status=$?
	echo "$err"
	assert_eq "$status" 2 "exit status for: $*"
	assert_eq "$(wc -l <<<"$err")" 1 "lines of the error for: $*"
	assert_contains "$err" "$where"
}

test_backtest_rejects_bad_input_with_file_and_line() {
	local d=$WORK
	printf 'timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00\n' >"$d/short.csv"
	printf 'timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,lots\n' >"$d/word.csv"
	: >"$d/empty.csv"
	printf 'timestamp,value\n2014-07-01 01:00:00,1\n2014-07-01 00:30:00,2\n' >"$d/back.csv"
	expect_bad_input "$d/short.csv:3: expected two fields" --capacity-per-replica 1 "$d/short.csv"
	expect_bad_input "$d/word.csv:3: value \"lots\"" --capacity-per-replica 1 "$d/word.csv"
	expect_bad_input "$d/empty.csv:1: no rows" --capacity-per-replica 1 "$d/empty.csv"
	expect_bad_input "$d/back.csv:3: timestamp 2014-07-01 00:30:00 is not after line 2's" \
		--capacity-per-replica 1 "$d/back.csv"
	expect_bad_input "--model Prophet: unknown model" --model Prophet --capacity-per-replica 1 \
		"$TRACES/nyc_taxi.csv"
	expect_bad_input "--capacity-per-replica is required" "$TRACES/nyc_taxi.csv"
	expect_bad_input "$d/none.csv: cannot open" --capacity-per-replica 1 "$d/none.csv"
	write_spec "$d/bad.yaml" 50 40
	expect_bad_input "$d/bad.yaml:7: spec.minReplicas: must not exceed spec.maxReplicas" \
		--spec "$d/bad.yaml" "$TRACES/nyc_taxi.csv"
}

test_backtest_reports_gaps_with_their_line() {
	local err
	err=$("$FORESIGHT" backtest --capacity-per-replica 20 "$TRACES/elb_request_count_8c0756.csv" 2>&1 >/dev/null)
	echo "$err"
	# The trace's eight missing 5-minute buckets, each with the line after it.
	assert_eq "$(grep -c ': gap: 1 bucket (5m) missing after ' <<<"$err")" 8
	assert_contains "$err" "elb_request_count_8c0756.csv:140: gap: 1 bucket (5m) missing after 2014-04-10 11:29:00"
}

# A ForecastScaler manifest, as a user would keep it next to the cluster's.
write_spec() { # file min max
	cat >"$1" <<EOF
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata:
  name: web
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: $2
  maxReplicas: $3
  metrics:
  - name: rides
    query: sum(rate(rides_total[5m]))
    targetPerReplica: 1000
  forecast:
    model: HoltWinters
    step: 30m
    season: 1d
    quantile: 0.95
    leadTime: 1h
EOF
}

test_backtest_takes_settings_from_a_manifest_and_writes_csv_and_svg() {
	local out rows scored
	write_spec "$WORK/web.yaml" 3 30
	out=$("$FORESIGHT" backtest --spec "$WORK/web.yaml" --csv "$WORK/run.csv" --svg "$WORK/run.svg" \
		"$TRACES/nyc_taxi.csv")
	echo "$out"
	assert_contains "$out" "model      HoltWinters at the last of"
	assert_contains "$out" "season 48 buckets (1d)"
	assert_contains "$out" "capacity 1000 per replica, lead 2, warm-up 672 buckets, 9648 scored, quantile 0.95"
	assert_contains "$out" "min replicas 3"
	# maxReplicas 30 caps foresight (30 x 1000 is below the peaks), and it shows.
	assert_eq "$(awk -F, '$1 == "foresight" && $5 > 30' "$WORK/run.csv" | wc -l)" 0
	assert_eq "$(awk -F, '$1 == "oracle" && $5 > 30' "$WORK/run.csv" | wc -l | awk '{print ($1 > 0)}')" 1
	assert_eq "$(head -1 "$WORK/run.csv")" "policy,t,timestamp,y,replicas,forecast,upper"
	rows=$(($(wc -l <"$WORK/run.csv") - 1))
	scored=$(awk '/^simulation/ {for (i = 1; i < NF; i++) if ($(i + 1) == "scored,") print $i}' <<<"$out")
	assert_eq "$rows" $((4 * 9648))
	assert_eq "$scored" 9648
	assert_contains "$(grep -m1 '^reactive,672,' "$WORK/run.csv")" "reactive,672,2014-07-15 00:00:00,10089,"
	# forecast and upper are filled for the forecasting policies only.
	assert_eq "$(awk -F, '$1 == "foresight" && ($6 == "" || $7 < $6)' "$WORK/run.csv" | wc -l)" 0
	assert_eq "$(awk -F, '$1 == "oracle" && $6 != ""' "$WORK/run.csv" | wc -l)" 0
	python3 - "$WORK/run.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
texts = [t.text for t in root.iter(ns + "text")]
for label in ("load", "forecast band", "oracle capacity", "reactive capacity",
              "forecast capacity", "foresight capacity"):
    assert label in texts, label
lines = list(root.iter(ns + "polyline"))
assert len(lines) >= 5, len(lines)
assert all(len(l.get("points").split()) > 100 for l in lines[:5])
print("svg ok:", len(lines), "lines")
PY
}

# The same trace served by a real Prometheus gives the same figures as the CSV.
# The AMZN trace's 15,831 values are laid 10 s apart ending two hours ago
# (two days of TSDB blocks instead of two months': Prometheus starts fast).
test_backtest_reads_a_range_query_from_prometheus() {
	local dir=$WORK/prom port url out csv t0 start end err status
	mkdir -p "$dir"
	t0=$((($(date +%s) - 7200 - 15831 * 10) / 10 * 10))
	awk -F, -v t0="$t0" 'NR > 1 {printf "%d,%s\n", t0 + 10 * (NR - 2), $2}
		NR == 1 {print "timestamp,value"}' "$TRACES/Twitter_volume_AMZN.csv" >"$dir/amzn.csv"
	awk -F, 'NR > 1 {printf "tweets{sym=\"amzn\"} %s %d\n", $2, $1}
		BEGIN {print "# TYPE tweets gauge"} END {print "# EOF"}' "$dir/amzn.csv" >"$dir/amzn.om"
	promtool tsdb create-blocks-from openmetrics "$dir/amzn.om" "$dir/data" >"$dir/backfill.log" 2>&1 ||
		{ cat "$dir/backfill.log"; fail "promtool could not backfill the trace"; }
	printf 'global: {scrape_interval: 15s}\nscrape_configs: []\n' >"$dir/prometheus.yml"
	port=$(free_port)
	url="http://127.0.0.1:$port"
	prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
	echo $! >>"$WORK/pids"
	wait_until 60 'curl -sf "$url/-/ready" >/dev/null'
	start=$t0
	end=$((t0 + 10 * 15830))
	out=$("$FORESIGHT" backtest --prometheus "$url" --query 'tweets{sym="amzn"}' \
		--start "$start" --end "$end" --step 10s --season 48m --capacity-per-replica 20 2>"$WORK/err")
	err=$(cat "$WORK/err")
	echo "$out"
	echo "$err"
	# 15,831 points: more than Prometheus's 11,000 per query, so two requests.
	assert_contains "$err" "read 15831 points of tweets{sym=\"amzn\"}"
	assert_contains "$err" "in 2 requests"
	csv=$("$FORESIGHT" backtest --season 48m --capacity-per-replica 20 "$dir/amzn.csv")
	assert_eq "$(sed -n '/^policy/,$p' <<<"$out")" "$(sed -n '/^policy/,$p' <<<"$csv")" "figures from Prometheus and from the CSV"
	assert_eq "$(grep '^model' <<<"$out")" "$(grep '^model' <<<"$csv")"
	# A query Prometheus refuses is the user's mistake: status 2, with Prometheus's words.
	status=0
	"$FORESIGHT" backtest --prometheus "$url" --query 'tweets{' --start "$start" --end "$end" \
		--step 10s --capacity-per-replica 20 2>"$WORK/err" || status=$?
	cat "$WORK/err"
	assert_eq "$status" 2
	assert_contains "$(cat "$WORK/err")" "parse error"
}
