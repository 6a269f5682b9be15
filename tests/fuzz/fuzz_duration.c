/* libFuzzer: durations as specs and flags spell them (dur_parse, dur_format). */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), out[64];
	double s;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dur_parse(&s, text, NULL) == FS_OK)
		dur_format(out, sizeof(out), s);
	free(text);
	return 0;
}
