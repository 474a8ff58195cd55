/*
 * The sectioned model file (format and invariants in mfile.h). The writer
 * builds the whole image in memory and commits it with one atomic write:
 * models are megabytes, and one buffer keeps the digest a single pass. The
 * reader maps the file and checks it before anything else may look inside.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core.h"
#include "model/mfile.h"

#define HEADER_SIZE 40
#define ENTRY_SIZE 40
#define DIGEST_SIZE 32
/* Sections a file may have: far more than any model needs, and a bound
 * that keeps a hostile header from asking for a huge table. */
#define MAX_SECTIONS 4096

typedef struct wsection {
	char name[MFILE_NAME_MAX];
	void *data;
	size_t len;
} wsection;

struct mfile_writer {
	wsection *s;
	size_t n, cap;
};

int mfile_writer_new(mfile_writer **out)
{
	*out = sl__calloc(1, sizeof **out);
	return *out ? 0 : sl__oom();
}

void mfile_writer_free(mfile_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		sl__free(w->s[i].data);
	sl__free(w->s);
	sl__free(w);
}

int mfile_add(mfile_writer *w, const char *name, const void *data, size_t len)
{
	size_t nl = strlen(name);

	if (nl == 0 || nl >= MFILE_NAME_MAX)
		return sl__err(SL_EINVAL, "section name '%s' must be 1 to %d bytes", name,
			       MFILE_NAME_MAX - 1);
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->s[i].name, name))
			return sl__err(SL_EEXIST, "section '%s' added twice", name);
	if (w->n == MAX_SECTIONS)
		return sl__err(SL_ELIMIT, "more than %d sections", MAX_SECTIONS);
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		wsection *s = sl__reallocarray(w->s, cap, sizeof *s);
		if (!s)
			return sl__oom();
		w->s = s;
		w->cap = cap;
	}
	wsection *e = &w->s[w->n];
	memset(e->name, 0, sizeof e->name);
	memcpy(e->name, name, nl);
	e->data = sl__malloc(len ? len : 1);
	if (!e->data)
		return sl__oom();
	if (len)
		memcpy(e->data, data, len);
	e->len = len;
	w->n++;
	return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t align_up(size_t x)
{
	return (x + MFILE_ALIGN - 1) & ~(size_t)(MFILE_ALIGN - 1);
}

static int digest(const void *data, size_t len, unsigned char out[DIGEST_SIZE])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_SIZE)
		return sl__err(SL_ESYS, "SHA-256 failed");
	return 0;
}

