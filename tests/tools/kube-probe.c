/*
 * kube-probe: drives the project's Kubernetes client core against a real
 * API server, for the end-to-end tests.
 *
 *   kube-probe informer --path P [--out FILE] [--objects FILE] [--stamps FILE]
 *                       [--resync S] [--keep PATH ...]
 *       runs an informer on the collection P and, after every change, writes
 *       FILE: one "key resourceVersion" line per cached object (sorted), then
 *       "# lists N gone N watches N failures N events N adds N updates N
 *       deletes N"; and the --objects FILE: the cached objects as the cache
 *       holds them, one JSON text a line, sorted by key; the --stamps FILE:
 *       "key stamp" lines (kube_informer_stamp); --keep: the paths the cache
 *       keeps (kube_informer_opts.keep). Runs until SIGTERM.
 *   kube-probe list --path P [--limit N]
 *       lists P page by page; prints "items N pages N".
 *   kube-probe conflict --path OBJ --annotate K=V [--stale-writes N]
 *       updates OBJ's /status with PUT under kube_retry_on_conflict, while the
 *       first N attempts are made stale on purpose by a concurrent write;
 *       prints "attempts N".
 *   kube-probe seed --path P --count N
 *       creates N ConfigMaps named seed-0..seed-N-1 in the collection P, fast.
 *   kube-probe patch --path P --type merge|json|apply --body JSON [--field-manager M]
 *       PATCHes P (apply: server-side apply with ?fieldManager=M&force=true);
 *       prints the resulting object's resourceVersion.
 *   kube-probe get --path P [--repeat N] [--interval SECONDS] [--retries N]
 *       GETs P N times; prints "ok N exec_calls N" (exec plugin runs).
 *
 * Common options: --kubeconfig FILE, --context NAME (default: in-cluster,
 * then $KUBECONFIG, then ~/.kube/config, as the operator).
 */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"

static atomic_bool stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

struct options {
	const char *kubeconfig, *context, *path, *out, *objects, *stamps, *annotate, *patch_type,
	    *body, *field_manager;
	const char *keep[9]; /* NULL-terminated */
	size_t n_keep;
	unsigned limit, repeat, stale_writes, resync, retries;
	double interval, qps;
};

/* --- informer --------------------------------------------------------------- */

struct informer_state {
	struct kube_informer *inf;
	const char *out, *objects, *stamps;
	atomic_ulong adds, updates, deletes;
	atomic_bool dirty;
};

static void count_add(void *ctx, json_object *obj)
{
	struct informer_state *s = ctx;

	(void)obj;
	atomic_fetch_add(&s->adds, 1);
	atomic_store(&s->dirty, true);
}

static void count_update(void *ctx, json_object *old_obj, json_object *new_obj)
{
	struct informer_state *s = ctx;

	(void)old_obj;
	(void)new_obj;
	atomic_fetch_add(&s->updates, 1);
	atomic_store(&s->dirty, true);
}

static void count_delete(void *ctx, json_object *obj)
{
	struct informer_state *s = ctx;

	(void)obj;
	atomic_fetch_add(&s->deletes, 1);
	atomic_store(&s->dirty, true);
}

struct lines {
	char **v;
	size_t n, cap;
	bool json; /* the objects' JSON texts, not "key rv" */
};

