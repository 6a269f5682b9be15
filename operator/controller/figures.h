#ifndef FORESIGHT_CONTROLLER_FIGURES_H
#define FORESIGHT_CONTROLLER_FIGURES_H

/*
 * When a scaler's status is worth rewriting for its figures alone (a
 * metric's value or forecast) while its decision stands. Pure.
 *
 * A figure written in the status is "off" when the live one differs from it
 * by more than FIGURES_TOLERANCE of the larger of the two, and by more than
 * the status's rounding (FIGURES_UNIT), or when only one of them is a
 * number (a figure appeared or went away). A figure that drifts slowly is
 * off once its drift since the last write adds up to the tolerance.
 *
 *	if (figures_off(m->written_value, m->has_value ? m->value : NAN))
 *		...refresh the status...
 */

#include <stdbool.h>

/* The share a figure may drift from what its status says. */
#define FIGURES_TOLERANCE 0.05
/* The status's figures are rounded to this (thousandths). */
#define FIGURES_UNIT 0.001

/* True when the status's `written` figure no longer says `live`; NAN is "none". */
bool figures_off(double written, double live);

#endif
