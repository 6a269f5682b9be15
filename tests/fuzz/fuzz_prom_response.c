/* libFuzzer: Prometheus API answers, instant (prom_parse_instant) and range chunks. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "prom/prom.h"
#include "prom/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prom_sample sample;
	struct prom_series series;
	char says[512];
	long status;

	if (size < 1)
		return 0;
	/* The first byte picks the HTTP status the body came with. */
	status = data[0] < 200 ? 200 : data[0] < 230 ? 400 + data[0] % 30 : 500 + data[0] % 4;
	data++;
	size--;
	if (prom_parse_instant(&sample, status, (const char *)data, size, 1700000000, 300, NULL) ==
	    FS_OK)
		prom_sample_describe(says, sizeof(says), &sample);
	memset(&series, 0, sizeof(series));
	if (prom_series_grid(&series, 1700000000000, 15000, 40, NULL) == FS_OK) {
		prom_series_add_chunk(&series, status, (const char *)data, size, NULL);
		prom_series_finish(&series);
		prom_series_release(&series);
	}
	return 0;
}
