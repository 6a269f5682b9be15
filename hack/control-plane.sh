#!/usr/bin/env bash
# A real local Kubernetes control plane on loopback, the way envtest does it:
# etcd, kube-apiserver and kube-controller-manager (v1.20.2, built once from
# Debian's source package and cached), plus the tests' fake kubelet.
#
#   hack/control-plane.sh build    compile and cache the binaries (once)
#   hack/control-plane.sh up       start everything, print `export KUBECONFIG=...`
#   hack/control-plane.sh down     stop what `up` started, remove the run dir
#   hack/control-plane.sh status   say what runs
#   hack/control-plane.sh env      print the export line of a running plane
#   hack/control-plane.sh apiserver kill|start [NAME]
#                                  SIGKILL or (re)start the apiserver (default
#                                  kube-apiserver), or a second one named NAME
#                                  on the same etcd (prints its export line)
#   hack/control-plane.sh etcd kill|start
#                                  SIGKILL or restart etcd (same ports and data)
#
# Environment: FORESIGHT_CACHE (binaries; default ~/.cache/foresight),
# FORESIGHT_CP_DIR (run dir; default /tmp/foresight-cp), FORESIGHT_KUBELET=0
# to start without the fake kubelet, FORESIGHT_POD_START_DELAY (seconds a pod
# takes to become ready under the fake kubelet; default 2).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
kube_version=1.20.2
kube_bin="$cache/kube-$kube_version"
run="${FORESIGHT_CP_DIR:-${TMPDIR:-/tmp}/foresight-cp}"

