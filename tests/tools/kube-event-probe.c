/*
 * kube-event-probe: emits events through the operator's event recorder
 * (operator/kube/events) about one object, for the end-to-end tests.
 *
 *   kube-event-probe --kubeconfig FILE --namespace NS --kind KIND --name NAME
 *                    --reason REASON --note TEXT --count K [--type Warning]
 *                    [--action ACTION] [--distinct] [--linger-ms MS]
 *                    [--log-level LEVEL]
 *
 * It reads the object (for its uid and resourceVersion), emits the same
 * event K times as fast as it can (--distinct: with " #i" after the note, K
 * different events), waits --linger-ms with the recorder open, closes the
 * recorder, which writes the pending series counts, and prints
 * "writes N dropped M": the API writes it made and the events the recorder
 * dropped.
 */

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/events.h"

/* The kinds the probe can look up. */
static const struct kind {
	const char *kind;
	const char *api_version;
	const char *api_prefix; /* "/api/v1" or "/apis/GROUP/VERSION" */
	const char *plural;
} kinds[] = {
    {"ConfigMap", "v1", "/api/v1", "configmaps"},
    {"Pod", "v1", "/api/v1", "pods"},
    {"Service", "v1", "/api/v1", "services"},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments"},
};

static const char *meta_string(json_object *obj, const char *key)
{
	json_object *meta, *v;

	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static void usage(FILE *f)
{
	fputs("Usage: kube-event-probe --kubeconfig FILE --namespace NS --kind KIND --name NAME\n"
	      "       --reason REASON --note TEXT --count K [--type Normal|Warning]\n"
	      "       [--action ACTION] [--distinct] [--linger-ms MS] [--log-level LEVEL]\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"kind", required_argument, NULL, 'K'},
	    {"name", required_argument, NULL, 'N'},
	    {"reason", required_argument, NULL, 'r'},
	    {"note", required_argument, NULL, 'm'},
	    {"count", required_argument, NULL, 'c'},
	    {"type", required_argument, NULL, 't'},
	    {"action", required_argument, NULL, 'a'},
	    {"distinct", no_argument, NULL, 'd'},
	    {"linger-ms", required_argument, NULL, 'w'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kube_config_opts copts = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct events_config ec;
	struct events *ev = NULL;
	struct events_ref ref = {0};
	const struct kind *kind = NULL;
	const char *kind_name = NULL, *ns = NULL, *name = NULL, *reason = NULL, *note = NULL;
	const char *action = "Probe";
	enum events_type type = EVENTS_NORMAL;
	enum log_level level = LOG_INFO;
	json_object *obj = NULL;
	bool distinct = false;
	long count = -1, linger_ms = 0;
	struct fs_err err;
	char path[1024], *end;
	int opt, status = 1;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			copts.kubeconfig = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'K':
			kind_name = optarg;
			break;
		case 'N':
			name = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'm':
			note = optarg;
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count < 0) {
				fprintf(stderr, "kube-event-probe: --count: not a count: %s\n",
				        optarg);
				return 2;
			}
			break;
		case 't':
			if (strcmp(optarg, "Warning") == 0) {
				type = EVENTS_WARNING;
			} else if (strcmp(optarg, "Normal") != 0) {
				fprintf(stderr, "kube-event-probe: --type: Normal or Warning\n");
				return 2;
			}
			break;
		case 'a':
			action = optarg;
			break;
		case 'd':
			distinct = true;
			break;
		case 'w':
			linger_ms = strtol(optarg, &end, 10);
			if (*end || linger_ms < 0) {
				fprintf(stderr,
				        "kube-event-probe: --linger-ms: not a duration: %s\n",
				        optarg);
				return 2;
			}
			break;
		case 'l':
			if (!log_level_parse(&level, optarg)) {
				fprintf(stderr, "kube-event-probe: --log-level: unknown level %s\n",
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
	for (size_t i = 0; kind_name && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].kind, kind_name) == 0)
			kind = &kinds[i];
	}
	if (!ns || !kind || !name || !reason || !note || count < 0) {
		usage(stderr);
		return 2;
	}
	log_setup(level, LOG_TEXT);

	snprintf(path, sizeof(path), "%s/namespaces/%s/%s/%s", kind->api_prefix, ns, kind->plural,
	         name);
	if (kube_connect(&cfg, &client, &copts, NULL, &err) != FS_OK ||
	    kube_get(&obj, client, path, &err) != FS_OK) {
		log_error("kube-event-probe: %s", err.msg);
		goto out;
	}
	ref.api_version = kind->api_version;
	ref.kind = kind->kind;
	ref.namespace = ns;
	ref.name = name;
	ref.uid = meta_string(obj, "uid");
	ref.resource_version = meta_string(obj, "resourceVersion");

	events_config_init(&ec);
	if (events_new(&ev, client, &ec, &err) != FS_OK) {
		log_error("kube-event-probe: %s", err.msg);
		goto out;
	}
	for (long i = 0; i < count; i++) {
		if (distinct)
			events_emit(ev, &ref, type, reason, action, "%s #%ld", note, i);
		else
			events_emit(ev, &ref, type, reason, action, "%s", note);
	}
	if (linger_ms > 0) {
		struct timespec ts = {linger_ms / 1000, (linger_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
	events_close(ev);
	printf("writes %llu dropped %llu\n", (unsigned long long)events_writes(ev),
	       (unsigned long long)events_dropped(ev));
	status = 0;
out:
	events_free(ev);
	json_object_put(obj);
	kube_client_free(client);
	kube_config_free(cfg);
	return status;
}
