#include "kube/config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/ydoc.h"

#define KUBECONFIG_MAX  (4u << 20)
#define PEM_FILE_MAX    (1u << 20)
#define MAX_KUBECONFIGS 32
#define SA_DIR          "/var/run/secrets/kubernetes.io/serviceaccount"

/* One kubeconfig file, loaded. */
struct kc_file {
	struct ydoc doc;
	char *dir; /* for relative paths inside it */
};

struct kc_set {
	struct kc_file files[MAX_KUBECONFIGS];
	size_t n;
};

/* A named entry (cluster, user or context) and the file it came from. */
struct kc_entry {
	struct kc_file *file;
	yaml_node_t *body; /* the `cluster:` / `user:` / `context:` mapping */
	const char *where; /* e.g. "users[2].user" */
	char where_buf[96];
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void wipe_free(char *s, size_t len)
{
	if (!s)
		return;
	memset(s, 0, len ? len : strlen(s));
	free(s);
}

static void exec_free(struct kube_exec *e)
{
	if (!e)
		return;
	free(e->api_version);
	free(e->command);
	free_strv(e->args);
	free_strv(e->env);
	free(e->install_hint);
	free(e);
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->server);
	free(cfg->ca_pem);
	free(cfg->tls_server_name);
	free(cfg->cert_pem);
	wipe_free(cfg->key_pem, cfg->key_pem_len);
	wipe_free(cfg->token, 0);
	free(cfg->token_file);
	free(cfg->username);
	wipe_free(cfg->password, 0);
	exec_free(cfg->exec);
	free(cfg->namespace);
	free(cfg->cluster_name);
	free(cfg->context_name);
	free(cfg);
}

static enum fs_rc read_file(char **out, size_t *out_len, const char *path, size_t max,
                            struct fs_err *err)
{
	struct buf b;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");
	enum fs_rc rc = FS_OK;

	if (!f)
		return fs_fail(err, FS_EIO, "%s: %s", path, strerror(errno));
	buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = buf_append(&b, chunk, n, err);
		if (rc != FS_OK) {
			fs_wrap(err, rc, "%s", path);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = fs_fail(err, FS_EIO, "%s: read error", path);
		goto out;
	}
	*out_len = b.len;
	*out = buf_detach(&b);
	if (!*out)
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
out:
	fclose(f);
	buf_release(&b);
	return rc;
}

/* Joins a path found in a kubeconfig with that file's directory when relative. */
static char *resolve_path(const struct kc_file *f, const char *path)
{
	char *joined;

	if (path[0] == '/' || !f->dir)
		return strdup(path);
	if (asprintf(&joined, "%s/%s", f->dir, path) < 0)
		return NULL;
	return joined;
}

static enum fs_rc field_error(struct fs_err *err, const struct kc_entry *e, yaml_node_t *node,
                              const char *key, const char *problem)
{
	return fs_fail(err, FS_EINVAL, "%s:%d: %s.%s: %s", e->file->doc.name, ydoc_line(node),
	               e->where, key, problem);
}

/* Reads an optional string field; a non-scalar value is an error naming the key. */
static enum fs_rc get_str(const char **out, const struct kc_entry *e, const char *key,
                          struct fs_err *err)
{
	yaml_node_t *node = ydoc_get(&e->file->doc, e->body, key);

	*out = NULL;
	if (ydoc_is_null(node))
		return FS_OK;
	*out = ydoc_str(node);
	if (!*out)
		return field_error(err, e, node, key, "expected a string");
	return FS_OK;
}

/*
 * Loads PEM material from `<key>-data` (base64) or `<key>` (a path), the way
 * kubectl does: data wins over a path.
 */
static enum fs_rc get_pem(char **out, size_t *out_len, const struct kc_entry *e, const char *key,
                          struct fs_err *err)
{
	char data_key[64];
	const char *data, *path;
	char *full;
	enum fs_rc rc;

	snprintf(data_key, sizeof(data_key), "%s-data", key);
	rc = get_str(&data, e, data_key, err);
	if (rc != FS_OK)
		return rc;
	if (data && data[0]) {
		struct fs_err why;

		if (b64_decode(out, out_len, data, &why) != FS_OK)
			return field_error(err, e, ydoc_get(&e->file->doc, e->body, data_key),
			                   data_key, why.msg);
		return FS_OK;
	}
	rc = get_str(&path, e, key, err);
	if (rc != FS_OK || !path || !path[0])
		return rc;
	full = resolve_path(e->file, path);
	if (!full)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	rc = read_file(out, out_len, full, PEM_FILE_MAX, err);
	free(full);
	if (rc != FS_OK)
		return fs_wrap(err, rc, "%s:%d: %s.%s", e->file->doc.name,
		               ydoc_line(ydoc_get(&e->file->doc, e->body, key)), e->where, key);
	return FS_OK;
}

