#include "cli/cli.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/duration.h"
#include "base/log.h"
#include "base/str.h"
#include "base/version.h"
#include "base/ydoc.h"
#include "controller/controller.h"
#include "dashboard/dashboard.h"
#include "http/server.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"
#include "kube/leader.h"

static atomic_bool stop_requested;
static atomic_bool leading;
static atomic_bool lost_leadership;

/* Manifests `-f` takes at most, and the size of each. */
#define RUN_FILES_MAX    16
#define RUN_MANIFEST_MAX (1u << 20)

struct run_opts {
	const char *kubeconfig, *context, *namespace, *prometheus_url, *listen;
	const char *files[RUN_FILES_MAX]; /* -f */
	size_t n_files;
	const char *lease_namespace, *lease_name;
	bool dry_run, once, leader_elect;
	double kube_qps, kube_timeout, status_refresh;
	int kube_burst;
	unsigned workers, prom_inflight;
	enum log_level log_level;
	enum log_format log_format;
};

struct runtime {
	struct run_opts *o;
	struct kube_client *kube;
	struct ctrl *ctrl;
	struct http_server *srv;
};

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, true);
}

static void on_started_leading(void *ctx)
{
	(void)ctx;
	atomic_store(&leading, true);
}

static void on_stopped_leading(void *ctx)
{
	(void)ctx;
	if (atomic_exchange(&leading, false) && !atomic_load(&stop_requested))
		atomic_store(&lost_leadership, true);
}

static void usage(FILE *f)
{
	fputs(
	    "Usage: foresight run [options]\n"
	    "\n"
	    "Runs the operator: watches ForecastScalers and scales their targets ahead of load.\n"
	    "\n"
	    "  --kubeconfig FILE              kubeconfig (default: in-cluster, $KUBECONFIG, "
	    "~/.kube/config)\n"
	    "  --context NAME                 kubeconfig context\n"
	    "  --namespace NS[,NS...]         watch these namespaces (default: all)\n"
	    "  --prometheus-url URL           Prometheus for scalers that name none\n"
	    "  --dry-run                      write nothing to the cluster; print each decision\n"
	    "  --once                         evaluate every scaler once, print a table, exit\n"
	    "  -f, --filename FILE            with --dry-run --once: evaluate this ForecastScaler\n"
	    "                                 manifest instead of the cluster's (repeatable)\n"
	    "  --listen ADDR:PORT             /metrics, /healthz, /readyz, the dashboard (/)\n"
	    "                                 (default :8080; 127.0.0.1:8080: this host only)\n"
	    "  --leader-elect                 run as one of several replicas (Lease)\n"
	    "  --leader-election-namespace NS the Lease's namespace (default: the kubeconfig's, "
	    "else default)\n"
	    "  --leader-election-id NAME      the Lease's name (default foresight)\n"
	    "  --kube-qps Q, --kube-burst N   client-side API rate limit (default 20, 30)\n"
	    "  --kube-timeout DURATION        each API request but watches (default 30s)\n"
	    "  --max-concurrent-reconciles N  scalers evaluated at once (default 4)\n"
	    "  --prometheus-max-inflight N    concurrent queries per Prometheus (default 8)\n"
	    "  --status-refresh DURATION      rewrite a status whose decision stands once its\n"
	    "                                 figures are 5% off, at most this often (default 0:\n"
	    "                                 never; they follow the next changed decision)\n"
	    "  --log-format text|json         (default text)\n"
	    "  --log-level debug|info|warn|error (default info)\n",
	    f);
}

