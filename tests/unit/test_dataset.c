/*
 * The dataset engine: builder, file format (round trip of every type with
 * nulls, zero-copy mmap reads, determinism, corruption and truncation),
 * value parsers and formatters, export and description, and allocation
 * failures.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "rng.h"
#include "dataset/dataset.h"
#include "testutil.h"

static char *read_all(const char *path, size_t *out_len)
{
	sl__buf b;

	assert_int_equal(sl__read_file(path, 0, &b), 0);
	*out_len = b.len;
	return sl__buf_detach(&b);
}

/* A table with every type and nulls in every column: row i is null in
 * column j when (i + j) % 4 == 3. */
static ds_builder *sample(size_t rows)
{
	ds_builder *b;
	static const char *words[] = {"alpha", "beta", "", "quote \" and, comma", "ünïcødé", "line\nbreak"};

	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_add_col(b, "i", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "f", DS_FLOAT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "b", DS_BOOL, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "s", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "t", DS_TIMESTAMP, NULL), 0);
	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < 5; j++) {
			if ((i + j) % 4 == 3) {
				assert_int_equal(ds_append_null(b, j), 0);
				continue;
			}
			switch (j) {
			case 0: assert_int_equal(ds_append_i64(b, j, (int64_t)i * 1000003 - 500), 0); break;
			case 1: assert_int_equal(ds_append_f64(b, j, i % 7 == 0 ? NAN : (double)i / 3.0), 0); break;
			case 2: assert_int_equal(ds_append_bool(b, j, i % 3 == 0), 0); break;
			case 3: {
				const char *w = words[i % 6];
				assert_int_equal(ds_append_str(b, j, w, strlen(w)), 0);
				break;
			}
			default: assert_int_equal(ds_append_i64(b, j, 1700000000000000 + (int64_t)i * 1000001), 0);
			}
		}
	}
	return b;
}

static void check_sample(const ds_table *t, size_t rows)
{
	static const char *words[] = {"alpha", "beta", "", "quote \" and, comma", "ünïcødé", "line\nbreak"};

	assert_int_equal(ds_nrow(t), rows);
	assert_int_equal(ds_ncol(t), 5);
	assert_string_equal(ds_col_name(t, 3), "s");
	assert_int_equal(ds_col_type(t, 0), DS_INT64);
	assert_int_equal(ds_col_type(t, 1), DS_FLOAT64);
	assert_int_equal(ds_col_type(t, 2), DS_BOOL);
	assert_int_equal(ds_col_type(t, 3), DS_STRING);
	assert_int_equal(ds_col_type(t, 4), DS_TIMESTAMP);
	assert_null(ds_col_f64(t, 0));
	assert_null(ds_col_codes(t, 0));
	for (size_t j = 0; j < 5; j++) {
		const uint8_t *v = ds_col_validity(t, j);
		size_t nulls = 0;
		for (size_t i = 0; i < rows; i++) {
			bool want_null = (i + j) % 4 == 3;
			nulls += want_null;
			assert_int_equal(ds_valid(v, i), !want_null);
			if (want_null)
				continue;
			switch (j) {
			case 0: assert_true(ds_col_i64(t, j)[i] == (int64_t)i * 1000003 - 500); break;
			case 1:
				if (i % 7 == 0)
					assert_true(isnan(ds_col_f64(t, j)[i]));
				else
					assert_true(ds_col_f64(t, j)[i] == (double)i / 3.0);
				break;
			case 2: assert_int_equal(ds_col_bool(t, j)[i], i % 3 == 0); break;
			case 3: {
				size_t len;
				const char *s = ds_col_str(t, j, i, &len);
				assert_non_null(s);
				assert_int_equal(len, strlen(words[i % 6]));
				assert_memory_equal(s, words[i % 6], len);
				break;
			}
			default: assert_true(ds_col_i64(t, j)[i] == 1700000000000000 + (int64_t)i * 1000001);
			}
		}
		assert_int_equal(ds_col_nulls(t, j), nulls);
	}
	/* The dictionary holds each distinct string once, in order of first use. */
	assert_int_equal(ds_dict_size(t, 3), 6);
	assert_string_equal(ds_dict_str(t, 3, 0, NULL), "beta"); /* row 0 is null */
}

