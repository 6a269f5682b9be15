#!/usr/bin/env bash
# `make demo`: Foresight scaling a Deployment ahead of a replayed daily cycle.
#
# Brings up a local control plane (etcd, kube-apiserver, kube-controller-manager,
# the fake kubelet; pods take FORESIGHT_POD_START_DELAY=5 s to become ready),
# replays three weeks of NYC taxi demand (hack/demo/nyc_taxi.csv) 360 times
# faster through load-gen (a half-hour bucket every 5 s: a day in 4 minutes),
# backfills Prometheus with the 8 (compressed) days before the replay's start
# so the forecast is ready at once, and runs `foresight run` on a
# ForecastScaler with a 20 s lead time. It prints the load, the forecast and
# the replicas every few seconds with the operator's decisions as they
# happen, then a summary after DEMO_SECONDS (default 300), and tears
# everything down (also on Ctrl-C or SIGTERM).
#
# Environment: DEMO_SECONDS (300), DEMO_TRACE (another `timestamp,value` file),
# BINDIR (bin), FORESIGHT_POD_START_DELAY (5), FORESIGHT_DEMO_DIR (run dir,
# default $TMPDIR/foresight-demo; its logs/ stay after the demo).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
BINDIR=$(cd "$repo/${BINDIR:-bin}" 2>/dev/null && pwd) || BINDIR="$repo/${BINDIR:-bin}"
KUBECTL="$cache/bin/kubectl"
run="${FORESIGHT_DEMO_DIR:-${TMPDIR:-/tmp}/foresight-demo}"
logs="$run/logs"
trace="${DEMO_TRACE:-$here/demo/nyc_taxi.csv}"
demo_seconds="${DEMO_SECONDS:-300}"
export FORESIGHT_POD_START_DELAY="${FORESIGHT_POD_START_DELAY:-5}"

# The time compression and the scaler's numbers, which must agree: a trace
# bucket every $bucket_s seconds is the forecast's step; a compressed day of
# 48 half-hour buckets is the season; 8 days of history are backfilled and
# the scaler fits on 7.5 of them.
bucket_s=5
history_buckets=384
season=4m
history=30m
lead_time=20s
target_per_replica=25
scale=0.01
min_replicas=2
max_replicas=20
ns=demo
sample_every=3

say() { echo "demo: $*"; }
die() {
	echo "demo: error: $*" >&2
	exit 1
}