int mfile_write(mfile_writer *w, const json_t *manifest, const char *path)
{
	char *text = sl__json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
	size_t mlen, off, total;
	unsigned char *img;
	int rc;

	if (!text)
		return sl__err(SL_ENOMEM, "out of memory writing the model manifest");
	mlen = strlen(text);
	off = HEADER_SIZE + ENTRY_SIZE * w->n + mlen;
	for (size_t i = 0; i < w->n; i++)
		off = align_up(off) + w->s[i].len;
	total = off + DIGEST_SIZE;
	img = sl__calloc(1, total);
	if (!img) {
		free(text);
		return sl__err(SL_ENOMEM, "out of memory writing %s", path);
	}
	memcpy(img, MFILE_MAGIC, 8);
	put_u32(img + 8, MFILE_VERSION);
	put_u32(img + 12, (uint32_t)w->n);
	put_u64(img + 16, total);
	off = HEADER_SIZE + ENTRY_SIZE * w->n;
	put_u64(img + 24, off);
	put_u64(img + 32, mlen);
	memcpy(img + off, text, mlen);
	off += mlen;
	free(text);
	for (size_t i = 0; i < w->n; i++) {
		unsigned char *e = img + HEADER_SIZE + ENTRY_SIZE * i;
		off = align_up(off);
		memcpy(e, w->s[i].name, MFILE_NAME_MAX);
		put_u64(e + 24, off);
		put_u64(e + 32, w->s[i].len);
		if (w->s[i].len)
			memcpy(img + off, w->s[i].data, w->s[i].len);
		off += w->s[i].len;
	}
	rc = digest(img, total - DIGEST_SIZE, img + total - DIGEST_SIZE);
	if (rc == 0)
		rc = sl__write_atomic(path, img, total);
	sl__free(img);
	return rc;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct rsection {
	const char *name; /* points into the table (NUL-terminated, checked) */
	const unsigned char *data;
	size_t len;
} rsection;

struct mfile {
	const unsigned char *base;
	size_t len;
	bool mapped;
	char *name;
	json_t *manifest;
	rsection *s;
	size_t n;
};

void mfile_close(mfile *f)
{
	if (!f)
		return;
	if (f->mapped)
		munmap((void *)f->base, f->len);
	json_decref(f->manifest);
	sl__free(f->s);
	sl__free(f->name);
	sl__free(f);
}

static int corrupt(const mfile *f, const char *what)
{
	return sl__err(SL_ECORRUPT, "%s: %s", f->name, what);
}

static int check(mfile *f)
{
	const unsigned char *b = f->base;
	unsigned char want[DIGEST_SIZE];
	uint64_t total, moff, mlen;
	uint32_t version, n;
	json_error_t jerr;
	bool oom;
	int rc;

	{
		const uint16_t probe = 1;
		unsigned char first;
		memcpy(&first, &probe, 1);
		if (first != 1)
			return sl__err(SL_EUNSUP, "%s: model files are little-endian; this host is not",
				       f->name);
	}
	if (f->len < 8 || memcmp(b, MFILE_MAGIC, 8) != 0)
		return corrupt(f, "not a sluice model file (bad magic)");
	if (f->len < HEADER_SIZE + DIGEST_SIZE)
		return corrupt(f, "truncated (shorter than its header)");
	version = get_u32(b + 8);
	if (version > MFILE_VERSION)
		return sl__err(SL_EUNSUP,
			       "%s: written by a newer sluice (model format %u; this sluice reads "
			       "up to %u): upgrade sluice to load it",
			       f->name, version, MFILE_VERSION);
	if (version == 0)
		return corrupt(f, "format version 0 is not a version");
	n = get_u32(b + 12);
	total = get_u64(b + 16);
	if (total > f->len) {
		char msg[128];
		snprintf(msg, sizeof msg, "truncated: %zu of %llu bytes", f->len,
			 (unsigned long long)total);
		return corrupt(f, msg);
	}
	if (total < f->len)
		return corrupt(f, "has bytes past its end (appended to?)");
	rc = digest(b, f->len - DIGEST_SIZE, want);
	if (rc)
		return rc;
	if (memcmp(want, b + f->len - DIGEST_SIZE, DIGEST_SIZE) != 0)
		return corrupt(f, "damaged: its SHA-256 checksum does not match its contents");
	/* The digest vouches only for what sluice wrote: a file built by hand
	 * with a correct digest still gets every bound checked. */
	if (n > MAX_SECTIONS || HEADER_SIZE + (uint64_t)ENTRY_SIZE * n > f->len - DIGEST_SIZE)
		return corrupt(f, "malformed section table");
	moff = get_u64(b + 24);
	mlen = get_u64(b + 32);
	if (moff < HEADER_SIZE + (uint64_t)ENTRY_SIZE * n || moff > f->len - DIGEST_SIZE ||
	    mlen > f->len - DIGEST_SIZE - moff)
		return corrupt(f, "malformed manifest bounds");
	f->manifest = sl__json_loadb((const char *)b + moff, (size_t)mlen, JSON_REJECT_DUPLICATES, &jerr,
				     &oom);
	if (!f->manifest && oom)
		return sl__oom(); /* not the file's fault */
	if (!f->manifest || !json_is_object(f->manifest)) {
		char msg[256];
		snprintf(msg, sizeof msg, "malformed manifest: %s", f->manifest ? "not an object" : jerr.text);
		return corrupt(f, msg);
	}
	f->s = sl__calloc(n ? n : 1, sizeof *f->s);
	if (!f->s)
		return sl__oom();
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *e = b + HEADER_SIZE + (size_t)ENTRY_SIZE * i;
		uint64_t off = get_u64(e + 24), len = get_u64(e + 32);
		if (memchr(e, '\0', MFILE_NAME_MAX) == NULL || e[0] == '\0')
			return corrupt(f, "malformed section name");
		if (off % MFILE_ALIGN || off > f->len - DIGEST_SIZE || len > f->len - DIGEST_SIZE - off)
			return corrupt(f, "a section lies outside the file");
		for (uint32_t k = 0; k < i; k++)
			if (!strcmp(f->s[k].name, (const char *)e))
				return corrupt(f, "a section name appears twice");
		f->s[i].name = (const char *)e;
		f->s[i].data = b + off;
		f->s[i].len = (size_t)len;
	}
	f->n = n;
	return 0;
}

