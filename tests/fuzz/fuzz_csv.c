/* libFuzzer: the backtest's CSV trace reader (bt_csv_parse). */

#include <stddef.h>
#include <stdint.h>

#include "backtest/backtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bt_trace tr;

	if (bt_csv_parse(&tr, "fuzz.csv", (const char *)data, size, NULL) == FS_OK)
		bt_trace_release(&tr);
	return 0;
}
