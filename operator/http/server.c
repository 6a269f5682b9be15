#include "http/server.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define DEFAULT_MAX_RESPONSE (16u << 20)
#define WRITE_CHUNK          (32u << 10)

struct http_server {
	struct lws_context *ctx;
	struct http_route *routes;
	size_t nroutes;
	size_t max_response;
	char *address;
	pthread_t thread;
	bool running;
	atomic_bool stop;
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

static const struct lws_protocols protocols[] = {
    {"http", on_http, sizeof(struct conn), 0, 0, NULL, 0},
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
	srv->routes = calloc(opts->nroutes + 1, sizeof(*srv->routes));
	if (!srv->routes) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(srv->routes, opts->routes, opts->nroutes * sizeof(*srv->routes));
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_log);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = srv->address;
	info.protocols = protocols;
	info.user = srv;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	info.timeout_secs = 10;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		rc = fs_fail(err, FS_EIO,
		             "--listen %s: cannot listen (port in use or address not here)",
		             opts->listen);
		goto fail;
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
	if (srv->running) {
		atomic_store(&srv->stop, true);
		lws_cancel_service(srv->ctx);
		pthread_join(srv->thread, NULL);
	}
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	free(srv->routes);
	free(srv->address);
	free(srv);
}
