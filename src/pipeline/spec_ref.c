/*
 * Input references to things outside the pipeline (spec.h): an output of
 * an earlier run, an artifact by id, a registered model's bundle. Only the
 * syntax is checked here, so a mistake is FILE:LINE:COL before anything
 * runs; what a reference names is looked up by the scheduler when the run
 * starts (sched.c), where the store is at hand.
 *
 *   run:latest/check.profile    run:latest~2/check.profile    run:3f2a9c/check.profile
 *   artifact:3f2a9c1b           model:spam@production         model:spam@3?
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/spec.h"
#include "store/store.h"

#define RUN_ID_MAX 32

static bool ident(const char *s, size_t n)
{
	if (n == 0 || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool hex_or_alnum_id(const char *s, size_t n)
{
	if (n == 0 || n > RUN_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

/* "'TEXT': WHY" into msg; returns -1. */
static int bad(char *msg, size_t size, const char *text, const char *why)
{
	snprintf(msg, size, "'%.100s': %s", text, why);
	return -1;
}

/* run:RUN/STEP.OUTPUT, where RUN is latest, latest~N or a run id (prefix). */
static int parse_run(const char *body, spec_input *in, char *msg, size_t size)
{
	const char *slash = strchr(body, '/'), *dot, *tilde;
	size_t rlen;

	if (!slash)
		return bad(msg, size, in->text,
			   "not run:RUN/STEP.OUTPUT (RUN is latest, latest~N or a run id)");
	rlen = (size_t)(slash - body);
	tilde = memchr(body, '~', rlen);
	if (tilde) {
		char *end;
		unsigned long n;
		if ((size_t)(tilde - body) != 6 || strncmp(body, "latest", 6) != 0)
			return bad(msg, size, in->text, "only latest takes ~N (the Nth run before it)");
		n = strtoul(tilde + 1, &end, 10);
		if (end != slash || end == tilde + 1 || n > 100000)
			return bad(msg, size, in->text, "~N wants a number of runs, 0 to 100000");
		in->back = (unsigned)n;
		in->target = sl__strdup("latest");
	} else if (rlen == 6 && !strncmp(body, "latest", 6)) {
		in->target = sl__strdup("latest");
	} else if (hex_or_alnum_id(body, rlen)) {
		in->target = sl__strndup(body, rlen);
	} else {
		return bad(msg, size, in->text,
			   "a run is latest, latest~N or a run id (lowercase letters and digits)");
	}
	dot = strrchr(slash + 1, '.');
	if (!dot || !ident(slash + 1, (size_t)(dot - slash - 1)) || !ident(dot + 1, strlen(dot + 1)))
		return bad(msg, size, in->text, "after the run comes STEP.OUTPUT");
	in->step = sl__strndup(slash + 1, (size_t)(dot - slash - 1));
	in->output = sl__strdup(dot + 1);
	in->ref = SPEC_REF_RUN;
	return in->target && in->step && in->output ? 1 : bad(msg, size, in->text, "out of memory");
}

static int parse_artifact(const char *body, spec_input *in, char *msg, size_t size)
{
	size_t n = strlen(body);

	/* artifact:${params.X}? with X empty names nothing: the step runs without it. */
	if (n == 0 && in->optional) {
		in->ref = SPEC_REF_ARTIFACT;
		in->target = sl__strdup("");
		return in->target ? 1 : bad(msg, size, in->text, "out of memory");
	}
	if (n < 4 || n > SL__HASH_HEX_LEN)
		return bad(msg, size, in->text, "an artifact id has 4 to 64 hex digits");
	for (size_t i = 0; i < n; i++)
		if (!((body[i] >= '0' && body[i] <= '9') || (body[i] >= 'a' && body[i] <= 'f') ||
		      (body[i] >= 'A' && body[i] <= 'F')))
			return bad(msg, size, in->text, "an artifact id is hexadecimal");
	in->ref = SPEC_REF_ARTIFACT;
	in->target = sl__strdup(body);
	return in->target ? 1 : bad(msg, size, in->text, "out of memory");
}

/* model:NAME@REF; the names are checked as the registry checks them. */
static int parse_model(const char *body, spec_input *in, char *msg, size_t size)
{
	const char *at = strchr(body, '@');
	bool digits = true;

	if (!at)
		return bad(msg, size, in->text,
			   "names no version: write model:NAME@ALIAS (model:spam@production), "
			   "model:NAME@VERSION or model:NAME@latest");
	in->target = sl__strndup(body, (size_t)(at - body));
	in->version = sl__strdup(at + 1);
	if (!in->target || !in->version)
		return bad(msg, size, in->text, "out of memory");
	if (store_check_model_name(in->target) != 0) {
		snprintf(msg, size, "'%.100s': %s", in->text, sl_errmsg());
		return -1;
	}
	for (const char *c = in->version; *c; c++)
		digits &= *c >= '0' && *c <= '9';
	if (!*in->version || (!digits && strcmp(in->version, "latest") != 0 &&
			      store_check_alias_name(in->version) != 0)) {
		snprintf(msg, size, "'%.100s': after '@' comes a version number, an alias or latest%s%s",
			 in->text, *in->version ? ": " : "", *in->version ? sl_errmsg() : "");
		return -1;
	}
	in->ref = SPEC_REF_MODEL;
	return 1;
}

int spec_ref_parse(const char *text, spec_input *in, char *msg, size_t size)
{
	static const char *const kinds[] = {"run:", "artifact:", "model:"};
	size_t n = strlen(text), k;
	const char *body;

	for (k = 0; k < SL__ARRAY_LEN(kinds); k++)
		if (sl__str_has_prefix(text, kinds[k]))
			break;
	if (k == SL__ARRAY_LEN(kinds))
		return 0;
	in->optional = n > 0 && text[n - 1] == '?';
	if (!(in->text = sl__strndup(text, in->optional ? n - 1 : n)))
		return bad(msg, size, text, "out of memory");
	in->step_index = SIZE_MAX;
	body = in->text + strlen(kinds[k]);
	if (k == 0)
		return parse_run(body, in, msg, size);
	if (k == 1)
		return parse_artifact(body, in, msg, size);
	return parse_model(body, in, msg, size);
}
