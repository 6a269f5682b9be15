#ifndef FORESIGHT_CLI_CLI_H
#define FORESIGHT_CLI_CLI_H

/*
 * The subcommands of the `foresight` binary. Each takes the arguments after
 * its name (argv[0] is the subcommand) and returns the process exit code:
 * 0 success, 1 failure, 2 bad usage.
 */

/* `foresight version [--server] [--kubeconfig F] [--context C] [-o text|json]` */
int cli_version(int argc, char **argv);

/* `foresight run [options]`: the operator (see `foresight run --help`). */
int cli_run(int argc, char **argv);

/* `foresight backtest [options] FILE.csv`: replay a trace (see ../shared/BACKTEST.md). */
int cli_backtest(int argc, char **argv);

/* `foresight rules -f SCALER.yaml [-o rules|prometheusrule|json]`: a scaler's alert rules. */
int cli_rules(int argc, char **argv);

/*
 * Prints "foresight CMD: <message>" on stderr and returns `status`, the exit
 * status for it: `return cli_fail("backtest", 2, "--lead %s: ...", arg);`.
 */
int cli_fail(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
