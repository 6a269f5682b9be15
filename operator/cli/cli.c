/* What the subcommands share. */

#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>

int cli_fail(const char *cmd, int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "foresight %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}
