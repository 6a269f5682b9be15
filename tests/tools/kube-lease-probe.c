/*
 * kube-lease-probe: runs the operator's leader elector (operator/kube/leader)
 * on one Lease and prints each transition, for the end-to-end tests.
 *
 *   kube-lease-probe --kubeconfig FILE --namespace NS --lease NAME --identity ID
 *                    [--log-level LEVEL]
 *
 * Prints "<unix-ms> leading" and "<unix-ms> stopped" to stdout, one line per
 * transition, flushed at once. On SIGTERM or SIGINT it releases the Lease
 * (when leading) and exits 0.
 */

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "kube/config.h"
#include "kube/leader.h"

static void print_transition(const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld %s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, what);
	fflush(stdout);
}

static void on_started(void *ctx)
{
	(void)ctx;
	print_transition("leading");
}

static void on_stopped(void *ctx)
{
	(void)ctx;
	print_transition("stopped");
}

static void usage(FILE *f)
{
	fputs("Usage: kube-lease-probe --kubeconfig FILE --namespace NS --lease NAME "
	      "--identity ID [--log-level LEVEL]\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"lease", required_argument, NULL, 'L'},
	    {"identity", required_argument, NULL, 'i'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kube_config_opts copts = {0};
	struct kube_config *cfg = NULL;
	struct leader_config lc;
	struct leader *le = NULL;
	enum log_level level = LOG_INFO;
	struct fs_err err;
	sigset_t signals;
	int opt, sig, status = 1;

	leader_config_init(&lc);
	lc.on_started_leading = on_started;
	lc.on_stopped_leading = on_stopped;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			copts.kubeconfig = optarg;
			break;
		case 'n':
			lc.namespace = optarg;
			break;
		case 'L':
			lc.name = optarg;
			break;
		case 'i':
			lc.identity = optarg;
			break;
		case 'l':
			if (!log_level_parse(&level, optarg)) {
				fprintf(stderr, "kube-lease-probe: --log-level: unknown level %s\n",
				        optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!lc.namespace || !lc.name) {
		usage(stderr);
		return 2;
	}
	log_setup(level, LOG_TEXT);
	/* Blocked before the elector's thread starts, so that only sigwait sees them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (kube_config_load(&cfg, &copts, &err) != FS_OK ||
	    leader_new(&le, cfg, &lc, &err) != FS_OK) {
		log_error("kube-lease-probe: %s", err.msg);
		goto out;
	}
	log_info("kube-lease-probe: %s is a candidate for lease %s/%s", leader_identity(le),
	         lc.namespace, lc.name);
	sigwait(&signals, &sig);
	log_info("kube-lease-probe: %s, releasing", strsignal(sig));
	if (leader_release(le, &err) != FS_OK)
		log_warn("kube-lease-probe: %s", err.msg);
	status = 0;
out:
	leader_free(le);
	kube_config_free(cfg);
	return status;
}