static void collect(void *ctx, const char *key, const char *rv, const char *json)
{
	struct lines *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	/* "key\tjson" sorts by key; the key is cut off when written. */
	if ((l->json ? asprintf(&l->v[l->n], "%s\t%s", key, json)
	             : asprintf(&l->v[l->n], "%s %s", key, rv)) >= 0)
		l->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints a collected line to `f` as the file it goes to wants it. */
typedef void print_line_fn(FILE *f, struct informer_state *s, char *line);

/*
 * Writes a line per cached object, in key order, each as `print` puts it,
 * then `trailer` (or nothing), to `path` atomically (tmp + rename).
 */
static void write_lines(struct informer_state *s, const char *path, bool json, print_line_fn *print,
                        const char *trailer)
{
	struct lines l = {.json = json};
	char tmp[4096];
	FILE *f;

	kube_informer_foreach(s->inf, collect, &l);
	qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f) {
		for (size_t i = 0; i < l.n; i++)
			print(f, s, l.v[i]);
		if (trailer)
			fputs(trailer, f);
		fclose(f);
		rename(tmp, path);
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
}

/* "key rv" as collected. */
static void print_key_rv(FILE *f, struct informer_state *s, char *line)
{
	(void)s;
	fprintf(f, "%s\n", line);
}

/* "key\tjson": the JSON. */
static void print_json(FILE *f, struct informer_state *s, char *line)
{
	(void)s;
	fprintf(f, "%s\n", strchr(line, '\t') + 1);
}

/* "key rv": the key and its stamp, when the object is still cached. */
static void print_stamp(FILE *f, struct informer_state *s, char *line)
{
	char rv[64];
	uint64_t stamp;

	*strchr(line, ' ') = '\0';
	if (kube_informer_stamp(&stamp, rv, sizeof(rv), s->inf, line))
		fprintf(f, "%s %016" PRIx64 "\n", line, stamp);
}

/*
 * Writes the cache ("key rv" lines) and counters to s->out, the objects'
 * JSON to s->objects and their stamps to s->stamps, each atomically.
 */
static void dump(struct informer_state *s)
{
	struct kube_informer_stats st;
	char counters[512];

	/* Those first: once s->out shows a change, they show it too. */
	if (s->objects)
		write_lines(s, s->objects, true, print_json, NULL);
	if (s->stamps)
		write_lines(s, s->stamps, false, print_stamp, NULL);
	kube_informer_stats(&st, s->inf);
	snprintf(counters, sizeof(counters),
	         "# lists %lu gone %lu watches %lu failures %lu events %lu adds %lu updates "
	         "%lu deletes %lu resyncs %lu\n",
	         st.lists, st.relists_gone, st.watches, st.failures, st.events,
	         atomic_load(&s->adds), atomic_load(&s->updates), atomic_load(&s->deletes),
	         st.resyncs);
	write_lines(s, s->out, false, print_key_rv, counters);
}

static int run_informer(struct kube_client *c, const struct options *o)
{
	struct informer_state s = {
	    .out = o->out ? o->out : "/dev/stdout", .objects = o->objects, .stamps = o->stamps};
	struct kube_informer_handlers h = {count_add, count_update, count_delete, &s};
	struct kube_informer_opts io;
	struct kube_informer_stats last = {0};
	struct fs_err err;

	kube_informer_opts_init(&io);
	io.path = o->path;
	io.resync_seconds = o->resync;
	io.keep = o->n_keep ? o->keep : NULL;
	if (kube_informer_new(&s.inf, c, &io, &h, &err) != FS_OK ||
	    kube_informer_start(s.inf, &err) != FS_OK) {
		log_error("kube-probe: %s", err.msg);
		kube_informer_free(s.inf);
		return 1;
	}
	while (!atomic_load(&stop)) {
		struct kube_informer_stats st;

		kube_informer_stats(&st, s.inf);
		if (atomic_exchange(&s.dirty, false) || memcmp(&st, &last, sizeof(st)) != 0) {
			last = st;
			dump(&s);
		}
		usleep(100 * 1000);
	}
	kube_informer_free(s.inf);
	return 0;
}

/* --- list ------------------------------------------------------------------- */

static bool count_item(void *ctx, json_object *item)
{
	(void)item;
	(*(unsigned long *)ctx)++;
	return true;
}

static int run_list(struct kube_client *c, const struct options *o)
{
	unsigned long items = 0;
	unsigned pages = 0;
	char *rv = NULL;
	struct fs_err err;

	if (kube_list(&rv, &pages, c, o->path, o->limit, count_item, &items, &err) != FS_OK) {
		log_error("kube-probe: %s", err.msg);
		return 1;
	}
	printf("items %lu pages %u resourceVersion %s\n", items, pages, rv);
	free(rv);
	return 0;
}

/* --- conflict --------------------------------------------------------------- */

struct conflict_ctx {
	const struct options *o;
	unsigned attempts;
};

/*
 * One attempt: read the object, let a concurrent write make that read stale
 * (for the first --stale-writes attempts), then PUT the status with the read
 * resourceVersion — a 409 the helper must absorb by calling us again.
 */
static enum fs_rc update_status(void *ctx, struct kube_client *c, struct fs_err *err)
{
	struct conflict_ctx *cc = ctx;
	json_object *obj = NULL, *meta, *ann;
	char key[256], path[1024];
	const char *eq = strchr(cc->o->annotate, '=');
	enum fs_rc rc;

	cc->attempts++;
	rc = kube_get(&obj, c, cc->o->path, err);
	if (rc != FS_OK)
		return rc;
	if (cc->attempts <= cc->o->stale_writes) {
		json_object *patch = json_tokener_parse("{\"metadata\":{\"annotations\":{}}}");
		json_object *pm, *pa;
		char value[32];

		json_object_object_get_ex(patch, "metadata", &pm);
		json_object_object_get_ex(pm, "annotations", &pa);
		snprintf(value, sizeof(value), "%u", cc->attempts);
		json_object_object_add(pa, "kube-probe/concurrent-write",
		                       json_object_new_string(value));
		rc = kube_send(NULL, c, "PATCH", cc->o->path, "application/merge-patch+json", patch,
		               err);
		json_object_put(patch);
		if (rc != FS_OK)
			goto out;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - cc->o->annotate), cc->o->annotate);
	json_object_object_get_ex(obj, "metadata", &meta);
	if (!json_object_object_get_ex(meta, "annotations", &ann)) {
		ann = json_object_new_object();
		json_object_object_add(meta, "annotations", ann);
	}
	json_object_object_add(ann, key, json_object_new_string(eq + 1));
	snprintf(path, sizeof(path), "%s/status", cc->o->path);
	rc = kube_send(NULL, c, "PUT", path, NULL, obj, err);
out:
	json_object_put(obj);
	return rc;
}

