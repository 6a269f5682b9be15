# The operator binary reaches the real apiserver with the kubeconfig's client
# certificate and CA, and says clearly what is wrong when it cannot.

# Writes a copy of $KUBECONFIG with one field replaced (yq-free: line edit).
kubeconfig_with() { # key value out
	sed -E "s|^( *)$1: .*|\\1$1: $2|" "$KUBECONFIG" >"$3"
}

test_version_reads_the_server_version() {
	local out
	out=$("$FORESIGHT" version --server)
	assert_contains "$out" "foresight "
	assert_contains "$out" "libcurl"
	assert_contains "$out" "server v1.20.2"
	out=$("$FORESIGHT" version --kubeconfig "$KUBECONFIG" -o json)
	assert_eq "$(echo "$out" | jq -r .server.gitVersion)" "v1.20.2" "server.gitVersion"
	assert_eq "$(echo "$out" | jq -r '.libraries | keys | join(",")')" \
		"json-c,libcurl,libwebsockets,libyaml" "library names"
}

test_client_certificate_authenticates() {
	# /version is public; /api/v1/namespaces needs the admin certificate. The
	# fake kubelet authenticates with the same code, so its node proves it.
	"$KUBECTL" get node fake-node >/dev/null
	local cert
	cert=$(grep client-certificate-data "$KUBECONFIG" | awk '{print $2}' | base64 -d |
		openssl x509 -noout -subject)
	assert_contains "$cert" "system:masters"
}

test_wrong_ca_is_refused_with_a_clear_message() {
	local other="$WORK/other-ca" out status=0
	mkdir -p "$other"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$other/ca.key" -out "$other/ca.crt" \
		-days 1 -subj "/CN=some-other-ca" 2>/dev/null
	kubeconfig_with certificate-authority-data "$(base64 -w0 "$other/ca.crt")" "$WORK/kc"
	out=$("$FORESIGHT" version --server --kubeconfig "$WORK/kc" 2>&1) || status=$?
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "is not trusted"
	assert_contains "$out" "certificate authority of kubeconfig $WORK/kc"
	assert_not_contains "$out" "server v1.20.2"
	assert_not_contains "$out" "PRIVATE KEY"
}

test_unreachable_server_is_reported() {
	local port out status=0
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
	kubeconfig_with server "https://127.0.0.1:$port" "$WORK/kc"
	out=$(timeout 20 "$FORESIGHT" version --server --kubeconfig "$WORK/kc" 2>&1) || status=$?
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "cannot reach the API server https://127.0.0.1:$port"
}

test_malformed_kubeconfig_names_file_and_line() {
	local out line status=0
	sed -E 's|^( *)server: .*|\1server: [not, a, string]|' "$KUBECONFIG" >"$WORK/kc"
	line=$(grep -n 'server:' "$WORK/kc" | cut -d: -f1)
	out=$("$FORESIGHT" version --server --kubeconfig "$WORK/kc" 2>&1) || status=$?
	assert_eq "$status" 1 "exit status"
	assert_contains "$out" "$WORK/kc:$line: clusters[0].cluster.server: expected a string"
}
