#include "cli/cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/version.h"
#include "kube/client.h"
#include "kube/config.h"

static void usage(FILE *f)
{
	fputs(
	    "Usage: foresight version [--server] [--kubeconfig FILE] [--context NAME] "
	    "[-o text|json]\n"
	    "\n"
	    "Prints the version of foresight and of the libraries it was built with.\n"
	    "\n"
	    "  --server           also connect to the cluster and print the API server's version\n"
	    "  --kubeconfig FILE  kubeconfig to use (default: in-cluster, $KUBECONFIG, "
	    "~/.kube/config)\n"
	    "  --context NAME     kubeconfig context (default: current-context)\n"
	    "  -o, --output FMT   text (default) or json\n",
	    f);
}

/* Reads /version; *out (the caller's) is the server's JSON answer. */
static int server_version(json_object **out, const char *kubeconfig, const char *context)
{
	struct kube_config_opts opts = {.kubeconfig = kubeconfig, .context = context};
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct fs_err err;
	int status = 1;

	if (kube_connect(&cfg, &client, &opts, NULL, &err) != FS_OK ||
	    kube_get(out, client, "/version", &err) != FS_OK) {
		fprintf(stderr, "foresight: %s\n", err.msg);
		goto out;
	}
	status = 0;
out:
	kube_client_free(client);
	kube_config_free(cfg);
	return status;
}

static const char *field(json_object *obj, const char *key)
{
	json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : "";
}

int cli_version(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"server", no_argument, NULL, 's'},        {"kubeconfig", required_argument, NULL, 'k'},
	    {"context", required_argument, NULL, 'c'}, {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	const char *kubeconfig = NULL, *context = NULL, *output = "text";
	bool server = false;
	json_object *remote = NULL;
	int opt, status = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			server = true;
			break;
		case 'k':
			kubeconfig = optarg;
			break;
		case 'c':
			context = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (strcmp(output, "text") != 0 && strcmp(output, "json") != 0)) {
		usage(stderr);
		return 2;
	}
	if ((kubeconfig || context) && !server)
		server = true;
	if (server)
		status = server_version(&remote, kubeconfig, context);

	if (strcmp(output, "json") == 0) {
		json_object *o = json_object_new_object();
		json_object *libs = json_object_new_object();

		json_object_object_add(o, "version", json_object_new_string(FORESIGHT_VERSION));
		json_object_object_add(libs, "libcurl", json_object_new_string(curl_version()));
		json_object_object_add(libs, "json-c", json_object_new_string(json_c_version()));
		json_object_object_add(libs, "libyaml",
		                       json_object_new_string(yaml_get_version_string()));
		json_object_object_add(libs, "libwebsockets",
		                       json_object_new_string(lws_get_library_version()));
		json_object_object_add(o, "libraries", libs);
		if (remote)
			json_object_object_add(o, "server", json_object_get(remote));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
	} else {
		printf("foresight %s\n", FORESIGHT_VERSION);
		printf("  libcurl        %s\n", curl_version());
		printf("  json-c         %s\n", json_c_version());
		printf("  libyaml        %s\n", yaml_get_version_string());
		printf("  libwebsockets  %s\n", lws_get_library_version());
		if (remote)
			printf("server %s (%s, %s)\n", field(remote, "gitVersion"),
			       field(remote, "platform"), field(remote, "goVersion"));
	}
	json_object_put(remote);
	return status;
}
