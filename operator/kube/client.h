#ifndef FORESIGHT_KUBE_CLIENT_H
#define FORESIGHT_KUBE_CLIENT_H

/*
 * The REST client of the Kubernetes API server, over libcurl.
 *
 * A client is safe to use from several threads at once: each call borrows a
 * curl handle from a small pool and returns it, so TLS connections are reused
 * across calls. Every request has a timeout; every response body has a cap.
 *
 *	struct kube_client *c;
 *	if (kube_client_new(&c, cfg, NULL, &err) != FS_OK) ...
 *	json_object *v;
 *	if (kube_get(&v, c, "/version", &err) == FS_OK) { ...; json_object_put(v); }
 *	kube_client_free(c);
 *
 * Requests pass a client-side token bucket (qps/burst). A 429 or 5xx answer,
 * or a refused connection, is retried up to max_retries times after the
 * server's Retry-After or a capped exponential backoff with jitter; a 5xx is
 * not retried for a POST or a JSON patch, which may not be idempotent.
 * Credentials: client certificates, bearer tokens, token files (re-read each
 * minute, as service account tokens rotate), basic auth, and exec plugins
 * (run again when their credential expires or the server answers 401).
 *
 * A failed call fills `err` with the method, path and what went wrong; for an
 * HTTP error status, the API server's Status message, with err->http_status
 * set and the code mapped (404 FS_ENOTFOUND, 409 FS_ECONFLICT, 410 FS_EGONE,
 * 401/403 FS_EAUTH, other FS_EHTTP). Tokens and keys never appear in messages.
 */

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/result.h"
#include "kube/config.h"

struct kube_client;

struct kube_client_opts {
	long timeout_ms;         /* a whole request; default 30 000 */
	long connect_timeout_ms; /* TCP + TLS handshake; default 10 000 */
	size_t max_body;         /* response body cap; default 64 MiB */
	const char *user_agent;  /* default "foresight/<version>" */
	double qps;              /* client-side rate limit (--kube-qps); default 20, <= 0 none */
	int burst;               /* bursts above qps (--kube-burst); default 30 */
	unsigned max_retries;    /* retries of 429, 5xx and refused connections; default 5 */
	const atomic_bool *stop; /* when set, waits end early and calls fail with FS_ECANCELED */
};

/* Fills `opts` with the defaults. */
void kube_client_opts_init(struct kube_client_opts *opts);

/*
 * Creates a client for `cfg` (copied: the caller keeps ownership of cfg).
 * `opts` may be NULL for the defaults. Free with kube_client_free.
 */
enum fs_rc kube_client_new(struct kube_client **out, const struct kube_config *cfg,
                           const struct kube_client_opts *opts, struct fs_err *err);

/*
 * Finds the cluster as kube_config_auto does (in-cluster, else the
 * kubeconfig files) and creates a client for it: the usual start of a
 * command. On success *cfg and *client are the caller's (kube_config_free,
 * kube_client_free); on failure both are left NULL. `kopts` may be NULL.
 */
enum fs_rc kube_connect(struct kube_config **cfg, struct kube_client **client,
                        const struct kube_config_opts *copts, const struct kube_client_opts *kopts,
                        struct fs_err *err);

/* Closes connections and frees the client. NULL is a no-op. */
void kube_client_free(struct kube_client *c);

/* The server URL the client talks to (owned by the client). */
const char *kube_client_server(const struct kube_client *c);

/* The client-side rate limit in requests a second (--kube-qps); <= 0: none. */
double kube_client_qps(const struct kube_client *c);

struct kube_request {
	const char *method;       /* GET, POST, PUT, PATCH, DELETE */
	const char *path;         /* starts with '/', query included */
	const char *content_type; /* for a body; default application/json */
	const char *body;         /* NULL for none */
	size_t body_len;
	long timeout_ms; /* 0: the client's */
};

struct kube_response {
	long status;     /* HTTP status, 0 if none arrived */
	struct buf body; /* the response body, capped */
};

void kube_response_init(struct kube_response *resp);
void kube_response_release(struct kube_response *resp);

/*
 * Performs one request. FS_OK for a 2xx status; otherwise the error as
 * described above, with `resp` still holding what arrived.
 */
enum fs_rc kube_do(struct kube_response *resp, struct kube_client *c,
                   const struct kube_request *req, struct fs_err *err);

/* GET `path` and parse the JSON body. *out is the caller's (json_object_put). */
enum fs_rc kube_get(json_object **out, struct kube_client *c, const char *path, struct fs_err *err);

/*
 * Sends `body` (serialised; may be NULL) with `method` and `content_type`
 * (NULL: application/json) and, when `out` is not NULL, parses the answer
 * into *out (the caller's).
 */
enum fs_rc kube_send(json_object **out, struct kube_client *c, const char *method, const char *path,
                     const char *content_type, json_object *body, struct fs_err *err);

