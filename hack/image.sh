#!/usr/bin/env bash
# Builds the operator's container image without a container engine: the
# root filesystem is staged in a directory, packed as one layer with GNU tar,
# and turned into an OCI image with umoci; skopeo exports it as a
# docker-archive tarball that `docker load` accepts.
#
#   BINDIR=bin hack/image.sh     (what `make image` runs, after `make all`)
#
# The image holds exactly:
#   /foresight                          the binary, stripped of debug info
#   the dynamic loader and the shared libraries the loader resolves for the
#   binary (glibc's: the Makefile links every other library statically)
#   /etc/ssl/certs/ca-certificates.crt  libcurl's default CA bundle
#   /etc/passwd, /etc/group             root and nonroot (65532)
#   /etc/nsswitch.conf                  "hosts: files dns", so the pod's
#                                       /etc/hosts (hostAliases) wins over DNS
#   /home/nonroot                       an empty home (owned by 65532)
# No shell, no package manager, nothing else. glibc 2.34+ has the files and
# dns NSS modules built in, and nothing in foresight uses iconv or locales,
# so no NSS or gconv modules are needed.
#
# Why glibc stays dynamic: a static glibc still needs its NSS modules at run
# time for getaddrinfo; the loader's own answer is the exact list of what the
# binary needs.
#
# Output (IMAGE_OUT, default build/image):
#   oci/                        an OCI layout, reference foresight:VERSION
#   foresight-VERSION.tar       the docker-archive, tagged foresight:VERSION
# VERSION is the VERSION file (0.1.0); the image's
# org.opencontainers.image.version label carries the binary's full version
# (0.1.0+commit), which a tag cannot (no '+' in tags).
#
# Reproducible and idempotent: every timestamp is the binary's commit's time
# (SOURCE_DATE_EPOCH to override), so the same inputs give the same digests;
# when the inputs (binary, libraries, CA bundle, this script) are unchanged
# since the last run, it only prints the sizes again. No network.
set -euo pipefail
umask 022
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

bindir=${BINDIR:-bin}
bin="$bindir/foresight"
out=${IMAGE_OUT:-build/image}
name=${IMAGE_NAME:-foresight}
source_url=${IMAGE_SOURCE:-https://foresight.dev/source}
max_bytes=15000000 # the compressed layer's budget

die() {
	echo "image: $*" >&2
	exit 1
}

for tool in umoci skopeo jq strip readelf sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is missing: run hack/deps.sh"
done
[ -x "$bin" ] || die "$bin is missing: run make"

tag=$(tr -d '[:space:]' <VERSION)
full_version=$("$bin" version | awk 'NR == 1 {print $2}') || die "$bin version failed"
case "$full_version" in
"$tag" | "$tag"+*) ;;
*) die "$bin says its version is '$full_version', the VERSION file '$tag': rebuild it (make)" ;;
esac
revision=""
if [[ "$full_version" == *+* ]]; then
	revision=$(git rev-parse -q --verify "${full_version#*+}^{commit}" 2>/dev/null || true)
fi
# Every timestamp: the binary's commit's time (its mtime outside a git tree).
epoch=${SOURCE_DATE_EPOCH:-$(git show -s --format=%ct "${revision:-HEAD}" 2>/dev/null || stat -c %Y "$bin")}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
[ "$arch" != x86_64 ] || arch=amd64

oci="$out/oci"
ref="$name:$tag"
archive="$out/$name-$tag.tar"

