#!/usr/bin/env bash
# Runs the test suites and ends with one line: `N passed, N failed`.
#   hack/test.sh all|unit|valgrind|sanitized|fuzz|e2e
# Environment (set by the Makefile): UNIT_BINS, the cmocka binaries; BINDIR,
# where bin/foresight and the test tools are.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
mode=${1:-all}
passed=0
failed=0
out="$repo/tests/out"
mkdir -p "$out"

run_unit() {
	local bin log ok bad status
	for bin in ${UNIT_BINS:-}; do
		log="$out/$(basename "$bin").log"
		"$repo/$bin" >"$log" 2>&1
		status=$?
		cat "$log"
		ok=$(grep -c '^\[       OK \]' "$log")
		# cmocka names a failed test twice (as it fails and in the summary).
		bad=$(grep -E '^\[  FAILED  \] [A-Za-z_]' "$log" | sort -u | wc -l)
		if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
			echo "$(basename "$bin"): exited with status $status (crash or sanitizer report above)"
			bad=1
		fi
		passed=$((passed + ok))
		failed=$((failed + bad))
	done
}

# The unit tests again under valgrind memcheck: no invalid access, no leak.
# A binary is one test here (its cmocka tests passed above already).
run_valgrind() {
	local bin log
	if ! command -v valgrind >/dev/null; then
		echo "valgrind: not installed (hack/deps.sh installs it)"
		failed=$((failed + 1))
		return
	fi
	for bin in ${UNIT_BINS:-}; do
		log="$out/$(basename "$bin").valgrind.log"
		if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
			"$repo/$bin" >"$log" 2>&1; then
			echo "valgrind $(basename "$bin"): ok"
			passed=$((passed + 1))
		else
			echo "valgrind $(basename "$bin"): FAILED"
			grep -E '==[0-9]+==' "$log" | head -20
			failed=$((failed + 1))
		fi
	done
}

# The unit tests again, built with AddressSanitizer and UBSan in their own
# tree (build/san-address-undefined): no invalid access, leak or undefined
# behaviour. The e2e suite under them: make SANITIZE=address,undefined test.
run_sanitized() {
	local bins bin log
	if ! bins=$(make -C "$repo" --no-print-directory -s SANITIZE=address,undefined unit-bins \
		2>"$out/sanitized-build.log" | tail -1); then
		echo "asan+ubsan: the build failed (see $out/sanitized-build.log)"
		failed=$((failed + 1))
		return
	fi
	for bin in $bins; do
		log="$out/$(basename "$bin").asan.log"
		if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$repo/$bin" >"$log" 2>&1; then
			echo "asan+ubsan $(basename "$bin"): ok"
			passed=$((passed + 1))
		else
			echo "asan+ubsan $(basename "$bin"): FAILED"
			tail -30 "$log"
			failed=$((failed + 1))
		fi
	done
}

# The libFuzzer harnesses, each a bounded run over its seed corpus (hack/fuzz.sh).
run_fuzz() {
	local log="$out/fuzz.log"
	"$repo/hack/fuzz.sh" 2>&1 | tee "$log"
	passed=$((passed + $(grep -c '^fuzz [a-z_]*: ok' "$log")))
	failed=$((failed + $(grep -c '^fuzz [a-z_]*: FAILED' "$log")))
	if ! grep -q '^fuzz ' "$log"; then
		echo "fuzz: the harnesses did not build (see $log)"
		failed=$((failed + 1))
	fi
}

run_e2e() {
	local log="$out/e2e.log" line
	"$repo/tests/e2e/run.sh" 2>&1 | tee "$log"
	line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "e2e: the harness ended without a summary (see $log)"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(echo "$line" | sed -E 's/e2e: ([0-9]+) passed.*/\1/')))
	failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
}

case "$mode" in
all)
	run_unit
	# Sanitizer builds are checked by the sanitizers; valgrind cannot run them.
	if [ -z "${SANITIZE:-}" ]; then
		run_valgrind
		run_sanitized
	fi
	run_fuzz
	run_e2e
	;;
unit) run_unit ;;
valgrind) run_valgrind ;;
sanitized) run_sanitized ;;
fuzz) run_fuzz ;;
e2e) run_e2e ;;
*)
	echo "usage: hack/test.sh all|unit|valgrind|sanitized|fuzz|e2e" >&2
	exit 2
	;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
