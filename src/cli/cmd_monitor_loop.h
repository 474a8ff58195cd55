/*
 * The monitoring loop's subcommands of `sluice monitor` (cmd_monitor_loop.c),
 * for cmd_monitor.c's table, and the monitor thread of `sluice serve --monitor`.
 */
#ifndef SLUICE_CLI_MONITOR_LOOP_H
#define SLUICE_CLI_MONITOR_LOOP_H

#include <stddef.h>

int monitor_watch_main(int argc, char **argv);
int monitor_events_main(int argc, char **argv);
int monitor_retrain_main(int argc, char **argv);
int monitor_ack_main(int argc, char **argv);
extern const char monitor_watch_help[], monitor_events_help[], monitor_retrain_help[],
	monitor_ack_help[];

/* The loop on a thread of its own, with its own project handle (serve --monitor). */
typedef struct monitor_thread monitor_thread;
/*
 * Starts watching models (n_models 0: every model with a production alias)
 * every interval_s seconds (0: the default), reading the inference log in
 * log_dir (NULL: the project's). Returns an exit status (0:
 * started; otherwise the message was printed).
 */
int monitor_thread_start(const char *const *models, size_t n_models, unsigned interval_s,
			 const char *log_dir, monitor_thread **out);
/* Cancels the loop (and a retraining run in flight), waits for it, frees. Accepts NULL. */
void monitor_thread_stop(monitor_thread *t);

#endif