static void set_release(struct kc_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		ydoc_release(&set->files[i].doc);
		free(set->files[i].dir);
	}
	set->n = 0;
}

static enum fs_rc set_add(struct kc_set *set, const char *path, bool must_exist, struct fs_err *err)
{
	struct kc_file *f;
	struct stat st;
	yaml_node_t *root;
	char *copy;
	enum fs_rc rc;

	if (!must_exist && stat(path, &st) != 0)
		return FS_OK;
	if (set->n == MAX_KUBECONFIGS)
		return fs_fail(err, FS_EINVAL, "more than %d kubeconfig files", MAX_KUBECONFIGS);
	f = &set->files[set->n];
	rc = ydoc_load_file(&f->doc, path, KUBECONFIG_MAX, err);
	if (rc != FS_OK) {
		ydoc_release(&f->doc);
		return fs_wrap(err, rc, "kubeconfig");
	}
	set->n++;
	copy = strdup(path);
	if (!copy)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	f->dir = strdup(dirname(copy));
	free(copy);
	if (!f->dir)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	root = ydoc_root(&f->doc);
	if (root && !ydoc_is_null(root) && root->type != YAML_MAPPING_NODE)
		return fs_fail(err, FS_EINVAL, "%s:%d: expected a mapping at the top level", path,
		               ydoc_line(root));
	return FS_OK;
}

/*
 * Finds the entry `name` in the `list` (clusters, users or contexts) of the
 * first file that defines it. `inner` is the key holding the body.
 */
static enum fs_rc find_named(struct kc_entry *out, struct kc_set *set, const char *list,
                             const char *inner, const char *name, struct fs_err *err)
{
	for (size_t i = 0; i < set->n; i++) {
		struct kc_file *f = &set->files[i];
		yaml_node_t *seq = ydoc_get(&f->doc, ydoc_root(&f->doc), list);
		size_t n;

		if (ydoc_is_null(seq))
			continue;
		if (seq->type != YAML_SEQUENCE_NODE)
			return fs_fail(err, FS_EINVAL, "%s:%d: %s: expected a list", f->doc.name,
			               ydoc_line(seq), list);
		n = ydoc_seq_len(seq);
		for (size_t j = 0; j < n; j++) {
			yaml_node_t *item = ydoc_seq_at(&f->doc, seq, j);
			const char *item_name = ydoc_str(ydoc_get(&f->doc, item, "name"));
			yaml_node_t *body;

			if (!item || item->type != YAML_MAPPING_NODE)
				return fs_fail(err, FS_EINVAL, "%s:%d: %s[%zu]: expected a mapping",
				               f->doc.name, ydoc_line(item), list, j);
			if (!item_name)
				return fs_fail(err, FS_EINVAL, "%s:%d: %s[%zu].name: missing",
				               f->doc.name, ydoc_line(item), list, j);
			if (strcmp(item_name, name) != 0)
				continue;
			body = ydoc_get(&f->doc, item, inner);
			if (body && !ydoc_is_null(body) && body->type != YAML_MAPPING_NODE)
				return fs_fail(err, FS_EINVAL,
				               "%s:%d: %s[%zu].%s: expected a mapping", f->doc.name,
				               ydoc_line(body), list, j, inner);
			out->file = f;
			out->body = body;
			snprintf(out->where_buf, sizeof(out->where_buf), "%s[%zu].%s", list, j,
			         inner);
			out->where = out->where_buf;
			return FS_OK;
		}
	}
	return fs_fail(err, FS_ENOTFOUND, "no %s named \"%s\"", inner, name);
}

static enum fs_rc load_strv(char ***out, const struct kc_entry *e, const char *key, bool env_pairs,
                            struct fs_err *err)
{
	yaml_node_t *seq = ydoc_get(&e->file->doc, e->body, key);
	size_t n = ydoc_seq_len(seq);
	char **v;

	if (!ydoc_is_null(seq) && seq->type != YAML_SEQUENCE_NODE)
		return field_error(err, e, seq, key, "expected a list");
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = ydoc_seq_at(&e->file->doc, seq, i);

