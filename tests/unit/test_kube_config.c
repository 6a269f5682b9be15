/* Unit tests of operator/kube/config: kubeconfig files and in-cluster config. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/config.h"

/* "-----BEGIN CERTIFICATE-----\nTEST\n" and a key, base64-encoded. */
#define CA_B64   "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClRFU1QK"
#define CERT_B64 "Y2VydA=="
#define KEY_B64  "a2V5"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/fs-kubeconfig-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes `text` to dir/name and returns the path (static storage, one at a time per slot). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][512];
	static int slot;
	char *path = paths[slot++ % 4];
	FILE *f;

	snprintf(path, 512, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static const char *full_config = "apiVersion: v1\n"
                                 "kind: Config\n"
                                 "clusters:\n"
                                 "- name: prod\n"
                                 "  cluster:\n"
                                 "    server: https://10.1.2.3:6443/\n"
                                 "    certificate-authority-data: " CA_B64 "\n"
                                 "- name: dev\n"
                                 "  cluster:\n"
                                 "    server: https://dev.example:443\n"
                                 "    insecure-skip-tls-verify: true\n"
                                 "users:\n"
                                 "- name: admin\n"
                                 "  user:\n"
                                 "    client-certificate-data: " CERT_B64 "\n"
                                 "    client-key-data: " KEY_B64 "\n"
                                 "- name: dev-user\n"
                                 "  user:\n"
                                 "    token: s3cr3t-token\n"
                                 "contexts:\n"
                                 "- name: prod\n"
                                 "  context: {cluster: prod, user: admin, namespace: shop}\n"
                                 "- name: dev\n"
                                 "  context: {cluster: dev, user: dev-user}\n"
                                 "current-context: prod\n";

static void loads_current_context_with_inline_data(void **state)
{
	struct kube_config_opts opts = {.kubeconfig = write_file("config", full_config)};
	struct kube_config *cfg = NULL;
	struct fs_err err;

	(void)state;
	assert_int_equal(kube_config_load(&cfg, &opts, &err), FS_OK);
	assert_string_equal(cfg->server, "https://10.1.2.3:6443");
	assert_string_equal(cfg->ca_pem, "-----BEGIN CERTIFICATE-----\nTEST\n");
	assert_memory_equal(cfg->cert_pem, "cert", 4);
	assert_memory_equal(cfg->key_pem, "key", 3);
	assert_string_equal(cfg->namespace, "shop");
	assert_string_equal(cfg->context_name, "prod");
	assert_false(cfg->insecure);
	assert_null(cfg->token);
	kube_config_free(cfg);
}

static void context_flag_picks_another_context(void **state)
{
	struct kube_config_opts opts = {.kubeconfig = write_file("config", full_config),
	                                .context = "dev"};
	struct kube_config *cfg = NULL;

	(void)state;
	assert_int_equal(kube_config_load(&cfg, &opts, NULL), FS_OK);
	assert_string_equal(cfg->server, "https://dev.example:443");
	assert_true(cfg->insecure);
	assert_string_equal(cfg->token, "s3cr3t-token");
	assert_null(cfg->ca_pem);
	assert_null(cfg->namespace);
	kube_config_free(cfg);
	opts.context = "nope";
	assert_int_equal(kube_config_load(&cfg, &opts, NULL), FS_ENOTFOUND);
}

static void relative_paths_resolve_against_the_file(void **state)
{
	struct kube_config_opts opts;
	struct kube_config *cfg = NULL;
	char sub[300];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/certs", dir);
	mkdir(sub, 0700);
	write_file("certs/ca.crt", "CA FROM FILE\n");
	write_file("token", "file-token\n");
	opts = (struct kube_config_opts){
	    .kubeconfig = write_file("rel.yaml", "clusters:\n"
	                                         "- name: c\n"
	                                         "  cluster:\n"
	                                         "    server: https://x:1\n"
	                                         "    certificate-authority: certs/ca.crt\n"
	                                         "users:\n"
	                                         "- name: u\n"
	                                         "  user: {tokenFile: token}\n"
	                                         "contexts:\n"
	                                         "- {name: x, context: {cluster: c, user: u}}\n"
	                                         "current-context: x\n")};
	assert_int_equal(kube_config_load(&cfg, &opts, NULL), FS_OK);
	assert_string_equal(cfg->ca_pem, "CA FROM FILE\n");
	assert_non_null(strstr(cfg->token_file, "/token"));
	assert_int_equal(cfg->token_file[0], '/');
	kube_config_free(cfg);
}

static void kubeconfig_list_merges_first_wins(void **state)
{
	char env[1200];
	const char *a, *b;
	struct kube_config_opts opts = {0};
	struct kube_config *cfg = NULL;

	(void)state;
	a = write_file("a.yaml", "contexts:\n"
	                         "- {name: one, context: {cluster: shared, user: first}}\n"
	                         "users:\n"
	                         "- {name: first, user: {token: from-a}}\n"
	                         "current-context: one\n");
	b = write_file("b.yaml", "clusters:\n"
	                         "- {name: shared, cluster: {server: 'https://b:1'}}\n"
	                         "users:\n"
	                         "- {name: first, user: {token: from-b}}\n"
	                         "current-context: other\n");
	snprintf(env, sizeof(env), "%s/missing.yaml:%s:%s", dir, a, b);
	opts.env_kubeconfig = env;
	assert_int_equal(kube_config_load(&cfg, &opts, NULL), FS_OK);
	assert_string_equal(cfg->server, "https://b:1");
	assert_string_equal(cfg->token, "from-a");
	assert_string_equal(cfg->context_name, "one");
	kube_config_free(cfg);
}

static void home_config_is_the_default(void **state)
{
	struct kube_config_opts opts = {.env_kubeconfig = "", .home = dir};
	struct kube_config *cfg = NULL;
	struct fs_err err;
	char sub[300];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/.kube", dir);
	mkdir(sub, 0700);
	assert_int_equal(kube_config_load(&cfg, &opts, &err), FS_EIO);
	assert_non_null(strstr(err.msg, ".kube/config"));
	write_file(".kube/config", full_config);
	assert_int_equal(kube_config_load(&cfg, &opts, &err), FS_OK);
	kube_config_free(cfg);
}

/* Loads `text` and expects failure with a message containing each of `want`. */
static void expect_error(const char *text, enum fs_rc rc, const char *want1, const char *want2)
{
	struct kube_config_opts opts = {.kubeconfig = write_file("bad.yaml", text)};
	struct kube_config *cfg = NULL;
	struct fs_err err;

	assert_int_equal(kube_config_load(&cfg, &opts, &err), rc);
	assert_null(cfg);
	if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.msg, want1,
		         want2 ? want2 : "");
	assert_null(strstr(err.msg, "s3cr3t"));
}