static int run_conflict(struct kube_client *c, const struct options *o)
{
	struct conflict_ctx cc = {.o = o};
	struct fs_err err;

	if (!o->annotate || !strchr(o->annotate, '=')) {
		fprintf(stderr, "kube-probe conflict: --annotate KEY=VALUE is required\n");
		return 2;
	}
	if (kube_retry_on_conflict(c, o->stale_writes + 3, update_status, &cc, &err) != FS_OK) {
		log_error("kube-probe: %s (after %u attempts)", err.msg, cc.attempts);
		return 1;
	}
	printf("attempts %u\n", cc.attempts);
	return 0;
}

/* --- seed ------------------------------------------------------------------- */

static int run_seed(struct kube_client *c, const struct options *o)
{
	struct fs_err err;

	for (unsigned i = 0; i < o->repeat; i++) {
		json_object *cm = json_object_new_object(), *meta = json_object_new_object();
		json_object *data = json_object_new_object();
		char name[64];
		enum fs_rc rc;

		snprintf(name, sizeof(name), "seed-%u", i);
		json_object_object_add(meta, "name", json_object_new_string(name));
		json_object_object_add(data, "n", json_object_new_string(name + 5));
		json_object_object_add(cm, "apiVersion", json_object_new_string("v1"));
		json_object_object_add(cm, "kind", json_object_new_string("ConfigMap"));
		json_object_object_add(cm, "metadata", meta);
		json_object_object_add(cm, "data", data);
		rc = kube_send(NULL, c, "POST", o->path, NULL, cm, &err);
		json_object_put(cm);
		if (rc != FS_OK) {
			log_error("kube-probe: %s", err.msg);
			return 1;
		}
	}
	printf("created %u\n", o->repeat);
	return 0;
}

/* --- patch ------------------------------------------------------------------ */

static int run_patch(struct kube_client *c, const struct options *o)
{
	static const char *const types[][2] = {
	    {"merge", "application/merge-patch+json"},
	    {"json", "application/json-patch+json"},
	    {"apply", "application/apply-patch+yaml"},
	};
	const char *content_type = NULL;
	json_object *body = o->body ? json_tokener_parse(o->body) : NULL, *out = NULL, *meta, *rv;
	char path[2048];
	struct fs_err err;
	int status = 1;

	for (size_t i = 0; i < 3; i++) {
		if (o->patch_type && strcmp(o->patch_type, types[i][0]) == 0)
			content_type = types[i][1];
	}
	if (!content_type || !body) {
		fprintf(
		    stderr,
		    "kube-probe patch: --type merge|json|apply and a JSON --body are required\n");
		json_object_put(body);
		return 2;
	}
	if (strcmp(o->patch_type, "apply") == 0)
		snprintf(path, sizeof(path), "%s%cfieldManager=%s&force=true", o->path,
		         strchr(o->path, '?') ? '&' : '?', o->field_manager);
	else
		snprintf(path, sizeof(path), "%s", o->path);
	if (kube_send(&out, c, "PATCH", path, content_type, body, &err) != FS_OK) {
		log_error("kube-probe: %s", err.msg);
	} else {
		json_object_object_get_ex(out, "metadata", &meta);
		json_object_object_get_ex(meta, "resourceVersion", &rv);
		printf("resourceVersion %s\n", json_object_get_string(rv));
		status = 0;
	}
	json_object_put(out);
	json_object_put(body);
	return status;
}

/* --- get -------------------------------------------------------------------- */

