/* libFuzzer: ForecastScaler specs as the apiserver hands them over (ctrl_spec_parse). */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_tokener *tok = json_tokener_new();
	json_object *obj;
	struct ctrl_spec spec;

	if (!tok || size > 1 << 20) {
		json_tokener_free(tok);
		return 0;
	}
	obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!obj)
		return 0;
	if (ctrl_spec_parse(&spec, obj, NULL) == FS_OK)
		ctrl_spec_release(&spec);
	json_object_put(obj);
	return 0;
}