static void malformed_files_name_the_key_and_line(void **state)
{
	(void)state;
	expect_error("clusters: not-a-list\ncurrent-context: x\ncontexts:\n- {name: x, context: "
	             "{cluster: c}}\n",
	             FS_EINVAL, "bad.yaml:1: clusters: expected a list", NULL);
	expect_error("clusters:\n- name: c\n  cluster:\n    server: https://x\n"
	             "    certificate-authority-data: '***'\n"
	             "contexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n",
	             FS_EINVAL, "bad.yaml:5: clusters[0].cluster.certificate-authority-data",
	             "invalid base64");
	expect_error("clusters:\n- name: c\n  cluster:\n    server: [a, b]\n"
	             "contexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n",
	             FS_EINVAL, "bad.yaml:4: clusters[0].cluster.server: expected a string", NULL);
	expect_error("clusters:\n- name: c\n  cluster:\n    server: ftp://x\n"
	             "contexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n",
	             FS_EINVAL, "server: must start with https://", NULL);
	expect_error("clusters:\n- name: c\n  cluster:\n    server: https://x\n"
	             "    insecure-skip-tls-verify: maybe\n"
	             "contexts:\n- {name: x, context: {cluster: c}}\ncurrent-context: x\n",
	             FS_EINVAL, "bad.yaml:5: clusters[0].cluster.insecure-skip-tls-verify", NULL);
	expect_error("contexts:\n- {name: x, context: {cluster: gone}}\ncurrent-context: x\n",
	             FS_ENOTFOUND, "no cluster named \"gone\"", "context \"x\"");
	expect_error("contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
	             "clusters:\n- {name: c, cluster: {server: 'https://x'}}\n"
	             "users:\n- name: u\n  user:\n    token: s3cr3t\n"
	             "    client-certificate-data: " CERT_B64 "\n"
	             "current-context: x\n",
	             FS_EINVAL, "needs both client-certificate and client-key", NULL);
	expect_error("clusters:\n  - name: c\n   bad indentation: [\n", FS_EPARSE,
	             "bad.yaml:", NULL);
	expect_error("kind: Config\n", FS_EINVAL, "no current-context", NULL);
	expect_error("- just\n- a list\n", FS_EINVAL, "expected a mapping at the top level", NULL);
	expect_error("contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
	             "clusters:\n- {name: c, cluster: {server: 'https://x'}}\n"
	             "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n"
	             "current-context: x\n",
	             FS_EINVAL, "users[0].user.auth-provider", "exec credential plugin");
}