static int open_common(mfile *f, const char *name, mfile **out)
{
	int rc;

	f->name = sl__strdup(name);
	if (!f->name) {
		mfile_close(f);
		return sl__oom();
	}
	rc = check(f);
	if (rc) {
		mfile_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

int mfile_open_mem(const void *data, size_t len, const char *name, mfile **out)
{
	mfile *f = sl__calloc(1, sizeof *f);

	*out = NULL;
	if (!f)
		return sl__oom();
	f->base = data;
	f->len = len;
	return open_common(f, name, out);
}

int mfile_open(const char *path, mfile **out)
{
	struct stat st;
	mfile *f;
	void *m;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sl__err(SL_EIO, "%s: %s", path, strerror(errno));
	}
	if (st.st_size == 0) {
		close(fd);
		return sl__err(SL_ECORRUPT, "%s: truncated (empty file)", path);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return sl__err(SL_EIO, "%s: mmap: %s", path, strerror(errno));
	f = sl__calloc(1, sizeof *f);
	if (!f) {
		munmap(m, (size_t)st.st_size);
		return sl__oom();
	}
	f->base = m;
	f->len = (size_t)st.st_size;
	f->mapped = true;
	return open_common(f, path, out);
}

int mfile_is_mfile(const char *path)
{
	char magic[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
	     memcmp(magic, MFILE_MAGIC, 8) == 0;
	close(fd);
	return ok;
}

bool mfile_digest_of(const char *path, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	char magic[8];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && st.st_size >= 8 + 32 &&
	     pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
	     !memcmp(magic, MFILE_MAGIC, 8) &&
	     pread(fd, d, sizeof d, st.st_size - 32) == (ssize_t)sizeof d;
	close(fd);
	for (size_t i = 0; ok && i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[ok ? 64 : 0] = 0;
	return ok;
}

const json_t *mfile_manifest(const mfile *f)
{
	return f->manifest;
}

const char *mfile_name(const mfile *f)
{
	return f->name;
}

void mfile_digest_hex(const mfile *f, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *d = f->base + f->len - 32;

	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = 0;
}

int mfile_section_opt(const mfile *f, const char *name, const void **out_data, size_t *out_len)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!strcmp(f->s[i].name, name)) {
			*out_data = f->s[i].data;
			*out_len = f->s[i].len;
			return 0;
		}
	}
	return SL_ENOENT;
}

int mfile_section(const mfile *f, const char *name, const void **out_data, size_t *out_len)
{
	if (mfile_section_opt(f, name, out_data, out_len) == 0)
		return 0;
	return sl__err(SL_ECORRUPT, "%s: missing section '%s'", f->name, name);
}

size_t mfile_n_sections(const mfile *f)
{
	return f->n;
}

void mfile_section_at(const mfile *f, size_t i, const char **out_name, const void **out_data,
		      size_t *out_len)
{
	SL__ASSERT(i < f->n);
	*out_name = f->s[i].name;
	*out_data = f->s[i].data;
	*out_len = f->s[i].len;
}

int mfile_array(const mfile *f, const char *name, size_t size, size_t count, const void **out_data)
{
	size_t len = 0;
	int rc = mfile_section(f, name, out_data, &len);

	if (rc)
		return rc;
	if (size && count > SIZE_MAX / size)
		return sl__err(SL_ECORRUPT, "%s: section '%s' size overflows", f->name, name);
	if (len != size * count)
		return sl__err(SL_ECORRUPT, "%s: section '%s' has %zu bytes, expected %zu", f->name,
			       name, len, size * count);
	return 0;
}
