#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and
# UBSan, and runs each for a bounded time over its committed seed corpus
# (tests/fuzz/corpus/NAME). Inputs that crashed once are kept in the corpus
# as regression tests: every run replays them first.
#   hack/fuzz.sh [SECONDS]        each harness for SECONDS (default $FUZZ_SECONDS or 10)
#   hack/fuzz.sh --build          only build
# Prints one line per harness, `fuzz NAME: ok|FAILED ...`, and exits 1 when
# any failed; a crash's input is saved under tests/out/fuzz/NAME/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$repo/build/fuzz"
out="$repo/tests/out/fuzz"
seconds=${1:-${FUZZ_SECONDS:-10}}
CLANG=${CLANG:-clang}
# The libraries and their flags, as the Makefile links them.
lib_cflags=$(make -s --no-print-directory -C "$repo" print-LIB_CFLAGS)
ldlibs=$(make -s --no-print-directory -C "$repo" print-LDLIBS)

# The modules the harnesses reach (parsers and what they call), nothing with threads or I/O loops.
modules=(operator/base operator/kube operator/net operator/prom operator/forecast
	operator/scaling operator/backtest operator/budget)
extra_src=(operator/controller/spec.c)

flags=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -DFORESIGHT_VERSION='"fuzz"'
	-I"$repo/operator" -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
# shellcheck disable=SC2206 # the Makefile's words, split on purpose
flags+=($lib_cflags)

mkdir -p "$build/obj" "$out"
objs=()
for src in $(for m in "${modules[@]}"; do ls "$repo/$m"/*.c; done) "${extra_src[@]/#/$repo/}"; do
	obj="$build/obj/$(realpath --relative-to="$repo" "$src" | tr / _).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$repo/operator" -name '*.h' -newer "$obj" -print -quit)" ]; then
		"$CLANG" "${flags[@]}" -c -o "$obj" "$src"
	fi
	objs+=("$obj")
done

harnesses=()
for h in "$repo"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	name=${name#fuzz_}
	bin="$build/$name"
	if [ ! -x "$bin" ] || [ "$h" -nt "$bin" ] || [ -n "$(find "$build/obj" -newer "$bin" -print -quit)" ]; then
		# shellcheck disable=SC2086 # the Makefile's words
		"$CLANG" "${flags[@]}" -fsanitize=fuzzer -o "$bin" "$h" "${objs[@]}" $ldlibs
	fi
	harnesses+=("$name")
done
[ "${1:-}" != --build ] || exit 0

failed=0
for name in "${harnesses[@]}"; do
	corpus="$repo/tests/fuzz/corpus/$name"
	work="$out/$name"
	rm -rf "$work"
	mkdir -p "$work/new" "$corpus"
	# New inputs go to a scratch dir: the committed corpus changes only by hand.
	if (cd "$work" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
		"$build/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 "$work/new" "$corpus" >"$work/log" 2>&1); then
		runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/log")
		echo "fuzz $name: ok, $runs runs in ${seconds}s, corpus $(ls "$corpus" | wc -l) seeds"
	else
		failed=$((failed + 1))
		echo "fuzz $name: FAILED (log and crashing input in $work)"
		grep -E 'ERROR|SUMMARY|runtime error' "$work/log" | head -5 | sed 's/^/    /'
	fi
done
[ "$failed" -eq 0 ]