static void test_round_trip_every_type(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "a.ds");
	ds_builder *b = sample(1000);
	ds_table *t;

	(void)state;
	assert_int_equal(ds_builder_write(b, path), 0);
	assert_true(ds_is_dataset(path));
	assert_int_equal(ds_open(path, DS_OPEN_VERIFY, &t), 0);
	check_sample(t, 1000);
	ds_close(t);
	/* The in-memory table reads the same. */
	assert_int_equal(ds_builder_finish(b, &t), 0);
	check_sample(t, 1000);
	ds_close(t);
	ds_builder_free(b);
	free(path);
	tu_rmdir(dir);
}

static void test_zero_copy_mmap(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "z.ds");
	ds_builder *b = sample(5000);
	ds_table *t;
	char line[1024];
	bool inside = false;
	FILE *maps;

	(void)state;
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	assert_int_equal(ds_open(path, 0, &t), 0);
	/* Column pointers are 64-byte aligned, stable, and inside the file mapping. */
	const int64_t *iv = ds_col_i64(t, 0);
	assert_true(((uintptr_t)iv & 63) == 0);
	assert_ptr_equal(iv, ds_col_i64(t, 0));
	assert_true(((uintptr_t)ds_col_codes(t, 3) & 63) == 0);
	assert_true(((uintptr_t)ds_col_validity(t, 1) & 63) == 0);
	maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		if (strstr(line, "z.ds") && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
		    (uintptr_t)iv >= lo && (uintptr_t)iv < hi)
			inside = true;
	}
	fclose(maps);
	assert_true(inside);
	check_sample(t, 5000);
	ds_close(t);
	free(path);
	tu_rmdir(dir);
}

static void test_deterministic_bytes(void **state)
{
	const char *dir = tu_tmpdir();
	char *p1 = tu_path(dir, "1.ds"), *p2 = tu_path(dir, "2.ds");
	ds_builder *b1 = sample(777), *b2 = sample(777);
	size_t n1, n2;

	(void)state;
	assert_int_equal(ds_builder_write(b1, p1), 0);
	assert_int_equal(ds_builder_write(b2, p2), 0);
	char *a = read_all(p1, &n1), *c = read_all(p2, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, c, n1);
	assert_int_equal(n1 % 64, 0);
	sl__free(a);
	sl__free(c);
	ds_builder_free(b1);
	ds_builder_free(b2);
	free(p1);
	free(p2);
	tu_rmdir(dir);
}

