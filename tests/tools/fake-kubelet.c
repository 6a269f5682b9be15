/*
 * fake-kubelet: what a kubelet does for a test cluster that has none, the
 * way KWOK does it. It registers a Node, binds Pending pods to it, reports
 * them Running and Ready after a start delay (the time a real pod takes to
 * become ready, which the operator must provision ahead of), and
 * force-deletes pods left Terminating.
 *
 *   fake-kubelet --kubeconfig FILE [--node NAME] [--start-delay SECONDS]
 *
 * It watches pods with the project's own informer-style list+watch and
 * REST client, so it also exercises that code against the real apiserver.
 */

#include <getopt.h>
#include <pthread.h>
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

#define MAX_PODS       20000
#define MAX_CONTAINERS 16

struct container {
	char name[64];
	char image[256];
};

struct pod {
	char ns[64];
	char name[254];
	char uid[40];
	bool used;
	bool bound;     /* spec.nodeName is set */
	bool ours;      /* bound to our node */
	bool running;   /* status already says Running */
	bool deleting;  /* metadata.deletionTimestamp is set */
	bool acted;     /* the action for the current state was done */
	double seen_at; /* when it was first seen bound to us */
	struct container containers[MAX_CONTAINERS];
	size_t ncontainers;
};

static struct {
	pthread_mutex_t mu;
	struct pod *pods;
	size_t npods;
	const char *node;
	double start_delay;
	atomic_bool stop;
	unsigned ip_counter;
} kubelet = {.mu = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *str_at(json_object *obj, const char *a, const char *b)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_get_string(v);
}

static struct pod *find_pod(const char *uid, bool create)
{
	struct pod *free_slot = NULL;

	for (size_t i = 0; i < kubelet.npods; i++) {
		if (kubelet.pods[i].used && strcmp(kubelet.pods[i].uid, uid) == 0)
			return &kubelet.pods[i];
		if (!kubelet.pods[i].used && !free_slot)
			free_slot = &kubelet.pods[i];
	}
	if (!create)
		return NULL;
	if (!free_slot && kubelet.npods < MAX_PODS)
		free_slot = &kubelet.pods[kubelet.npods++];
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->used = true;
		snprintf(free_slot->uid, sizeof(free_slot->uid), "%s", uid);
	}
	return free_slot;
}

/* Records the state of one pod from a list item or watch event. */
static void observe(const char *type, json_object *pod_obj)
{
	const char *uid = str_at(pod_obj, "metadata", "uid");
	const char *node = str_at(pod_obj, "spec", "nodeName");
	const char *phase = str_at(pod_obj, "status", "phase");
	json_object *containers, *spec;
	struct pod *p;
	bool deleting;

	if (!uid)
		return;
	pthread_mutex_lock(&kubelet.mu);
	if (strcmp(type, "DELETED") == 0) {
		p = find_pod(uid, false);
		if (p)
			p->used = false;
		goto out;
	}
	p = find_pod(uid, true);
	if (!p) {
		log_error("more than %d pods: ignoring %s", MAX_PODS, uid);
		goto out;
	}
	snprintf(p->ns, sizeof(p->ns), "%s", str_at(pod_obj, "metadata", "namespace"));
	snprintf(p->name, sizeof(p->name), "%s", str_at(pod_obj, "metadata", "name"));
	deleting = str_at(pod_obj, "metadata", "deletionTimestamp") != NULL;
	if (deleting != p->deleting || (node && node[0]) != p->bound)
		p->acted = false;
	p->deleting = deleting;
	p->bound = node && node[0];
	p->ours = p->bound && strcmp(node, kubelet.node) == 0;
	p->running = phase && strcmp(phase, "Running") == 0;
	if (p->ours && p->seen_at == 0)
		p->seen_at = now_s();
	p->ncontainers = 0;
	if (json_object_object_get_ex(pod_obj, "spec", &spec) &&
	    json_object_object_get_ex(spec, "containers", &containers)) {
		size_t n = json_object_array_length(containers);

		for (size_t i = 0; i < n && i < MAX_CONTAINERS; i++) {
			json_object *c = json_object_array_get_idx(containers, i);
			const char *name = str_at(c, "name", NULL);
			const char *image = str_at(c, "image", NULL);

			snprintf(p->containers[i].name, sizeof(p->containers[i].name), "%s",
			         name ? name : "");
			snprintf(p->containers[i].image, sizeof(p->containers[i].image), "%s",
			         image ? image : "");
			p->ncontainers++;
		}
	}
out:
	pthread_mutex_unlock(&kubelet.mu);
}

