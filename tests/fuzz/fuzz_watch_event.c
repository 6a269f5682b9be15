/* libFuzzer: one line of a watch stream (kube_watch_event_decode) and the object key. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kube/client.h"
#include "kube/informer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *event, *object;
	const char *type;
	char key[512];

	if (kube_watch_event_decode(&event, &type, &object, (const char *)data, size, "fuzz",
	                            NULL) != FS_OK ||
	    !event)
		return 0;
	/* What the informer does with every event. */
	if (strlen(type) < 64)
		kube_object_key(key, sizeof(key), object, NULL);
	json_object_put(event);
	return 0;
}