static void test_truncated_and_corrupt(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "c.ds"), *bad = tu_path(dir, "bad.ds");
	ds_builder *b = sample(40);
	ds_table *t;
	size_t n;
	int flagged = 0;

	(void)state;
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	char *img = read_all(path, &n);

	/* Truncation anywhere is SL_ECORRUPT naming the file. */
	for (size_t cut = 0; cut < n; cut += 7) {
		assert_int_equal(sl__write_atomic(bad, img, cut), 0);
		assert_int_equal(ds_open(bad, 0, &t), SL_ECORRUPT);
		assert_null(t);
		assert_non_null(strstr(sl_errmsg(), "bad.ds"));
	}
	/* Every single-byte change is either harmless padding or detected by
	 * ds_open / ds_verify; none crashes (the sanitizer build checks that
	 * no access strays). */
	for (size_t i = 0; i < n; i++) {
		img[i] = (char)(img[i] ^ 0x5a);
		assert_int_equal(sl__write_atomic(bad, img, n), 0);
		int rc = ds_open(bad, 0, &t);
		if (rc == 0) {
			rc = ds_verify(t);
			/* Touch every value through the accessors. */
			for (size_t j = 0; j < ds_ncol(t); j++)
				for (size_t r = 0; r < ds_nrow(t); r++) {
					double d;
					size_t len;
					(void)ds_get_f64(t, j, r, &d);
					(void)ds_col_str(t, j, r, &len);
				}
			ds_close(t);
		}
		if (rc) {
			assert_int_equal(rc, SL_ECORRUPT);
			flagged++;
		}
		img[i] = (char)(img[i] ^ 0x5a);
	}
	assert_true(flagged > (int)n / 2);
	assert_int_equal(ds_open(path, DS_OPEN_VERIFY, &t), 0);
	ds_close(t);
	/* Not a dataset at all. */
	tu_write(bad, "a,b\n1,2\n");
	assert_false(ds_is_dataset(bad));
	assert_int_equal(ds_open(bad, 0, &t), SL_ECORRUPT);
	assert_int_equal(ds_open("/nonexistent/x.ds", 0, &t), SL_ENOENT);
	sl__free(img);
	free(path);
	free(bad);
	tu_rmdir(dir);
}

/* Writes n bytes to path (no fsync: this is scratch, rewritten byte by byte). */
static void write_bytes(const char *path, const char *img, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* ds_read_columns gives the names and types ds_open does, from the header alone. */
static bool columns_match(const ds_columns *c, const ds_table *t)
{
	if (c->n != ds_ncol(t))
		return false;
	for (size_t j = 0; j < c->n; j++)
		if (strcmp(c->names[j], ds_col_name(t, j)) || c->types[j] != ds_col_type(t, j))
			return false;
	return true;
}

static void test_read_columns(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "h.ds"), *bad = tu_path(dir, "bad.ds");
	ds_builder *b = sample(40);
	ds_table *t;
	ds_columns c;
	size_t n;
	int data_only = 0;

	(void)state;
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	assert_int_equal(ds_open(path, 0, &t), 0);
	assert_int_equal(ds_read_columns(path, &c), 0);
	assert_true(columns_match(&c, t));
	ds_columns_free(&c);
	char *img = read_all(path, &n);
	/* A damaged header, directory or names section is SL_ECORRUPT; a
	 * damaged data page is not seen at all (nothing of it is read), so the
	 * columns are still those of the file. */
	for (size_t i = 0; i < n; i++) {
		ds_table *u;
		int rc;
		img[i] = (char)(img[i] ^ 0x5a);
		write_bytes(bad, img, n);
		rc = ds_read_columns(bad, &c);
		if (rc == 0) {
			assert_true(columns_match(&c, t));
			if (ds_open(bad, DS_OPEN_VERIFY, &u) == SL_ECORRUPT)
				data_only++;
			else
				ds_close(u);
		} else {
			assert_int_equal(rc, SL_ECORRUPT);
			assert_non_null(strstr(sl_errmsg(), "bad.ds"));
		}
		ds_columns_free(&c);
		img[i] = (char)(img[i] ^ 0x5a);
	}
	assert_true(data_only > 0);
	for (size_t cut = 0; cut < n; cut += 11) {
		write_bytes(bad, img, cut);
		assert_int_equal(ds_read_columns(bad, &c), SL_ECORRUPT);
		assert_null(c.names);
	}
	tu_write(bad, "a,b\n1,2\n");
	assert_int_equal(ds_read_columns(bad, &c), SL_ECORRUPT);
	assert_int_equal(ds_read_columns("/nonexistent/x.ds", &c), SL_ENOENT);
	ds_columns_free(&c); /* a zeroed one, as after a failure */
	sl__free(img);
	ds_close(t);
	free(path);
	free(bad);
	tu_rmdir(dir);
}

