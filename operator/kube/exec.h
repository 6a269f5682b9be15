#ifndef FORESIGHT_KUBE_EXEC_H
#define FORESIGHT_KUBE_EXEC_H

/*
 * Exec credential plugins (client.authentication.k8s.io ExecCredential), as
 * kubectl runs them for EKS (aws), GKE (gke-gcloud-auth-plugin), AKS
 * (kubelogin) and OIDC helpers: run the command, read an ExecCredential from
 * its stdout, use the token or client certificate until it expires.
 *
 *	struct kube_exec_cred cred;
 *	if (kube_exec_run(&cred, cfg->exec, cfg, &err) == FS_OK) {
 *		... cred.token, cred.expires_at ...
 *		kube_exec_cred_release(&cred);
 *	}
 *
 * The plugin runs with stdin closed (never interactive), its stderr passed
 * through, a 60 s deadline and a 1 MiB cap on its output.
 */

#include <stddef.h>
#include <time.h>

#include "base/result.h"
#include "kube/config.h"

struct kube_exec_cred {
	char *token;    /* bearer token, or NULL */
	char *cert_pem; /* client certificate, or NULL */
	size_t cert_pem_len;
	char *key_pem; /* client key, or NULL */
	size_t key_pem_len;
	time_t expires_at; /* 0: does not expire */
};

/*
 * Runs the plugin `x` (for the cluster of `cfg` when provideClusterInfo).
 * On success `out` holds credentials the caller releases with
 * kube_exec_cred_release. Errors say which command failed and how (not
 * found, with the installHint; exit status; malformed output) and never
 * include what the plugin printed on stdout (it is a secret).
 */
enum fs_rc kube_exec_run(struct kube_exec_cred *out, const struct kube_exec *x,
                         const struct kube_config *cfg, struct fs_err *err);

/*
 * Parses an ExecCredential document (`json`) that a plugin configured with
 * `api_version` printed. Fills `out` (release with kube_exec_cred_release).
 */
enum fs_rc kube_exec_parse(struct kube_exec_cred *out, const char *json, const char *api_version,
                           struct fs_err *err);

/* Frees and wipes the credentials; the struct is left empty. */
void kube_exec_cred_release(struct kube_exec_cred *cred);

#endif
