/*
 * load-gen: a scrape target for the tests' Prometheus whose gauges follow
 * what the test says, through files it re-reads on every scrape:
 *
 *   load-gen --listen 127.0.0.1:PORT --dir DIR
 *
 * Every file DIR/NAME holding a number becomes a series
 * `NAME{source="load-gen"} NUMBER` on /metrics (a file that does not hold a
 * number is skipped), so a test changes the load with `echo 250 > DIR/rps`.
 * It uses the operator's own HTTP server module.
 */

#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "http/server.h"

static atomic_bool stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

static bool metric_name(const char *s)
{
	if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

static enum fs_rc serve_metrics(void *ctx, struct buf *body, const char **type, int *status,
                                struct fs_err *err)
{
	const char *dir = ctx;
	DIR *d = opendir(dir);
	struct dirent *e;
	enum fs_rc rc = FS_OK;

	(void)status;
	*type = "text/plain; version=0.0.4";
	if (!d)
		return fs_fail(err, FS_EIO, "%s: cannot open", dir);
	while (rc == FS_OK && (e = readdir(d))) {
		char path[4096], text[64];
		double v;
		char *end;
		FILE *f;

		if (!metric_name(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(text, sizeof(text), f)) {
			v = strtod(text, &end);
			if (end != text && isfinite(v))
				rc = buf_printf(body, err,
				                "# TYPE %s gauge\n%s{source=\"load-gen\"} %.17g\n",
				                e->d_name, e->d_name, v);
		}
		fclose(f);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"dir", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *dir = NULL;
	struct http_server *srv = NULL;
	struct sigaction sa;
	struct fs_err err;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'l')
			listen = optarg;
		else if (opt == 'd')
			dir = optarg;
		else
			return 2;
	}
	if (!listen || !dir) {
		fprintf(stderr, "Usage: load-gen --listen ADDR:PORT --dir DIR\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	{
		struct http_route routes[] = {{"/metrics", serve_metrics, (void *)dir}};
		struct http_server_opts o = {.listen = listen, .routes = routes, .nroutes = 1};

		if (http_server_new(&srv, &o, &err) != FS_OK ||
		    http_server_start(srv, &err) != FS_OK) {
			log_error("load-gen: %s", err.msg);
			http_server_free(srv);
			return 1;
		}
	}
	while (!atomic_load(&stop))
		usleep(100 * 1000);
	http_server_free(srv);
	return 0;
}
