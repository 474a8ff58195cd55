/*
 * Fuzz target for model files (mfile.h) and every model family's reader
 * (ml_ops.load): a model artifact can be any bytes (`ingest.file`, a
 * hand-made bundle, a damaged disk), and invariant 4 of ml.h says a family
 * checks what it reads, so a hostile file is an error, never a crash.
 *
 * The SHA-256 digest at the end of a model file would stop nearly every
 * mutation at the door, so the input is the file WITHOUT its last 32 bytes:
 * the target appends the correct digest and fixes the header's length
 * field, which lets the fuzzer reach the manifest, the signature and the
 * family's sections. A model that loads is then asked to predict and
 * explain rows of awkward values (NaN, negative and huge codes), and to
 * write itself as C (its family's emit_c), which the sanitizers watch.
 *
 * Seeds (corpus/model/) are small models of each family written by
 * ml_model_save, minus their digests.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "core.h"
#include "ml/ml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int unhex(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double odd[] = {NAN, 0, 1, -1, 2.5, 1e300, 3, 7, 4294967296.0};
	unsigned char *img = malloc(size + 32);
	char hex[SL__HASH_HEX_SIZE];
	ml_model *m = NULL;
	mfile *f;

	if (!img)
		return 0;
	memcpy(img, data, size);
	if (size >= 24) {
		uint64_t total = size + 32;
		memcpy(img + 16, &total, sizeof total);
	}
	if (sl__sha256_hex(img, size, hex) != 0) {
		free(img);
		return 0;
	}
	for (size_t i = 0; i < 32; i++)
		img[size + i] = (unsigned char)(unhex(hex[2 * i]) << 4 | unhex(hex[2 * i + 1]));
	if (mfile_open_mem(img, size + 32, "fuzz.slm", &f) == 0 &&
	    ml_model_load_mfile(f, &m) == 0) {
		size_t p = m->sig.n_features, k = m->sig.n_outputs, rows = SL__ARRAY_LEN(odd);
		size_t groups = m->ops->explain ? (m->ops->explain_groups ? m->ops->explain_groups(m) : 1)
						: 0;
		if (p < 4096 && k < 4096 && groups < 4096) {
			double *X = malloc((p ? p : 1) * rows * sizeof *X);
			double *out = malloc((k ? k : 1) * rows * sizeof *out);
			double *ex = malloc((groups ? groups : 1) * (p + 1) * rows * sizeof *ex);
			if (X && out && ex) {
				for (size_t i = 0; i < rows; i++)
					for (size_t j = 0; j < p; j++)
						X[i * p + j] = odd[(i + j) % rows];
				ml_model_predict(m, X, rows, out);
				if (groups)
					m->ops->explain(m, X, rows, ex);
			}
			free(X);
			free(out);
			free(ex);
		}
		/* The C export reads the same sections: it must not trip either. */
		if (m->ops->emit_c && p < 4096) {
			sl__cw w;
			sl__cw_init(&w);
			m->ops->emit_c(m, &w);
			sl__cw_free(&w);
		}
		ml_model_free(m);
	}
	free(img);
	return 0;
}
