/*
 * Writes a deterministic mixed-type CSV of about the requested size to
 * stdout for the ingest benchmark: integers, floats, strings with quotes
 * and commas, categories, timestamps, bools and some nulls.
 *
 *   gen_csv MEGABYTES > data.csv
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	/* xorshift64*: fast, deterministic, good enough for test data. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

static const char *first[] = {"James", "Mary", "Robert", "Patricia", "John", "Jennifer",
			      "Michael", "Linda", "David", "Elizabeth", "William", "Barbara",
			      "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah"};
static const char *last[] = {"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia",
			     "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
			     "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore"};
static const char *words[] = {"great", "product", "arrived", "late", "broken", "works",
			      "fine", "would", "buy", "again", "terrible", "service", "fast",
			      "shipping", "love", "it", "not", "as", "described", "okay"};
static const char *cats[] = {"books", "electronics", "garden", "toys", "grocery", "sports",
			     "beauty", "automotive", "music", "office", "pets", "tools"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char **argv)
{
	long long target = (argc > 1 ? atoll(argv[1]) : 200) * 1000000LL, written = 0;
	long long id = 0;

	written += printf("id,user_id,amount,score,category,name,comment,created_at,active,quantity\n");
	while (written < target) {
		uint64_t r = next();
		long long ts = 1577836800LL + (long long)(next() % 126230400ULL);
		int sec = (int)(ts % 60), min = (int)(ts / 60 % 60), hour = (int)(ts / 3600 % 24);
		long long days = ts / 86400;
		/* civil date from days since 1970 */
		long long z = days + 719468, era = z / 146097, doe = z - era * 146097;
		long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
		int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
		long long y = yoe + era * 400 + (m <= 2);

		written += printf("%lld,%llu,%llu.%02llu,%.6f,%s,", ++id, (unsigned long long)(r % 1000000),
				  (unsigned long long)(next() % 10000), (unsigned long long)(next() % 100),
				  (double)(next() % 1000000000ULL) / 1e9, cats[next() % N(cats)]);
		if (r % 3 == 0)
			written += printf("\"%s, %s\",", last[next() % N(last)], first[next() % N(first)]);
		else
			written += printf("%s %s,", first[next() % N(first)], last[next() % N(last)]);
		int nw = (int)(next() % 6) + 2;
		written += printf("\"");
		for (int k = 0; k < nw; k++) {
			uint64_t w = next();
			if (w % 9 == 0)
				written += printf("%s\"\"%s\"\"", k ? ", " : "", words[w % N(words)]);
			else
				written += printf("%s%s", k ? " " : "", words[w % N(words)]);
		}
		written += printf("\",%04lld-%02d-%02dT%02d:%02d:%02dZ,%s,", y, m, d, hour, min, sec,
				  next() % 2 ? "true" : "false");
		if (next() % 20 == 0)
			written += printf("NA\n");
		else
			written += printf("%llu\n", (unsigned long long)(next() % 50));
	}
	return 0;
}
