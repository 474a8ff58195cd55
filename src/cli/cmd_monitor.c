/*
 * sluice monitor SUBCOMMAND ...: monitoring and the retraining loop, one
 * subcommand per row of the table below.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_monitor_loop.h"

typedef struct monitor_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	const char *summary;
} monitor_sub;

static const monitor_sub subs[] = {
	{"events", monitor_events_main, monitor_events_help, "the monitoring loop's decisions"},
	{"retrain", monitor_retrain_main, monitor_retrain_help, "retrain now, as a trigger would"},
	{"watch", monitor_watch_main, monitor_watch_help,
	 "the loop: alerts, retraining on drift, decay and cadence"},
};

static const char help[] =
	"usage: sluice monitor SUBCOMMAND [options]\n"
	"\n"
	"  watch     the loop: alerts, and retraining on drift, decay and cadence\n"
	"  events    the loop's decisions (alerts, triggers, runs, promotions, refusals)\n"
	"  retrain   retrain now, as a trigger would\n"
	"\n"
	"'sluice monitor SUBCOMMAND --help' describes each. See docs/monitoring.md.\n";

static int monitor_main(int argc, char **argv)
{
	const char *names[sizeof subs / sizeof subs[0]];
	size_t n = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return argc < 2 ? cli_usage("monitor", "give a subcommand (watch, events, retrain)")
				: cli_help_for(&cmd_monitor);
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
		names[n++] = subs[i].name;
	}
	const char *best = sl_suggest(argv[1], names, n);
	return cli_usage("monitor", "unknown subcommand '%s'%s%s%s", argv[1],
			 best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
}

const cli_cmd cmd_monitor = {
	"monitor", monitor_main, "monitoring: the retraining loop, alerts, events", help,
};