[[ "$demo_seconds" =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a number of seconds, not \"$demo_seconds\""
for b in foresight load-gen fake-kubelet; do
	[ -x "$BINDIR/$b" ] || die "$BINDIR/$b is missing: run make (or make demo)"
done
[ -x "$KUBECTL" ] || die "$KUBECTL is missing: run hack/deps.sh"
for c in prometheus promtool jq curl ss; do
	command -v "$c" >/dev/null || die "$c is missing: run hack/deps.sh"
done
[ -r "$trace" ] || die "$trace: no such trace"

# --- cleanup: everything this script started, also on Ctrl-C ----------------------
pids=()
cleaned=0
cleanup() {
	[ $cleaned = 0 ] || return 0
	cleaned=1
	trap '' INT TERM
	echo
	say "tearing down"
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	FORESIGHT_CP_DIR="$run/cp" "$repo/hack/control-plane.sh" down >>"$logs/control-plane.log" 2>&1 || true
	rm -rf "$run/prom" "$run/cp" "$run/history.om"
	say "stopped the operator, load-gen, Prometheus and the control plane; logs in $logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on loopback (below the ephemeral range).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		ss -Htln "sport = :$p" | grep -q . || {
			echo "$p"
			return
		}
	done
}

wait_until() { # seconds what 'condition' [pid whose death ends the wait]
	local deadline=$((SECONDS + $1))
	until eval "$3" >/dev/null 2>&1; do
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			return 1
		fi
		[ $SECONDS -lt $deadline ] || die "$2 not ready after $1 s (logs in $logs)"
		sleep 0.3
	done
}

# A process that exited at start is tried again on another port when its log
# says the port was taken meanwhile (ports are picked free, not held).
retry_or_die() { # log pattern attempt what
	if [ "$3" -lt 3 ] && grep -q "$2" "$1"; then
		return 0
	fi
	die "$4 exited: $(tail -3 "$1")"
}

k() { "$KUBECTL" "$@" </dev/null; }

# --- the control plane ---------------------------------------------------------
if [ -d "$run/cp" ]; then
	FORESIGHT_CP_DIR="$run/cp" "$repo/hack/control-plane.sh" down >/dev/null 2>&1 || true
fi
rm -rf "$logs" "$run/prom" "$run/history.om" "$run/prometheus.yml"
mkdir -p "$logs"
say "building the control plane if it is not cached (the first time takes 5-8 minutes)"
"$repo/hack/control-plane.sh" build 2>&1 | sed 's/^/  /'
say "starting etcd, kube-apiserver, kube-controller-manager and the fake kubelet (pods ready after ${FORESIGHT_POD_START_DELAY} s)"
env_line=$(FORESIGHT_CP_DIR="$run/cp" FORESIGHT_BINDIR="$BINDIR" \
	"$repo/hack/control-plane.sh" up 2>"$logs/control-plane.log" </dev/null) ||
	die "the control plane did not start: $(tail -5 "$logs/control-plane.log")"
eval "$env_line"
export KUBECONFIG
k apply -f "$repo/crd/" >/dev/null
# (not `kubectl wait`: it fails at once while a new CRD has no status yet)
for crd in forecastscalers concurrencybudgets; do
	# shellcheck disable=SC2016 # expanded by wait_until's eval
	wait_until 30 "the $crd CRD" \
		'[ "$(k get crd "$crd.autoscaling.foresight.dev" -o jsonpath="{.status.conditions[?(@.type==\"Established\")].status}")" = True ]'
done
k create namespace "$ns" >/dev/null

# --- the load: a trace replay, with its history backfilled into Prometheus -----
first_ts() { awk -F, -v n="$1" 'NR == n + 1 {print $1; exit}' "$trace"; }
to_epoch() { if [[ "$1" =~ ^[0-9.]+$ ]]; then echo "${1%.*}"; else date -ud "$1" +%s; fi; }
spacing=$(($(to_epoch "$(first_ts 2)") - $(to_epoch "$(first_ts 1)")))
[ "$spacing" -gt 0 ] || die "$trace: cannot tell its bucket spacing from its first two rows"
speed=$(awk -v s="$spacing" -v b="$bucket_s" 'BEGIN {printf "%g", s / b}')

for attempt in 1 2 3; do
	load_port=$(free_port)
	rm -f "$run/history.om"
	"$BINDIR/load-gen" --replay "$trace" --speed "$speed" --metric demo_rps --scale "$scale" \
		--history-buckets "$history_buckets" --backfill "$run/history.om" \
		--backfill-labels "job=\"load-gen\",instance=\"127.0.0.1:$load_port\"" \
		--listen "127.0.0.1:$load_port" >"$logs/load-gen.log" 2>&1 &
	load_pid=$!
	# shellcheck disable=SC2016 # expanded by wait_until's eval
	if wait_until 20 "load-gen" '[ -f "$run/history.om" ] && curl -sf "http://127.0.0.1:$load_port/metrics"' "$load_pid"; then
		pids+=("$load_pid")
		break
	fi
	retry_or_die "$logs/load-gen.log" "cannot listen" $attempt load-gen
done
say "load: $(sed -n 's/.*load-gen: \(replaying .*\)/\1/p' "$logs/load-gen.log" | head -1)"

promtool tsdb create-blocks-from openmetrics "$run/history.om" "$run/prom" >"$logs/promtool.log" 2>&1 ||
	die "promtool could not backfill: $(tail -3 "$logs/promtool.log")"
for attempt in 1 2 3; do
	prom_port=$(free_port)
	prom_url="http://127.0.0.1:$prom_port"
	cat >"$run/prometheus.yml" <<PROMCFG
global: {scrape_interval: 1s, evaluation_interval: 15s}
scrape_configs:
- job_name: load-gen
  static_configs: [{targets: ["127.0.0.1:$load_port"]}]
PROMCFG
	prometheus --config.file "$run/prometheus.yml" --storage.tsdb.path "$run/prom" \
		--storage.tsdb.retention.time 1d --web.listen-address "127.0.0.1:$prom_port" \
		>"$logs/prometheus.log" 2>&1 &
	prom_pid=$!
	# shellcheck disable=SC2016 # expanded by wait_until's eval
	if wait_until 60 "Prometheus" 'curl -sf "$prom_url/-/ready"' "$prom_pid"; then
		pids+=("$prom_pid")
		break
	fi
	retry_or_die "$logs/prometheus.log" "address already in use" $attempt Prometheus
done
history_samples=$(curl -sf "$prom_url/api/v1/query" --data-urlencode "query=count_over_time(demo_rps[1h])" |
	jq -r '.data.result[0].value[1] // 0')
say "Prometheus on $prom_url: $history_samples samples of demo_rps, $((history_buckets / 48)) compressed days backfilled with promtool"

# --- the workload, its scaler, the operator ---------------------------------------
metric_value() { # name: from load-gen's /metrics
	curl -sf --max-time 2 "http://127.0.0.1:$load_port/metrics" | awk -v n="$1" 'index($1, n "{") == 1 {print $2}'
}
load_now=$(metric_value demo_rps)
initial=$(awk -v l="${load_now:-0}" -v t="$target_per_replica" -v lo="$min_replicas" \
	'BEGIN {r = int(l / t); if (r * t < l) r++; if (r < lo) r = lo; print r}')
k -n "$ns" create deployment web --image=nginx --replicas="$initial" >/dev/null
"$KUBECTL" -n "$ns" apply -f - >/dev/null <<FS
apiVersion: autoscaling.foresight.dev/v1alpha1
kind: ForecastScaler
metadata: {name: web}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: $min_replicas
  maxReplicas: $max_replicas
  interval: 2s
  metrics:
  - {name: rps, query: 'sum(demo_rps)', targetPerReplica: $target_per_replica}
  forecast: {model: Auto, history: $history, step: ${bucket_s}s, season: $season,
             leadTime: $lead_time, quantile: 0.9, maxError: 0.3}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 6, periodSeconds: 5}, {type: Percent, value: 100, periodSeconds: 5}]
    scaleDown:
      stabilizationWindowSeconds: 30
      policies: [{type: Percent, value: 50, periodSeconds: 10}]