		if (env_pairs) {
			const char *name = ydoc_str(ydoc_get(&e->file->doc, item, "name"));
			const char *value = ydoc_str(ydoc_get(&e->file->doc, item, "value"));

			if (!name || !value) {
				free_strv(v);
				return field_error(err, e, item, key,
				                   "each entry needs a name and a value");
			}
			if (asprintf(&v[i], "%s=%s", name, value) < 0)
				v[i] = NULL;
		} else {
			const char *s = ydoc_str(item);

			if (!s) {
				free_strv(v);
				return field_error(err, e, item, key, "expected a list of strings");
			}
			v[i] = strdup(s);
		}
		if (!v[i]) {
			free_strv(v);
			return fs_fail(err, FS_ENOMEM, "out of memory");
		}
	}
	*out = v;
	return FS_OK;
}

static enum fs_rc load_exec(struct kube_config *cfg, const struct kc_entry *user, yaml_node_t *node,
                            struct fs_err *err)
{
	struct kc_entry e = *user;
	struct kube_exec *x;
	const char *s;
	bool b;
	enum fs_rc rc;

	snprintf(e.where_buf, sizeof(e.where_buf), "%s.exec", user->where);
	e.where = e.where_buf;
	e.body = node;
	if (node->type != YAML_MAPPING_NODE)
		return field_error(err, user, node, "exec", "expected a mapping");
	x = calloc(1, sizeof(*x));
	if (!x)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	cfg->exec = x;
	rc = get_str(&s, &e, "command", err);
	if (rc != FS_OK)
		return rc;
	if (!s || !s[0])
		return field_error(err, &e, node, "command", "missing");
	/* kubectl resolves a relative command that has a slash against the file's dir. */
	x->command = strchr(s, '/') ? resolve_path(e.file, s) : strdup(s);
	rc = get_str(&s, &e, "apiVersion", err);
	if (rc != FS_OK)
		return rc;
	if (!s || (strcmp(s, "client.authentication.k8s.io/v1") != 0 &&
	           strcmp(s, "client.authentication.k8s.io/v1beta1") != 0))
		return field_error(err, &e, ydoc_get(&e.file->doc, node, "apiVersion"),
		                   "apiVersion",
		                   "must be client.authentication.k8s.io/v1 or /v1beta1");
	x->api_version = strdup(s);
	rc = get_str(&s, &e, "installHint", err);
	if (rc != FS_OK)
		return rc;
	x->install_hint = xstrdup(s);
	if (ydoc_get(&e.file->doc, node, "provideClusterInfo")) {
		if (!ydoc_bool(&b, ydoc_get(&e.file->doc, node, "provideClusterInfo")))
			return field_error(err, &e, node, "provideClusterInfo",
			                   "expected true or false");
		x->provide_cluster_info = b;
	}
	rc = load_strv(&x->args, &e, "args", false, err);
	if (rc != FS_OK)
		return rc;
	rc = load_strv(&x->env, &e, "env", true, err);
	if (rc != FS_OK)
		return rc;
	if (!x->command || !x->api_version)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	return FS_OK;
}

static enum fs_rc load_cluster(struct kube_config *cfg, const struct kc_entry *e,
                               struct fs_err *err)
{
	const char *server, *name;
	yaml_node_t *node;
	enum fs_rc rc;
	size_t len;

	rc = get_str(&server, e, "server", err);
	if (rc != FS_OK)
		return rc;
	if (!server || !server[0])
		return field_error(err, e, e->body, "server", "missing");
	if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
		return field_error(err, e, ydoc_get(&e->file->doc, e->body, "server"), "server",
		                   "must start with https:// or http://");
	cfg->server = strdup(server);
	if (!cfg->server)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	len = strlen(cfg->server);
	while (len > 0 && cfg->server[len - 1] == '/')
		cfg->server[--len] = '\0';
	node = ydoc_get(&e->file->doc, e->body, "insecure-skip-tls-verify");
	if (!ydoc_is_null(node) && !ydoc_bool(&cfg->insecure, node))
		return field_error(err, e, node, "insecure-skip-tls-verify",
		                   "expected true or false");
	rc = get_str(&name, e, "tls-server-name", err);
	if (rc != FS_OK)
		return rc;
	cfg->tls_server_name = xstrdup(name);
	return get_pem(&cfg->ca_pem, &cfg->ca_pem_len, e, "certificate-authority", err);
}

