#ifndef FORESIGHT_SCALING_BEHAVIOR_H
#define FORESIGHT_SCALING_BEHAVIOR_H

/*
 * Internal to operator/scaling: the HPA behaviour steps over a history, as
 * scale_evaluate runs them. Split out so the HPA port reads on its own next
 * to upstream horizontal.go; other modules use scaling.h.
 *
 *	if (scale_history_reserve(h, err) != FS_OK) ...      // before any change
 *	v = scale_stabilize(h, b, current, v, now, why, sizeof(why));
 *	v = scale_rate_limit(h, b, min, max, current, v, now, &limit, why, sizeof(why));
 *	scale_history_commit(h, b, now, current, &recommendation, 0);
 */

#include <stddef.h>

#include "scaling/scaling.h"

/*
 * snprintf for the reason texts, which are bounded and may be cut short:
 * a sentence for people, never parsed.
 */
void scale_say(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Makes room for what one scale_history_commit may add, so that the commit
 * cannot fail after a decision is made. FS_ENOMEM when out of memory.
 */
enum fs_rc scale_history_reserve(struct scale_history *h, struct fs_err *err);

/*
 * stabilizeRecommendationWithBehaviors: the current count brought within
 * [lowest recommendation in the scale-up window, highest in the scale-down
 * window], both windows counting `desired`. Before the first commit the
 * count found (`current` at `now`) counts as a recommendation, as the HPA's
 * recordInitialRecommendation. When the result is not `desired`, says why
 * in `why` (else leaves it alone). Reads `h` only.
 */
int scale_stabilize(const struct scale_history *h, const struct scale_behavior *b, int current,
                    int desired, double now, char *why, size_t why_size);

/*
 * convertDesiredReplicasWithBehaviorRate: `desired` limited by the rate
 * policies of its direction (counting the scale events of both directions
 * within each policy's period) and by [min, max]. Sets `*limit` to the
 * step that bit (Behavior, MinReplicas, MaxReplicas) or None, and says why
 * in `why` when one did. Reads `h` only; `current` must lie in [min, max].
 */
int scale_rate_limit(const struct scale_history *h, const struct scale_behavior *b, int min,
                     int max, int current, int desired, double now, enum scale_limit *limit,
                     char *why, size_t why_size);

/*
 * Records an evaluation at `now`: the first count seen (once), the
 * recommendation when `recommendation` is not NULL, the failure count; and
 * drops entries older than every window and policy period. Needs a
 * successful scale_history_reserve first; cannot fail.
 */
void scale_history_commit(struct scale_history *h, const struct scale_behavior *b, double now,
                          int current, const int *recommendation, int failures);

#endif
