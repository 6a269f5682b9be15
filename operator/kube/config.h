#ifndef FORESIGHT_KUBE_CONFIG_H
#define FORESIGHT_KUBE_CONFIG_H

/*
 * Where the API server is and how to authenticate to it: from kubeconfig
 * files (as kubectl reads them) or from a pod's service account.
 *
 * Loading order, as kubectl's:
 *  - `opts.kubeconfig` (a single file) when given;
 *  - else every file of $KUBECONFIG (colon-separated; the first file that
 *    defines a cluster, user or context name wins, the first current-context
 *    wins);
 *  - else ~/.kube/config.
 * `kube_config_auto` first tries in-cluster (a pod's environment), then
 * kubeconfig files.
 *
 * Certificates and keys named by path are read at load time; a token file
 * is kept as a path and re-read by the client, because projected service
 * account tokens rotate. Secrets never appear in error messages.
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"

/* An exec credential plugin (client.authentication.k8s.io ExecCredential). */
struct kube_exec {
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;     /* resolved against the kubeconfig's dir when relative with a '/' */
	char **args;       /* NULL-terminated */
	char **env;        /* NULL-terminated "NAME=value" entries added to the environment */
	bool provide_cluster_info;
	char *install_hint;
};

struct kube_config {
	char *source; /* for messages: "kubeconfig /path, context ctx" or "in-cluster" */
	char *server; /* https://host:port, no trailing slash */
	char *ca_pem; /* CA bundle to trust, PEM; NULL means the system's */
	size_t ca_pem_len;
	bool insecure; /* insecure-skip-tls-verify: only when the kubeconfig says so */
	char *tls_server_name;
	char *cert_pem; /* client certificate, PEM */
	size_t cert_pem_len;
	char *key_pem; /* client key, PEM */
	size_t key_pem_len;
	char *token;      /* bearer token */
	char *token_file; /* re-read bearer token file */
	char *username;   /* basic auth */
	char *password;
	struct kube_exec *exec;
	char *namespace; /* the context's namespace, or the pod's; NULL if none */
	char *cluster_name;
	char *context_name;
};

struct kube_config_opts {
	const char *kubeconfig;     /* --kubeconfig; NULL: $KUBECONFIG, then ~/.kube/config */
	const char *context;        /* --context; NULL: current-context */
	const char *env_kubeconfig; /* $KUBECONFIG as seen by the caller (NULL: getenv) */
	const char *home;           /* $HOME (NULL: getenv) */
};

/*
 * Loads the kubeconfig files named by `opts` and resolves one context.
 * On success *out is a new config the caller frees with kube_config_free.
 * Errors name the file, line and key (FS_EINVAL, FS_EPARSE, FS_EIO).
 */
enum fs_rc kube_config_load(struct kube_config **out, const struct kube_config_opts *opts,
                            struct fs_err *err);

/*
 * The in-cluster config of a pod: KUBERNETES_SERVICE_HOST/PORT and the
 * service account files under `sa_dir` (NULL: the standard
 * /var/run/secrets/kubernetes.io/serviceaccount). FS_ENOTFOUND when not in a pod.
 */
enum fs_rc kube_config_in_cluster(struct kube_config **out, const char *sa_dir, struct fs_err *err);

/*
 * In-cluster when the environment says so and no --kubeconfig or --context
 * was given, else kube_config_load.
 */
enum fs_rc kube_config_auto(struct kube_config **out, const struct kube_config_opts *opts,
                            struct fs_err *err);

/* Frees a config and everything it holds (wiping secrets). NULL is a no-op. */
void kube_config_free(struct kube_config *cfg);

#endif
