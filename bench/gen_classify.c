/*
 * Writes a deterministic synthetic classification set to stdout as CSV for
 * the training benchmarks: ROWS rows (default 800000) of 28 float features
 * f0..f27 and a 0/1 label, shaped like the HIGGS benchmark (28 real
 * columns, classes near balanced, a signal that is partly linear and
 * partly not, so neither a linear model nor a tree ensemble is perfect).
 *
 *   gen_classify [ROWS] > data.csv
 *
 * Features: f0..f9 standard normal, f10..f19 log-normal (skewed, positive),
 * f20..f27 sums of two earlier features plus noise (correlated). Label:
 * 1 when sum_j beta_j f_j + 0.4 f0 f1 + 1.5 noise > 0, beta fixed below.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
	/* xorshift64*: fast, deterministic, good enough for test data. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

static double uniform(void)
{
	return ((double)(next() >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
	/* Box-Muller, one value per call (the other thrown away: simple and
	 * still deterministic). */
	return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform());
}

int main(int argc, char **argv)
{
	long rows = argc > 1 ? atol(argv[1]) : 800000;
	double f[28], beta[28];

	for (int j = 0; j < 28; j++)
		beta[j] = (j % 3 == 0 ? 0.8 : j % 3 == 1 ? -0.5 : 0.2) / (1 + j / 10);
	for (int j = 0; j < 28; j++)
		printf("f%d,", j);
	printf("label\n");
	for (long i = 0; i < rows; i++) {
		double s = 0;
		for (int j = 0; j < 10; j++)
			f[j] = normal();
		for (int j = 10; j < 20; j++)
			f[j] = exp(0.5 * normal()) - 1.1;
		for (int j = 20; j < 28; j++)
			f[j] = f[j - 20] + f[j - 10] + 0.5 * normal();
		for (int j = 0; j < 28; j++) {
			s += beta[j] * f[j];
			printf("%.7g,", f[j]);
		}
		s += 0.4 * f[0] * f[1] + 1.5 * normal();
		printf("%d\n", s > 0);
	}
	return 0;
}
