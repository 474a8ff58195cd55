/*
 * The serving codec's cost per request, against jansson: the same V2 body
 * (a one-row spambase request) parsed into a DOM with jansson and freed,
 * and decoded by the pull scanner into a batch (v2_parse); then the whole
 * request path without HTTP: decode, score, encode the response, build
 * the log record. Prints nanoseconds per request (the best of a few runs,
 * so a loaded machine's pauses do not count) and the ratio.
 *
 *   serve_parse_bench MODEL.slm BODY.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/codec.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	enum { N = 20000, RUNS = 5 };
	bundle *b;
	serve_sig sig;
	bundle_row *row;
	serve_arena a = {0};
	sl__buf body, out, rec;
	double best[3] = {1e9, 1e9, 1e9};

	if (argc != 3) {
		fprintf(stderr, "usage: serve_parse_bench MODEL BODY\n");
		return 2;
	}
	if (bundle_open(argv[1], BUNDLE_ROWS, &b) || serve_sig_build(b, &sig) ||
	    bundle_row_new(b, &row) || sl__read_file(argv[2], 1 << 20, &body)) {
		fprintf(stderr, "serve_parse_bench: %s\n", sl_errmsg());
		return 1;
	}
	sl__buf_init(&out, 0);
	sl__buf_init(&rec, 0);
	for (int r = 0; r < RUNS; r++) {
		double t0 = now(), t;
		for (int i = 0; i < N; i++) {
			json_t *j = json_loadb(body.data, body.len, 0, NULL);
			if (!j)
				return 1;
			json_decref(j);
		}
		t = (now() - t0) / N;
		best[0] = t < best[0] ? t : best[0];
		t0 = now();
		for (int i = 0; i < N; i++) {
			v2_request req;
			serve_arena_reset(&a);
			if (v2_parse(&sig, body.data, body.len, &a, &req))
				return 1;
		}
		t = (now() - t0) / N;
		best[1] = t < best[1] ? t : best[1];
		t0 = now();
		for (int i = 0; i < N; i++) {
			v2_request req;
			serve_result res;
			serve_logrec lr = {.id = "bench", .time_ms = 1764501753123, .model = "spam",
					   .version = "1", .endpoint = "v2", .status = 200, .sig = &sig};
			serve_arena_reset(&a);
			sl__buf_reset(&out);
			sl__buf_reset(&rec);
			if (v2_parse(&sig, body.data, body.len, &a, &req) ||
			    serve_score(&sig, row, &req.batch, false, &a, &res) ||
			    v2_encode(&sig, "spam", "1", &req, "bench", &res, &a, &out))
				return 1;
			lr.batch = &req.batch;
			lr.res = &res;
			if (serve_log_record(&lr, &a, &rec))
				return 1;
		}
		t = (now() - t0) / N;
		best[2] = t < best[2] ? t : best[2];
	}
	printf("one-row V2 request (%zu bytes, %zu inputs), ns per request, best of %d runs:\n",
	       body.len, sig.n_in, RUNS);
	printf("  jansson: parse into a tree and free      %8.0f\n", best[0] * 1e9);
	printf("  sluice: v2_parse into a batch            %8.0f   (%.1fx faster)\n", best[1] * 1e9,
	       best[0] / best[1]);
	printf("  sluice: decode, score, encode, log record %7.0f\n", best[2] * 1e9);
	serve_arena_free(&a);
	sl__buf_free(&body);
	sl__buf_free(&out);
	sl__buf_free(&rec);
	bundle_row_free(row);
	serve_sig_free(&sig);
	bundle_close(b);
	return 0;
}