static void test_empty_and_zero_columns(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "e.ds");
	ds_builder *b;
	ds_table *t;

	(void)state;
	assert_int_equal(ds_builder_new(&b), 0);
	assert_int_equal(ds_builder_write(b, path), 0);
	assert_int_equal(ds_open(path, DS_OPEN_VERIFY, &t), 0);
	assert_int_equal(ds_ncol(t), 0);
	assert_int_equal(ds_nrow(t), 0);
	ds_close(t);
	assert_int_equal(ds_builder_add_col(b, "x", DS_STRING, NULL), 0);
	assert_int_equal(ds_builder_add_col(b, "x", DS_INT64, NULL), SL_EEXIST);
	assert_int_equal(ds_builder_add_col(b, "y", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_write(b, path), 0);
	assert_int_equal(ds_open(path, DS_OPEN_VERIFY, &t), 0);
	assert_int_equal(ds_ncol(t), 2);
	assert_int_equal(ds_nrow(t), 0);
	ds_close(t);
	/* Columns of different lengths cannot be written. */
	assert_int_equal(ds_append_i64(b, 1, 5), 0);
	assert_int_equal(ds_builder_write(b, path), SL_EINVAL);
	/* Type mismatches are refused. */
	assert_int_equal(ds_append_f64(b, 1, 1.5), SL_EINVAL);
	assert_int_equal(ds_append_nulls(b, 0, 1), 0);
	assert_int_equal(ds_builder_write(b, path), 0);
	assert_int_equal(ds_open(path, DS_OPEN_VERIFY, &t), 0);
	assert_null(ds_col_str(t, 0, 0, NULL));
	assert_int_equal(ds_dict_size(t, 0), 0);
	ds_close(t);
	ds_builder_free(b);
	free(path);
	tu_rmdir(dir);
}

static void test_bulk_and_gather(void **state)
{
	ds_builder *b = sample(300), *g;
	ds_table *t, *u;
	size_t rows[] = {299, 0, 5, 5, 123};
	int64_t iv[10];
	uint8_t valid[2] = {0xfb, 0x03}; /* row 2 null */
	const char *strs[] = {"x", "y", "unused"};
	size_t lens[] = {1, 1, 6};
	uint32_t codes[10] = {1, 1, 0, 0, 1, 0, 1, 1, 0, 0};

	(void)state;
	assert_int_equal(ds_builder_finish(b, &t), 0);
	ds_builder_free(b);
	assert_int_equal(ds_builder_new(&g), 0);
	for (size_t j = 0; j < 5; j++) {
		assert_int_equal(ds_builder_add_col(g, ds_col_name(t, j), ds_col_type(t, j), NULL), 0);
		assert_int_equal(ds_append_from(g, j, t, j, rows, 5), 0);
	}
	assert_int_equal(ds_builder_finish(g, &u), 0);
	assert_int_equal(ds_nrow(u), 5);
	for (size_t k = 0; k < 5; k++) {
		for (size_t j = 0; j < 5; j++) {
			assert_int_equal(ds_valid(ds_col_validity(u, j), k),
					 ds_valid(ds_col_validity(t, j), rows[k]));
			double a, c;
			if (ds_get_f64(u, j, k, &a)) {
				assert_true(ds_get_f64(t, j, rows[k], &c));
				assert_true(a == c || (isnan(a) && isnan(c)));
			}
		}
		size_t l1, l2;
		const char *s1 = ds_col_str(u, 3, k, &l1), *s2 = ds_col_str(t, 3, rows[k], &l2);
		assert_true((s1 == NULL) == (s2 == NULL));
		if (s1)
			assert_string_equal(s1, s2);
	}
	ds_close(u);
	ds_builder_free(g);
	ds_close(t);

	/* Bulk appends with validity; null slots are zeroed; unused dictionary
	 * entries are not added. */
	assert_int_equal(ds_builder_new(&g), 0);
	assert_int_equal(ds_builder_add_col(g, "i", DS_INT64, NULL), 0);
	assert_int_equal(ds_builder_add_col(g, "s", DS_STRING, NULL), 0);
	for (int k = 0; k < 10; k++)
		iv[k] = k * 11;
	assert_int_equal(ds_append_i64s(g, 0, iv, valid, 10), 0);
	assert_int_equal(ds_append_coded(g, 1, strs, lens, 3, codes, valid, 10), 0);
	codes[0] = 7;
	assert_int_equal(ds_append_coded(g, 1, strs, lens, 3, codes, NULL, 10), SL_EINVAL);
	assert_int_equal(ds_builder_col_len(g, 1), 10);
	assert_int_equal(ds_builder_finish(g, &u), 0);
	assert_int_equal(ds_col_nulls(u, 0), 1);
	assert_true(ds_col_i64(u, 0)[2] == 0);
	assert_true(ds_col_i64(u, 0)[9] == 99);
	assert_int_equal(ds_dict_size(u, 1), 2);
	assert_string_equal(ds_dict_str(u, 1, 0, NULL), "y");
	assert_string_equal(ds_col_str(u, 1, 3, NULL), "x");
	assert_null(ds_col_str(u, 1, 2, NULL));
	ds_close(u);
	ds_builder_free(g);
}