static bool on_event(void *ctx, const char *type, json_object *object)
{
	const char **rv = ctx;
	const char *new_rv = str_at(object, "metadata", "resourceVersion");

	if (new_rv) {
		free((char *)*rv);
		*rv = strdup(new_rv);
	}
	if (strcmp(type, "BOOKMARK") != 0)
		observe(type, object);
	return !atomic_load(&kubelet.stop);
}

static bool observe_listed(void *ctx, json_object *pod)
{
	(void)ctx;
	observe("ADDED", pod);
	return true;
}

static void *watch_pods(void *arg)
{
	struct kube_client *c = arg;
	struct kube_watch_opts wopts = {.timeout_ms = 330000, .stop = &kubelet.stop};
	char *rv = NULL;
	char path[512];
	struct fs_err err;
	enum fs_rc rc;
	unsigned backoff_ms = 200;

	while (!atomic_load(&kubelet.stop)) {
		if (!rv) {
			rc = kube_list(&rv, NULL, c, "/api/v1/pods", 500, observe_listed, NULL,
			               &err);
			if (rc != FS_OK) {
				log_warn("listing pods: %s", err.msg);
				goto retry;
			}
		}
		snprintf(path, sizeof(path),
		         "/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=300"
		         "&resourceVersion=%s",
		         rv);
		rc = kube_watch(c, path, &wopts, on_event, &rv, &err);
		if (rc == FS_OK) {
			backoff_ms = 200;
			continue;
		}
		if (rc == FS_ECANCELED)
			break;
		if (rc == FS_EGONE) {
			free(rv);
			rv = NULL;
			continue;
		}
		log_warn("watching pods: %s", err.msg);
retry:
		usleep(backoff_ms * 1000);
		backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
	}
	free(rv);
	return NULL;
}

static void iso_now(char *out, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_object *condition(const char *type, const char *when)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string("True"));
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(when));
	return c;
}

static json_object *running_status(const struct pod *p, unsigned ip)
{
	json_object *patch = json_object_new_object();
	json_object *status = json_object_new_object();
	json_object *conds = json_object_new_array();
	json_object *cstatuses = json_object_new_array();
	json_object *ips = json_object_new_array();
	json_object *ipo = json_object_new_object();
	char when[32], pod_ip[32];

	iso_now(when, sizeof(when));
	snprintf(pod_ip, sizeof(pod_ip), "10.244.%u.%u", (ip / 250) % 250, ip % 250 + 2);
	json_object_array_add(conds, condition("Initialized", when));
	json_object_array_add(conds, condition("Ready", when));
	json_object_array_add(conds, condition("ContainersReady", when));
	json_object_array_add(conds, condition("PodScheduled", when));
	for (size_t i = 0; i < p->ncontainers; i++) {
		json_object *cs = json_object_new_object();
		json_object *state = json_object_new_object();
		json_object *running = json_object_new_object();
		char id[128];

		snprintf(id, sizeof(id), "fake://%s-%zu", p->uid, i);
		json_object_object_add(running, "startedAt", json_object_new_string(when));
		json_object_object_add(state, "running", running);
		json_object_object_add(cs, "name", json_object_new_string(p->containers[i].name));
		json_object_object_add(cs, "image", json_object_new_string(p->containers[i].image));
		json_object_object_add(cs, "imageID", json_object_new_string(""));
		json_object_object_add(cs, "containerID", json_object_new_string(id));
		json_object_object_add(cs, "ready", json_object_new_boolean(1));
		json_object_object_add(cs, "started", json_object_new_boolean(1));
		json_object_object_add(cs, "restartCount", json_object_new_int(0));
		json_object_object_add(cs, "state", state);
		json_object_array_add(cstatuses, cs);
	}
	json_object_object_add(ipo, "ip", json_object_new_string(pod_ip));
	json_object_array_add(ips, ipo);
	json_object_object_add(status, "phase", json_object_new_string("Running"));
	json_object_object_add(status, "conditions", conds);
	json_object_object_add(status, "containerStatuses", cstatuses);
	json_object_object_add(status, "hostIP", json_object_new_string("127.0.0.1"));
	json_object_object_add(status, "podIP", json_object_new_string(pod_ip));
	json_object_object_add(status, "podIPs", ips);
	json_object_object_add(status, "startTime", json_object_new_string(when));
	json_object_object_add(patch, "status", status);
	return patch;
}