static bool parse_uint(unsigned *out, const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || end == s || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

/* A duration (base/duration.h) into seconds, from `lo` to `hi`. */
static bool parse_seconds(double *out, const char *s, double lo, double hi)
{
	struct fs_err err;

	return dur_parse(out, s, &err) == FS_OK && *out >= lo && *out <= hi;
}

static int parse_args(struct run_opts *o, int argc, char **argv)
{
	enum {
		O_KUBECONFIG = 256,
		O_CONTEXT,
		O_NAMESPACE,
		O_PROM,
		O_DRY,
		O_ONCE,
		O_LISTEN,
		O_ELECT,
		O_LEASE_NS,
		O_LEASE_ID,
		O_QPS,
		O_BURST,
		O_KUBE_TIMEOUT,
		O_WORKERS,
		O_INFLIGHT,
		O_REFRESH,
		O_LOGFMT,
		O_LOGLVL,
	};
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, O_KUBECONFIG},
	    {"context", required_argument, NULL, O_CONTEXT},
	    {"namespace", required_argument, NULL, O_NAMESPACE},
	    {"prometheus-url", required_argument, NULL, O_PROM},
	    {"dry-run", no_argument, NULL, O_DRY},
	    {"once", no_argument, NULL, O_ONCE},
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"leader-elect", no_argument, NULL, O_ELECT},
	    {"leader-election-namespace", required_argument, NULL, O_LEASE_NS},
	    {"leader-election-id", required_argument, NULL, O_LEASE_ID},
	    {"kube-qps", required_argument, NULL, O_QPS},
	    {"kube-burst", required_argument, NULL, O_BURST},
	    {"kube-timeout", required_argument, NULL, O_KUBE_TIMEOUT},
	    {"max-concurrent-reconciles", required_argument, NULL, O_WORKERS},
	    {"prometheus-max-inflight", required_argument, NULL, O_INFLIGHT},
	    {"status-refresh", required_argument, NULL, O_REFRESH},
	    {"log-format", required_argument, NULL, O_LOGFMT},
	    {"log-level", required_argument, NULL, O_LOGLVL},
	    {"filename", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	unsigned burst;
	char *end;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "hf:", longopts, NULL)) != -1) {
		switch (opt) {
		case O_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case O_CONTEXT:
			o->context = optarg;
			break;
		case O_NAMESPACE:
			o->namespace = optarg;
			break;
		case O_PROM:
			if (strncmp(optarg, "http://", 7) != 0 &&
			    strncmp(optarg, "https://", 8) != 0) {
				fprintf(stderr,
				        "foresight run: --prometheus-url %s: must start with "
				        "http:// or https://\n",
				        optarg);
				return 2;
			}
			o->prometheus_url = optarg;
			break;
		case O_DRY:
			o->dry_run = true;
			break;
		case O_ONCE:
			o->once = true;
			break;
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_ELECT:
			o->leader_elect = true;
			break;
		case O_LEASE_NS:
			o->lease_namespace = optarg;
			break;
		case O_LEASE_ID:
			o->lease_name = optarg;
			break;
		case O_QPS:
			o->kube_qps = strtod(optarg, &end);
			if (*end || o->kube_qps < 0) {
				fprintf(stderr, "foresight run: --kube-qps %s: not a rate\n",
				        optarg);
				return 2;
			}
			break;
		case O_BURST:
			if (!parse_uint(&burst, optarg, 1, 100000)) {
				fprintf(stderr,
				        "foresight run: --kube-burst %s: must be 1-100000\n",
				        optarg);
				return 2;
			}
			o->kube_burst = (int)burst;
			break;
		case O_KUBE_TIMEOUT:
			if (!parse_seconds(&o->kube_timeout, optarg, 1, 600)) {
				fprintf(stderr,
				        "foresight run: --kube-timeout %s: must be a duration from "
				        "1s to 10m\n",
				        optarg);
				return 2;
			}
			break;
		case O_WORKERS:
			if (!parse_uint(&o->workers, optarg, 1, 256)) {
				fprintf(stderr,
				        "foresight run: --max-concurrent-reconciles %s: must be "
				        "1-256\n",
				        optarg);
				return 2;
			}
			break;
		case O_INFLIGHT:
			if (!parse_uint(&o->prom_inflight, optarg, 1, 1024)) {
				fprintf(
				    stderr,
				    "foresight run: --prometheus-max-inflight %s: must be 1-1024\n",
				    optarg);
				return 2;
			}
			break;
		case O_REFRESH:
			if (!parse_seconds(&o->status_refresh, optarg, 0, 86400) ||
			    (o->status_refresh > 0 && o->status_refresh < 1)) {
				fprintf(
				    stderr,
				    "foresight run: --status-refresh %s: must be 0 (never) or a "
				    "duration from 1s to 24h\n",
				    optarg);
				return 2;
			}
			break;
		case O_LOGFMT:
			if (!log_format_parse(&o->log_format, optarg)) {
				fprintf(stderr, "foresight run: --log-format %s: text or json\n",
				        optarg);
				return 2;
			}
			break;
		case O_LOGLVL:
			if (!log_level_parse(&o->log_level, optarg)) {
				fprintf(
				    stderr,
				    "foresight run: --log-level %s: debug, info, warn or error\n",
				    optarg);
				return 2;
			}
			break;
		case 'f':
			if (o->n_files == RUN_FILES_MAX) {
				fprintf(stderr, "foresight run: -f: at most %d manifests\n",
				        RUN_FILES_MAX);
				return 2;
			}
			o->files[o->n_files++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o->n_files && !(o->dry_run && o->once)) {
		fprintf(stderr, "foresight run: -f evaluates manifests before they are applied: it "
		                "needs --dry-run --once\n");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "foresight run: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (o->dry_run && o->leader_elect) {
		fprintf(stderr,
		        "foresight run: --dry-run writes nothing, not even a Lease: it cannot "
		        "be combined with --leader-elect\n");
		return 2;
	}
	return 0;
}

/*
 * Reads a ForecastScaler manifest for -f into *out (the caller's): the first
 * document of `path`, its namespace defaulted to `ns`. Errors name the file
 * and line.
 */
static enum fs_rc load_manifest(json_object **out, const char *path, const char *ns,
                                struct fs_err *err)
{
	struct ydoc doc;
	json_object *obj = NULL, *meta, *v;
	yaml_node_t *root;
	const char *kind = NULL;
	enum fs_rc rc;

	*out = NULL;
	rc = ydoc_load_file(&doc, path, RUN_MANIFEST_MAX, err);
	if (rc != FS_OK)
		goto out;
	root = ydoc_root(&doc);
	if (!root) {
		rc = fs_fail(err, FS_EINVAL, "%s:1: the file holds no manifest", path);
		goto out;
	}
	rc = ydoc_to_json(&obj, &doc, root, err);
	if (rc != FS_OK)
		goto out;
	if (json_object_object_get_ex(obj, "kind", &v))
		kind = json_object_get_string(v);
	if (!json_object_is_type(obj, json_type_object) || !kind ||
	    strcmp(kind, "ForecastScaler") != 0) {
		rc =
		    fs_fail(err, FS_EINVAL, "%s:%d: kind %s: -f takes ForecastScaler manifests",
		            path, ydoc_line(ydoc_get(&doc, root, "kind")), kind ? kind : "missing");
		goto out;
	}
	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "name", &v) || !json_object_get_string(v)) {
		rc = fs_fail(err, FS_EINVAL, "%s:%d: metadata.name: required", path,
		             ydoc_line(root));
		goto out;
	}
	if (!json_object_object_get_ex(meta, "namespace", NULL))
		json_object_object_add(meta, "namespace", json_object_new_string(ns));
	*out = obj;
	obj = NULL;