static void test_parsers(void **state)
{
	int64_t i;
	double d;
	bool b;
	char buf[64];

	(void)state;
	assert_true(ds_parse_i64("-9223372036854775808", 20, &i) && i == INT64_MIN);
	assert_true(ds_parse_i64("9223372036854775807", 19, &i) && i == INT64_MAX);
	assert_false(ds_parse_i64("9223372036854775808", 19, &i));
	assert_false(ds_parse_i64("", 0, &i));
	assert_false(ds_parse_i64("-", 1, &i));
	assert_false(ds_parse_i64("1.0", 3, &i));
	assert_true(ds_parse_i64("+42", 3, &i) && i == 42);

	assert_true(ds_parse_f64("0.1", 3, &d) && d == 0.1);
	assert_true(ds_parse_f64("-1.5e-3", 7, &d) && d == -1.5e-3);
	assert_true(ds_parse_f64(".5", 2, &d) && d == 0.5);
	assert_true(ds_parse_f64("5.", 2, &d) && d == 5.0);
	assert_true(ds_parse_f64("NaN", 3, &d) && isnan(d));
	assert_true(ds_parse_f64("-Inf", 4, &d) && isinf(d) && d < 0);
	assert_true(ds_parse_f64("infinity", 8, &d) && isinf(d));
	assert_true(ds_parse_f64("1.7976931348623157e308", 22, &d) && d == 1.7976931348623157e308);
	assert_true(ds_parse_f64("4.9e-324", 8, &d) && d == 4.9e-324);
	assert_true(ds_parse_f64("123456789012345678901234567890", 30, &d) &&
		    d == 123456789012345678901234567890.0);
	assert_false(ds_parse_f64("0x1p3", 5, &d));
	assert_false(ds_parse_f64("1e", 2, &d));
	assert_false(ds_parse_f64(".", 1, &d));
	assert_false(ds_parse_f64("1.2.3", 5, &d));
	assert_false(ds_parse_f64("nan(1)", 6, &d));

	/* Fast path and strtod agree, and the formatter round-trips. */
	srand(7);
	for (int k = 0; k < 200000; k++) {
		uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
		double v, back;
		if (k % 2) {
			memcpy(&v, &bits, 8);
			if (!isfinite(v))
				continue;
		} else {
			v = (double)(bits % 100000000) / pow(10, (double)(k % 9));
		}
		size_t n = ds_format_f64(v, buf);
		assert_true(ds_parse_f64(buf, n, &back));
		assert_true(back == v);
		assert_true(strtod(buf, NULL) == v);
		snprintf(buf, sizeof buf, "%.*g", k % 20 + 1, v);
		assert_true(ds_parse_f64(buf, strlen(buf), &back));
		assert_true(back == strtod(buf, NULL));
	}
	ds_format_f64(0.1, buf);
	assert_string_equal(buf, "0.1");
	/* The shortest of %.15g, %.16g, %.17g that reads back, as printf
	 * gives it: the formatter rounds one conversion's digits itself. */
	sl__rng rng;
	sl__rng_seed(&rng, 11);
	for (uint64_t k = 0; k < 700000; k++) {
		uint64_t bits = sl__rng_next(&rng);
		char want[DS_F64_BUF];
		double v, back;
		int n = 0;
		switch (k % 11) {
		case 0: /* any finite double */
			memcpy(&v, &bits, sizeof v);
			if (!isfinite(v))
				continue;
			break;
		case 1: /* probabilities, as models answer */
			v = 1 / (1 + exp(-(double)(int64_t)bits / 1e18));
			break;
		case 2: /* decimals of up to 17 digits, where halves are exact in the text */
			v = (double)(bits % 100000000000000000ULL) / pow(10, (double)(bits >> 59));
			break;
		case 3: /* next to a power of ten (9.99..., 1.00...) */
			v = nextafter(pow(10, (double)(int)(bits % 40) - 20), (bits >> 63) ? 0 : INFINITY);
			break;
		case 4: /* around %g's switch between styles */
			v = (double)(bits % 1000003) * pow(10, (double)(int)(bits >> 58) - 28);
			break;
		case 5: /* binary fractions, whose decimal expansions end (ties at a digit) */
			v = ldexp((double)(bits % 8192 + 1), (int)(bits >> 57) - 80);
			break;
		case 6:
			v = -(double)(bits >> 11) * 0x1p-53 * pow(10, (double)(int)(bits % 600) - 300);
			break;
		case 7: /* any mantissa, the exponents the exact path takes and those beside */
			bits = (bits & ((1ULL << 52) - 1)) | ((uint64_t)(1003 + (bits >> 52) % 90) << 52);
			memcpy(&v, &bits, sizeof v);
			break;
		case 8: /* powers of two and their neighbours (the gap below is half) */
			v = ldexp(1, (int)(bits % 90) - 30);
			if ((bits >> 40) % 3)
				v = nextafter(v, (bits >> 40) % 3 == 1 ? 0 : INFINITY);
			break;
		case 9: { /* 15- and 16-digit decimals read back: their neighbours in the text */
			char t[40];
			snprintf(t, sizeof t, "%llu.%llue%d",
				 (unsigned long long)((bits >> 60) + 1),
				 (unsigned long long)(bits % 1000000000000000ULL),
				 (int)((bits >> 50) % 30) - 10);
			v = strtod(t, NULL);
			if ((bits >> 48) & 1)
				v = nextafter(v, INFINITY);
			break;
		}
		default: /* probabilities near 0 and 1 */
			v = (bits >> 63) ? ldexp((double)(bits >> 11), -53 - (int)(bits % 20))
					 : 1 - ldexp((double)(bits >> 11), -53 - (int)(bits % 20));
			break;
		}
		for (int prec = 15; prec <= 17; prec++) {
			n = snprintf(want, sizeof want, "%.*g", prec, v);
			if (prec == 17 || (ds_parse_f64(want, (size_t)n, &back) && back == v))
				break;
		}
		if (v == floor(v) && fabs(v) < 1e15)
			n = snprintf(want, sizeof want, "%.0f", v);
		if (v == 0)
			n = snprintf(want, sizeof want, "%s", signbit(v) ? "-0" : "0");
		assert_int_equal(ds_format_f64(v, buf), n);
		assert_string_equal(buf, want);
	}
	/* Every power of two and of ten in range with their neighbours, and
	 * the integers and ranges where the formatter changes its path
	 * (1e15, 1e17, 1e21, the subnormals): the same oracle. */
	for (int k = -1100; k <= 1100; k++) {
		double base[2] = {k >= -1074 && k <= 1023 ? ldexp(1, k) : 0,
				  k >= -323 && k <= 308 ? strtod((snprintf(buf, sizeof buf, "1e%d", k), buf), NULL)
							: 0};
		for (int b = 0; b < 2; b++) {
			double v = base[b];
			if (v == 0)
				continue;
			for (int step = -3; step <= 3; step++) {
				double u = v, back;
				char want[DS_F64_BUF];
				int n = 0;
				for (int t = 0; t < (step < 0 ? -step : step); t++)
					u = nextafter(u, step < 0 ? 0 : INFINITY);
				for (int sign = 0; sign < 2; sign++, u = -u) {
					for (int prec = 15; prec <= 17; prec++) {
						n = snprintf(want, sizeof want, "%.*g", prec, u);
						if (prec == 17 || (ds_parse_f64(want, (size_t)n, &back) && back == u))
							break;
					}
					if (u == floor(u) && fabs(u) < 1e15)
						n = snprintf(want, sizeof want, "%.0f", u);
					assert_int_equal(ds_format_f64(u, buf), n);
					assert_string_equal(buf, want);
				}
			}
		}
	}
	ds_format_f64(5e-324, buf);
	assert_string_equal(buf, "4.94065645841247e-324");
	ds_format_f64(999999999999999.0, buf);
	assert_string_equal(buf, "999999999999999");
	ds_format_f64(1e15, buf);
	assert_string_equal(buf, "1e+15");
	ds_format_f64(1e21, buf);
	assert_string_equal(buf, "1e+21");
	ds_format_f64(-0.0, buf);
	assert_string_equal(buf, "-0");
	ds_format_f64(100, buf);
	assert_string_equal(buf, "100");
	ds_format_f64(-INFINITY, buf);
	assert_string_equal(buf, "-Inf");

	assert_true(ds_parse_bool("TRUE", 4, &b) && b);
	assert_true(ds_parse_bool("false", 5, &b) && !b);
	assert_false(ds_parse_bool("yes", 3, &b));

	assert_true(ds_parse_timestamp("1970-01-01", 10, &i) && i == 0);
	assert_true(ds_parse_timestamp("2024-02-29T12:34:56.789Z", 24, &i));
	ds_format_timestamp(i, buf);
	assert_string_equal(buf, "2024-02-29T12:34:56.789Z");
	assert_true(ds_parse_timestamp("2024-02-29 14:34:56.789+02:00", 29, &i));
	ds_format_timestamp(i, buf);
	assert_string_equal(buf, "2024-02-29T12:34:56.789Z");
	assert_true(ds_parse_timestamp("1969-12-31T23:59:59.999999", 26, &i) && i == -1);
	ds_format_timestamp(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
	assert_true(ds_parse_timestamp("2000-01-01T00:00", 16, &i) && i == 946684800000000);
	assert_false(ds_parse_timestamp("2023-02-29", 10, &i));
	assert_false(ds_parse_timestamp("2023-13-01", 10, &i));
	assert_false(ds_parse_timestamp("2023-01-01T24:00", 16, &i));
	assert_false(ds_parse_timestamp("2023-01-01T", 11, &i));
	assert_false(ds_parse_timestamp("2023-1-01", 9, &i));

	assert_int_equal(sl__utf8_check("h\xc3\xa9llo", 6), 6);
	assert_int_equal(sl__utf8_check("ab\xc3", 3), 2);
	assert_int_equal(sl__utf8_check("ab\xc0\xaf", 4), 2);       /* overlong */
	assert_int_equal(sl__utf8_check("\xed\xa0\x80", 3), 0);     /* surrogate */
	assert_int_equal(sl__utf8_check("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
	assert_int_equal(sl__utf8_check("\xf0\x9f\x98\x80", 4), 4);
}

static void test_export_and_describe(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "d.ds"), *csv = tu_path(dir, "d.csv"), *jl = tu_path(dir, "d.jsonl");
	ds_builder *b = sample(4);
	json_t *d;
	size_t n;

	(void)state;
	assert_int_equal(ds_builder_write(b, path), 0);
	ds_builder_free(b);
	assert_int_equal(ds_export(path, "csv", csv), 0);
	char *text = read_all(csv, &n);
	assert_string_equal(text,
			    "i,f,b,s,t\n"
			    "-500,NaN,true,,2023-11-14T22:13:20Z\n"
			    "999503,0.3333333333333333,,beta,2023-11-14T22:13:21.000001Z\n"
			    "1999506,,false,\"\",2023-11-14T22:13:22.000002Z\n"
			    ",1,true,\"quote \"\" and, comma\",\n");
	sl__free(text);
	assert_int_equal(ds_export(path, "jsonl", jl), 0);
	text = read_all(jl, &n);
	assert_non_null(strstr(text, "{\"i\":-500,\"f\":\"NaN\",\"b\":true,\"s\":null,\"t\":\"2023-11-14T22:13:20Z\"}\n"));
	assert_non_null(strstr(text, "\"f\":1.0,\"b\":true,\"s\":\"quote \\\" and, comma\""));
	sl__free(text);
	assert_int_equal(ds_export(path, "parquet", jl), SL_EINVAL);

	assert_int_equal(ds_describe_json(path, 2, &d), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "rows")), 4);
	json_t *cols = json_object_get(d, "columns");
	assert_int_equal(json_array_size(cols), 5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cols, 4), "type")), "timestamp");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(cols, 0), "nulls")), 1);
	json_t *head = json_object_get(d, "head");
	assert_int_equal(json_array_size(head), 2);
	assert_string_equal(json_string_value(json_array_get(json_array_get(head, 0), 1)), "NaN");
	assert_true(json_is_null(json_array_get(json_array_get(head, 0), 3)));
	json_decref(d);
	free(path);
	free(csv);
	free(jl);
	tu_rmdir(dir);
}