/*
 * Called for each watch event with its type (ADDED, MODIFIED, DELETED,
 * BOOKMARK) and object (borrowed: valid during the call). Return false to
 * end the watch.
 */
typedef bool (*kube_watch_fn)(void *ctx, const char *type, json_object *object);

struct kube_watch_opts {
	size_t max_line;         /* cap on one event; default 16 MiB */
	long timeout_ms;         /* whole stream; 0: no limit but `stop` */
	const atomic_bool *stop; /* when set true, the watch ends with FS_ECANCELED */
};

/*
 * Decodes one line of a watch stream, `{"type": T, "object": O}`, trailing
 * CR and blanks ignored. On success *event holds the parsed line (the
 * caller's, json_object_put), *type its type (a string owned by *event) and
 * *object its object (borrowed from *event, a JSON object). FS_EPARSE names
 * `what` when the line is not JSON, or its type is not a string, or its
 * object not an object; an empty line is FS_OK with *event NULL. Pure: the
 * watch and the fuzz tests share it.
 */
enum fs_rc kube_watch_event_decode(json_object **event, const char **type, json_object **object,
                                   const char *text, size_t len, const char *what,
                                   struct fs_err *err);

/*
 * Streams the watch at `path` (which carries ?watch=1 and its parameters),
 * calling `fn` for each event, until the server ends the stream (FS_OK), `fn`
 * returns false (FS_OK), `stop` is set (FS_ECANCELED), an ERROR event arrives
 * (its Status mapped as for kube_do: 410 is FS_EGONE), or the connection
 * fails.
 */
enum fs_rc kube_watch(struct kube_client *c, const char *path, const struct kube_watch_opts *opts,
                      kube_watch_fn fn, void *ctx, struct fs_err *err);

/*
 * Calls `fn` and, while it fails with FS_ECONFLICT (409: the object changed
 * since it was read), calls it again after a short jittered pause, at most
 * `attempts` times in all (client-go's RetryOnConflict). `fn` must re-read
 * the object and re-apply its change each time.
 */
typedef enum fs_rc (*kube_conflict_fn)(void *ctx, struct kube_client *c, struct fs_err *err);
enum fs_rc kube_retry_on_conflict(struct kube_client *c, unsigned attempts, kube_conflict_fn fn,
                                  void *ctx, struct fs_err *err);

/*
 * Lists a collection page by page (`limit` items a page, following
 * `continue`), calling `fn` for each item (borrowed during the call; return
 * false to stop). `path` may carry a query (selectors). When a continue token
 * expires (410) the list starts over. On success *rv (the caller's, free())
 * is the list's resourceVersion, from which a watch can start; *pages counts
 * the requests made when `pages` is not NULL.
 */
typedef bool (*kube_item_fn)(void *ctx, json_object *item);
enum fs_rc kube_list(char **rv, unsigned *pages, struct kube_client *c, const char *path,
                     unsigned limit, kube_item_fn fn, void *ctx, struct fs_err *err);

/*
 * Whether a failed attempt (libcurl's code `curl_code`, 0 when an answer
 * came, with HTTP `status`) may be repeated: the failure may pass (a server
 * restarting or overloaded) and repeating cannot do the work twice. A
 * refused connection and a 429 always; a 5xx, a timeout or a dropped
 * connection unless the request is a POST or a JSON patch; TLS, name
 * resolution and 4xx never.
 */
bool kube_should_retry(const char *method, const char *content_type, int curl_code, long status);

/* Counters of what the client did, for metrics and tests. */
struct kube_client_stats {
	unsigned long requests;   /* HTTP requests sent, retries included */
	unsigned long retries;    /* requests repeated after 429, 5xx or refusal */
	unsigned long throttled;  /* requests that waited for the rate limiter */
	unsigned long exec_calls; /* exec plugin runs */
};
void kube_client_stats(struct kube_client_stats *out, struct kube_client *c);

/*
 * Calls `fn` with each (verb, HTTP code, count) the client has seen: verbs
 * GET, LIST, WATCH, POST, PUT, PATCH, DELETE; code 0 when no answer came.
 * At most KUBE_REQUEST_KINDS pairs are kept; later new pairs count under
 * ("other", 0).
 */
#define KUBE_REQUEST_KINDS 64

/* The verb of a request as Kubernetes counts it: a GET of a collection is LIST (static storage). */
const char *kube_request_verb(const char *method, const char *path);

void kube_client_requests(struct kube_client *c,
                          void (*fn)(void *ctx, const char *verb, long code, unsigned long count),
                          void *ctx);

/*
 * Turns a Kubernetes Status object (or any error body) with its HTTP status
 * into an error: rc mapped from the code, msg "<what>: <code> <reason>:
 * <message>". Returns the rc.
 */
enum fs_rc kube_status_error(struct fs_err *err, long http_status, const char *body,
                             const char *what);

#endif