static int run_get(struct kube_client *c, const struct options *o)
{
	struct kube_client_stats st;
	struct fs_err err;
	unsigned ok = 0;

	for (unsigned i = 0; i < (o->repeat ? o->repeat : 1) && !atomic_load(&stop); i++) {
		json_object *obj = NULL;

		if (i > 0)
			usleep((useconds_t)(o->interval * 1e6));
		if (kube_get(&obj, c, o->path, &err) != FS_OK) {
			log_error("kube-probe: %s", err.msg);
			break;
		}
		json_object_put(obj);
		ok++;
	}
	kube_client_stats(&st, c);
	printf("ok %u exec_calls %lu requests %lu retries %lu\n", ok, st.exec_calls, st.requests,
	       st.retries);
	return ok == (o->repeat ? o->repeat : 1) ? 0 : 1;
}

static void usage(FILE *f)
{
	fputs("Usage: kube-probe informer|list|conflict|seed|patch|get --path PATH [options]\n"
	      "  --kubeconfig FILE --context NAME --out FILE --objects FILE --stamps FILE\n"
	      "  --keep PATH\n"
	      "  --resync SECONDS --limit N\n"
	      "  --count N --qps Q (<= 0: no client-side limit) --retries N\n"
	      "  --type merge|json|apply --body JSON --field-manager NAME\n"
	      "  --annotate K=V --stale-writes N --repeat N --interval SECONDS\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"context", required_argument, NULL, 'c'},
	    {"path", required_argument, NULL, 'p'},
	    {"out", required_argument, NULL, 'o'},
	    {"objects", required_argument, NULL, 'O'},
	    {"stamps", required_argument, NULL, 'S'},
	    {"keep", required_argument, NULL, 'K'},
	    {"limit", required_argument, NULL, 'l'},
	    {"annotate", required_argument, NULL, 'a'},
	    {"stale-writes", required_argument, NULL, 's'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"interval", required_argument, NULL, 'i'},
	    {"resync", required_argument, NULL, 'y'},
	    {"count", required_argument, NULL, 'r'},
	    {"qps", required_argument, NULL, 'q'},
	    {"retries", required_argument, NULL, 'R'},
	    {"type", required_argument, NULL, 't'},
	    {"body", required_argument, NULL, 'b'},
	    {"field-manager", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct options o = {
	    .limit = 500, .interval = 1.0, .qps = 20, .retries = 5, .field_manager = "kube-probe"};
	struct kube_config_opts copts = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct kube_client_opts kopts;
	struct sigaction sa;
	struct fs_err err;
	const char *cmd;
	int opt, status = 1;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			o.kubeconfig = optarg;
			break;
		case 'c':
			o.context = optarg;
			break;
		case 'p':
			o.path = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'O':
			o.objects = optarg;
			break;
		case 'S':
			o.stamps = optarg;
			break;
		case 'K':
			if (o.n_keep + 1 >= sizeof(o.keep) / sizeof(o.keep[0])) {
				fputs("kube-probe: at most 8 --keep\n", stderr);
				return 2;
			}
			o.keep[o.n_keep++] = optarg;
			break;
		case 'l':
			o.limit = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			o.annotate = optarg;
			break;
		case 's':
			o.stale_writes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.repeat = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			o.interval = strtod(optarg, NULL);
			break;
		case 'y':
			o.resync = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			o.qps = strtod(optarg, NULL);
			break;
		case 'R':
			o.retries = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.patch_type = optarg;
			break;
		case 'b':
			o.body = optarg;
			break;
		case 'f':
			o.field_manager = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.path) {
		usage(stderr);
		return 2;
	}
	log_setup(LOG_INFO, LOG_TEXT);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	copts.kubeconfig = o.kubeconfig;
	copts.context = o.context;
	kube_client_opts_init(&kopts);
	kopts.stop = &stop;
	kopts.qps = o.qps;
	kopts.max_retries = o.retries;
	if (kube_connect(&cfg, &client, &copts, &kopts, &err) != FS_OK) {
		log_error("kube-probe: %s", err.msg);
		goto out;
	}
	if (strcmp(cmd, "informer") == 0)
		status = run_informer(client, &o);
	else if (strcmp(cmd, "list") == 0)
		status = run_list(client, &o);
	else if (strcmp(cmd, "conflict") == 0)
		status = run_conflict(client, &o);
	else if (strcmp(cmd, "get") == 0)
		status = run_get(client, &o);
	else if (strcmp(cmd, "seed") == 0)
		status = run_seed(client, &o);
	else if (strcmp(cmd, "patch") == 0)
		status = run_patch(client, &o);
	else {
		usage(stderr);
		status = 2;
	}
out:
	kube_client_free(client);
	kube_config_free(cfg);
	return status;
}