FS
say "Deployment $ns/web starts with $initial replicas for a load of $(printf '%.1f' "${load_now:-0}") rps; ForecastScaler $ns/web: $target_per_replica rps a replica, $min_replicas..$max_replicas replicas, step ${bucket_s}s, season $season, history $history, lead time $lead_time"

# shellcheck disable=SC2016 # expanded by wait_until's eval
wait_until 60 "the Deployment's $initial replicas" \
	'[ "$(k -n "$ns" get deploy web -o jsonpath="{.status.readyReplicas}")" = "$initial" ]'

for attempt in 1 2 3; do
	op_port=$(free_port)
	"$BINDIR/foresight" run --namespace "$ns" --prometheus-url "$prom_url" \
		--listen "127.0.0.1:$op_port" >"$logs/operator.log" 2>&1 </dev/null &
	op_pid=$!
	# shellcheck disable=SC2016 # expanded by wait_until's eval
	if wait_until 30 "the operator" 'curl -sf "http://127.0.0.1:$op_port/readyz"' "$op_pid"; then
		pids+=("$op_pid")
		break
	fi
	retry_or_die "$logs/operator.log" "cannot listen" $attempt "the operator"
done
say "foresight run is up (pid $op_pid, metrics on http://127.0.0.1:$op_port/metrics); watching for ${demo_seconds}s"

# --- the live view ---------------------------------------------------------------
samples="$logs/samples.tsv"
printf 'time\tload\ttrace_time\treplicas\tready\tdesired\tforecast\tupper\tlimited_by\n' >"$samples"
log_offset=0

# Prints the operator's decisions logged since the last call.
show_decisions() {
	local size
	size=$(stat -c %s "$logs/operator.log" 2>/dev/null || echo 0)
	[ "$size" -gt "$log_offset" ] || return 0
	tail -c +"$((log_offset + 1))" "$logs/operator.log" | head -c "$((size - log_offset))" |
		grep -E ': Scaled |: metric .*: fitted | (warn|error) ' |
		sed -E 's/^[0-9-]+T([0-9:]+)\.[0-9]+Z (info|warn|error) +/  >> \1 /' || true
	log_offset=$size
}

show_table() {
	echo
	k -n "$ns" get fs web 2>&1 | sed 's/^/  /'
	echo
	printf '  %7s  %-15s %7s %9s %7s %8s %8s  %s\n' ELAPSED "TRACE TIME" LOAD FORECAST UPPER READY/REP DESIRED LIMITED-BY
}

