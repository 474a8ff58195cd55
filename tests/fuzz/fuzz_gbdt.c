/*
 * libFuzzer target for the gbdt model reader. The input is a model file;
 * before loading, its length field and SHA-256 trailer are stamped to match
 * its bytes, so mutations reach the family's own checks (gbdt_model_load)
 * instead of stopping at the digest. Loading must fail with an error, or
 * give a model that predicts and explains a few awkward rows (zeros, NaN,
 * huge values, category-like codes, negative codes) without crashing,
 * with finite probabilities that sum to 1.
 *
 * Seeds: tests/fuzz/corpus/gbdt/ holds small trained models (binary with a
 * categorical feature and missing values, multiclass, leaf-wise regression).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ml/ml.h"
#include "sluice/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 40
#define DIGEST 32

static void stamp(unsigned char *b, size_t size)
{
	unsigned int n = 0;

	for (int i = 0; i < 8; i++)
		b[16 + i] = (unsigned char)((uint64_t)size >> (8 * i));
	EVP_Digest(b, size - DIGEST, b + size - DIGEST, &n, EVP_sha256(), NULL);
}

static void exercise(const ml_model *m)
{
	size_t p = m->sig.n_features, k = m->sig.n_outputs, rows = 6;
	size_t groups = sl_model_explain_groups(m);
	double *X, *out, *ex;

	if (p == 0 || p > 4096 || k == 0 || k > 1000)
		return;
	X = malloc(rows * p * sizeof *X);
	out = malloc(rows * k * sizeof *out);
	ex = malloc(rows * (groups ? groups : 1) * (p + 1) * sizeof *ex);
	if (!X || !out || !ex)
		abort();
	for (size_t j = 0; j < p; j++) {
		X[0 * p + j] = 0;
		X[1 * p + j] = NAN;
		X[2 * p + j] = j % 2 ? 1e300 : -1e300;
		X[3 * p + j] = (double)(j % 7);
		X[4 * p + j] = -1.0 - (double)j;
		X[5 * p + j] = 4294967296.0 + 0.5;
	}
	if (sl_model_predict(m, X, rows, p, out, rows * k) != 0)
		abort(); /* a loaded model always predicts */
	if (ml_task_is_classifier(m->sig.task))
		for (size_t i = 0; i < rows; i++) {
			double s = 0;
			for (size_t c = 0; c < k; c++)
				s += out[i * k + c];
			/* Leaf values are finite, so margins are; softmax sums to 1. */
			if (!(fabs(s - 1) < 1e-9))
				abort();
		}
	if (groups)
		sl_model_explain(m, X, rows, p, ex, rows * groups * (p + 1));
	free(X);
	free(out);
	free(ex);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *b;
	ml_model *m;
	mfile *f;

	if (size < HEADER + DIGEST)
		return 0;
	b = malloc(size);
	if (!b)
		abort();
	memcpy(b, data, size);
	stamp(b, size);
	if (mfile_open_mem(b, size, "fuzz.slm", &f) == 0 && ml_model_load_mfile(f, &m) == 0) {
		exercise(m);
		ml_model_free(m);
	}
	free(b);
	return 0;
}
