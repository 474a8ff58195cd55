/*
 * The sluice side of bench/ingest.sh: reads a CSV into a dataset file the
 * way the ingest.csv step does (parallel parse, type inference, the file
 * written as columns are merged, fsync) and
 * prints one line of JSON: seconds, MB/s, rows, columns, the dataset's size
 * and the process's peak resident memory.
 *
 *   ingest_bench INPUT.csv OUTPUT.ds [THREADS [CHUNK_BYTES]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "core.h"
#include "dataset/dataset.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *in, *out;
	ds_ingest_opts o = {0};
	ds_ingest_stats st;
	ds_builder *b;
	struct rusage ru;
	struct stat sb;
	double t0, t1;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: ingest_bench INPUT.csv OUTPUT.ds [THREADS [CHUNK_BYTES]]\n");
		return 2;
	}
	in = argv[1];
	out = argv[2];
	o.threads = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
	o.chunk_size = argc > 4 ? (size_t)atoll(argv[4]) : 0;
	/* As the ingest.csv step does: the file is written while merging. */
	o.out_path = out;
	t0 = now();
	rc = ds_csv_read_files(&in, 1, &o, &b, &st);
	if (rc == 0)
		ds_builder_free(b);
	t1 = now();
	if (rc) {
		fprintf(stderr, "ingest_bench: %s\n", sl_errmsg());
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	stat(out, &sb);
	printf("{\"seconds\": %.3f, \"mb_per_s\": %.1f, \"rows\": %llu, \"dataset_bytes\": %lld,"
	       " \"peak_rss_kb\": %ld}\n",
	       t1 - t0, (double)st.bytes / 1e6 / (t1 - t0), (unsigned long long)st.rows,
	       (long long)sb.st_size, ru.ru_maxrss);
	return 0;
}
