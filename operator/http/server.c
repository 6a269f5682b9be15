#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "dashboard/assets.h"

#define DEFAULT_MAX_RESPONSE (16u << 20)
#define WRITE_CHUNK          (32u << 10)
#define WS_PROTOCOL          "foresight-dashboard"
#define WS_PATH              "/ws"
#define WS_CHUNK             (16u << 10) /* a large state goes out in frames of this size */
#define WS_PULL              16          /* messages taken from the store at a time */
#define MAX_CONNECTIONS      1024        /* open at once: the lws fd tables' size */
/*
 * The kernel's send buffer of a dashboard socket: what a stalled client may
 * hold there besides its queue (Linux would grow it to megabytes), so such
 * a client stops taking writes, and is dropped, soon.
 */
#define WS_SNDBUF (64 << 10)

/* A new client's state and what it must catch up with fit its queue. */
_Static_assert(HTTP_WS_QUEUE_MAX > DASH_SNAPSHOT_STALE_MAX + WS_PULL, "queue too short");

/*
 * A dashboard client: the messages queued for it (references into the
 * store's), oldest first. Touched only on the loop's thread.
 */
struct ws_client {
	struct ws_client *prev, *next;
	struct lws *wsi;
	struct dash_msg *q[HTTP_WS_QUEUE_MAX];
	size_t head, n;
	size_t off;   /* bytes of q[head] sent */
	uint64_t seq; /* of the last message queued */
	bool linked;  /* in the server's list */
	bool doomed;  /* fell behind: closing */
};

struct http_server {
	struct lws_context *ctx;
	struct http_route *routes;
	size_t nroutes;
	size_t max_response;
	char *address;
	pthread_t thread;
	bool running;
	atomic_bool stop;

	struct dash *dash;
	struct ws_client *clients; /* the loop's thread only */
	unsigned char *ws_frame;   /* LWS_PRE + WS_CHUNK, the loop's thread only */
	atomic_ulong ws_open, ws_dropped, ws_sent;
};

/* Per-connection state: the response being written. */
struct conn {
	struct buf body;
	size_t sent;
	bool head;
};

enum fs_rc http_parse_listen(char **address, int *port, const char *listen, struct fs_err *err)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;

	if (!colon)
		return fs_fail(err, FS_EINVAL, "--listen %s: expected [address]:port", listen);
	p = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || p < 1 || p > 65535)
		return fs_fail(err, FS_EINVAL, "--listen %s: the port must be 1-65535", listen);
	*address = NULL;
	if (colon > listen) {
		size_t len = (size_t)(colon - listen);

		/* [::1]:8080 */
		if (listen[0] == '[' && colon[-1] == ']') {
			listen++;
			len -= 2;
		}
		*address = strndup(listen, len);
		if (!*address)
			return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	*port = (int)p;
	return FS_OK;
}

static const struct http_route *find_route(const struct http_server *srv, const char *path)
{
	for (size_t i = 0; i < srv->nroutes; i++) {
		if (strcmp(srv->routes[i].path, path) == 0)
			return &srv->routes[i];
	}
	return NULL;
}

/* Runs the route's handler into the connection's body; returns the status and type. */
static int respond(struct http_server *srv, struct conn *c, const char *path, const char **type)
{
	const struct http_route *route = find_route(srv, path);
	struct fs_err err;
	int status = 200;

	*type = "text/plain; charset=utf-8";
	buf_init(&c->body, srv->max_response);
	if (!route) {
		buf_puts(&c->body, "404 page not found\n", NULL);
		return 404;
	}
	if (route->fn(route->ctx, &c->body, type, &status, &err) != FS_OK) {
		log_warn("http: %s: %s", path, err.msg);
		buf_reset(&c->body);
		*type = "text/plain; charset=utf-8";
		buf_printf(&c->body, NULL, "500 %s\n", err.msg);
		return 500;
	}
	return status;
}

