# The Prometheus client (operator/prom) against a real Prometheus (Debian's
# 2.42), loaded with two days of backfilled history: classification (value,
# empty, NaN, stale, several series), errors (syntax, down, hung, TLS, auth),
# range queries chunked past 11,000 points with their gaps, and what goes on
# the wire (tokens, headers, concurrency) through a stand-in server.

PROBE="$BINDIR/prom-probe"
FAKE_PROM="$REPO/tests/fixtures/prom/fake-prometheus.py"

# The history every test's Prometheus holds, in unix seconds: load{job="t"}
# has value i at D0 + 60 * i for i in 0..HIST_LAST (HIST_LAST about 20 minutes
# ago), except in the holes [300, 330) and [1820, 1850) (the second straddles
# the first chunk's end of a range query from D0 every 10 s); multi{pod=a|b|c}
# is three series.
HIST_LAST=2860

# Every process a test starts, killed when the test's shell exits.
PIDS=""
track() { # pid
	PIDS="$PIDS $1"
	trap 'kill_tracked' EXIT
}
kill_tracked() {
	local pid
	for pid in $PIDS; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=""
}

free_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 30000))
		if [ -z "$(ss -Htln "sport = :$port" 2>/dev/null)" ]; then
			echo "$port"
			return 0
		fi
	done
	fail "no free loopback port"
}

# Writes the history as OpenMetrics and turns it into TSDB blocks in DIR/data.
# Sets D0 and TLAST (the newest sample's time).
prom_history() { # dir
	local dir=$1 now
	now=$(date +%s)
	D0=$(((now - 2 * 86400) / 60 * 60))
	TLAST=$((D0 + 60 * HIST_LAST))
	echo "$D0 $TLAST" >"$dir/history"
	awk -v d0="$D0" -v last="$HIST_LAST" 'BEGIN {
		print "# TYPE load gauge"
		for (i = 0; i <= last; i++) {
			if ((i >= 300 && i < 330) || (i >= 1820 && i < 1850))
				continue
			printf "load{job=\"t\"} %d %.0f\n", i, d0 + 60 * i
		}
		print "# TYPE multi gauge"
		split("a b c", pods, " ")
		for (p = 1; p <= 3; p++)
			for (i = 0; i <= last; i += 5)
				printf "multi{pod=\"%s\"} %d %.0f\n", pods[p], p, d0 + 60 * i
		print "# EOF"
	}' >"$dir/history.om"
	promtool tsdb create-blocks-from openmetrics "$dir/history.om" "$dir/data" >"$dir/backfill.log" 2>&1 ||
		{ cat "$dir/backfill.log"; fail "promtool could not backfill the history"; }
}

# Starts Prometheus on a free loopback port over the history, with any extra
# flags; sets PROM_PORT, PROM_URL (http) and PROM_PID. READY_CURL_OPTS are
# curl options for its readiness check (TLS, basic auth).
prom_start() { # [prometheus flags...]
	local dir="$WORK/prom" scheme=${PROM_SCHEME:-http}
	mkdir -p "$dir"
	[ -d "$dir/data" ] || prom_history "$dir"
	read -r D0 TLAST <"$dir/history"
	printf 'global:\n  scrape_interval: 1s\nscrape_configs: []\n' >"$dir/prometheus.yml"
	for _ in 1 2 3 4 5; do
		PROM_PORT=$(free_port)
		prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
			--web.listen-address="127.0.0.1:$PROM_PORT" "$@" >"$dir/prometheus.log" 2>&1 &
		PROM_PID=$!
		track "$PROM_PID"
		for _ in $(seq 1 100); do
			kill -0 "$PROM_PID" 2>/dev/null || break
			# shellcheck disable=SC2086 # a list of options, split on purpose
			if curl -sf ${READY_CURL_OPTS:-} "$scheme://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1; then
				PROM_URL="http://127.0.0.1:$PROM_PORT"
				return 0
			fi
			sleep 0.1
		done
		# Lost the port to someone else, or did not start: try another.
		kill -9 "$PROM_PID" 2>/dev/null || true
		wait "$PROM_PID" 2>/dev/null || true
		tail -5 "$dir/prometheus.log"
	done
	fail "Prometheus did not start"
}

