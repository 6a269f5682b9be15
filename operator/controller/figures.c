#include "controller/figures.h"

#include <math.h>

bool figures_off(double written, double live)
{
	double diff;

	if (isnan(written) || isnan(live))
		return isnan(written) != isnan(live);
	diff = fabs(live - written);
	return diff > FIGURES_UNIT && diff > FIGURES_TOLERANCE * fmax(fabs(written), fabs(live));
}
