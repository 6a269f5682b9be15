#ifndef FORESIGHT_CONTROLLER_CONTROLLER_H
#define FORESIGHT_CONTROLLER_CONTROLLER_H

/*
 * The ForecastScaler controller: watches ForecastScalers and
 * ConcurrencyBudgets, evaluates each scaler every spec.interval (and at
 * once when its spec changes) through a work queue, and reconciles the
 * target's /scale and the scaler's and budget's status.
 *
 * One evaluation of a scaler (ctrl_reconcile):
 *  1. parse and check the spec (an invalid spec: Ready=False, InvalidSpec,
 *     an Event; that scaler alone stops);
 *  2. read the target's /scale (any kind that has one);
 *  3. per metric, an instant query for the observed load and, unless the
 *     model is None, the forecast one lead time ahead — the model is fitted
 *     on a range query over spec.forecast.history, fed the new buckets on
 *     every evaluation in between, and refitted when due (a few refits at a
 *     time, so a restart does not hammer Prometheus);
 *  4. the replica math (operator/scaling); for a member of a
 *     ConcurrencyBudget, a plan of all the budget's members (operator/
 *     budget) from one snapshot of their last decisions, under one lock,
 *     cuts it (Throttled, limitedBy Budget) and counts its scale-up at once;
 *     then /scale when the count changes (never in DryRun, Paused or
 *     --dry-run);
 *  5. status written only when it changed; Events on every scale, every
 *     fallback, every invalid spec, every throttling.
 *
 * Right after the spec parses, the scaler's alert rules: with
 * spec.alerts.enabled, the PrometheusRule <name>-foresight (operator/alerts
 * renders it) is applied server-side (field manager "foresight", forced)
 * when its rendering changes, when someone else edits or deletes it (an
 * informer of the rules labelled app.kubernetes.io/managed-by=foresight
 * notices), and every ten minutes; disabled, it is deleted. Where the
 * cluster has no PrometheusRule CRD (API discovery, asked again every 10 s
 * while absent) the scaler says so (AlertsReady=False, CRDNotInstalled) and
 * scales on; the rules follow when the CRD is installed. The rule's
 * ownerReference lets the garbage collector delete it with the scaler.
 *
 * With forecast.leadTime auto, and for budget members, a scale-up is
 * watched until the target's readyReplicas reach the new count (the key
 * comes back every second meanwhile, for one GET of the target): that
 * time is the learned lead time, and until then the member counts as
 * "scaling up" for its budget's maxConcurrentScaleUps.
 *
 * ConcurrencyBudgets have informers of their own and keys in the same work
 * queue ("budget:ns/name"): each is evaluated as often as its quickest
 * member, reads its saturationQuery, and writes its status (shares,
 * members, Saturated, Overcommitted); the members' evaluations write it
 * too, from their plans. A member waits only for what its budget says;
 * when units, a turn or the end of a saturation come free, the members
 * waiting are queued at once.
 *
 * With --dry-run nothing is written to the cluster: no scale, no status, no
 * Event, no rule; each decision is logged instead, and ctrl_once prints them as a
 * table (the laptop preview).
 *
 *	struct ctrl_opts o;
 *	ctrl_opts_init(&o);
 *	o.kube = client;  o.prometheus_url = "http://prometheus:9090";
 *	ctrl_new(&ctl, &o, &err);
 *	ctrl_start(ctl, &err);          // informers; workers with ctrl_start_workers
 *	ctrl_start_workers(ctl, &err);  // when leading
 *	...
 *	ctrl_free(ctl);                 // stops workers, then informers
 */

#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/result.h"
#include "kube/client.h"
#include "kube/events.h"

struct ctrl;
struct dash;

#define CTRL_NAMESPACES_MAX 64

struct ctrl_opts {
	struct kube_client *kube;         /* borrowed; outlives the controller */
	struct events *events;            /* borrowed; NULL: no Events (--dry-run) */
	const char *namespace;            /* watch these (comma-separated); NULL or "": all */
	const char *prometheus_url;       /* the default for scalers that name none */
	bool dry_run;                     /* write nothing to the cluster; log decisions */
	unsigned workers;                 /* --max-concurrent-reconciles; default 4 */
	unsigned prometheus_max_inflight; /* concurrent queries per Prometheus; default 8 */
	unsigned max_concurrent_refits;   /* forecast fits at once; default 2 */
	/*
	 * Seconds after which an unchanged decision's figures (metrics' values
	 * and forecasts) are written again once 5% off; 0 (the default): only
	 * with the next changed decision (--status-refresh).
	 */
	double status_refresh;
	const atomic_bool *stop; /* ends waits early on shutdown */
	struct dash *dash; /* borrowed; NULL: none. Gets every evaluation (operator/dashboard) */
	/*
	 * ForecastScalers to evaluate as if the cluster held them (`run --dry-run
	 * --once -f FILE`): each shadows a scaler of the same namespace/name, and
	 * ctrl_once evaluates only these. ctrl_new takes its own references.
	 */
	json_object *const *manifests;
	size_t n_manifests;
};

void ctrl_opts_init(struct ctrl_opts *opts);

enum fs_rc ctrl_new(struct ctrl **out, const struct ctrl_opts *opts, struct fs_err *err);

/* Starts the informers (the cache fills; nothing is evaluated yet). */
enum fs_rc ctrl_start(struct ctrl *c, struct fs_err *err);

/*
 * For /readyz: true when every informer has listed and its last LIST or
 * WATCH did not fail (so an apiserver outage reads as not ready until a
 * LIST succeeds again). When false, says why in `why`.
 */
bool ctrl_ready(struct ctrl *c, char *why, size_t why_size);

/* Waits up to `timeout_ms` for the informers to list. */
bool ctrl_wait_synced(struct ctrl *c, long timeout_ms);

/* Starts the reconcile workers and queues every known scaler. */
enum fs_rc ctrl_start_workers(struct ctrl *c, struct fs_err *err);

/*
 * Evaluates every scaler once, in the calling thread, and prints a table of
 * the decisions to `out` (--once). Returns the number of scalers whose
 * evaluation failed.
 */
int ctrl_once(struct ctrl *c, FILE *out);

/* Appends the controller's metrics in the Prometheus text format. */
enum fs_rc ctrl_render_metrics(struct ctrl *c, struct buf *out, struct fs_err *err);

/* Stops workers and informers and frees everything. NULL is a no-op. */
void ctrl_free(struct ctrl *c);

#endif