# Starts the stand-in server with its flags; sets FAKE_URL and FAKE_LOG.
fake_start() { # [--delay S] [--hang]
	local dir="$WORK/fake.$RANDOM"
	mkdir -p "$dir"
	FAKE_LOG="$dir/requests.log"
	python3 "$FAKE_PROM" "$dir/port" "$FAKE_LOG" "$@" 2>"$dir/stderr.log" &
	track $!
	wait_until 10 '[ -s "$dir/port" ]'
	FAKE_URL="http://127.0.0.1:$(cat "$dir/port")"
}

ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

test_prom_instant_query_reads_the_sample() {
	local out
	prom_start
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' --at $((D0 + 100 * 60 + 30)))
	assert_eq "$out" "value 100 $((D0 + 100 * 60 + 30)).000" "instant query"
	out=$("$PROBE" query --url "$PROM_URL" --query 'sum(load)' --at $((D0 + 2000 * 60)))
	assert_eq "$out" "value 2000 $((D0 + 2000 * 60)).000" "aggregated"
	# Zero is a value like any other.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' --at "$D0")
	assert_eq "$out" "value 0 $D0.000" "zero"
	out=$("$PROBE" query --url "$PROM_URL" --query 'scalar(load{job="t"}) * 2' --at $((D0 + 600)))
	assert_eq "$out" "value 20 $((D0 + 600)).000" "scalar"
	# Now (no --at): the history ended about 20 minutes ago, past the lookback.
	out=$("$PROBE" query --url "$PROM_URL" --query 'vector(7)')
	assert_contains "$out" "value 7 "
}

test_prom_empty_result_is_not_zero() {
	local out
	prom_start
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="nope"}' --at $((D0 + 600)) 2>&1)
	echo "$out"
	assert_contains "$out" "empty nan 0.000"
	assert_contains "$out" "the query returned no series"
	# The data stopped: 10 minutes after the last sample, past Prometheus's
	# 5-minute lookback, the series is gone — empty, not 0.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' --at $((TLAST + 600)) 2>&1)
	echo "$out"
	assert_contains "$out" "empty nan 0.000"
	out=$("$PROBE" query --url "$PROM_URL" --query 'sum(load{job="t"})' --at $((TLAST + 600)) 2>&1)
	assert_contains "$out" "empty nan"
	# In a hole of the history, too.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' --at $((D0 + 320 * 60)) 2>&1)
	assert_contains "$out" "empty nan"
}

test_prom_nan_and_infinity_are_not_numbers() {
	local out
	prom_start
	out=$("$PROBE" query --url "$PROM_URL" --query 'vector(0) / vector(0)' 2>&1)
	echo "$out"
	assert_contains "$out" "nan nan "
	assert_contains "$out" "not a number"
	# load is 0 at D0: 0/0.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"} / load{job="t"}' --at "$D0" 2>&1)
	assert_contains "$out" "nan nan $D0.000"
	out=$("$PROBE" query --url "$PROM_URL" --query 'sum(load) / 0' --at $((D0 + 600)) 2>&1)
	echo "$out"
	assert_contains "$out" "nan inf $((D0 + 600)).000"
	out=$("$PROBE" query --url "$PROM_URL" --query '-1 / 0' 2>&1)
	assert_contains "$out" "nan -inf "
}

test_prom_stale_sample_is_reported_with_its_age() {
	local out
	prom_start
	# A range selector returns the raw samples with their own timestamps: 8
	# minutes after the last one, the newest sample is 480 s old (limit 300).
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}[15m]' --at $((TLAST + 480)) 2>&1)
	echo "$out"
	assert_contains "$out" "stale $HIST_LAST $TLAST.000"
	assert_contains "$out" "is 480 s old"
	# 2 minutes after it, it is fresh...
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}[15m]' --at $((TLAST + 120)) 2>&1)
	assert_eq "$out" "value $HIST_LAST $TLAST.000" "fresh sample"
	# ...unless the limit is tighter.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}[15m]' --at $((TLAST + 120)) \
		--stale-after 60 2>&1)
	assert_contains "$out" "stale $HIST_LAST $TLAST.000"
	# A plain selector is stamped with the evaluation time by Prometheus, and
	# within the lookback it holds the last value: that is fresh by its rules.
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' --at $((TLAST + 240)) 2>&1)
	assert_eq "$out" "value $HIST_LAST $((TLAST + 240)).000" "within the lookback"
}

