/*
 * Fuzz target for the readers of artifact files that steps consume: a
 * fitted transform, a schema, a profile and a dataset file. A pipeline can
 * be pointed at any artifact, and `ingest.file` can claim any bytes are a
 * model or a transform, so every one of these readers must reject damage
 * with an error, never a crash.
 *
 * The first byte chooses the reader; the rest is the file. A dataset that
 * opens is read back value by value, so a header that lies about its
 * sections is caught by the sanitizers if the bounds checks miss it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "dataset/dataset.h"
#include "dataset/transform.h"
#include "monitor/profile.h"
#include "monitor/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_dataset(const uint8_t *data, size_t size)
{
	char path[64];
	ds_table *t = NULL;
	int fd = memfd_create("fuzz-dataset", 0);

	if (fd < 0)
		return;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (ds_open(path, DS_OPEN_VERIFY, &t) == 0) {
		volatile double sink = 0;
		for (size_t j = 0; j < ds_ncol(t); j++) {
			for (size_t i = 0; i < ds_nrow(t); i++) {
				double d;
				size_t len;
				const char *s = ds_col_str(t, j, i, &len);
				if (s)
					sink += (double)len;
				else if (ds_get_f64(t, j, i, &d))
					sink += d;
			}
		}
		(void)sink;
		ds_close(t);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	json_t *j;

	if (size < 1)
		return 0;
	text = (const char *)data + 1;
	size--;
	switch (data[0] % 4) {
	case 0: {
		transform *tr = NULL;
		if (transform_parse(text, size, "fuzz", &tr) == 0)
			transform_free(tr);
		break;
	}
	case 1:
		j = json_loadb(text, size, 0, NULL);
		if (j) {
			schema *s = NULL;
			if (schema_from_json(j, SCHEMA_ERROR, &s) == 0)
				schema_free(s);
			json_decref(j);
		}
		break;
	case 2:
		j = json_loadb(text, size, 0, NULL);
		if (j) {
			profile *p = NULL;
			if (profile_from_json(j, &p) == 0)
				profile_free(p);
			json_decref(j);
		}
		break;
	default:
		read_dataset(data + 1, size);
		break;
	}
	return 0;
}
