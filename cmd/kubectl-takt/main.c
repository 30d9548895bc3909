/* kubectl-takt: the kubectl plugin. Thin: finds the subcommand and hands it
 * the arguments; each subcommand parses its own options. */
#include "cmds.h"

#include <stdio.h>
#include <string.h>

#include "base/banned.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(void);
	const char *summary;
};

static const struct subcommand SUBCOMMANDS[] = {
    {"next", cmd_next, cmd_next_usage, "print the next fire instants of a schedule (offline)"},
    {"kill", cmd_kill, cmd_kill_usage, "kill the active runs of a schedule, or a pod's run"},
    {"run", cmd_run, cmd_run_usage, "start one run of a schedule now"},
    {"rerun", cmd_rerun, cmd_rerun_usage, "run again the slots of business dates (backfill)"},
    {"history", cmd_history, cmd_history_usage, "show the recorded runs of a schedule"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: kubectl takt <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(SUBCOMMANDS) / sizeof(SUBCOMMANDS[0]); i++)
		fprintf(out, "  %-8s %s\n", SUBCOMMANDS[i].name, SUBCOMMANDS[i].summary);
	fprintf(out, "\n`kubectl takt <command> --help` describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(SUBCOMMANDS) / sizeof(SUBCOMMANDS[0]); i++)
		if (!strcmp(argv[1], SUBCOMMANDS[i].name))
			return SUBCOMMANDS[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kubectl takt: unknown command \"%s\" (try --help)\n", argv[1]);
	return EXIT_USAGE;
}