t_start=$SECONDS
next_table=$t_start
while [ $((SECONDS - t_start)) -lt "$demo_seconds" ]; do
	kill -0 "$load_pid" 2>/dev/null || die "load-gen exited: $(tail -3 "$logs/load-gen.log")"
	kill -0 "$prom_pid" 2>/dev/null || die "Prometheus exited: $(tail -3 "$logs/prometheus.log")"
	kill -0 "$op_pid" 2>/dev/null || die "the operator exited: $(tail -3 "$logs/operator.log")"
	if [ $SECONDS -ge $next_table ]; then
		show_table
		next_table=$((SECONDS + 60))
	fi
	now=$(date +%s.%N)
	m=$(curl -sf --max-time 2 "http://127.0.0.1:$load_port/metrics" || true)
	load=$(awk 'index($1, "demo_rps{") == 1 {print $2}' <<<"$m")
	tts=$(awk 'index($1, "load_gen_trace_timestamp_seconds{") == 1 {print $2}' <<<"$m")
	row=$(k -n "$ns" get deploy/web fs/web -o json 2>/dev/null | jq -r '
		([.items[] | select(.kind == "Deployment")][0]) as $d |
		([.items[] | select(.kind == "ForecastScaler")][0]) as $f |
		[$d.spec.replicas, ($d.status.readyReplicas // 0), ($f.status.desiredReplicas // ""),
		 ($f.status.metrics[0].forecast // ""), ($f.status.metrics[0].upper // ""),
		 ($f.status.decision.limitedBy // "")] | @tsv' 2>/dev/null || true)
	if [ -n "$load" ] && [ -n "$row" ]; then
		IFS=$'\t' read -r reps ready desired fc upper limited <<<"$row"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$load" "$tts" "$reps" "$ready" \
			"$desired" "$fc" "$upper" "$limited" >>"$samples"
		show_decisions
		printf '  %6ds  %-15s %7.1f %9s %7s %8s %8s  %s\n' $((SECONDS - t_start)) \
			"$(date -ud "@${tts%.*}" '+%a %m-%d %H:%M')" "$load" \
			"$([ -n "$fc" ] && printf '%.1f' "$fc" || echo -)" \
			"$([ -n "$upper" ] && printf '%.1f' "$upper" || echo -)" \
			"$ready/$reps" "${desired:--}" "${limited:--}"
	fi
	sleep "$sample_every"
done
show_decisions

# --- the summary -------------------------------------------------------------------
echo
k -n "$ns" get fs web 2>&1 | sed 's/^/  /'
echo
grep -E ': Scaled Deployment/web from [0-9]+ to [0-9]+' "$logs/operator.log" |
	while read -r ts _ rest; do
		from=$(sed -E 's/.*from ([0-9]+) to ([0-9]+).*/\1 \2/' <<<"$rest")
		echo "$(date -ud "$ts" +%s.%N) $from"
	done >"$logs/scale-events.txt" || true
fs_json=$(k -n "$ns" get fs web -o json)
awk -v target="$target_per_replica" -v lead="$lead_time" -v events="$logs/scale-events.txt" \
	-v ready_cond="$(jq -r '.status.conditions[] | select(.type == "ForecastReady") | if .status == "True" then "True" else "\(.status) (\(.message))" end' <<<"$fs_json")" \
	-v model="$(jq -r '.status.metrics[0] | "\(.model // "?"), season \(.season // "?"), recent error (MAPE) \(if .mape then (.mape * 100 | floor | tostring) + "%" else "?" end)"' <<<"$fs_json")" '
	NR == 1 { next }
	{
		n++; t[n] = $1; load[n] = $2; reps = $4; ready = $5
		if (n == 1 || $2 < lmin) lmin = $2
		if (n == 1 || $2 > lmax) lmax = $2
		if (n == 1 || reps < rmin) rmin = reps
		if (n == 1 || reps > rmax) rmax = reps
		if (ready * target < $2) short_ready++
		if (reps * target < $2) short_spec++
	}
	END {
		while ((getline line < events) > 0) {
			split(line, e, " ")
			if (e[3] > e[2]) {
				ups++
				# the load when the scale-up was decided: the last sample before it
				l = ""
				for (i = 1; i <= n && t[i] <= e[1]; i++) l = load[i]
				if (l != "" && l <= e[2] * target) ahead++
			} else downs++
		}
		printf "demo: summary of %d samples over %.0f s (the trace replayed 360x: %.1f compressed hours)\n",
			n, t[n] - t[1], (t[n] - t[1]) * 360 / 3600
		printf "  load:                  %.1f .. %.1f rps (%d replicas of %d rps carry the peak)\n",
			lmin, lmax, int((lmax + target - 1) / target), target
		printf "  replicas:              %d .. %d\n", rmin, rmax
		printf "  scale events:          %d (%d up, %d down)\n", ups + downs, ups, downs
		printf "  under capacity:        %.1f%% of samples with ready replicas x %d < load (%.1f%% counting replicas not yet ready)\n",
			n ? 100 * short_ready / n : 0, target, n ? 100 * short_spec / n : 0
		printf "  scale-ups ahead:       %d of %d were made while the load still fit the replicas before them\n",
			ahead, ups
		printf "  forecast:              ForecastReady=%s; %s; lead time %s\n", ready_cond, model, lead
	}' "$samples"
say "samples in $logs/samples.tsv, the operator's log in $logs/operator.log"
