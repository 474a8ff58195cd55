/*
 * Delivering an alert (notify.c): a command and a webhook. Prefix api_notify.
 */
#ifndef SLUICE_API_NOTIFY_H
#define SLUICE_API_NOTIFY_H

#include <stddef.h>

#include "core.h"

/* An alert as it is delivered. All borrowed. */
typedef struct api_alert_msg {
	const char *json;  /* the event: {at, kind, model, detail, run}, the webhook's body */
	const char *name;  /* the rule's name */
	const char *state; /* "firing" or "resolved" */
	const char *model; /* or NULL */
	const char *cwd;   /* the command's working directory (the project), or NULL */
} api_alert_msg;

#define API_NOTIFY_COMMAND 1u
#define API_NOTIFY_WEBHOOK 2u

/*
 * Runs command (when not NULL or empty) as `/bin/sh -c COMMAND` with
 * SLUICE_ALERT (the JSON), SLUICE_ALERT_NAME, SLUICE_ALERT_STATE and
 * SLUICE_MODEL in its environment, and POSTs the JSON to webhook (when
 * set), each given 10 seconds. Returns 0 when both that were asked for
 * succeeded; otherwise the first failure, with every failure's message in
 * err (err_size bytes) and the API_NOTIFY_* bits of the channels that
 * failed in *out_failed (may be NULL), so a retry sends only those.
 */
int api_notify(const api_alert_msg *m, const char *command, const char *webhook, char *err,
	       size_t err_size, unsigned *out_failed);

#endif
