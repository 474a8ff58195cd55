/*
 * Forecasters over the Open Inference Protocol V2 (codec.h). A forecaster
 * is asked for whole forecasts, not for rows: the request names the series
 * (its key columns, one input each; nothing at all for a model of one
 * series) and, optionally, how many steps ahead it wants:
 *
 *   {"parameters": {"horizon": 6},
 *    "inputs": [{"name": "store", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}]}
 *
 *   v2_parse: one row per series (the key columns; "h" left for us)
 *     --serve_fc_expand--> horizon rows per series, h = 1..horizon
 *     --serve_score--> the model's lookup, as for any batch (and the log
 *        records those rows, so feedback carries one actual per row)
 *     --serve_fc_check--> 400 for a series the model lacks
 *     --serve_fc_encode--> every output [horizon] (no key columns) or
 *        [series, horizon]: predict, lower_80, upper_80, lower_95,
 *        upper_95 (FP64) and time (the step each value is for: BYTES ISO
 *        8601 time stamps, or INT64 on an integer time axis)
 *
 * The forecast is the model's from the end of its training history: the
 * model is a table fitted at training (ml/forecast.h), so serving cannot
 * disagree with `sluice predict`; a newer history is a retraining.
 *
 * Invariants:
 *  1. None of this runs for any other model: the V2 codec branches on
 *     serve_sig.fc_h < 0 once per request.
 *  2. The expanded batch is series-major (row = series x horizon + h - 1),
 *     the order of the response's data and of the logged rows.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "serve/codec.h"

/* Rows (series x horizon) one request may ask for. */
#define FC_MAX_ROWS 1000000

/* The response's outputs over the model's (ml/forecast.h invariant 3). */
static const struct {
	const char *name;
	size_t col;
} fc_outs[] = {
	{"predict", 0}, {"lower_80", 1}, {"upper_80", 2}, {"lower_95", 3}, {"upper_95", 4},
};

int serve_fc_sig(serve_sig *s)
{
	int rc;

	if ((rc = fc_model_view(s->m, &s->fc)))
		return rc;
	s->fc_h = serve_sig_find(s, "h", 1);
	if (s->fc_h < 0 || s->k != FC_NOUT || s->fc.horizon < 1)
		return sl__err(SL_EINVAL, "the forecast model has no input 'h' or not %d outputs",
			       FC_NOUT);
	for (size_t i = 0; i < SL__ARRAY_LEN(fc_outs); i++)
		if ((rc = serve_sig_add_out(s, fc_outs[i].name, "FP64", SO_COLUMN, fc_outs[i].col)))
			return rc;
	return serve_sig_add_out(s, "time", s->fc.period.timestamps ? "BYTES" : "INT64", SO_TIME,
				 0);
}

int serve_fc_expand(const serve_sig *s, serve_arena *a, v2_request *req)
{
	serve_batch *b = &req->batch;
	size_t H = req->horizon ? req->horizon : s->fc.horizon, S = b->n, k = b->k;
	size_t hj = (size_t)s->fc_h;
	expr_value *v, *hv;

	if (H > s->fc.horizon)
		return sl__err(SL_EINVAL,
			       "parameters.horizon: %zu steps is beyond the model's horizon of %zu "
			       "(ask for 1..%zu, or retrain with a longer horizon)",
			       H, s->fc.horizon, s->fc.horizon);
	if (S > FC_MAX_ROWS / H)
		return sl__err(SL_EINVAL,
			       "%zu series of %zu steps is more than the %d rows one request may "
			       "ask for: split the series over several requests",
			       S, H, FC_MAX_ROWS);
	v = serve_arena_alloc(a, (S * H * k + 1) * sizeof *v);
	hv = serve_arena_alloc(a, H * sizeof *hv);
	if (!v || !hv)
		return sl__oom();
	for (size_t h = 0; h < H; h++) {
		char txt[24];
		int len = snprintf(txt, sizeof txt, "%zu", h + 1);
		bundle_scalar sc = {.kind = BV_NUMBER, .num = (double)(h + 1), .s = txt,
				    .len = (size_t)len};
		if (bundle_coerce(s->in_types[hj], &sc, &hv[h]))
			return sl__err_prefix(SL_EINVAL, "the forecast model's input 'h'");
	}
	for (size_t i = 0; i < S; i++)
		for (size_t h = 0; h < H; h++) {
			expr_value *row = v + (i * H + h) * k;
			memcpy(row, b->v + i * k, k * sizeof *row);
			row[hj] = hv[h];
		}
	/* The key values are typed (strings point into the body or the
	 * arena), so the log formats them from the values: no spans. */
	b->v = v;
	b->n = S * H;
	b->span = NULL;
	b->src = NULL;
	b->src_len = 0;
	req->horizon = H;
	req->n_series = S;
	return 0;
}

