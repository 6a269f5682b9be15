/*
 * prom-probe: drives the project's Prometheus client (operator/prom) against
 * a real Prometheus, for the end-to-end tests.
 *
 *   prom-probe query --url U --query Q [--at T] [--parallel N]
 *       an instant query; prints "STATUS VALUE TIMESTAMP" (STATUS one of
 *       value, empty, nan, stale, multi) and, unless it is a value, why on
 *       stderr. Exits 1 on an error and for multi (the query must be fixed).
 *       --parallel N runs N copies at once, one line each.
 *   prom-probe range --url U --query Q --start S --end E --step STEP [--print]
 *       a range query; prints "points N nan N first T last T chunks N" (or
 *       "empty chunks N"), then with --print one "T V" line per point.
 *   prom-probe check --url U --query Q
 *       prints "ok" when the query parses, else the error; exits 1.
 *
 * Errors go to stderr as "prom-probe: error ECODE: message".
 * Client options: --bearer-token T, --username U --password P, --ca FILE,
 * --insecure, --header "Name: value" (repeatable), --timeout-ms N,
 * --stale-after SECONDS, --max-inflight N, --max-points N. --stats prints
 * "stats queries N requests N errors N waits N" at the end.
 */

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/result.h"
#include "prom/prom.h"

#define MAX_HEADERS  16
#define MAX_PARALLEL 64
#define CA_MAX       (1u << 20)

struct options {
	const char *query;
	double at, start, end, step;
	unsigned parallel;
	bool print, stats;
};

static int fail(const struct fs_err *err)
{
	fprintf(stderr, "prom-probe: error %s: %s\n", fs_rc_name(err->rc), err->msg);
	return 1;
}

/* Prints one instant answer; returns the exit status it calls for. */
static int report_sample(enum fs_rc rc, const struct prom_sample *s, const struct fs_err *err)
{
	char why[512];

	if (rc != FS_OK)
		return fail(err);
	printf("%s %.15g %.3f\n", prom_status_name(s->status), s->value, s->timestamp);
	if (s->status == PROM_VALUE)
		return 0;
	fprintf(stderr, "prom-probe: %s\n", prom_sample_describe(why, sizeof(why), s));
	return s->status == PROM_MULTI ? 1 : 0;
}

struct job {
	struct prom_client *c;
	const struct options *o;
	struct prom_sample s;
	struct fs_err err;
	enum fs_rc rc;
};

static void *run_job(void *arg)
{
	struct job *j = arg;

	j->rc = prom_query(&j->s, j->c, j->o->query, j->o->at, &j->err);
	return NULL;
}