static void test_alloc_failures(void **state)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path(dir, "m.ds");
	tu_oom o = {0};

	(void)state;
	for (long n = 0; !o.done && n < 100000; n++) {
		ds_builder *b = NULL;
		ds_table *t = NULL;
		int rc;
		tu_oom_begin(&o, n);
		rc = ds_builder_new(&b);
		for (size_t j = 0; rc == 0 && j < 3; j++) {
			static const char *names[] = {"a", "b", "c"};
			static const ds_type types[] = {DS_INT64, DS_STRING, DS_FLOAT64};
			rc = ds_builder_add_col(b, names[j], types[j], NULL);
		}
		for (int i = 0; rc == 0 && i < 600; i++) {
			char s[16];
			snprintf(s, sizeof s, "v%d", i % 50);
			rc = i % 5 ? ds_append_i64(b, 0, i) : ds_append_null(b, 0);
			if (rc == 0)
				rc = ds_append_str(b, 1, s, strlen(s));
			if (rc == 0)
				rc = ds_append_f64(b, 2, i * 0.5);
		}
		if (rc == 0)
			rc = ds_builder_write(b, path);
		if (rc == 0)
			rc = ds_open(path, DS_OPEN_VERIFY, &t);
		tu_oom_end(&o, rc);
		if (rc == 0) {
			assert_int_equal(ds_nrow(t), 600);
		} else {
			assert_int_equal(rc, SL_ENOMEM);
		}
		ds_close(t);
		ds_builder_free(b);
	}
	tu_oom_check(&o, 20);
	free(path);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_zero_copy_mmap),
		cmocka_unit_test(test_deterministic_bytes),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_read_columns),
		cmocka_unit_test(test_empty_and_zero_columns),
		cmocka_unit_test(test_bulk_and_gather),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_export_and_describe),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
