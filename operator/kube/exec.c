#include "kube/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/buf.h"
#include "kube/time.h"

#define EXEC_OUTPUT_MAX  (1u << 20)
#define EXEC_DEADLINE_MS 60000

static void wipe(char *s, size_t len)
{
	if (s)
		memset(s, 0, len);
}

void kube_exec_cred_release(struct kube_exec_cred *cred)
{
	if (cred->token)
		wipe(cred->token, strlen(cred->token));
	wipe(cred->cert_pem, cred->cert_pem_len);
	wipe(cred->key_pem, cred->key_pem_len);
	free(cred->token);
	free(cred->cert_pem);
	free(cred->key_pem);
	memset(cred, 0, sizeof(*cred));
}

static const char *get_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

enum fs_rc kube_exec_parse(struct kube_exec_cred *out, const char *json, const char *api_version,
                           struct fs_err *err)
{
	struct kube_exec_cred cred = {0};
	json_object *doc = json_tokener_parse(json), *status;
	const char *s;
	enum fs_rc rc = FS_OK;

	if (!doc || !json_object_is_type(doc, json_type_object)) {
		rc = fs_fail(err, FS_EPARSE, "output is not a JSON ExecCredential");
		goto out;
	}
	s = get_str(doc, "kind");
	if (!s || strcmp(s, "ExecCredential") != 0) {
		rc = fs_fail(err, FS_EPARSE, "output has kind \"%s\", expected ExecCredential",
		             s ? s : "");
		goto out;
	}
	s = get_str(doc, "apiVersion");
	if (!s || strcmp(s, api_version) != 0) {
		rc = fs_fail(err, FS_EPARSE,
		             "output has apiVersion \"%s\", the kubeconfig asks for %s", s ? s : "",
		             api_version);
		goto out;
	}
	if (!json_object_object_get_ex(doc, "status", &status)) {
		rc = fs_fail(err, FS_EPARSE, "output has no status");
		goto out;
	}
	if ((s = get_str(status, "token")) && s[0] && !(cred.token = strdup(s))) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	if ((s = get_str(status, "clientCertificateData")) && s[0]) {
		const char *key = get_str(status, "clientKeyData");

		if (!key || !key[0]) {
			rc = fs_fail(err, FS_EPARSE,
			             "status has clientCertificateData without clientKeyData");
			goto out;
		}
		cred.cert_pem = strdup(s);
		cred.key_pem = strdup(key);
		if (!cred.cert_pem || !cred.key_pem) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		cred.cert_pem_len = strlen(s);
		cred.key_pem_len = strlen(key);
	}
	if (!cred.token && !cred.cert_pem) {
		rc = fs_fail(err, FS_EPARSE, "status has neither a token nor a client certificate");
		goto out;
	}
	if ((s = get_str(status, "expirationTimestamp")) && s[0]) {
		int64_t us;

		rc = kube_time_parse(&us, s, err);
		cred.expires_at = (time_t)(us / 1000000);
		if (rc != FS_OK) {
			fs_wrap(err, rc, "status.expirationTimestamp");
			goto out;
		}
	}
	*out = cred;
	memset(&cred, 0, sizeof(cred));
out:
	kube_exec_cred_release(&cred);
	json_object_put(doc);
	return rc;
}