static int run_query(struct prom_client *c, const struct options *o)
{
	struct job jobs[MAX_PARALLEL];
	pthread_t threads[MAX_PARALLEL];
	unsigned n = o->parallel ? o->parallel : 1;
	int status = 0;

	if (n > MAX_PARALLEL)
		n = MAX_PARALLEL;
	for (unsigned i = 0; i < n; i++) {
		jobs[i] = (struct job){.c = c, .o = o};
		fs_err_clear(&jobs[i].err);
		if (pthread_create(&threads[i], NULL, run_job, &jobs[i]) != 0) {
			fprintf(stderr, "prom-probe: cannot start a thread\n");
			n = i;
			status = 1;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		if (report_sample(jobs[i].rc, &jobs[i].s, &jobs[i].err) != 0)
			status = 1;
	}
	return status;
}

static int run_range(struct prom_client *c, const struct options *o)
{
	struct prom_series s;
	struct fs_err err;

	if (prom_query_range(&s, c, o->query, o->start, o->end, o->step, &err) != FS_OK)
		return fail(&err);
	if (s.status == PROM_EMPTY) {
		printf("empty chunks %u\n", s.chunks);
		return 0;
	}
	printf("points %zu nan %zu first %.3f last %.3f chunks %u\n", s.n, s.n_nan, s.t[0],
	       s.t[s.n - 1], s.chunks);
	for (size_t k = 0; o->print && k < s.n; k++)
		printf("%.3f %.15g\n", s.t[k], s.v[k]);
	prom_series_release(&s);
	return 0;
}

static int run_check(struct prom_client *c, const struct options *o)
{
	struct fs_err err;

	if (prom_check_query(c, o->query, &err) != FS_OK)
		return fail(&err);
	printf("ok\n");
	return 0;
}

static bool read_file(struct buf *out, const char *path, struct fs_err *err)
{
	char chunk[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fs_fail(err, FS_EIO, "cannot open %s", path);
		return false;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(out, chunk, n, err) != FS_OK) {
			fclose(f);
			return false;
		}
	}
	fclose(f);
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: prom-probe query|range|check --url URL --query PROMQL [options]\n"
	                "  (see the comment at the top of tests/tools/prom-probe.c)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"query", required_argument, NULL, 'q'},
	    {"at", required_argument, NULL, 'a'},
	    {"start", required_argument, NULL, 's'},
	    {"end", required_argument, NULL, 'e'},
	    {"step", required_argument, NULL, 'p'},
	    {"print", no_argument, NULL, 'P'},
	    {"parallel", required_argument, NULL, 'n'},
	    {"bearer-token", required_argument, NULL, 'b'},
	    {"username", required_argument, NULL, 'U'},
	    {"password", required_argument, NULL, 'W'},
	    {"ca", required_argument, NULL, 'c'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"header", required_argument, NULL, 'H'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"stale-after", required_argument, NULL, 'S'},
	    {"max-inflight", required_argument, NULL, 'i'},
	    {"max-points", required_argument, NULL, 'm'},
	    {"stats", no_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *headers[MAX_HEADERS + 1] = {NULL};
	struct prom_client_opts po;
	struct prom_client *c = NULL;
	struct options o = {0};
	struct fs_err err;
	struct buf ca;
	const char *cmd;
	size_t n_headers = 0;
	int opt, status = 1;

	prom_client_opts_init(&po);
	buf_init(&ca, CA_MAX);
	if (argc < 2) {
		usage();
		return 2;
	}
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			po.url = optarg;
			break;
		case 'q':
			o.query = optarg;
			break;
		case 'a':
			o.at = strtod(optarg, NULL);
			break;
		case 's':
			o.start = strtod(optarg, NULL);
			break;
		case 'e':
			o.end = strtod(optarg, NULL);
			break;
		case 'p':
			o.step = strtod(optarg, NULL);
			break;
		case 'P':
			o.print = true;
			break;
		case 'n':
			o.parallel = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			po.bearer_token = optarg;
			break;
		case 'U':
			po.username = optarg;
			break;
		case 'W':
			po.password = optarg;
			break;
		case 'c':
			if (!read_file(&ca, optarg, &err)) {
				status = fail(&err);
				goto out;
			}
			po.ca_pem = ca.data;
			po.ca_pem_len = ca.len;
			break;
		case 'k':
			po.insecure_skip_verify = true;
			break;
		case 'H':
			if (n_headers < MAX_HEADERS)
				headers[n_headers++] = optarg;
			po.headers = headers;
			break;
		case 't':
			po.timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'S':
			po.stale_after = strtod(optarg, NULL);
			break;
		case 'i':
			po.max_inflight = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			po.max_points = (size_t)strtoull(optarg, NULL, 10);
			break;
		case 'T':
			o.stats = true;
			break;
		default:
			usage();
			status = 2;
			goto out;
		}
	}
	if (!o.query) {
		usage();
		status = 2;
		goto out;
	}
	if (prom_client_new(&c, &po, &err) != FS_OK) {
		status = fail(&err);
		goto out;
	}
	if (strcmp(cmd, "query") == 0) {
		status = run_query(c, &o);
	} else if (strcmp(cmd, "range") == 0) {
		status = run_range(c, &o);
	} else if (strcmp(cmd, "check") == 0) {
		status = run_check(c, &o);
	} else {
		usage();
		status = 2;
	}
	if (o.stats) {
		struct prom_client_stats st;

		prom_client_stats(&st, c);
		printf("stats queries %lu requests %lu errors %lu waits %lu\n", st.queries,
		       st.requests, st.errors, st.waits);
	}
out:
	prom_client_free(c);
	buf_release(&ca);
	return status;
}
