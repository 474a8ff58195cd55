/*
 * A plain driver for fuzz targets: feeds each file named on the command line
 * (or each regular file in a named directory) to LLVMFuzzerTestOneInput once.
 * Built without libFuzzer, it replays the seed corpus and any crash
 * reproducers as an ordinary test, under whatever sanitizers the build uses.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return 1;
	}
	do {
		if (len == cap) {
			unsigned char *nb;
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				fprintf(stderr, "replay: out of memory reading %s\n", path);
				return 1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	/* A private copy of exactly len bytes, so reading past the input is
	 * caught by the sanitizers as it would be under libFuzzer. */
	unsigned char *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return 1;
	}
	if (len)
		memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int failed = 0, count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			if (!d) {
				fprintf(stderr, "replay: cannot open %s\n", argv[i]);
				failed = 1;
				continue;
			}
			while ((e = readdir(d))) {
				char path[4096];
				struct stat fst;
				snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
				if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) {
					failed |= replay_file(path);
					count++;
				}
			}
			closedir(d);
		} else {
			failed |= replay_file(argv[i]);
			count++;
		}
	}
	printf("replayed %d input(s)\n", count);
	return failed || count == 0;
}
