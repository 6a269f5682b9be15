#ifndef FORESIGHT_HTTP_SERVER_H
#define FORESIGHT_HTTP_SERVER_H

/*
 * The operator's embedded HTTP server (libwebsockets): /metrics, /healthz,
 * /readyz and the dashboard. It runs its own event loop on one thread;
 * route handlers run on that thread and must be quick (render from
 * in-memory state, never a network call), so one slow caller cannot stall
 * the others.
 *
 * With a dashboard store (opts.dash), `/` serves the page (its script and
 * styles are compiled in: operator/dashboard/assets.h) and `/ws` is a
 * read-only WebSocket (subprotocol "foresight-dashboard") that sends the
 * store's whole state, then every message the store publishes. The store
 * wakes the loop (lws_cancel_service) on each change; each client has a
 * queue of at most HTTP_WS_QUEUE_MAX messages, shared by reference, and a
 * client that falls that far behind is closed (the page reconnects and
 * starts again from a fresh state): a browser never holds up the operator,
 * and its memory stays bounded. A WebSocket from another origin than the
 * page's is refused.
 *
 *	static enum fs_rc healthz(void *ctx, struct buf *body, const char **type, int *status,
 *				  struct fs_err *err)
 *	{ return buf_puts(body, "ok\n", err); }
 *
 *	struct http_route routes[] = {{"/healthz", healthz, NULL}};
 *	struct http_server_opts o = {.listen = ":8080", .routes = routes, .nroutes = 1};
 *	http_server_new(&srv, &o, &err);   // binds now, so a busy port fails here
 *	http_server_start(srv, &err);
 *	...
 *	http_server_free(srv);             // stops the loop and joins its thread
 */

#include <stddef.h>

#include "base/buf.h"
#include "base/result.h"
#include "dashboard/dashboard.h"

#define HTTP_WS_QUEUE_MAX   64  /* messages a dashboard client may be behind */
#define HTTP_WS_CLIENTS_MAX 128 /* dashboard clients at once; more are refused */

/*
 * Fills `body` (capped by the server's max_response) for a GET or HEAD of the
 * route. *content_type defaults to "text/plain; charset=utf-8" and *status to
 * 200; a handler that fails gets a 500 with its error message.
 */
typedef enum fs_rc (*http_handler_fn)(void *ctx, struct buf *body, const char **content_type,
                                      int *status, struct fs_err *err);

struct http_server;

struct http_route {
	const char *path; /* exact match, without the query */
	http_handler_fn fn;
	void *ctx;
};

struct http_server_opts {
	const char *listen; /* "[address]:port", e.g. ":8080" (all) or "127.0.0.1:9090" */
	const struct http_route *routes; /* copied */
	size_t nroutes;
	size_t max_response; /* default 16 MiB */
	struct dash *dash;   /* borrowed, outlives the server; NULL: no dashboard */
};

/* What /ws has done, for /metrics. */
struct http_ws_stats {
	unsigned long clients;  /* open now */
	unsigned long dropped;  /* closed for falling behind */
	unsigned long messages; /* sent in full */
};

/* Creates the server and binds its port. Free with http_server_free. */
enum fs_rc http_server_new(struct http_server **out, const struct http_server_opts *opts,
                           struct fs_err *err);

/* Starts the event loop thread. */
enum fs_rc http_server_start(struct http_server *srv, struct fs_err *err);

/* Any thread. */
void http_server_ws_stats(struct http_ws_stats *out, struct http_server *srv);

/* Stops the loop (open requests are dropped) and frees everything. NULL is a no-op. */
void http_server_free(struct http_server *srv);

/* Parses "[address]:port" into *port and the address (NULL: every address). */
enum fs_rc http_parse_listen(char **address, int *port, const char *listen, struct fs_err *err);

#endif