out:
	json_object_put(obj);
	ydoc_release(&doc);
	return rc;
}

static enum fs_rc healthz(void *ctx, struct buf *body, const char **type, int *status,
                          struct fs_err *err)
{
	(void)ctx;
	(void)type;
	(void)status;
	return buf_puts(body, "ok\n", err);
}

static enum fs_rc readyz(void *ctx, struct buf *body, const char **type, int *status,
                         struct fs_err *err)
{
	struct runtime *rt = ctx;
	char why[320];

	(void)type;
	if (ctrl_ready(rt->ctrl, why, sizeof(why)))
		return buf_puts(body, "ok\n", err);
	*status = 503;
	return buf_printf(body, err, "%s\n", why);
}

static long resident_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

struct requests_render {
	struct buf *body;
	struct fs_err *err;
	enum fs_rc rc;
};

static void render_requests(void *ctx, const char *verb, long code, unsigned long count)
{
	struct requests_render *r = ctx;

	if (r->rc == FS_OK)
		r->rc =
		    buf_printf(r->body, r->err,
		               "foresight_kube_api_requests_total{verb=\"%s\",code=\"%ld\"} %lu\n",
		               verb, code, count);
}

static enum fs_rc metrics(void *ctx, struct buf *body, const char **type, int *status,
                          struct fs_err *err)
{
	struct runtime *rt = ctx;
	struct kube_client_stats ks;
	enum fs_rc rc;