say() { echo "control-plane: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

cmd_build() {
	if [ -x "$kube_bin/kube-apiserver" ] && [ -x "$kube_bin/kube-controller-manager" ]; then
		say "cached build in $kube_bin"
		return 0
	fi
	command -v go >/dev/null || die "go is missing: run hack/deps.sh"
	command -v rsync >/dev/null || die "rsync is missing (the build fails without it): run hack/deps.sh"
	local reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
	[ -d "$reflect2" ] || die "$reflect2 is missing (golang-github-modern-go-reflect2-dev): run hack/deps.sh"

	local work="$cache/build"
	rm -rf "$work"
	mkdir -p "$work"
	say "fetching Debian's kubernetes source package into $work"
	(cd "$work" && apt-get source --download-only kubernetes </dev/null >"$work/source.log" 2>&1) ||
		die "apt-get source kubernetes failed (is there a deb-src entry? run hack/deps.sh): $(tail -3 "$work/source.log")"
	(cd "$work" && dpkg-source --no-check -x ./*.dsc src >>"$work/source.log" 2>&1) ||
		die "unpacking the source package failed: $(tail -3 "$work/source.log")"
	local tree="$work/src"

	# The vendored reflect2 v1.0.1 crashes on Go >= 1.18 (UnsafeMapType.UnsafeIterate).
	rm -rf "$tree/vendor/github.com/modern-go/reflect2"
	cp -r "$reflect2" "$tree/vendor/github.com/modern-go/reflect2"
	rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod" "$tree"/vendor/github.com/modern-go/reflect2/*_test.go

	mkdir -p "$work/gopath/src/k8s.io" "$work/home"
	ln -sfn "$tree" "$work/gopath/src/k8s.io/kubernetes"
	say "building kube-apiserver and kube-controller-manager (about 8 minutes on 2 cores; log: $work/build.log)"
	(
		cd "$work/gopath/src/k8s.io/kubernetes"
		export GOPATH="$work/gopath" HOME="$work/home" CGO_ENABLED=0 GO111MODULE=off GOFLAGS=
		export KUBE_GIT_VERSION="v$kube_version" KUBE_GIT_TREE_STATE=clean
		make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
	) </dev/null >"$work/build.log" 2>&1 || die "build failed: $(tail -5 "$work/build.log")"
	local out="$tree/_output/local/bin/linux/$(go env GOARCH)"
	mkdir -p "$kube_bin.tmp"
	cp "$out/kube-apiserver" "$out/kube-controller-manager" "$kube_bin.tmp/"
	rm -rf "$kube_bin"
	mv "$kube_bin.tmp" "$kube_bin"
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
	say "cached kube-apiserver and kube-controller-manager in $kube_bin"
}

# --- running ---------------------------------------------------------------

port_in_use() {
	ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Prints a free loopback port not already handed out by this run.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768+)
		if ! port_in_use "$p" && ! grep -qx "$p" "$run/ports.taken" 2>/dev/null; then
			echo "$p" >>"$run/ports.taken"
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# A pid from the run dir that is alive and is really the process we started
# (its command line names our run dir), so a recycled pid is never signalled.
live_pid() {
	local f="$run/pids/$1" pid cmd
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] || return 1
	# No pipe into grep -q: under pipefail, tr's SIGPIPE would read as "gone".
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[[ $cmd == *"$run"* ]] || return 1
	echo "$pid"
}

start() {
	local name=$1 pid
	shift
	setsid "$@" >"$run/logs/$name.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$run/pids/$name"
	# Until the child has exec'd, its command line is still this script's and
	# live_pid would take it for gone (CI once saw an empty log and "exited").
	for _ in $(seq 1 200); do
		live_pid "$name" >/dev/null && return 0
		grep -qs '^State:[[:space:]]*[ZX]' "/proc/$pid/status" && return 0
		[ -e "/proc/$pid" ] || return 0
		sleep 0.05
	done
}

# How a process that start() began and live_pid() no longer finds ended:
# its exit status when it was this shell's child, else what /proc shows.
exit_status() {
	local pid status
	pid=$(cat "$run/pids/$1")
	if [ -e "/proc/$pid" ] && ! grep -qs '^State:[[:space:]]*[ZX]' "/proc/$pid/status"; then
		echo "is no longer recognisable (pid $pid runs $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200))"
		return
	fi
	wait "$pid" 2>/dev/null
	status=$?
	if [ "$status" -gt 128 ] && [ "$status" -ne 255 ]; then
		echo "was killed by signal $((status - 128)) (pid $pid)"
	else
		echo "exited with status $status (pid $pid)"
	fi
}

wait_for() {
	local what=$1 seconds=$2 name=$3
	shift 3
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if [ -n "$name" ] && ! live_pid "$name" >/dev/null; then
			die "$name $(exit_status "$name") while waiting for $what; its log ($run/logs/$name.log) ends:
$(tail -15 "$run/logs/$name.log")"
		fi
		[ $SECONDS -lt $deadline ] || die "$what not ready after ${seconds}s; see $run/logs/"
		sleep 0.3
	done
}

make_certs() {
	local pki="$run/pki"
	mkdir -p "$pki"
	(
		cd "$pki"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
			-subj "/CN=foresight-test-ca" 2>/dev/null
		sign() { # name subject extensions
			openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
			printf '%s\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
				-out "$1.crt" -days 3650 -extfile "$1.ext" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		sign apiserver "/CN=kube-apiserver" \
			"subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
keyUsage=digitalSignature,keyEncipherment"
		sign admin "/O=system:masters/CN=admin" \
			"extendedKeyUsage=clientAuth
keyUsage=digitalSignature,keyEncipherment"
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	) || die "creating certificates with openssl failed"
}

write_kubeconfig() {
	local server=$1 out=$2 pki="$run/pki"
	umask 077
	cat >"$out" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: foresight-local
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$pki/admin.crt")
    client-key-data: $(base64 -w0 "$pki/admin.key")
contexts:
- name: foresight-local
  context:
    cluster: foresight-local
    user: admin
    namespace: default
current-context: foresight-local
KUBECONFIG
	umask 022
}

fake_kubelet_bin() {
	local bin="${FORESIGHT_BINDIR:-$repo/bin}/fake-kubelet"
	if [ ! -x "$bin" ]; then
		say "building the fake kubelet"
		make -C "$repo" --no-print-directory "${bin#"$repo"/}" >&2 || die "building $bin failed"
	fi
	echo "$bin"
}

# Starts an apiserver NAME on PORT against the plane's etcd, with the plane's
# certificates; extra flags from $FORESIGHT_APISERVER_ARGS.
start_apiserver() {
	local name=$1 port=$2 pki="$run/pki" extra=()
	# shellcheck disable=SC2206 # word splitting of extra flags is intended
	[ -n "${FORESIGHT_APISERVER_ARGS:-}" ] && extra=($FORESIGHT_APISERVER_ARGS)
	echo "$port" >"$run/$name.port"
	start "$name" "$kube_bin/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$(cat "$run/etcd.port")" \
		--bind-address 127.0.0.1 --secure-port "$port" --insecure-port 0 \
		--advertise-address 127.0.0.1 \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--service-account-issuer "https://kubernetes.default.svc" \
		--service-account-key-file "$pki/sa.pub" \
		--service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range 10.0.0.0/24 \
		--authorization-mode RBAC \
		--disable-admission-plugins ServiceAccount \
		--allow-privileged=true \
		--cert-dir "$run/pki/serving-$name" \
		--event-ttl 1h \
		"${extra[@]}"
}

# Starts etcd on the plane's ports and data dir, and waits for it.
start_etcd() {
	local port peer
	port=$(cat "$run/etcd.port")
	peer=$(cat "$run/etcd-peer.port")
	start etcd etcd --name foresight --data-dir "$run/etcd" \
		--listen-client-urls "http://127.0.0.1:$port" \
		--advertise-client-urls "http://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "foresight=http://127.0.0.1:$peer" \
		--unsafe-no-fsync --quota-backend-bytes 2147483648
	wait_for "etcd" 30 etcd curl -sf "http://127.0.0.1:$port/health"
}

cmd_etcd() {
	local pid
	[ -d "$run/pids" ] || die "not running ($run); start it with: hack/control-plane.sh up"
	case "${1:-}" in
	kill)
		pid=$(live_pid etcd) || die "etcd is not running"
		kill -KILL "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		say "killed etcd (pid $pid)"
		;;
	start)
		if live_pid etcd >/dev/null; then
			say "etcd is already running"
		else
			start_etcd
			say "etcd ready on http://127.0.0.1:$(cat "$run/etcd.port")"
		fi
		;;
	*) die "usage: hack/control-plane.sh etcd kill|start" ;;
	esac
}

wait_apiserver() {
	local name=$1 port=$2 pki="$run/pki"
	wait_for "$name /readyz" 60 "$name" \
		curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
		"https://127.0.0.1:$port/readyz"
}

cmd_apiserver() {
	local action=${1:-} name=${2:-kube-apiserver} pid port
	[ -d "$run/pids" ] || die "not running ($run); start it with: hack/control-plane.sh up"
	case "$name" in
	kube-apiserver | apiserver-*) ;;
	*) die "apiserver names are kube-apiserver or apiserver-SOMETHING, not \"$name\"" ;;
	esac
	case "$action" in
	kill)
		pid=$(live_pid "$name") || die "$name is not running"
		kill -KILL "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
		say "killed $name (pid $pid)"
		;;
	start)
		if live_pid "$name" >/dev/null; then
			say "$name is already running"
		else
			if [ -f "$run/$name.port" ]; then
				port=$(cat "$run/$name.port")
			else
				port=$(free_port)
			fi
			start_apiserver "$name" "$port"
			[ -f "$run/$name.kubeconfig" ] || [ "$name" = kube-apiserver ] ||
				write_kubeconfig "https://127.0.0.1:$port" "$run/$name.kubeconfig"
			wait_apiserver "$name" "$port"
			say "$name ready on https://127.0.0.1:$port"
		fi
		if [ "$name" = kube-apiserver ]; then
			echo "export KUBECONFIG=$run/admin.kubeconfig"
		else
			echo "export KUBECONFIG=$run/$name.kubeconfig"
		fi
		;;
	*) die "usage: hack/control-plane.sh apiserver kill|start [NAME]" ;;
	esac
}

cmd_up() {
	if live_pid kube-apiserver >/dev/null; then
		say "already running in $run"
		cmd_env
		return 0
	fi
	[ -d "$run" ] && cmd_down >/dev/null 2>&1
	cmd_build
	command -v etcd >/dev/null || die "etcd is missing (etcd-server): run hack/deps.sh"
	local attempt
	# Ports are picked free but not held: another process may take one first.
	for attempt in 1 2 3; do
		if (start_plane); then
			echo "export KUBECONFIG=$run/admin.kubeconfig"
			return 0
		fi
		grep -qs "address already in use" "$run"/logs/*.log || exit 1
		say "a port was taken meanwhile; starting again (attempt $((attempt + 1)))"
		cmd_down >/dev/null 2>&1
	done
	die "could not find free ports in 3 attempts"
}

# Starts etcd, the apiserver, the controller-manager and the fake kubelet on
# fresh ports (in a subshell of cmd_up: `die` ends only this attempt).
start_plane() {
	local t0=$SECONDS
	mkdir -p "$run/pids" "$run/logs" "$run/etcd"
	chmod 700 "$run"
	make_certs
	local etcd_port etcd_peer api_port pki="$run/pki"
	etcd_port=$(free_port)
	etcd_peer=$(free_port)
	api_port=$(free_port)

	echo "$etcd_port" >"$run/etcd.port"
	echo "$etcd_peer" >"$run/etcd-peer.port"
	start_etcd
	start_apiserver kube-apiserver "$api_port"
	write_kubeconfig "https://127.0.0.1:$api_port" "$run/admin.kubeconfig"
	wait_apiserver kube-apiserver "$api_port"

	start kube-controller-manager "$kube_bin/kube-controller-manager" \
		--kubeconfig "$run/admin.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false \
		--controllers deployment,replicaset,garbagecollector,namespace,serviceaccount,clusterrole-aggregation \
		--service-account-private-key-file "$pki/sa.key" \
		--root-ca-file "$pki/ca.crt"

	if [ "${FORESIGHT_KUBELET:-1}" != 0 ]; then
		local kubelet
		kubelet=$(fake_kubelet_bin)
		start fake-kubelet "$kubelet" --kubeconfig "$run/admin.kubeconfig" \
			--start-delay "${FORESIGHT_POD_START_DELAY:-2}"
		wait_for "node fake-node" 20 fake-kubelet \
			curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
			"https://127.0.0.1:$api_port/api/v1/nodes/fake-node"
	fi
	say "ready in $((SECONDS - t0))s (apiserver https://127.0.0.1:$api_port, logs in $run/logs)"
}

# Stops every process of the run dir, etcd last (the apiservers need it to stop cleanly).
cmd_down() {
	local pids=() name pid f
	for f in "$run"/pids/*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		[ "$name" = etcd ] && continue
		if pid=$(live_pid "$name"); then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	stop_all "${pids[@]}"
	pids=()
	if pid=$(live_pid etcd); then
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid")
	fi
	stop_all "${pids[@]}"
	if [ -d "$run" ]; then
		rm -rf "$run"
		say "stopped the plane and removed $run"
	else
		say "nothing to stop ($run does not exist)"
	fi
}

# Waits up to 10 s for each pid to exit after SIGTERM, then SIGKILLs it.
stop_all() {
	local pid
	for pid in "$@"; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

cmd_status() {
	local pid all=0 f name
	if [ ! -d "$run" ]; then
		say "not running ($run does not exist)"
		return 3
	fi
	for f in "$run"/pids/*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		if pid=$(live_pid "$name"); then
			printf '%-24s running (pid %s)\n' "$name" "$pid"
		elif [ -f "$run/pids/$name" ]; then
			printf '%-24s stopped (log: %s)\n' "$name" "$run/logs/$name.log"
			all=3
		fi
	done
	[ -f "$run/kube-apiserver.port" ] && echo "apiserver: https://127.0.0.1:$(cat "$run/kube-apiserver.port")"
	echo "kubeconfig: $run/admin.kubeconfig"
	return $all
}

cmd_env() {
	[ -f "$run/admin.kubeconfig" ] && live_pid kube-apiserver >/dev/null ||
		die "not running ($run); start it with: hack/control-plane.sh up"
	echo "export KUBECONFIG=$run/admin.kubeconfig"
}

case "${1:-}" in
build) cmd_build ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
apiserver)
	shift
	cmd_apiserver "$@"
	;;
etcd)
	shift
	cmd_etcd "$@"
	;;
*)
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
	[ "${1:-}" = help ] || [ "${1:-}" = -h ] || [ "${1:-}" = --help ] || exit 2
	;;
esac