static int write_some(struct lws *wsi, struct conn *c)
{
	size_t left = c->head ? 0 : c->body.len - c->sent;
	size_t n = left < WRITE_CHUNK ? left : WRITE_CHUNK;
	bool last = n == left;
	unsigned char *frame = malloc(LWS_PRE + n + 1);

	if (!frame)
		return -1;
	if (n)
		memcpy(frame + LWS_PRE, c->body.data + c->sent, n);
	if (lws_write(wsi, frame + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
	    (int)n) {
		free(frame);
		return -1;
	}
	free(frame);
	c->sent += n;
	if (last)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
	struct http_server *srv = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	(void)len;
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		unsigned char hdr[LWS_PRE + 1024];
		unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
		const char *type;
		int status;

		if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) &&
		    !lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) {
			lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
			return -1;
		}
		c->head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
		c->sent = 0;
		status = respond(srv, c, in, &type);
		if (lws_add_http_common_headers(wsi, (unsigned int)status, type, c->body.len, &p,
		                                end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
		                                 (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_some(wsi, c);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* a WebSocket must name its subprotocol (WS_PROTOCOL) */
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c)
			buf_release(&c->body);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- the dashboard's WebSocket ------------------------------------------------- */

static void ws_release(struct ws_client *c)
{
	while (c->n) {
		dash_msg_unref(c->q[c->head]);
		c->head = (c->head + 1) % HTTP_WS_QUEUE_MAX;
		c->n--;
	}
	c->off = 0;
}

/* Closes a client that fell behind (from outside its own callback: asynchronously). */
static void ws_drop(struct http_server *srv, struct ws_client *c)
{
	char peer[64] = "";

	if (c->doomed)
		return;
	c->doomed = true;
	ws_release(c);
	atomic_fetch_add(&srv->ws_dropped, 1);
	lws_get_peer_simple(c->wsi, peer, sizeof(peer));
	log_info("dashboard: closing the WebSocket of %s: %d messages behind", peer,
	         HTTP_WS_QUEUE_MAX);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Queues `m` (a reference, taken) for `c`, or drops `c` when its queue is full. */
static void ws_queue(struct http_server *srv, struct ws_client *c, struct dash_msg *m)
{
	if (!c->doomed && c->n == HTTP_WS_QUEUE_MAX)
		ws_drop(srv, c);
	if (c->doomed) {
		dash_msg_unref(m);
		return;
	}
	c->q[(c->head + c->n++) % HTTP_WS_QUEUE_MAX] = m;
	c->seq = m->seq;
}

/* Queues what the store published since the client's last message. */
static void ws_pull(struct http_server *srv, struct ws_client *c)
{
	struct dash_msg *msgs[WS_PULL];
	size_t n;
	bool gap;

	do {
		n = dash_updates(msgs, WS_PULL, &gap, srv->dash, c->seq);
		if (gap) {
			/* The store's ring moved past it: the whole state again. */
			struct dash_msg *m = dash_snapshot(srv->dash);

			if (!m) {
				ws_drop(srv, c);
				return;
			}
			ws_queue(srv, c, m);
			continue;
		}
		for (size_t i = 0; i < n; i++)
			ws_queue(srv, c, msgs[i]);
	} while ((gap || n == WS_PULL) && !c->doomed);
	if (c->n)
		lws_callback_on_writable(c->wsi);
}

/* Sends the next frame of the oldest queued message; one write per callback. */
static int ws_write(struct http_server *srv, struct ws_client *c)
{
	struct dash_msg *m;
	size_t n;
	bool first, last;

	if (c->doomed)
		return -1;
	if (!c->n)
		return 0;
	m = c->q[c->head];
	n = m->len - c->off < WS_CHUNK ? m->len - c->off : WS_CHUNK;
	first = c->off == 0;
	last = c->off + n == m->len;
	memcpy(srv->ws_frame + LWS_PRE, m->data + c->off, n);
	if (lws_write(c->wsi, srv->ws_frame + LWS_PRE, n,
	              (enum lws_write_protocol)lws_write_ws_flags(LWS_WRITE_TEXT, first, last)) <
	    (int)n)
		return -1;
	c->off += n;
	if (last) {
		dash_msg_unref(m);
		c->head = (c->head + 1) % HTTP_WS_QUEUE_MAX;
		c->n--;
		c->off = 0;
		atomic_fetch_add(&srv->ws_sent, 1);
	}
	if (c->n)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* The host:port of an Origin header ("http://host:port"), compared with Host. */
static bool same_origin(struct lws *wsi)
{
	char origin[256], host[256];
	const char *o;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
		return true; /* not a browser: no cross-site page can be behind it */
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) <= 0 ||
	    lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return false;
	o = strstr(origin, "://");
	return o && strcmp(o + 3, host) == 0;
}

static int on_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
	struct http_server *srv = lws_context_user(lws_get_context(wsi));
	struct ws_client *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[64];
		unsigned long open = atomic_load(&srv->ws_open);

		if (!srv->dash || lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, WS_PATH) != 0 || !same_origin(wsi) || open >= HTTP_WS_CLIENTS_MAX)
			return 1;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		struct dash_msg *m;
		int sndbuf = WS_SNDBUF;

		dash_reader(srv->dash, true);
		if (!(m = dash_snapshot(srv->dash))) {
			dash_reader(srv->dash, false);
			return -1;
		}
		if (setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf,
		               sizeof(sndbuf)) != 0)
			log_debug("dashboard: SO_SNDBUF: %s", strerror(errno));
		c->wsi = wsi;
		c->linked = true;
		c->next = srv->clients;
		if (srv->clients)
			srv->clients->prev = c;
		srv->clients = c;
		atomic_fetch_add(&srv->ws_open, 1);
		ws_queue(srv, c, m);
		/* Whatever was published since the snapshot was taken. */
		ws_pull(srv, c);
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return ws_write(srv, c);
	case LWS_CALLBACK_RECEIVE:
		return 0; /* read-only: what a client says is ignored */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The store changed (or the server stops: then the loop ends anyway). */
		for (struct ws_client *k = srv ? srv->clients : NULL; k; k = k->next)
			ws_pull(srv, k);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c && c->linked) {
			if (c->prev)
				c->prev->next = c->next;
			else
				srv->clients = c->next;
			if (c->next)
				c->next->prev = c->prev;
			c->linked = false;
			atomic_fetch_sub(&srv->ws_open, 1);
			dash_reader(srv->dash, false);
		}
		if (c)
			ws_release(c);
		return 0;
	default:
		break;
	}
	(void)in;
	(void)len;
	return 0;
}

