/*
 * Data schemas: what a dataset is expected to look like, as rules that can
 * be checked against a table (the validate step) and inferred from a
 * profile. Prefix schema_.
 *
 * The file format (YAML or JSON; docs/steps/validate.md has the reference):
 *
 *   severity: error              default severity of every rule (optional)
 *   extra_columns: error         columns not listed: error | warn | ignore
 *   columns:                     a map name -> rules (or a list with `name:`)
 *     age:
 *       type: int64              int64 data also satisfies float64
 *       required: true           the column must exist (default true)
 *       max_missing: 0.05        largest allowed fraction of missing values
 *       min: 0                   smallest allowed value (numbers, timestamps)
 *       max: 120                 largest allowed value
 *       unique: true             no value may repeat
 *       categories: [a, b]       the allowed values
 *       pattern: '^[a-z]+$'      POSIX extended regex; the whole value must match
 *       severity: warn           default severity of this column's rules
 *
 * Every rule's value may instead be {value: V, severity: error|warn}.
 * Severity resolves rule > column > file > the caller's default.
 */
#ifndef SLUICE_SCHEMA_H
#define SLUICE_SCHEMA_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core.h"
#include "dataset/dataset.h"
#include "monitor/profile.h"

typedef enum schema_sev { SCHEMA_IGNORE = 0, SCHEMA_WARN = 1, SCHEMA_ERROR = 2 } schema_sev;

/* "ignore", "warn", "error". */
const char *schema_sev_name(schema_sev s);
/* error; warn or warning; ignore, off or none. */
bool schema_sev_parse(const char *s, schema_sev *out);

typedef struct schema_num_rule {
	bool set;
	double v;
	schema_sev sev;
} schema_num_rule;

typedef struct schema_col {
	char *name;
	bool has_type;
	ds_type type;
	schema_sev type_sev;
	bool required;
	schema_sev required_sev;
	schema_num_rule max_missing, min, max;
	bool unique;
	schema_sev unique_sev;
	json_t *categories;    /* the allowed values as written (array), or NULL */
	char **cat_strs;       /* their text forms, sorted, for string and bool columns */
	double *cat_nums;      /* the numeric ones, sorted, for numeric columns */
	size_t n_cat_strs, n_cat_nums;
	schema_sev categories_sev;
	char *pattern;         /* as written, or NULL */
	regex_t re;            /* compiled "^(pattern)$" when pattern is set */
	schema_sev pattern_sev;
} schema_col;

typedef struct schema {
	schema_sev severity;      /* the file's default (as resolved) */
	schema_sev extra_columns;
	size_t n_cols;
	schema_col *cols;
} schema;

void schema_free(schema *s); /* accepts NULL */

/*
 * Reads a schema from JSON. def is the severity of rules that name none.
 * Errors are SL_EPARSE naming the field ("columns.age.pattern: invalid
 * regular expression: ..."); *out is NULL then.
 */
int schema_from_json(const json_t *j, schema_sev def, schema **out);
/* Reads a YAML or JSON schema file; every error is "FILE:LINE:COL: PATH: message". */
int schema_load_file(const char *path, schema_sev def, schema **out);
/*
 * The same from text (YAML or JSON); name is the file name in messages.
 * Errors are "NAME:LINE:COL: PATH: message" (SL_EPARSE). In YAML, .inf and
 * -.inf are open bounds (min: -.inf, max: .inf); NaN is refused.
 */
int schema_parse_yaml(const char *text, size_t len, const char *name, schema_sev def,
		      schema **out);
/* The canonical JSON form (what the schema artifact holds); *out is a new reference. */
int schema_to_json(const schema *s, json_t **out);

typedef struct schema_infer_opts {
	schema_sev severity;     /* severity of inferred rules (ranges are always warn) */
	double max_missing;      /* NaN: infer (0 when none missing, else 2x observed) */
	size_t max_categories;   /* string columns with at most this many distinct values
				  * (each seen twice on average) get a categories rule */
	uint64_t unique_min_rows; /* int64/string columns all distinct with at least
				   * this many values get unique: true */
} schema_infer_opts;

void schema_infer_opts_default(schema_infer_opts *o);
/* Infers a schema from a profile (see the inference rules in the docs). */
int schema_infer(const profile *p, const schema_infer_opts *o, schema **out);

/* ---- checking ------------------------------------------------------------ */

typedef struct schema_result {
	const char *rule;  /* static: "type", "required", "max_missing", "min", ... */
	char *column;      /* owned; NULL for table-level rules */
	schema_sev severity;
	bool passed;
	json_t *observed;  /* owned references (JSON null when not applicable) */
	json_t *expected;
	uint64_t violations; /* offending rows (or columns) */
	json_t *rows;      /* owned: the first offending rows (numbers from 1), or NULL */
	char *message;     /* owned, one line with the numbers (and those rows) */
} schema_result;

typedef struct schema_results {
	schema_result *v;
	size_t n, cap;
	size_t errors, warnings; /* failed rules by severity */
} schema_results;

/*
 * Appends a result; takes ownership of observed and expected (even on
 * failure; json_null() when not applicable, and NULL, from a constructor
 * that failed, is SL_ENOMEM). The message is formatted. Returns 0 or
 * SL_ENOMEM.
 */
int schema_results_add(schema_results *r, const char *rule, const char *column,
		       schema_sev sev, bool passed, json_t *observed, json_t *expected,
		       uint64_t violations, const char *fmt, ...) SL__PRINTF(9, 10);
void schema_results_free(schema_results *r);

/*
 * Checks t (profiled as p, same column order) against s and appends one
 * result per rule, in schema order, then one per extra column. A failed
 * rule about values names the first offending rows (SCHEMA_MAX_ROWS, row 1
 * being the table's first) in its message and in `rows`. Returns 0
 * (whatever the verdicts) or SL_ENOMEM.
 */
#define SCHEMA_MAX_ROWS 5
int schema_check(const schema *s, const ds_table *t, const profile *p, schema_results *out);

#endif
