# shellcheck shell=bash
# The container image (hack/image.sh, `make image`): built from $BINDIR's
# binary into the e2e output dir (never over build/image, which may hold a
# release image while the tests run a sanitizer build), unpacked with umoci,
# and run in its own root filesystem with chroot, as its user 65532, with an
# empty environment: what runs there can only use what the image holds.

# Builds the image (once per e2e run: hack/image.sh does nothing when its
# inputs are unchanged) and unpacks it into $WORK/rootfs. Sets IMAGE_DIR,
# IMAGE_TAG, ROOTFS.
image_build_and_unpack() {
	IMAGE_DIR="$(dirname "$WORK")/image"
	IMAGE_TAG=$(tr -d '[:space:]' <"$REPO/VERSION")
	ROOTFS="$WORK/rootfs"
	IMAGE_OUT="$IMAGE_DIR" BINDIR="$BINDIR" "$REPO/hack/image.sh" | tee "$WORK/image.log"
	umoci raw unpack --image "$IMAGE_DIR/oci:foresight:$IMAGE_TAG" "$ROOTFS" >/dev/null 2>&1 ||
		fail "umoci raw unpack of $IMAGE_DIR/oci:foresight:$IMAGE_TAG failed"
}

# Runs a command inside the unpacked image as its user, with no environment.
# A sanitizer build (libasan in the image) reads its options and its threads
# from /proc, as any container has it: it gets a /proc of its own, mounted in
# a private mount namespace that ends with the command.
in_image() { # command [args...]
	local chroot
	chroot=$(command -v chroot)
	if compgen -G "$ROOTFS/lib*/*/libasan.so*" >/dev/null || compgen -G "$ROOTFS/lib*/libasan.so*" >/dev/null; then
		mkdir -p "$ROOTFS/proc"
		env -i "$(command -v unshare)" --mount-proc="$ROOTFS/proc" "$chroot" --userspec=65532:65532 "$ROOTFS" "$@"
	else
		env -i "$chroot" --userspec=65532:65532 "$ROOTFS" "$@"
	fi
}

test_image_runs_foresight_version_in_its_own_root() {
	image_build_and_unpack
	local ref="foresight:$IMAGE_TAG" config out files unexpected manifest

	# The configuration.
	config=$(skopeo inspect --config "oci:$IMAGE_DIR/oci:$ref")
	assert_eq "$(jq -r .config.User <<<"$config")" 65532:65532 "the image's user"
	assert_eq "$(jq -c .config.Entrypoint <<<"$config")" '["/foresight"]' "the entrypoint"
	assert_eq "$(jq -c .config.Cmd <<<"$config")" '["run"]' "the command"
	assert_eq "$(jq -r '.config.ExposedPorts | keys | join(",")' <<<"$config")" 8080/tcp "the exposed ports"
	assert_eq "$(jq -r '.config.Labels["org.opencontainers.image.version"]' <<<"$config")" \
		"$("$FORESIGHT" version | awk 'NR == 1 {print $2}')" "the version label"
	assert_contains "$(jq -r '.config.Labels["org.opencontainers.image.source"]' <<<"$config")" https:// "the source label"

	# The contents: the binary, shared libraries, the CA bundle, four small
	# files in /etc, the user's home; no shell, no other program.
	if [ -e "$ROOTFS/bin/sh" ] || [ -e "$ROOTFS/usr/bin/sh" ]; then fail "the image has a /bin/sh"; fi
	[ -z "$(find "$ROOTFS" -name sh -o -name busybox -o -name '*bash*')" ] || fail "the image has a shell"
	files=$(cd "$ROOTFS" && find . ! -type d | sed 's|^\./||' | sort)
	unexpected=$(grep -vE '^(foresight|lib(64)?/([a-z0-9_-]+/)?(ld-linux[^/]*|lib[^/]+\.so[.0-9]*)|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt))$' <<<"$files" || true)
	[ -z "$unexpected" ] || fail "the image holds files it should not: $unexpected"
	cmp -s "$ROOTFS/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt ||
		fail "the image's CA bundle is missing or differs from the system's"
	assert_contains "$(cat "$ROOTFS/etc/passwd")" "nonroot:x:65532:65532:" "/etc/passwd"
	assert_contains "$(cat "$ROOTFS/etc/group")" "nonroot:x:65532:" "/etc/group"
	assert_eq "$(stat -c %u:%g "$ROOTFS/home/nonroot")" 65532:65532 "the owner of /home/nonroot"

	# Self-sufficient: runs from its own root, as 65532, with no environment.
	out=$(in_image /foresight version) || fail "foresight version failed in the image's root: $out"
	assert_contains "$out" "foresight $("$FORESIGHT" version | awk 'NR == 1 {print $2}')" "foresight version in the image"
	assert_contains "$out" "libcurl/" "foresight version in the image"
	out=$(in_image /foresight run --help 2>&1) || fail "foresight run --help failed in the image's root: $out"
	assert_contains "$out" "--prometheus-url" "foresight run --help in the image"

	# The docker-archive `docker load` reads: manifest.json names the tag and
	# the files it lists are there; skopeo reads it back into a layout.
	tar -tf "$IMAGE_DIR/foresight-$IMAGE_TAG.tar" >"$WORK/archive.list"
	manifest=$(tar -xOf "$IMAGE_DIR/foresight-$IMAGE_TAG.tar" manifest.json)
	assert_contains "$(jq -r '.[0].RepoTags[]' <<<"$manifest")" "foresight:$IMAGE_TAG" "the docker-archive's RepoTags"
	for f in $(jq -r '.[0].Config, .[0].Layers[]' <<<"$manifest"); do
		grep -qxF "$f" "$WORK/archive.list" || fail "the docker-archive lacks $f, which its manifest.json names"
	done
	skopeo --insecure-policy copy --quiet "docker-archive:$IMAGE_DIR/foresight-$IMAGE_TAG.tar" \
		"oci:$WORK/reloaded:$ref"
	assert_eq "$(skopeo inspect --config "oci:$WORK/reloaded:$ref" | jq -c .rootfs.diff_ids)" \
		"$(jq -c .rootfs.diff_ids <<<"$config")" "the reloaded docker-archive's layers"

	# Small: the compressed layer within 15 MB (a sanitizer build carries
	# libasan and libubsan; only the release image has the budget).
	if ! grep -q 'libasan' <<<"$files"; then
		local manifest_digest size
		manifest_digest=$(jq -r '.manifests[0].digest' "$IMAGE_DIR/oci/index.json")
		size=$(jq -r '.layers[0].size' "$IMAGE_DIR/oci/blobs/${manifest_digest/://}")
		[ "$size" -lt 15000000 ] || fail "the compressed layer is $size bytes, above 15 MB"
	fi
}

