/* foresight: a predictive autoscaler for Kubernetes. The subcommand dispatcher. */

#include <stdio.h>
#include <string.h>

#include "base/version.h"
#include "cli/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"backtest", cli_backtest,
     "replay a load trace through the forecaster and replica math, per policy"},
    {"rules", cli_rules, "render the alert rules the operator keeps for ForecastScalers"},
    {"run", cli_run, "run the operator: scale the targets of ForecastScalers ahead of load"},
    {"version", cli_version, "print the version of foresight, its libraries and the cluster"},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "foresight %s: scale Kubernetes workloads before load arrives\n\n"
	        "Usage: foresight <command> [options]\n\nCommands:\n",
	        FORESIGHT_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun `foresight <command> --help` for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cli_version(1, argv);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "foresight: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