enum action { NONE, BIND, MARK_RUNNING, FORCE_DELETE };

/* Picks the next due action and copies what it needs, under the lock. */
static enum action next_action(struct pod *out)
{
	double now = now_s();

	pthread_mutex_lock(&kubelet.mu);
	for (size_t i = 0; i < kubelet.npods; i++) {
		struct pod *p = &kubelet.pods[i];
		enum action a = NONE;

		if (!p->used || p->acted)
			continue;
		if (p->deleting && p->ours)
			a = FORCE_DELETE;
		else if (!p->deleting && !p->bound)
			a = BIND;
		else if (!p->deleting && p->ours && !p->running &&
		         now - p->seen_at >= kubelet.start_delay)
			a = MARK_RUNNING;
		if (a != NONE) {
			p->acted = true;
			*out = *p;
			pthread_mutex_unlock(&kubelet.mu);
			return a;
		}
	}
	pthread_mutex_unlock(&kubelet.mu);
	return NONE;
}

static void act(struct kube_client *c, enum action a, const struct pod *p)
{
	char path[640];
	json_object *body = NULL;
	struct fs_err err;
	enum fs_rc rc = FS_OK;

	switch (a) {
	case BIND: {
		json_object *target = json_object_new_object();
		json_object *meta = json_object_new_object();

		body = json_object_new_object();
		json_object_object_add(meta, "name", json_object_new_string(p->name));
		json_object_object_add(target, "apiVersion", json_object_new_string("v1"));
		json_object_object_add(target, "kind", json_object_new_string("Node"));
		json_object_object_add(target, "name", json_object_new_string(kubelet.node));
		json_object_object_add(body, "apiVersion", json_object_new_string("v1"));
		json_object_object_add(body, "kind", json_object_new_string("Binding"));
		json_object_object_add(body, "metadata", meta);
		json_object_object_add(body, "target", target);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/binding", p->ns,
		         p->name);
		rc = kube_send(NULL, c, "POST", path, NULL, body, &err);
		break;
	}
	case MARK_RUNNING:
		body = running_status(p, kubelet.ip_counter++);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", p->ns,
		         p->name);
		rc = kube_send(NULL, c, "PATCH", path, "application/merge-patch+json", body, &err);
		break;
	case FORCE_DELETE:
		body = json_object_new_object();
		json_object_object_add(body, "gracePeriodSeconds", json_object_new_int(0));
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
		rc = kube_send(NULL, c, "DELETE", path, NULL, body, &err);
		break;
	case NONE:
		break;
	}
	json_object_put(body);
	if (rc == FS_OK || rc == FS_ENOTFOUND || (a == BIND && rc == FS_ECONFLICT)) {
		log_debug("%s %s/%s",
		          a == BIND           ? "bound"
		          : a == MARK_RUNNING ? "started"
		                              : "deleted",
		          p->ns, p->name);
		return;
	}
	log_warn("%s", err.msg);
	/* Try again on the next pass. */
	pthread_mutex_lock(&kubelet.mu);
	struct pod *live = find_pod(p->uid, false);
	if (live)
		live->acted = false;
	pthread_mutex_unlock(&kubelet.mu);
}

static enum fs_rc register_node(struct kube_client *c, struct fs_err *err)
{
	char path[512], when[32];
	json_object *node = json_object_new_object();
	json_object *meta = json_object_new_object();
	json_object *labels = json_object_new_object();
	json_object *patch = json_object_new_object();
	json_object *status = json_object_new_object();
	json_object *capacity = json_object_new_object();
	json_object *conds = json_object_new_array();
	json_object *ready = json_object_new_object();
	enum fs_rc rc;