# The closure, as the dynamic loader resolves it: "lib => /path (addr)"
# lines, and the loader itself (the binary's PT_INTERP). A static binary
# (no PT_INTERP) goes in alone.
interp=$(readelf -lW "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
libs=()
if [ -n "$interp" ]; then
	listing=$("$interp" --list "$bin") || die "the loader could not list $bin's libraries"
	if grep -q 'not found' <<<"$listing"; then
		die "unresolved libraries: $(grep 'not found' <<<"$listing" | tr -s ' \t' ' ')"
	fi
	mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$listing" | sort -u)
fi
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || die "$ca is missing: install ca-certificates"

# What the image is made of; an unchanged stamp means nothing to do.
inputs=$(
	{
		printf '%s\n' "ref=$ref" "version=$full_version" "revision=$revision" "created=$created" \
			"arch=$arch" "source=$source_url" "interp=$interp"
		sha256sum "$here/image.sh" "$bin" "$ca" ${interp:+"$interp"} ${libs[@]+"${libs[@]}"}
	} | sha256sum | cut -d' ' -f1
)

# Prints the sizes of what is in $out, as a small table.
report() {
	local manifest layer_digest layer_gz layer_tar tarball layout files
	manifest=$(jq -r --arg r "$ref" \
		'.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$oci/index.json")
	layer_digest=$(jq -r '.layers[0].digest' "$oci/blobs/${manifest/://}")
	layer_gz=$(jq -r '.layers[0].size' "$oci/blobs/${manifest/://}")
	layer_tar=$(cat "$out/layer.size")
	files=$(cat "$out/layer.files")
	tarball=$(stat -c %s "$archive")
	layout=$(du -sb "$oci" | cut -f1)
	echo "image: $ref (foresight $full_version, linux/$arch), $files files in one layer"
	awk -v gz="$layer_gz" -v raw="$layer_tar" -v tb="$tarball" -v lo="$layout" \
		-v oci="$oci:$ref" -v arc="$archive" -v max="$max_bytes" '
		function row(what, n, where) { printf "  %-32s %10d %7.1f MB%s\n", what, n, n / 1e6, where == "" ? "" : "  " where }
		BEGIN {
			printf "  %-32s %10s %10s\n", "what", "bytes", "size"
			row("layer, gzip (what a pull moves)", gz, "")
			row("layer, uncompressed", raw, "")
			row("OCI layout", lo, oci)
			row("docker-archive tarball", tb, arc)
			if (gz > max) printf "image: WARNING: the compressed layer is above the %.0f MB budget\n", max / 1e6
		}'
	echo "image: manifest $manifest, layer $layer_digest"
}

if [ -f "$out/inputs.sha256" ] && [ "$(cat "$out/inputs.sha256")" = "$inputs" ] &&
	[ -f "$oci/index.json" ] && [ -f "$archive" ] && [ -f "$out/layer.size" ]; then
	echo "image: up to date ($out)"
	report
	exit 0
fi

mkdir -p "$out"
tmp=$(cd "$(mktemp -d "$out/.build.XXXXXX")" && pwd)
trap 'rm -rf "$tmp"' EXIT
root="$tmp/rootfs"
mkdir -p "$root/etc/ssl/certs" "$root/home/nonroot"

strip -o "$root/foresight" "$bin"
chmod 0755 "$root/foresight"
[ -z "$interp" ] || install -D -m 0755 "$interp" "$root$interp"
for lib in ${libs[@]+"${libs[@]}"}; do
	[ "$lib" = "$interp" ] || install -D -m 0644 "$lib" "$root$lib"
done
install -m 0644 "$ca" "$root$ca"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
	'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$root/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$root/etc/nsswitch.conf"

# One layer, byte for byte the same for the same inputs: sorted, one mtime,
# numeric owners (root, and 65532 for the home), no "./" prefixes.
tar_opts=(--format=gnu --sort=name --mtime="@$epoch" --numeric-owner)
(cd "$root" && tar "${tar_opts[@]}" --owner=0 --group=0 --exclude=home/nonroot \
	-cf "$tmp/layer.tar" -- *)
(cd "$root" && tar "${tar_opts[@]}" --owner=65532 --group=65532 -rf "$tmp/layer.tar" home/nonroot)
stat -c %s "$tmp/layer.tar" >"$tmp/layer.size"
tar -tf "$tmp/layer.tar" | grep -vc '/$' >"$tmp/layer.files" || true

history=(--history.created "$created" --history.created_by "hack/image.sh" --history.author "foresight")
labels=(
	--config.label "org.opencontainers.image.title=foresight"
	--config.label "org.opencontainers.image.description=Foresight: a Kubernetes operator that scales workloads before load arrives"
	--config.label "org.opencontainers.image.version=$full_version"
	--config.label "org.opencontainers.image.source=$source_url"
	--config.label "org.opencontainers.image.created=$created"
)
[ -z "$revision" ] || labels+=(--config.label "org.opencontainers.image.revision=$revision")

umoci init --layout "$tmp/oci"
umoci new --image "$tmp/oci:$ref"
umoci raw add-layer --image "$tmp/oci:$ref" "${history[@]}" \
	--history.comment "foresight, its shared libraries, CA certificates, user 65532" "$tmp/layer.tar"
umoci config --image "$tmp/oci:$ref" --no-history \
	--created "$created" --author foresight --os linux --architecture "$arch" \
	--config.entrypoint /foresight --config.cmd run \
	--config.user 65532:65532 --config.workingdir / \
	--config.exposedports 8080/tcp "${labels[@]}"
umoci gc --layout "$tmp/oci"

# docker-archive: the local policy accepts anything; both ends are local files.
skopeo --insecure-policy copy --quiet "oci:$tmp/oci:$ref" "docker-archive:$tmp/archive.tar:$ref"

# Swap the new outputs in (a run that fails half-way leaves the old ones).
rm -rf "$oci" "$archive"
mv "$tmp/oci" "$oci"
mv "$tmp/archive.tar" "$archive"
mv "$tmp/layer.size" "$tmp/layer.files" "$out/"
echo "$inputs" >"$out/inputs.sha256"
report