/* The KUBERNETES_EXEC_INFO document handed to the plugin. */
static char *exec_info(const struct kube_exec *x, const struct kube_config *cfg)
{
	json_object *info = json_object_new_object();
	json_object *spec = json_object_new_object();
	char *text;

	json_object_object_add(info, "apiVersion", json_object_new_string(x->api_version));
	json_object_object_add(info, "kind", json_object_new_string("ExecCredential"));
	json_object_object_add(spec, "interactive", json_object_new_boolean(0));
	if (x->provide_cluster_info) {
		json_object *cluster = json_object_new_object();

		json_object_object_add(cluster, "server", json_object_new_string(cfg->server));
		if (cfg->tls_server_name)
			json_object_object_add(cluster, "tls-server-name",
			                       json_object_new_string(cfg->tls_server_name));
		json_object_object_add(cluster, "insecure-skip-tls-verify",
		                       json_object_new_boolean(cfg->insecure));
		if (cfg->ca_pem) {
			char *ca = b64_encode(cfg->ca_pem, cfg->ca_pem_len);

			if (ca)
				json_object_object_add(cluster, "certificate-authority-data",
				                       json_object_new_string(ca));
			free(ca);
		}
		json_object_object_add(spec, "cluster", cluster);
	}
	json_object_object_add(info, "spec", spec);
	text = strdup(json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN |
	                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(info);
	return text;
}

/* The environment of the plugin: ours, plus its env entries, plus the exec info. */
static char **plugin_env(const struct kube_exec *x, const char *info)
{
	size_t n = 0, extra = 0, i = 0;
	char **env;

	while (environ[n])
		n++;
	while (x->env && x->env[extra])
		extra++;
	env = calloc(n + extra + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t j = 0; j < n; j++) {
		if (strncmp(environ[j], "KUBERNETES_EXEC_INFO=", 21) != 0)
			env[i++] = environ[j];
	}
	for (size_t j = 0; j < extra; j++)
		env[i++] = x->env[j];
	env[i] = (char *)info;
	return env;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Reads the child's stdout until EOF, the cap or the deadline. */
static enum fs_rc read_output(struct buf *out, int fd, const char *command, struct fs_err *err)
{
	long deadline = now_ms() + EXEC_DEADLINE_MS;
	char chunk[4096];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = deadline - now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return fs_fail(err, FS_ETIMEOUT, "exec plugin %s: no answer within %d s",
			               command, EXEC_DEADLINE_MS / 1000);
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fs_fail(err, FS_EIO, "exec plugin %s: %s", command, strerror(errno));
		if (r == 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fs_fail(err, FS_EIO, "exec plugin %s: %s", command, strerror(errno));
		if (n == 0)
			return FS_OK;
		if (buf_append(out, chunk, (size_t)n, NULL) != FS_OK)
			return fs_fail(err, FS_ETOOLARGE, "exec plugin %s: output over %u bytes",
			               command, EXEC_OUTPUT_MAX);
	}
}

enum fs_rc kube_exec_run(struct kube_exec_cred *out, const struct kube_exec *x,
                         const struct kube_config *cfg, struct fs_err *err)
{
	int pipefd[2] = {-1, -1};
	char **argv = NULL, **env = NULL;
	char *info_doc = NULL, *info = NULL;
	size_t nargs = 0;
	struct buf output;
	pid_t pid = -1;
	int status = 0;
	enum fs_rc rc;

	buf_init(&output, EXEC_OUTPUT_MAX);
	while (x->args && x->args[nargs])
		nargs++;
	argv = calloc(nargs + 2, sizeof(*argv));
	info_doc = exec_info(x, cfg);
	if (!argv || !info_doc || asprintf(&info, "KUBERNETES_EXEC_INFO=%s", info_doc) < 0) {
		info = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	env = plugin_env(x, info);
	if (!env) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	argv[0] = x->command;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = x->args[i];
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		rc = fs_fail(err, FS_EIO, "exec plugin %s: pipe: %s", x->command, strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = fs_fail(err, FS_EIO, "exec plugin %s: fork: %s", x->command, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		/* PATH lookup like execvpe, with the plugin's environment. */
		execvpe(x->command, argv, env);
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	rc = read_output(&output, pipefd[0], x->command, err);
	if (rc != FS_OK)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc != FS_OK)
		goto out;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		rc = fs_fail(err, FS_EAUTH, "exec plugin %s: command not found%s%s", x->command,
		             x->install_hint ? ". " : "", x->install_hint ? x->install_hint : "");
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rc = fs_fail(err, FS_EAUTH, "exec plugin %s: %s %d", x->command,
		             WIFEXITED(status) ? "exit status" : "killed by signal",
		             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	rc = kube_exec_parse(out, output.data ? output.data : "", x->api_version, err);
	if (rc != FS_OK)
		fs_wrap(err, rc, "exec plugin %s", x->command);
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (output.data)
		wipe(output.data, output.len);
	buf_release(&output);
	free(argv);
	free(env);
	free(info);
	free(info_doc);
	return rc;
}