static void exec_plugins_are_parsed(void **state)
{
	struct kube_config_opts opts;
	struct kube_config *cfg = NULL;
	const char *head = "contexts:\n- {name: x, context: {cluster: c, user: u}}\n"
	                   "clusters:\n- {name: c, cluster: {server: 'https://x'}}\n"
	                   "current-context: x\n"
	                   "users:\n- name: u\n  user:\n    exec:\n";
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text),
	         "%s      apiVersion: client.authentication.k8s.io/v1\n"
	         "      command: ./bin/get-token\n"
	         "      args: [--cluster, prod]\n"
	         "      env:\n      - {name: REGION, value: eu-west-1}\n"
	         "      provideClusterInfo: true\n"
	         "      interactiveMode: Never\n",
	         head);
	opts = (struct kube_config_opts){.kubeconfig = write_file("exec.yaml", text)};
	assert_int_equal(kube_config_load(&cfg, &opts, NULL), FS_OK);
	assert_non_null(cfg->exec);
	assert_non_null(strstr(cfg->exec->command, "/bin/get-token"));
	assert_int_equal(cfg->exec->command[0], '/');
	assert_string_equal(cfg->exec->args[0], "--cluster");
	assert_string_equal(cfg->exec->args[1], "prod");
	assert_null(cfg->exec->args[2]);
	assert_string_equal(cfg->exec->env[0], "REGION=eu-west-1");
	assert_true(cfg->exec->provide_cluster_info);
	kube_config_free(cfg);

	snprintf(text, sizeof(text),
	         "%s      apiVersion: client.authentication.k8s.io/v1alpha1\n"
	         "      command: aws\n",
	         head);
	expect_error(text, FS_EINVAL, "users[0].user.exec.apiVersion", "v1beta1");
	snprintf(text, sizeof(text), "%s      apiVersion: client.authentication.k8s.io/v1\n", head);
	expect_error(text, FS_EINVAL, "users[0].user.exec.command: missing", NULL);
}

static void in_cluster_reads_the_service_account(void **state)
{
	struct kube_config *cfg = NULL;
	struct fs_err err;
	char sa[300];

	(void)state;
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(&cfg, sa, &err), FS_ENOTFOUND);
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(&cfg, sa, &err), FS_ENOTFOUND);
	write_file("sa/token", "tok\n");
	write_file("sa/ca.crt", "CA\n");
	write_file("sa/namespace", "monitoring\n");
	assert_int_equal(kube_config_in_cluster(&cfg, sa, &err), FS_OK);
	assert_string_equal(cfg->server, "https://10.0.0.1:443");
	assert_string_equal(cfg->ca_pem, "CA\n");
	assert_string_equal(cfg->namespace, "monitoring");
	assert_non_null(strstr(cfg->token_file, "sa/token"));
	kube_config_free(cfg);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(&cfg, sa, &err), FS_OK);
	assert_string_equal(cfg->server, "https://[fd00::1]:443");
	kube_config_free(cfg);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loads_current_context_with_inline_data),
	    cmocka_unit_test(context_flag_picks_another_context),
	    cmocka_unit_test(relative_paths_resolve_against_the_file),
	    cmocka_unit_test(kubeconfig_list_merges_first_wins),
	    cmocka_unit_test(home_config_is_the_default),
	    cmocka_unit_test(malformed_files_name_the_key_and_line),
	    cmocka_unit_test(exec_plugins_are_parsed),
	    cmocka_unit_test(in_cluster_reads_the_service_account),
	};

	return cmocka_run_group_tests_name("kube_config", tests, setup, teardown);
}
