/*
 * Build-time tool: turns the files of the project templates (`sluice init
 * --template`) into a C source file of zstd-compressed byte arrays, so the
 * library carries the example projects and the binary needs no repository
 * at run time.
 *
 *   embed OUT.c --template NAME DIR FILE... [--template NAME DIR FILE...]...
 *
 * FILE is relative to DIR and becomes the file's path in the created
 * project. The output defines api_tmpl_files[] and api_tmpl_n_files as
 * src/api/templates.h declares them, files in the order given. It is
 * written to a temporary name and renamed, so an interrupted build never
 * leaves half a file that looks complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "embed: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static unsigned char *slurp(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		die("cannot open", path);
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory", NULL);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f))
		die("cannot read", path);
	fclose(f);
	*out_len = len;
	return buf;
}

/* A C string literal of s (paths and names: printable ASCII expected). */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			die("a name or path that is not printable ASCII", s);
		fputc(*s, out);
	}
	fputc('"', out);
}

typedef struct entry {
	const char *tmpl, *path;
	size_t len;
} entry;

int main(int argc, char **argv)
{
	const char *tmpl = NULL, *dir = NULL;
	entry *files;
	char tmp[4096];
	size_t n_files = 0;
	FILE *out;

	if (argc < 2)
		die("usage: embed OUT.c --template NAME DIR FILE...", NULL);
	files = calloc((size_t)argc, sizeof *files);
	if (!files)
		die("out of memory", NULL);
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	out = fopen(tmp, "w");
	if (!out)
		die("cannot write", tmp);
	fprintf(out, "/* Generated at build time by cmake/embed.c from the template projects. */\n"
		     "#include \"api/templates.h\"\n\n");
	for (int i = 2; i < argc; i++) {
		char path[4096];
		unsigned char *raw, *z;
		size_t len, bound, zlen;
		if (!strcmp(argv[i], "--template")) {
			if (i + 2 >= argc)
				die("--template needs NAME and DIR", NULL);
			tmpl = argv[i + 1];
			dir = argv[i + 2];
			i += 2;
			continue;
		}
		if (!tmpl)
			die("a file before the first --template", argv[i]);
		snprintf(path, sizeof path, "%s/%s", dir, argv[i]);
		raw = slurp(path, &len);
		bound = ZSTD_compressBound(len);
		z = malloc(bound ? bound : 1);
		if (!z)
			die("out of memory", NULL);
		zlen = ZSTD_compress(z, bound, raw, len, 19);
		if (ZSTD_isError(zlen))
			die("zstd failed on", path);
		fprintf(out, "/* %s: %s, %zu bytes */\nstatic const unsigned char f%zu[%zu] = {", tmpl,
			argv[i], len, n_files, zlen);
		for (size_t k = 0; k < zlen; k++)
			fprintf(out, "%s%u,", k % 24 ? "" : "\n", (unsigned)z[k]);
		fprintf(out, "\n};\n\n");
		files[n_files].tmpl = tmpl;
		files[n_files].path = argv[i];
		files[n_files].len = len;
		n_files++;
		free(raw);
		free(z);
	}
	fprintf(out, "const api_tmpl_file api_tmpl_files[] = {\n");
	for (size_t k = 0; k < n_files; k++) {
		fprintf(out, "\t{");
		put_string(out, files[k].tmpl);
		fprintf(out, ", ");
		put_string(out, files[k].path);
		fprintf(out, ", %zu, sizeof f%zu, f%zu},\n", files[k].len, k, k);
	}
	fprintf(out, "};\nconst size_t api_tmpl_n_files = %zu;\n", n_files);
	free(files);
	if (fclose(out) != 0)
		die("cannot write", tmp);
	if (rename(tmp, argv[1]) != 0)
		die("cannot rename to", argv[1]);
	return 0;
}
