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
		[ $SECONDS -lt $deadline ] || fail "not true after ${seconds}s: $2"
		sleep 0.5
	done
}

# Creates a namespace of the test's own and prints its name.
new_namespace() {
	local ns
	ns="e2e-$(echo "${FUNCNAME[1]:-t}" | tr '_' '-' | cut -c1-40)-$RANDOM"
	"$KUBECTL" create namespace "$ns" >/dev/null
	echo "$ns"
}