test_prom_several_series_is_an_error_naming_the_count() {
	local out status=0
	prom_start
	out=$("$PROBE" query --url "$PROM_URL" --query 'multi' --at $((D0 + 600)) 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "multi nan 0.000"
	assert_contains "$out" 'the query returned 3 series (first multi{pod="a"}); it must return one'
	out=$("$PROBE" query --url "$PROM_URL" --query 'sum(multi)' --at $((D0 + 600)) 2>&1)
	assert_eq "$out" "value 6 $((D0 + 600)).000" "aggregated"
	status=0
	out=$("$PROBE" range --url "$PROM_URL" --query 'multi' --start "$D0" --end $((D0 + 3600)) \
		--step 60 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "range exit status"
	assert_contains "$out" "error EINVAL"
	assert_contains "$out" '3 series (first multi{pod="a"})'
}

test_prom_syntax_error_names_the_position() {
	local out status=0
	prom_start
	out=$("$PROBE" query --url "$PROM_URL" --query 'sum(rate(load[5m]' 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "error EINVAL: Prometheus $PROM_URL: query \"sum(rate(load[5m]\": bad_data:"
	echo "$out" | grep -qE '1:[0-9]+: parse error: unclosed left parenthesis' ||
		fail "no position in: $out"
	# The spec check says the same, evaluating nothing...
	status=0
	out=$("$PROBE" check --url "$PROM_URL" --query 'sum(rate(load[5m]' 2>&1) || status=$?
	assert_eq "$status" 1 "check exit status"
	assert_contains "$out" "error EINVAL"
	assert_contains "$out" "parse error"
	out=$("$PROBE" check --url "$PROM_URL" --query 'sum(rate(load{job="t"}[5m])) by (job)')
	assert_eq "$out" "ok" "check of a good query"
	# ...and is no syntax verdict when Prometheus is down.
	kill -9 "$PROM_PID"
	wait "$PROM_PID" 2>/dev/null || true
	status=0
	out=$("$PROBE" check --url "$PROM_URL" --query 'sum(rate(load[5m]' 2>&1) || status=$?
	assert_eq "$status" 1 "check exit status, down"
	assert_contains "$out" "error ECONNECT"
}

test_prom_down_is_a_fast_connection_error() {
	local out status=0 t0 elapsed
	prom_start
	"$PROBE" query --url "$PROM_URL" --query 'vector(1)' >/dev/null
	kill -9 "$PROM_PID"
	wait "$PROM_PID" 2>/dev/null || true
	t0=$(ms_now)
	out=$("$PROBE" query --url "$PROM_URL" --query 'load{job="t"}' 2>&1) || status=$?
	elapsed=$(($(ms_now) - t0))
	echo "$out (${elapsed} ms)"
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "error ECONNECT: Prometheus $PROM_URL: query \"load{job=\"t\"}\": cannot reach Prometheus"
	assert_not_contains "$out" "value"
	[ "$elapsed" -lt 2000 ] || fail "a refused connection took ${elapsed} ms"
	# A server that accepts and never answers is cut off at the timeout.
	fake_start --hang
	t0=$(ms_now)
	status=0
	out=$("$PROBE" query --url "$FAKE_URL" --query 'up' --timeout-ms 1000 2>&1) || status=$?
	elapsed=$(($(ms_now) - t0))
	echo "$out (${elapsed} ms)"
	assert_eq "$status" 1 "exit status, hung"
	assert_contains "$out" "error ETIMEOUT"
	assert_contains "$out" "no answer within 1000 ms"
	if [ "$elapsed" -lt 900 ] || [ "$elapsed" -ge 3000 ]; then
		fail "the timeout took ${elapsed} ms"
	fi
	# Prometheus is told the timeout too, to stop evaluating when the client gives up.
	assert_contains "$(cat "$FAKE_LOG")" "form timeout=1.000"
}

test_prom_range_is_chunked_with_explicit_gaps() {
	local out summary refused points expected_nan
	prom_start
	# One request for the whole range is more than Prometheus allows...
	refused=$(curl -s "$PROM_URL/api/v1/query_range" --data-urlencode 'query=load{job="t"}' \
		--data-urlencode "start=$D0" --data-urlencode "end=$TLAST" --data-urlencode step=10)
	assert_contains "$refused" "exceeded maximum resolution of 11,000 points"
	# ...so the client splits it in two and stitches the answers.
	out=$("$PROBE" range --url "$PROM_URL" --query 'load{job="t"}' --start "$D0" --end "$TLAST" \
		--step 10 --print --stats)
	summary=${out%%$'\n'*}
	echo "$summary"
	echo "${out##*$'\n'}"
	points=$((HIST_LAST * 6 + 1))
	# Each hole puts 31 minutes between two samples: of the 31 * 6 - 1 steps
	# strictly between them, those more than 5 minutes (the lookback, 30
	# steps) after the first have no value.
	expected_nan=$((2 * (31 * 6 - 1 - 30)))
	assert_eq "$summary" "points $points nan $expected_nan first $D0.000 last $TLAST.000 chunks 2" "summary"
	assert_contains "$out" "stats queries 1 requests 2 errors 0 waits 0"
	# Every point: the value of the newest sample at most 300 s before it, or NaN.
	echo "$out" | sed -n "2,$((points + 1))p" | awk -v d0="$D0" '
		function hole(m) { return (m >= 300 && m < 330) || (m >= 1820 && m < 1850) }
		{
			m = int(($1 - d0) / 60)
			while (m > 0 && hole(m)) m--
			want = ($1 - (d0 + 60 * m) > 300) ? "nan" : m
			if ($2 != want) { printf "at %s: %s, expected %s\n", $1, $2, want; bad++ }
			n++
		}
		END { if (bad || n == 0) exit 1; print n " points checked" }' ||
		fail "points differ from the history"
	# The chunk boundary (grid index 11000) lies inside the second hole.
	assert_contains "$out" "$((D0 + 110000)).000 nan"
}

test_prom_range_empty_and_over_the_cap() {
	local out status=0 t0 elapsed
	prom_start
	out=$("$PROBE" range --url "$PROM_URL" --query 'load{job="nope"}' --start "$D0" --end "$TLAST" \
		--step 10)
	assert_eq "$out" "empty chunks 2" "a range with no series"
	# The series starts in the middle of the range: NaN before it, not empty.
	out=$("$PROBE" range --url "$PROM_URL" --query 'load{job="t"}' --start $((D0 - 3600)) \
		--end $((D0 + 3540)) --step 60)
	assert_eq "$out" "points 120 nan 60 first $((D0 - 3600)).000 last $((D0 + 3540)).000 chunks 1" "partial"
	# More points than the cap: refused before any request, at once.
	t0=$(ms_now)
	out=$("$PROBE" range --url "$PROM_URL" --query 'load{job="t"}' --start "$D0" --end "$TLAST" \
		--step 0.1 --stats 2>&1) || status=$?
	elapsed=$(($(ms_now) - t0))
	echo "$out"
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "error ETOOLARGE"
	assert_contains "$out" "more than the cap of 1000000: use a larger step or a shorter range"
	assert_contains "$out" "requests 0"
	[ "$elapsed" -lt 1000 ] || fail "the cap took ${elapsed} ms"
}

test_prom_tls_and_basic_auth() {
	local tls="$WORK/tls" out status hash
	mkdir -p "$tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=e2e-ca" \
		-keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$tls/ext"
	openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
		-CAcreateserial -days 1 -extfile "$tls/ext" -out "$tls/server.crt" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other-ca" \
		-keyout "$tls/other.key" -out "$tls/other.crt" 2>/dev/null
	# bcrypt of "s3cret-pw", made with python3's crypt.
	# shellcheck disable=SC2016 # a literal hash, not an expansion
	hash='$2b$12$AY8mJ1SC4CCgFZBay4If4.agSPCi6cYsG.U.o1f3v9LULDCEXrLV.'
	printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  e2e: %s\n' \
		"$tls/server.crt" "$tls/server.key" "$hash" >"$tls/web.yml"
	PROM_SCHEME=https READY_CURL_OPTS="--cacert $tls/ca.crt -u e2e:s3cret-pw" \
		prom_start --web.config.file="$tls/web.yml"
	local url="https://127.0.0.1:$PROM_PORT" at=$((D0 + 600))

	out=$("$PROBE" query --url "$url" --ca "$tls/ca.crt" --username e2e --password s3cret-pw \
		--query 'load{job="t"}' --at "$at")
	assert_eq "$out" "value 10 $at.000" "TLS with the CA and basic auth"
	out=$("$PROBE" query --url "$url" --insecure --username e2e --password s3cret-pw \
		--query 'load{job="t"}' --at "$at")
	assert_eq "$out" "value 10 $at.000" "TLS without verification"
	status=0
	out=$("$PROBE" query --url "$url" --ca "$tls/other.crt" --username e2e --password s3cret-pw \
		--query 'up' 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status, untrusted"
	assert_contains "$out" "error ETLS"
	assert_contains "$out" "not trusted"
	status=0
	out=$("$PROBE" query --url "$url" --ca "$tls/ca.crt" --username e2e --password wrong-pw \
		--query 'up' 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status, wrong password"
	assert_contains "$out" "error EAUTH"
	assert_contains "$out" "HTTP 401"
	assert_not_contains "$out" "wrong-pw"
	status=0
	out=$("$PROBE" query --url "https://e2e:leaked-pw@127.0.0.1:$PROM_PORT" --ca "$tls/ca.crt" \
		--query 'up' --timeout-ms 2000 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status, password in the URL"
	assert_not_contains "$out" "leaked-pw"
	# Plain http to a TLS port is a failure, never a value.
	status=0
	out=$("$PROBE" query --url "http://127.0.0.1:$PROM_PORT" --query 'up' 2>&1) || status=$?
	echo "$out"
	assert_eq "$status" 1 "exit status, http to https"
	assert_not_contains "$out" "value"
}

test_prom_token_headers_and_form_go_on_the_wire() {
	local out log query='sum(rate(http_requests_total{code=~"5..", path="/a&b"}[5m])) / 2 + 1'
	fake_start
	out=$("$PROBE" query --url "$FAKE_URL/prefix/" --bearer-token tok-e2e-123 \
		--header 'X-Scope-OrgID: tenant-a' --header 'X-Extra: 1' --query "$query" --at 1700000000)
	assert_eq "$out" "value 42 1700000000.000" "answer"
	log=$(cat "$FAKE_LOG")
	echo "$log"
	assert_contains "$log" "POST /prefix/api/v1/query"
	assert_contains "$log" "Authorization: Bearer tok-e2e-123"
	assert_contains "$log" "X-Scope-OrgID: tenant-a"
	assert_contains "$log" "X-Extra: 1"
	assert_contains "$log" "Content-Type: application/x-www-form-urlencoded"
	assert_contains "$log" "User-Agent: foresight/"
	assert_contains "$log" "form query=$query"
	assert_contains "$log" "form time=1700000000.000"
	# Percent-encoded, so '&', '+' and '=' in PromQL stay in the query.
	assert_contains "$log" "body query=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%2C%20path%3D%22%2Fa%26b%22%7D%5B5m%5D%29%29%20%2F%202%20%2B%201&"
	# A token never shows in an error.
	out=$("$PROBE" query --url "http://127.0.0.1:9" --bearer-token tok-e2e-123 --query up 2>&1) || true
	assert_contains "$out" "error ECONNECT"
	assert_not_contains "$out" "tok-e2e-123"
	# Nor in the refusal of a header.
	out=$("$PROBE" query --url "$FAKE_URL" --header 'no-colon-secret' --query up 2>&1) || true
	assert_contains "$out" "error EINVAL"
	assert_not_contains "$out" "no-colon-secret"
}

test_prom_max_inflight_queues_requests() {
	local out t0 elapsed
	fake_start --delay 0.5
	# Six queries at once through two slots: four wait, three rounds of 0.5 s.
	t0=$(ms_now)
	out=$("$PROBE" query --url "$FAKE_URL" --query 'up' --parallel 6 --max-inflight 2 --stats)
	elapsed=$(($(ms_now) - t0))
	echo "$out (${elapsed} ms)"
	assert_eq "$(echo "$out" | grep -c '^value 42 ')" 6 "answers"
	assert_contains "$out" "stats queries 6 requests 6 errors 0 waits 4"
	[ "$(grep '^peak' "$FAKE_LOG" | sort -k2 -n | tail -1)" = "peak 2" ] ||
		fail "the server saw more than 2 requests at once: $(grep '^peak' "$FAKE_LOG" | tail -1)"
	[ "$elapsed" -ge 1400 ] || fail "six queries through two slots took only ${elapsed} ms"
	# With enough slots, nobody waits.
	out=$("$PROBE" query --url "$FAKE_URL" --query 'up' --parallel 6 --max-inflight 6 --stats)
	assert_contains "$out" "stats queries 6 requests 6 errors 0 waits 0"
}