	iso_now(when, sizeof(when));
	json_object_object_add(labels, "kubernetes.io/hostname",
	                       json_object_new_string(kubelet.node));
	json_object_object_add(labels, "type", json_object_new_string("fake-kubelet"));
	json_object_object_add(meta, "name", json_object_new_string(kubelet.node));
	json_object_object_add(meta, "labels", labels);
	json_object_object_add(node, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(node, "kind", json_object_new_string("Node"));
	json_object_object_add(node, "metadata", meta);
	rc = kube_send(NULL, c, "POST", "/api/v1/nodes", NULL, node, err);
	json_object_put(node);
	if (rc != FS_OK && rc != FS_ECONFLICT)
		goto out;

	json_object_object_add(capacity, "cpu", json_object_new_string("64"));
	json_object_object_add(capacity, "memory", json_object_new_string("256Gi"));
	json_object_object_add(capacity, "pods", json_object_new_string("10000"));
	json_object_object_add(ready, "type", json_object_new_string("Ready"));
	json_object_object_add(ready, "status", json_object_new_string("True"));
	json_object_object_add(ready, "reason", json_object_new_string("KubeletReady"));
	json_object_object_add(ready, "message", json_object_new_string("fake kubelet is ready"));
	json_object_object_add(ready, "lastHeartbeatTime", json_object_new_string(when));
	json_object_object_add(ready, "lastTransitionTime", json_object_new_string(when));
	json_object_array_add(conds, ready);
	json_object_object_add(status, "capacity", capacity);
	json_object_object_add(status, "allocatable", json_object_get(capacity));
	json_object_object_add(status, "conditions", conds);
	json_object_object_add(patch, "status", status);
	snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", kubelet.node);
	rc = kube_send(NULL, c, "PATCH", path, "application/merge-patch+json", patch, err);
out:
	json_object_put(patch);
	return rc;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&kubelet.stop, true);
}

static void usage(FILE *f)
{
	fputs("Usage: fake-kubelet --kubeconfig FILE [--node NAME] [--start-delay SECONDS] "
	      "[--log-level LEVEL]\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, NULL, 'k'},
	    {"node", required_argument, NULL, 'n'},
	    {"start-delay", required_argument, NULL, 'd'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct kube_config_opts copts = {0};
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct sigaction sa;
	struct fs_err err;
	enum log_level level = LOG_INFO;
	pthread_t watcher;
	bool watching = false;
	int opt, status = 1;
	char *end;

	kubelet.node = "fake-node";
	kubelet.start_delay = 2.0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			copts.kubeconfig = optarg;
			break;
		case 'n':
			kubelet.node = optarg;
			break;
		case 'd':
			kubelet.start_delay = strtod(optarg, &end);
			if (*end || kubelet.start_delay < 0) {
				fprintf(
				    stderr,
				    "fake-kubelet: --start-delay: not a number of seconds: %s\n",
				    optarg);
				return 2;
			}
			break;
		case 'l':
			if (!log_level_parse(&level, optarg)) {
				fprintf(stderr, "fake-kubelet: --log-level: unknown level %s\n",
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
	log_setup(level, LOG_TEXT);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	kubelet.pods = calloc(MAX_PODS, sizeof(*kubelet.pods));
	if (!kubelet.pods || kube_connect(&cfg, &client, &copts, NULL, &err) != FS_OK ||
	    register_node(client, &err) != FS_OK) {
		log_error("fake-kubelet: %s", kubelet.pods ? err.msg : "out of memory");
		goto out;
	}
	if (pthread_create(&watcher, NULL, watch_pods, client) != 0) {
		log_error("fake-kubelet: cannot start the pod watcher");
		goto out;
	}
	watching = true;
	log_info("fake-kubelet: node %s registered on %s, pods start in %.1fs", kubelet.node,
	         kube_client_server(client), kubelet.start_delay);
	while (!atomic_load(&kubelet.stop)) {
		struct pod p;
		enum action a = next_action(&p);

		if (a == NONE)
			usleep(50 * 1000);
		else
			act(client, a, &p);
	}
	status = 0;
out:
	atomic_store(&kubelet.stop, true);
	if (watching)
		pthread_join(watcher, NULL);
	kube_client_free(client);
	kube_config_free(cfg);
	free(kubelet.pods);
	return status;
}
