/* libFuzzer: a client certificate's validity from its PEM (kube_cert_validity). */

#include <stddef.h>
#include <stdint.h>

#include "kube/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t not_before, not_after;

	kube_cert_validity(&not_before, &not_after, (const char *)data, size);
	return 0;
}
