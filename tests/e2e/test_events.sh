# The event recorder (operator/kube/events) writes events.k8s.io/v1 Events,
# driven through kube-event-probe against the real apiserver.

# Runs the probe about ConfigMap NAME in NS; prints its "writes N dropped M" line.
emit() { # namespace name reason note count [options...]
	local ns=$1 name=$2 reason=$3 note=$4 count=$5
	shift 5
	"$BINDIR/kube-event-probe" --kubeconfig "$KUBECONFIG" --namespace "$ns" --kind ConfigMap \
		--name "$name" --reason "$reason" --note "$note" --count "$count" "$@" \
		2>>"$WORK/probe.err"
}

# Fails when the probe's stderr holds a sanitizer report (under SANITIZE=...).
assert_no_sanitizer_report() {
	if grep -E 'Sanitizer|runtime error:' "$WORK/probe.err"; then
		fail "the probe reported a sanitizer error"
	fi
	return 0
}

events_json() { # namespace
	"$KUBECTL" get events.v1.events.k8s.io -n "$1" -o json
}

test_events_one_emit_creates_a_v1_event() {
	local ns out ev cm_uid cm_rv
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap web-config --from-literal=a=b
	cm_uid=$("$KUBECTL" -n "$ns" get configmap web-config -o jsonpath='{.metadata.uid}')
	cm_rv=$("$KUBECTL" -n "$ns" get configmap web-config -o jsonpath='{.metadata.resourceVersion}')
	out=$(emit "$ns" web-config ScaledUp "scaled from 1 to 3 replicas" 1 --action Scale)
	assert_eq "$out" "writes 1 dropped 0" "probe output"
	ev=$(events_json "$ns")
	echo "$ev" | jq '.items[0]'
	assert_eq "$(echo "$ev" | jq '.items | length')" 1 "number of Events"
	ev=$(echo "$ev" | jq '.items[0]')
	assert_eq "$(echo "$ev" | jq -r .reason)" ScaledUp "reason"
	assert_eq "$(echo "$ev" | jq -r .action)" Scale "action"
	assert_eq "$(echo "$ev" | jq -r .type)" Normal "type"
	assert_eq "$(echo "$ev" | jq -r .note)" "scaled from 1 to 3 replicas" "note"
	assert_eq "$(echo "$ev" | jq -r .reportingController)" foresight.dev/operator "reportingController"
	[ -n "$(echo "$ev" | jq -r '.reportingInstance // ""')" ] || fail "no reportingInstance"
	echo "$ev" | jq -r .eventTime | grep -Eq '^[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z$' ||
		fail "eventTime is not a MicroTime: $(echo "$ev" | jq -r .eventTime)"
	assert_eq "$(echo "$ev" | jq -r .metadata.namespace)" "$ns" "Event namespace"
	echo "$ev" | jq -r .metadata.name | grep -Eq '^web-config\.[0-9a-f]+$' ||
		fail "Event name is not <object>.<unixnano>: $(echo "$ev" | jq -r .metadata.name)"
	assert_eq "$(echo "$ev" | jq -r .regarding.apiVersion)" v1 "regarding.apiVersion"
	assert_eq "$(echo "$ev" | jq -r .regarding.kind)" ConfigMap "regarding.kind"
	assert_eq "$(echo "$ev" | jq -r .regarding.namespace)" "$ns" "regarding.namespace"
	assert_eq "$(echo "$ev" | jq -r .regarding.name)" web-config "regarding.name"
	assert_eq "$(echo "$ev" | jq -r .regarding.uid)" "$cm_uid" "regarding.uid"
	assert_eq "$(echo "$ev" | jq -r .regarding.resourceVersion)" "$cm_rv" "regarding.resourceVersion"
	assert_eq "$(echo "$ev" | jq -r '.series // "none"')" none "series of a single event"
	# kubectl describe shows it with the object.
	assert_contains "$("$KUBECTL" -n "$ns" describe configmap web-config)" ScaledUp
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_events_repeats_aggregate_into_one_series() {
	local ns out writes ev
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap web-config
	out=$(emit "$ns" web-config FallbackActive "prometheus is unreachable" 100 --type Warning)
	echo "probe: $out"
	writes=$(echo "$out" | awk '{print $2}')
	assert_contains "$out" "dropped 0"
	[ "$writes" -le 5 ] || fail "100 identical events took $writes API writes"
	ev=$(events_json "$ns")
	echo "$ev" | jq '.items[] | {name: .metadata.name, type, reason, series}'
	assert_eq "$(echo "$ev" | jq '.items | length')" 1 "number of Events"
	assert_eq "$(echo "$ev" | jq -r '.items[0].type')" Warning "type"
	assert_eq "$(echo "$ev" | jq -r '.items[0].series.count')" 100 "series.count"
	echo "$ev" | jq -r '.items[0].series.lastObservedTime' |
		grep -Eq '^[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z$' || fail "series.lastObservedTime is not a MicroTime"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_events_two_reasons_make_two_events() {
	local ns ev
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap web-config
	emit "$ns" web-config ScaledUp "scaled from 1 to 3 replicas" 1
	emit "$ns" web-config ScaledDown "scaled from 3 to 1 replicas" 1
	ev=$(events_json "$ns")
	assert_eq "$(echo "$ev" | jq '.items | length')" 2 "number of Events"
	assert_eq "$(echo "$ev" | jq -r '[.items[].reason] | sort | join(",")')" "ScaledDown,ScaledUp" \
		"reasons"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_events_spam_filter_caps_new_events_per_object() {
	local ns out ev
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap noisy
	"$KUBECTL" -n "$ns" create configmap quiet
	# 40 different events about one object: a burst of 25 are written, 15 dropped.
	out=$(emit "$ns" noisy Flapping "flap" 40 --distinct)
	echo "probe: $out"
	assert_eq "$out" "writes 25 dropped 15" "probe output"
	# Another object has its own budget.
	emit "$ns" quiet Flapping "flap" 1 >/dev/null
	ev=$(events_json "$ns")
	assert_eq "$(echo "$ev" | jq '[.items[] | select(.regarding.name == "noisy")] | length')" 25 \
		"Events about noisy"
	assert_eq "$(echo "$ev" | jq '[.items[] | select(.regarding.name == "quiet")] | length')" 1 \
		"Events about quiet"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}

test_events_pending_counts_are_written_after_thirty_seconds() {
	local ns pid series
	ns=$(new_namespace)
	"$KUBECTL" -n "$ns" create configmap web-config
	# Five repeats at once, then the recorder stays open for 34 s.
	emit "$ns" web-config ScaledUp "scaled from 1 to 3 replicas" 5 --linger-ms 34000 >"$WORK/out" &
	pid=$!
	echo "$pid" >"$WORK/probe.pid"
	trap '[ -e "$WORK/probe.pid" ] && kill -9 "$(cat "$WORK/probe.pid")" 2>/dev/null || true' EXIT
	wait_until 10 '[ "$(events_json "$ns" | jq ".items | length")" = 1 ]'
	sleep 20
	series=$(events_json "$ns" | jq -c '.items[0].series // "none"')
	assert_eq "$series" '"none"' "series less than 30 s after the Event was created"
	wait_until 15 '[ "$(events_json "$ns" | jq ".items[0].series.count")" = 5 ]'
	kill -0 "$pid" 2>/dev/null || fail "the count was written only when the recorder closed"
	wait "$pid" || fail "the probe exited with status $?"
	rm "$WORK/probe.pid"
	assert_eq "$(cat "$WORK/out")" "writes 2 dropped 0" "probe output"
	assert_no_sanitizer_report
	"$KUBECTL" delete namespace "$ns" --wait=false
}
