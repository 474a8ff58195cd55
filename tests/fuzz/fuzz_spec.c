/*
 * libFuzzer target for the pipeline file parser. The input is a pipeline
 * file; when its first line is a comment of the form "#-p NAME=VALUE" that
 * line also supplies a -p override, so overrides are fuzzed with the file.
 * Every parsed spec is also put through spec_step_canonical and
 * spec_subst_io, the two functions the scheduler calls on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const spec *s)
{
	for (size_t i = 0; i < s->n_steps; i++) {
		const spec_step *st = &s->steps[i];
		const char *in_vals[64], *in_names[64];
		size_t n_in = st->n_inputs < 64 ? st->n_inputs : 64;
		char *c = spec_step_canonical(s, i);

		sl__free(c);
		for (size_t k = 0; k < n_in; k++) {
			in_names[k] = st->inputs[k].name;
			in_vals[k] = st->inputs[k].output;
		}
		if (st->run) {
			char *r = spec_subst_io(st->run, in_names, in_vals, n_in,
						(const char *const *)st->outputs,
						(const char *const *)st->outputs, st->n_outputs);
			sl__free(r);
		}
	}
	for (size_t i = 0; i < s->n_steps; i++)
		(void)spec_step_index(s, s->steps[s->order[i]].name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *ov = NULL;
	const char *ovs[1];
	size_t n_ov = 0;
	spec *s = NULL;

	if (size > 3 && !memcmp(text, "#-p", 3)) {
		const char *nl = memchr(text, '\n', size);
		size_t n = (nl ? (size_t)(nl - text) : size) - 3;
		ov = malloc(n + 1);
		if (!ov)
			return 0;
		memcpy(ov, text + 3, n);
		ov[n] = '\0';
		while (*ov == ' ')
			memmove(ov, ov + 1, strlen(ov));
		ovs[0] = ov;
		n_ov = 1;
	}
	if (spec_parse_string(text, size, "fuzz.yaml", "/", ovs, n_ov, &s) == 0) {
		exercise(s);
		spec_free(s);
	}
	free(ov);
	return 0;
}