/* Called by the store after each change, from the controller's threads. */
static void ws_wake(void *ctx)
{
	struct http_server *srv = ctx;

	lws_cancel_service(srv->ctx);
}

void http_server_ws_stats(struct http_ws_stats *out, struct http_server *srv)
{
	out->clients = atomic_load(&srv->ws_open);
	out->dropped = atomic_load(&srv->ws_dropped);
	out->messages = atomic_load(&srv->ws_sent);
}

static enum fs_rc serve_asset(void *ctx, struct buf *body, const char **type, int *status,
                              struct fs_err *err)
{
	const struct dash_asset *a = ctx;

	(void)status;
	*type = a->type;
	return buf_append(body, a->data, *a->len, err);
}

static const struct lws_protocols protocols[] = {
    {"http", on_http, sizeof(struct conn), 0, 0, NULL, 0},
    {WS_PROTOCOL, on_ws, sizeof(struct ws_client), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_to_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		log_error("http: %.*s", (int)n, line);
	else
		log_warn("http: %.*s", (int)n, line);
}

enum fs_rc http_server_new(struct http_server **out, const struct http_server_opts *opts,
                           struct fs_err *err)
{
	struct lws_context_creation_info info;
	struct http_server *srv;
	int port;
	enum fs_rc rc;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	rc = http_parse_listen(&srv->address, &port, opts->listen, err);
	if (rc != FS_OK)
		goto fail;
	srv->max_response = opts->max_response ? opts->max_response : DEFAULT_MAX_RESPONSE;
	srv->nroutes = opts->nroutes;
	srv->routes = calloc(opts->nroutes + dash_n_assets + 1, sizeof(*srv->routes));
	if (!srv->routes) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(srv->routes, opts->routes, opts->nroutes * sizeof(*srv->routes));
	if (opts->dash) {
		srv->ws_frame = malloc(LWS_PRE + WS_CHUNK);
		if (!srv->ws_frame) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < dash_n_assets; i++)
			srv->routes[srv->nroutes++] = (struct http_route){
			    dash_assets[i].path, serve_asset, (void *)&dash_assets[i]};
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_log);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = srv->address;
	info.protocols = protocols;
	info.user = srv;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	/*
	 * lws binds an IPv6 socket to every address when given an IPv4 one
	 * ("127.0.0.1:8080" listened on *:8080): an IPv4 address gets an IPv4
	 * socket, so that "this host only" means it.
	 */
	{
		struct in_addr v4;

		if (srv->address && inet_pton(AF_INET, srv->address, &v4) == 1)
			info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	}
	info.timeout_secs = 10;
	/*
	 * lws sizes its fd tables by the process's fd limit otherwise: 16 bytes
	 * an fd, 320 KB at a ulimit of 20,000, for a server of probes, scrapes
	 * and a few dashboards.
	 */
	info.fd_limit_per_thread = MAX_CONNECTIONS;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		rc = fs_fail(err, FS_EIO,
		             "--listen %s: cannot listen (port in use or address not here)",
		             opts->listen);
		goto fail;
	}
	if (opts->dash) {
		srv->dash = opts->dash;
		dash_subscribe(srv->dash, ws_wake, srv);
	}
	*out = srv;
	return FS_OK;
fail:
	http_server_free(srv);
	return rc;
}

static void *serve(void *arg)
{
	struct http_server *srv = arg;

	while (!atomic_load(&srv->stop))
		if (lws_service(srv->ctx, 0) < 0)
			break;
	return NULL;
}

enum fs_rc http_server_start(struct http_server *srv, struct fs_err *err)
{
	if (srv->running)
		return FS_OK;
	if (pthread_create(&srv->thread, NULL, serve, srv) != 0)
		return fs_fail(err, FS_ENOMEM, "cannot start the HTTP server thread");
	srv->running = true;
	return FS_OK;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	/* No wake-up may reach a context that is going away. */
	if (srv->dash)
		dash_subscribe(srv->dash, NULL, NULL);
	if (srv->running) {
		atomic_store(&srv->stop, true);
		lws_cancel_service(srv->ctx);
		pthread_join(srv->thread, NULL);
	}
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	free(srv->routes);
	free(srv->ws_frame);
	free(srv->address);
	free(srv);
}
