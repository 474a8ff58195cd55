/*
 * A program around an exported model (sluice models export --format c),
 * as a device would call it: reads raw rows from a CSV on stdin (header:
 * the column names, in any order; no quoting), looks string values up in
 * model_dictionary, calls model_predict and prints one line per row: the
 * outputs with 17 significant digits, or "rejected". Built by the export
 * test with cc against the generated file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *const model_columns[];
extern const char *const model_column_types[];
extern const int model_n_columns;
extern const char *const model_outputs[];
extern const int model_n_outputs;
extern const char *const *const model_dictionary[];
extern const int model_dictionary_size[];
int model_predict(const double *row, double *out);

#define MAXF 512

static int split(char *line, char **f)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = line; n < MAXF;) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

int main(void)
{
	static char line[1 << 16];
	char *f[MAXF];
	int where[MAXF], nh;
	double row[MAXF], out[64];

	if (!fgets(line, sizeof line, stdin))
		return 1;
	nh = split(line, f);
	for (int k = 0; k < model_n_columns; k++) {
		where[k] = -1;
		for (int h = 0; h < nh; h++)
			if (!strcmp(f[h], model_columns[k]))
				where[k] = h;
	}
	while (fgets(line, sizeof line, stdin)) {
		int n = split(line, f);
		for (int k = 0; k < model_n_columns; k++) {
			const char *s = where[k] >= 0 && where[k] < n ? f[where[k]] : "";
			if (!*s) {
				row[k] = NAN;
			} else if (!strcmp(model_column_types[k], "string")) {
				row[k] = -1;
				for (int i = 0; i < model_dictionary_size[k]; i++)
					if (!strcmp(model_dictionary[k][i], s))
						row[k] = i;
			} else if (!strcmp(model_column_types[k], "bool")) {
				row[k] = !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE");
			} else {
				row[k] = strtod(s, NULL);
			}
		}
		if (model_predict(row, out) != 0) {
			puts("rejected");
			continue;
		}
		for (int o = 0; o < model_n_outputs; o++)
			printf("%s%.17g", o ? "," : "", out[o]);
		putchar('\n');
	}
	return 0;
}
