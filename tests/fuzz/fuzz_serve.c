/*
 * Fuzz target for the serving request parsers: the JSON scanner, the V2
 * inference request, MLflow's JSON formats and CSV. Request bodies come
 * from anyone who can reach the port, so every byte sequence must get an
 * answer (a parsed batch or an error with a message), never a crash, a
 * hang or a read past the body. A body that parses is also scored and
 * encoded, and its log record written, so the values a parser accepts are
 * exercised all the way through.
 *
 * The first byte picks the parser (0: V2, 1: MLflow JSON, 2: CSV, other:
 * the scanner alone); the rest is the body. The model, built once, takes a
 * float, an int, a string and a bool input, so every typing rule is
 * reachable. Seeds: corpus/serve/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/glm.h"
#include "serve/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bundle *model;
static serve_sig sig;
static bundle_row *row;

static void build_model(void)
{
	static const char *const c[] = {"a", "b", "c"};
	logistic_opts o = {.penalty = LOGISTIC_L2, .C = 1, .fit_intercept = true,
			   .standardize = true, .max_iter = 50, .tol = 1e-6, .threads = 1};
	char path[] = "/tmp/fuzz-serve-XXXXXX";
	ds_builder *b;
	ds_table *t;
	ml_frame fr;
	ml_model *m;
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	if (ds_builder_new(&b))
		abort();
	ds_builder_add_col(b, "x", DS_FLOAT64, NULL);
	ds_builder_add_col(b, "n", DS_INT64, NULL);
	ds_builder_add_col(b, "c", DS_STRING, NULL);
	ds_builder_add_col(b, "flag", DS_BOOL, NULL);
	ds_builder_add_col(b, "y", DS_STRING, NULL);
	for (int i = 0; i < 30; i++) {
		ds_append_f64(b, 0, i * 0.37 - 3);
		ds_append_i64(b, 1, i % 7);
		ds_append_str(b, 2, c[i % 3], 1);
		ds_append_bool(b, 3, i % 2);
		ds_append_str(b, 4, (i * 7) % 11 > 5 ? "yes" : "no", (i * 7) % 11 > 5 ? 3 : 2);
	}
	if (ds_builder_finish(b, &t) ||
	    ml_frame_build(t, &(ml_frame_opts){.target = "y", .allow_strings = true}, &fr) ||
	    logistic_fit(&fr, &o, &m) || ml_model_save(m, NULL, path) ||
	    bundle_open(path, BUNDLE_ROWS, &model) || serve_sig_build(model, &sig) ||
	    bundle_row_new(model, &row))
		abort();
	ml_model_free(m);
	ml_frame_free(&fr);
	ds_close(t);
	ds_builder_free(b);
	unlink(path);
	close(fd);
}

static serve_colcache cache;

/* The body read by parse without a cache gives the same code, message and
 * batch (every cell's value and span) as rc and in. */
static void same_as(int (*parse)(const serve_sig *, const char *, size_t, serve_colcache *,
				 serve_arena *, serve_batch *),
		    const char *body, size_t len, int rc, const serve_batch *in, serve_arena *a)
{
	serve_batch b;
	char msg[512];
	int rc2;

	snprintf(msg, sizeof msg, "%s", rc ? sl_errmsg() : "");
	rc2 = parse(&sig, body, len, NULL, a, &b);
	if (rc2 != rc || (rc && strcmp(msg, sl_errmsg())))
		abort();
	if (rc)
		return;
	if (b.n != in->n || b.k != in->k)
		abort();
	for (size_t c = 0; c < b.n * b.k; c++) {
		const expr_value *x = &in->v[c], *y = &b.v[c];
		if (x->null != y->null || x->i != y->i || memcmp(&x->f, &y->f, sizeof x->f) ||
		    x->len != y->len || (x->len && memcmp(x->s, y->s, x->len)) ||
		    in->span[2 * c] != b.span[2 * c] || in->span[2 * c + 1] != b.span[2 * c + 1])
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static serve_arena a;
	const char *body = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	serve_batch batch, *in = NULL;
	v2_request req;
	serve_result res;
	sl__buf out;
	int rc;

	if (!model)
		build_model();
	if (size == 0)
		return 0;
	serve_arena_reset(&a);
	sl__buf_init(&out, 1 << 26);
	switch (data[0]) {
	case 0:
		if ((rc = v2_parse(&sig, body, len, &a, &req)) == 0)
			in = &req.batch;
		break;
	case 1:
		/* With a cache of column arrays kept from earlier inputs, then
		 * without, then in the two checked passes: the same answer. */
		if ((rc = mlflow_parse_json(&sig, body, len, &cache, &a, &batch)) == 0)
			in = &batch;
		same_as(mlflow_parse_json, body, len, rc, in, &a);
		same_as(mlflow__parse_checked, body, len, rc, in, &a);
		break;
	case 2:
		if ((rc = mlflow_parse_csv(&sig, body, len, &a, &batch)) == 0)
			in = &batch;
		break;
	default: {
		jscan js;
		jscan_init(&js, body, len);
		rc = jscan_skip(&js) || jscan_end(&js);
		break;
	}
	}
	/* A refusal always says why. */
	if (rc && rc != -1 && !*sl_errmsg())
		abort();
	if (in && in->n <= 4096 &&
	    serve_score(&sig, row, in, data[0] == 0 && req.explain, &a, &res) == 0) {
		serve_logrec r = {.id = "fuzz", .model = "m", .version = "1", .endpoint = "v2",
				  .status = 200, .sig = &sig, .batch = in, .res = &res};
		if (data[0] == 0)
			v2_encode(&sig, "m", "1", &req, "fuzz", &res, &a, &out);
		else
			mlflow_encode(&sig, &res, &a, &out);
		serve_log_record(&r, &a, &out);
	}
	sl__buf_free(&out);
	return 0;
}
