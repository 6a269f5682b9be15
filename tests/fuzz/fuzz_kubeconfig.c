/* libFuzzer: kubeconfig files (kube_config_load), written where the loader reads them. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct kube_config_opts opts = {0};
	struct kube_config *cfg = NULL;
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz-kubeconfig.%d", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	opts.kubeconfig = path;
	opts.env_kubeconfig = "";
	opts.home = "/nonexistent";
	if (kube_config_load(&cfg, &opts, NULL) == FS_OK)
		kube_config_free(cfg);
	return 0;
}