	(void)status;
	*type = "text/plain; version=0.0.4; charset=utf-8";
	kube_client_stats(&ks, rt->kube);
	rc = buf_printf(
	    body, err,
	    "# HELP foresight_build_info The running build.\n"
	    "# TYPE foresight_build_info gauge\n"
	    "foresight_build_info{version=\"%s\"} 1\n"
	    "# HELP foresight_process_resident_memory_bytes Resident memory.\n"
	    "# TYPE foresight_process_resident_memory_bytes gauge\n"
	    "foresight_process_resident_memory_bytes %ld\n"
	    "# HELP foresight_leader 1 while this replica leads (or runs alone).\n"
	    "# TYPE foresight_leader gauge\n"
	    "foresight_leader %d\n"
	    "# HELP foresight_kube_requests_total Requests sent to the API server.\n"
	    "# TYPE foresight_kube_requests_total counter\n"
	    "foresight_kube_requests_total %lu\n"
	    "# HELP foresight_kube_retries_total Requests repeated after 429, 5xx or refusal.\n"
	    "# TYPE foresight_kube_retries_total counter\n"
	    "foresight_kube_retries_total %lu\n"
	    "# HELP foresight_kube_throttled_total Requests that waited for --kube-qps.\n"
	    "# TYPE foresight_kube_throttled_total counter\n"
	    "foresight_kube_throttled_total %lu\n",
	    FORESIGHT_VERSION, resident_bytes(), !rt->o->leader_elect || atomic_load(&leading),
	    ks.requests, ks.retries, ks.throttled);
	if (rc == FS_OK) {
		struct requests_render r = {body, err, FS_OK};

		rc = buf_puts(
		    body,
		    "# HELP foresight_kube_api_requests_total API server requests by verb and "
		    "HTTP code (0: no answer).\n"
		    "# TYPE foresight_kube_api_requests_total counter\n",
		    err);
		if (rc == FS_OK) {
			kube_client_requests(rt->kube, render_requests, &r);
			rc = r.rc;
		}
	}
	if (rc == FS_OK)
		rc = ctrl_render_metrics(rt->ctrl, body, err);
	if (rc == FS_OK && rt->srv) {
		struct http_ws_stats ws;

		http_server_ws_stats(&ws, rt->srv);
		rc = buf_printf(
		    body, err,
		    "# HELP foresight_dashboard_clients Dashboard WebSockets open.\n"
		    "# TYPE foresight_dashboard_clients gauge\n"
		    "foresight_dashboard_clients %lu\n"
		    "# HELP foresight_dashboard_clients_dropped_total Dashboard WebSockets closed "
		    "for falling behind.\n"
		    "# TYPE foresight_dashboard_clients_dropped_total counter\n"
		    "foresight_dashboard_clients_dropped_total %lu\n"
		    "# HELP foresight_dashboard_messages_total Dashboard messages sent.\n"
		    "# TYPE foresight_dashboard_messages_total counter\n"
		    "foresight_dashboard_messages_total %lu\n",
		    ws.clients, ws.dropped, ws.messages);
	}
	return rc;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

int cli_run(int argc, char **argv)
{
	struct run_opts o = {
	    .listen = ":8080",
	    .lease_name = "foresight",
	    .kube_qps = 20,
	    .kube_burst = 30,
	    .workers = 4,
	    .prom_inflight = 8,
	    .log_level = LOG_INFO,
	    .log_format = LOG_TEXT,
	};
	struct runtime rt = {.o = &o};
	struct kube_config_opts copts = {0};
	struct kube_config *cfg = NULL;
	struct kube_client_opts kopts;
	struct events *events = NULL;
	struct leader *le = NULL;
	struct http_server *srv = NULL;
	struct dash *dash = NULL;
	struct ctrl_opts co;
	json_object *manifests[RUN_FILES_MAX] = {NULL};
	struct sigaction sa;
	struct fs_err err;
	int status = 1, parsed;

	parsed = parse_args(&o, argc, argv);
	if (parsed != 0)
		return parsed < 0 ? 0 : parsed;
	log_setup(o.log_level, o.log_format);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * glibc gives each thread that allocates an arena of its own (up to
	 * eight per core); what the workers, informers and refits free there
	 * stays resident. Two arenas keep the steady heap close to what is used.
	 */
	mallopt(M_ARENA_MAX, 2);
	/*
	 * No fastbins: every large allocation (libcurl's 16 KB receive buffer
	 * at each request, for one) made glibc consolidate the fastbins that
	 * json-c's many small frees fill. That took 10% of the operator's CPU
	 * at 1,000 scalers (BENCHMARKS.md); the thread caches still serve
	 * the small sizes.
	 */
	mallopt(M_MXFAST, 0);

	copts.kubeconfig = o.kubeconfig;
	copts.context = o.context;
	kube_client_opts_init(&kopts);
	kopts.qps = o.kube_qps;
	kopts.burst = o.kube_burst;
	if (o.kube_timeout > 0)
		kopts.timeout_ms = (long)(o.kube_timeout * 1000.0);
	kopts.stop = &stop_requested;
	if (kube_connect(&cfg, &rt.kube, &copts, &kopts, &err) != FS_OK) {
		log_error("%s", err.msg);
		goto out;
	}
	if (!o.dry_run) {
		struct events_config ec;

		events_config_init(&ec);
		if (events_new(&events, rt.kube, &ec, &err) != FS_OK) {
			log_error("%s", err.msg);
			goto out;
		}
	}
	for (size_t i = 0; i < o.n_files; i++) {
		/* The namespace a manifest without one lands in, as kubectl apply does. */
		char ns[254] = "default";

		if (o.namespace && o.namespace[0])
			str_fmt(ns, sizeof(ns), "%.*s", (int)strcspn(o.namespace, ","),
			        o.namespace);
		else if (cfg->namespace)
			str_fmt(ns, sizeof(ns), "%s", cfg->namespace);
		if (load_manifest(&manifests[i], o.files[i], ns, &err) != FS_OK) {
			fprintf(stderr, "foresight run: %s\n", err.msg);
			status = 2;
			goto out;
		}
	}
	ctrl_opts_init(&co);
	co.manifests = manifests;
	co.n_manifests = o.n_files;
	co.kube = rt.kube;
	co.events = events;
	co.namespace = o.namespace;
	co.prometheus_url = o.prometheus_url;
	co.dry_run = o.dry_run;
	co.workers = o.workers;
	co.prometheus_max_inflight = o.prom_inflight;
	co.status_refresh = o.status_refresh;
	co.stop = &stop_requested;
	/* The dashboard's store: the controller publishes, the HTTP server reads. */
	if (!o.once && dash_new(&dash, NULL, &err) != FS_OK) {
		log_error("%s", err.msg);
		goto out;
	}
	co.dash = dash;
	if (ctrl_new(&rt.ctrl, &co, &err) != FS_OK || ctrl_start(rt.ctrl, &err) != FS_OK) {
		log_error("%s", err.msg);
		goto out;
	}
	log_info("foresight %s: watching ForecastScalers in %s on %s%s", FORESIGHT_VERSION,
	         o.namespace ? o.namespace : "every namespace", kube_client_server(rt.kube),
	         o.dry_run ? " (dry run: nothing is written)" : "");

	if (o.once) {
		if (!ctrl_wait_synced(rt.ctrl, 30000)) {
			log_error("ForecastScalers could not be listed within 30 s (is the CRD "
			          "installed? see crd/)");
			goto out;
		}
		status = ctrl_once(rt.ctrl, stdout) ? 1 : 0;
		goto out;
	}

	{
		struct http_route routes[] = {
		    {"/healthz", healthz, &rt},
		    {"/readyz", readyz, &rt},
		    {"/metrics", metrics, &rt},
		};
		struct http_server_opts ho = {
		    .listen = o.listen, .routes = routes, .nroutes = 3, .dash = dash};

		if (http_server_new(&srv, &ho, &err) != FS_OK) {
			log_error("%s", err.msg);
			goto out;
		}
		rt.srv = srv; /* before its thread starts: /metrics reads it there */
		if (http_server_start(srv, &err) != FS_OK) {
			log_error("%s", err.msg);
			goto out;
		}
	}
	if (o.leader_elect) {
		struct leader_config lc;

		leader_config_init(&lc);
		lc.namespace = o.lease_namespace ? o.lease_namespace
		               : cfg->namespace  ? cfg->namespace
		                                 : "default";
		lc.name = o.lease_name;
		lc.on_started_leading = on_started_leading;
		lc.on_stopped_leading = on_stopped_leading;
		if (leader_new(&le, cfg, &lc, &err) != FS_OK) {
			log_error("%s", err.msg);
			goto out;
		}
		log_info("waiting to lead (Lease %s/%s)", lc.namespace, lc.name);
	}

	while (!atomic_load(&stop_requested)) {
		if ((!o.leader_elect || atomic_load(&leading)) &&
		    ctrl_start_workers(rt.ctrl, &err) != FS_OK) {
			log_error("%s", err.msg);
			goto out;
		}
		if (atomic_load(&lost_leadership)) {
			log_error("lost leadership: exiting so that a fresh start waits its turn");
			goto out;
		}
		nap_ms(100);
	}
	log_info("shutting down");
	status = 0;
out:
	/*
	 * The HTTP server first: its handlers read the controller. Then the
	 * workers (in-flight evaluations finish), pending Events, the Lease.
	 */
	http_server_free(srv);
	srv = NULL;
	ctrl_free(rt.ctrl);
	if (events)
		events_close(events);
	if (le) {
		if (atomic_load(&leading) && leader_release(le, &err) != FS_OK)
			log_warn("releasing the Lease: %s", err.msg);
		leader_free(le);
	}
	events_free(events);
	dash_free(dash); /* after the controller and the server, its publisher and reader */
	kube_client_free(rt.kube);
	kube_config_free(cfg);
	for (size_t i = 0; i < o.n_files; i++)
		json_object_put(manifests[i]);
	return status;
}
