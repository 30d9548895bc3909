/* Subcommands of the kubectl plugin. Each lives in its own file and is
 * registered in main.c's table; argv[0] is the subcommand name. Each returns
 * the process exit status: 0, 1 (the operation failed), 2 (bad usage or
 * input, one line on stderr naming what is wrong). */
#ifndef TAKT_CMD_KUBECTL_TAKT_CMDS_H
#define TAKT_CMD_KUBECTL_TAKT_CMDS_H

#define EXIT_USAGE 2

int cmd_next(int argc, char **argv);
void cmd_next_usage(void);
int cmd_kill(int argc, char **argv);
void cmd_kill_usage(void);
int cmd_run(int argc, char **argv);
void cmd_run_usage(void);
int cmd_rerun(int argc, char **argv);
void cmd_rerun_usage(void);
int cmd_history(int argc, char **argv);
void cmd_history_usage(void);

#endif