static enum fs_rc load_user(struct kube_config *cfg, const struct kc_entry *e, struct fs_err *err)
{
	const char *s;
	yaml_node_t *node;
	enum fs_rc rc;

	if (!e->body)
		return FS_OK;
	if (ydoc_get(&e->file->doc, e->body, "auth-provider"))
		return field_error(
		    err, e, ydoc_get(&e->file->doc, e->body, "auth-provider"), "auth-provider",
		    "auth providers were removed from Kubernetes clients; use an exec "
		    "credential plugin (for example gke-gcloud-auth-plugin or kubelogin)");
	rc = get_pem(&cfg->cert_pem, &cfg->cert_pem_len, e, "client-certificate", err);
	if (rc == FS_OK)
		rc = get_pem(&cfg->key_pem, &cfg->key_pem_len, e, "client-key", err);
	if (rc != FS_OK)
		return rc;
	if (!cfg->cert_pem != !cfg->key_pem)
		return field_error(
		    err, e, e->body, cfg->cert_pem ? "client-key" : "client-certificate",
		    "a client certificate needs both client-certificate and client-key");
	rc = get_str(&s, e, "token", err);
	if (rc != FS_OK)
		return rc;
	cfg->token = xstrdup(s);
	rc = get_str(&s, e, "tokenFile", err);
	if (rc != FS_OK)
		return rc;
	if (s && s[0]) {
		cfg->token_file = resolve_path(e->file, s);
		if (!cfg->token_file)
			return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	rc = get_str(&s, e, "username", err);
	if (rc != FS_OK)
		return rc;
	cfg->username = xstrdup(s);
	rc = get_str(&s, e, "password", err);
	if (rc != FS_OK)
		return rc;
	cfg->password = xstrdup(s);
	node = ydoc_get(&e->file->doc, e->body, "exec");
	if (!ydoc_is_null(node))
		return load_exec(cfg, e, node, err);
	return FS_OK;
}

static enum fs_rc load_from_set(struct kube_config **out, struct kc_set *set, const char *context,
                                struct fs_err *err)
{
	struct kube_config *cfg = NULL;
	struct kc_entry ctx, cluster, user;
	const char *cluster_name, *user_name, *ns, *first = set->files[0].doc.name;
	enum fs_rc rc;

	if (!context || !context[0]) {
		for (size_t i = 0; i < set->n && !context; i++) {
			struct kc_file *f = &set->files[i];
			yaml_node_t *node =
			    ydoc_get(&f->doc, ydoc_root(&f->doc), "current-context");

			if (!ydoc_is_null(node) && !ydoc_str(node))
				return fs_fail(err, FS_EINVAL,
				               "%s:%d: current-context: expected a string",
				               f->doc.name, ydoc_line(node));
			if (ydoc_str(node) && ydoc_str(node)[0])
				context = ydoc_str(node);
		}
		if (!context)
			return fs_fail(err, FS_EINVAL,
			               "%s: no current-context is set and no --context was given",
			               first);
	}
	rc = find_named(&ctx, set, "contexts", "context", context, err);
	if (rc != FS_OK)
		return fs_wrap(err, rc, "kubeconfig %s", first);
	if (!ctx.body)
		return fs_fail(err, FS_EINVAL, "%s: %s: missing", ctx.file->doc.name, ctx.where);
	rc = get_str(&cluster_name, &ctx, "cluster", err);
	if (rc == FS_OK)
		rc = get_str(&user_name, &ctx, "user", err);
	if (rc == FS_OK)
		rc = get_str(&ns, &ctx, "namespace", err);
	if (rc != FS_OK)
		return rc;
	if (!cluster_name || !cluster_name[0])
		return field_error(err, &ctx, ctx.body, "cluster", "missing");
	rc = find_named(&cluster, set, "clusters", "cluster", cluster_name, err);
	if (rc != FS_OK)
		return fs_wrap(err, rc, "%s: context \"%s\"", ctx.file->doc.name, context);
	if (!cluster.body)
		return fs_fail(err, FS_EINVAL, "%s: %s: missing", cluster.file->doc.name,
		               cluster.where);

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	rc = load_cluster(cfg, &cluster, err);
	if (rc != FS_OK)
		goto out;
	if (user_name && user_name[0]) {
		rc = find_named(&user, set, "users", "user", user_name, err);
		if (rc != FS_OK) {
			fs_wrap(err, rc, "%s: context \"%s\"", ctx.file->doc.name, context);
			goto out;
		}
		rc = load_user(cfg, &user, err);
		if (rc != FS_OK)
			goto out;
	}
	cfg->namespace = xstrdup(ns);
	cfg->cluster_name = strdup(cluster_name);
	cfg->context_name = strdup(context);
	if (asprintf(&cfg->source, "kubeconfig %s, context %s", ctx.file->doc.name, context) < 0)
		cfg->source = NULL;
	if (!cfg->cluster_name || !cfg->context_name || !cfg->source) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	kube_config_free(cfg);
	return rc;
}

enum fs_rc kube_config_load(struct kube_config **out, const struct kube_config_opts *opts,
                            struct fs_err *err)
{
	struct kc_set set = {.n = 0};
	const char *env = opts->env_kubeconfig ? opts->env_kubeconfig : getenv("KUBECONFIG");
	const char *home = opts->home ? opts->home : getenv("HOME");
	char *list = NULL, *path = NULL;
	enum fs_rc rc = FS_OK;