/* Series of row r of res, or -1 when the model has none of that key. */
static long series_of(const serve_sig *s, const serve_result *res, size_t r)
{
	return fc_view_find(&s->fc, res->X + r * res->p);
}

int serve_fc_check(const serve_sig *s, const v2_request *req, const serve_result *res)
{
	for (size_t i = 0; i < req->n_series; i++) {
		size_t r = i * req->horizon;
		sl__buf key;
		bool first = true;
		int rc = 0;

		if (series_of(s, res, r) >= 0)
			continue;
		sl__buf_init(&key, 4096);
		for (size_t j = 0; j < s->n_in && !rc; j++) {
			if ((long)j == s->fc_h || !bundle_input_needed(s->b, j))
				continue;
			rc = sl__buf_printf(&key, "%sinput '%s' = ", first ? "" : ", ", s->in_names[j]);
			if (!rc)
				rc = serve_put_cell(&key, &req->batch, s, r, j);
			first = false;
		}
		rc = rc ? sl__oom()
			: sl__err(SL_EINVAL,
				  "row %zu: %s names no series of the model (it forecasts %zu; "
				  "GET the model's metadata for its key columns)",
				  i, key.data ? key.data : "", s->fc.n_series);
		sl__buf_free(&key);
		return rc;
	}
	return 0;
}

static int put_shape(sl__buf *b, const serve_sig *s, const v2_request *req)
{
	int rc = serve_lit(b, "\"shape\":[");

	if (!rc && s->fc.nby) {
		rc = serve_put_u64(b, req->n_series);
		if (!rc)
			rc = serve_lit(b, ",");
	}
	if (!rc)
		rc = serve_put_u64(b, req->horizon);
	return rc ? rc : serve_lit(b, "],\"data\":[");
}

/* The time row r's forecast is for: its series' last time advanced h steps. */
static int put_time(sl__buf *b, const serve_sig *s, const serve_result *res, size_t r, size_t h)
{
	long si = series_of(s, res, r);
	char buf[DS_TS_BUF + 2];
	int64_t t;

	if (si < 0)
		return serve_lit(b, "null");
	t = fc_period_add(&s->fc.period, s->fc.last[si], (int64_t)h);
	if (!s->fc.period.timestamps)
		return serve_put(b, buf, (size_t)snprintf(buf, sizeof buf, "%lld", (long long)t));
	buf[0] = '"';
	size_t n = ds_format_timestamp(t, buf + 1);
	buf[n + 1] = '"';
	return serve_put(b, buf, n + 2);
}

static int put_output(sl__buf *b, const serve_sig *s, const serve_output *o,
		      const v2_request *req, serve_result *res, serve_arena *a)
{
	int rc = v2_put_output_head(b, o);

	if (!rc)
		rc = put_shape(b, s, req);
	for (size_t r = 0; !rc && r < res->n; r++) {
		if (r)
			rc = serve_lit(b, ",");
		if (rc)
			break;
		rc = o->kind == SO_TIME ? put_time(b, s, res, r, r % req->horizon + 1)
					: serve_put_out(b, res, r, o->col, a);
	}
	return rc ? rc : serve_lit(b, "]}");
}

int serve_fc_encode(const serve_sig *s, const char *name, const char *version,
		    const v2_request *req, const char *request_id, serve_result *res,
		    serve_arena *a, sl__buf *out)
{
	bool first = true;
	int rc = v2_put_response_head(out, name, version, req, request_id);

	if (!rc)
		rc = serve_lit(out, ",\"parameters\":{\"horizon\":");
	if (!rc)
		rc = serve_put_u64(out, req->horizon);
	if (!rc)
		rc = serve_lit(out, "},\"outputs\":[");
	for (size_t i = 0; !rc && i < s->n_outs; i++) {
		if (!(req->want & (1u << i)))
			continue;
		if (!first)
			rc = serve_lit(out, ",");
		first = false;
		if (!rc)
			rc = put_output(out, s, &s->outs[i], req, res, a);
	}
	return rc ? rc : serve_lit(out, "]}");
}