test_image_reaches_the_apiserver_over_tls_from_its_own_root() {
	image_build_and_unpack
	local out server port

	# The harness's kubeconfig, certificates embedded, readable by 65532.
	"$KUBECTL" config view --raw --minify --flatten >"$ROOTFS/kubeconfig"
	chmod 0644 "$ROOTFS/kubeconfig"
	out=$(in_image /foresight version --server --kubeconfig /kubeconfig 2>&1) ||
		fail "foresight version --server failed in the image's root: $out"
	assert_contains "$out" "server v1." "foresight version --server in the image"

	# The image's own CA bundle and host resolution: a kubeconfig naming the
	# apiserver "kubernetes" (in its certificate) without a CA, so libcurl
	# falls back to /etc/ssl/certs/ca-certificates.crt; /etc/hosts maps the
	# name (nsswitch.conf: files first).
	server=$("$KUBECTL" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
	port=${server##*:}
	cat >"$ROOTFS/kubeconfig-system-ca" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://kubernetes:$port"}
users:
- name: u
  user:
    client-certificate-data: $("$KUBECTL" config view --raw --minify -o jsonpath='{.users[0].user.client-certificate-data}')
    client-key-data: $("$KUBECTL" config view --raw --minify -o jsonpath='{.users[0].user.client-key-data}')
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
EOF
	chmod 0644 "$ROOTFS/kubeconfig-system-ca"
	echo "127.0.0.1 kubernetes" >"$ROOTFS/etc/hosts"
	# Not trusted yet: the cluster's CA is not in the bundle.
	if out=$(in_image /foresight version --server --kubeconfig /kubeconfig-system-ca 2>&1); then
		fail "foresight trusted the apiserver without its CA in the bundle: $out"
	fi
	assert_contains "$out" "certificate" "the error without the cluster's CA"
	# Trusted once the bundle in the image holds it.
	"$KUBECTL" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
		base64 -d >>"$ROOTFS/etc/ssl/certs/ca-certificates.crt"
	out=$(in_image /foresight version --server --kubeconfig /kubeconfig-system-ca 2>&1) ||
		fail "foresight version --server with the image's CA bundle failed: $out"
	assert_contains "$out" "server v1." "foresight version --server with the image's CA bundle"
}