	if (opts->kubeconfig) {
		rc = set_add(&set, opts->kubeconfig, true, err);
	} else if (env && env[0]) {
		char *save = NULL;

		list = strdup(env);
		if (!list) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		/* kubectl skips $KUBECONFIG entries that do not exist. */
		for (char *p = strtok_r(list, ":", &save); p && rc == FS_OK;
		     p = strtok_r(NULL, ":", &save))
			rc = set_add(&set, p, false, err);
		if (rc == FS_OK && set.n == 0)
			rc = fs_fail(err, FS_ENOTFOUND,
			             "none of the files in $KUBECONFIG (%s) exists", env);
	} else {
		if (!home || asprintf(&path, "%s/.kube/config", home) < 0) {
			rc = fs_fail(err, FS_ENOTFOUND, "no kubeconfig: $HOME is not set");
			path = NULL;
			goto out;
		}
		rc = set_add(&set, path, true, err);
	}
	if (rc != FS_OK)
		goto out;
	rc = load_from_set(out, &set, opts->context, err);
out:
	set_release(&set);
	free(list);
	free(path);
	return rc;
}

static enum fs_rc read_trimmed(char **out, const char *path, size_t max, struct fs_err *err)
{
	size_t len;
	enum fs_rc rc = read_file(out, &len, path, max, err);

	if (rc != FS_OK)
		return rc;
	while (len > 0 &&
	       ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' || (*out)[len - 1] == ' '))
		(*out)[--len] = '\0';
	return FS_OK;
}

enum fs_rc kube_config_in_cluster(struct kube_config **out, const char *sa_dir, struct fs_err *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config *cfg;
	char *path = NULL;
	enum fs_rc rc = FS_OK;
	struct stat st;

	if (!sa_dir)
		sa_dir = SA_DIR;
	if (!host || !host[0] || !port || !port[0])
		return fs_fail(err, FS_ENOTFOUND,
		               "not in a pod: KUBERNETES_SERVICE_HOST and _PORT are not set");
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	/* An IPv6 service address needs brackets in a URL. */
	if (asprintf(&cfg->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
	             port) < 0 ||
	    asprintf(&cfg->token_file, "%s/token", sa_dir) < 0 ||
	    asprintf(&path, "%s/ca.crt", sa_dir) < 0) {
		path = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	if (stat(cfg->token_file, &st) != 0) {
		rc = fs_fail(err, FS_ENOTFOUND, "in-cluster: %s: %s", cfg->token_file,
		             strerror(errno));
		goto out;
	}
	rc = read_file(&cfg->ca_pem, &cfg->ca_pem_len, path, PEM_FILE_MAX, err);
	if (rc != FS_OK) {
		fs_wrap(err, rc, "in-cluster CA");
		goto out;
	}
	free(path);
	path = NULL;
	if (asprintf(&path, "%s/namespace", sa_dir) < 0) {
		path = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	if (stat(path, &st) == 0) {
		rc = read_trimmed(&cfg->namespace, path, 256, err);
		if (rc != FS_OK)
			goto out;
	}
	cfg->source = strdup("in-cluster service account");
	if (!cfg->source) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	*out = cfg;
	cfg = NULL;
out:
	free(path);
	kube_config_free(cfg);
	return rc;
}

enum fs_rc kube_config_auto(struct kube_config **out, const struct kube_config_opts *opts,
                            struct fs_err *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!opts->kubeconfig && !opts->context && host && host[0])
		return kube_config_in_cluster(out, NULL, err);
	return kube_config_load(out, opts, err);
}
