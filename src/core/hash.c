/*
 * The two hashes of sluice.
 *
 * SHA-256 through OpenSSL's EVP interface, which picks the SHA-NI or AVX2
 * implementation the CPU supports. Artifact ids, cache keys and bundle
 * checksums are all lowercase hex SHA-256.
 *
 * XXH3 (libxxhash) for everything that only needs a fast, well-mixed
 * 64-bit value in memory: hash tables, dictionaries, statement caches.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "core.h"

int sl__sha256_init(sl__sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (!ctx)
		return sl__err(SL_ENOMEM, "out of memory creating a hash context");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return sl__err(SL_ESYS, "OpenSSL refused to initialise SHA-256");
	}
	h->ctx = ctx;
	return 0;
}

int sl__sha256_update(sl__sha256 *h, const void *p, size_t n)
{
	if (EVP_DigestUpdate((EVP_MD_CTX *)h->ctx, p, n) != 1)
		return sl__err(SL_ESYS, "SHA-256 update failed");
	return 0;
}

int sl__sha256_final(sl__sha256 *h, char out[SL__HASH_HEX_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int len = 0;
	int ok = EVP_DigestFinal_ex((EVP_MD_CTX *)h->ctx, md, &len);

	EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
	h->ctx = NULL;
	if (ok != 1 || len != 32)
		return sl__err(SL_ESYS, "SHA-256 finalisation failed");
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

void sl__sha256_abort(sl__sha256 *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h->ctx);
	h->ctx = NULL;
}

int sl__sha256_hex(const void *p, size_t n, char out[SL__HASH_HEX_SIZE])
{
	sl__sha256 h;
	int rc = sl__sha256_init(&h);

	if (rc)
		return rc;
	rc = sl__sha256_update(&h, p, n);
	if (rc) {
		sl__sha256_abort(&h);
		return rc;
	}
	return sl__sha256_final(&h, out);
}

int sl__sha256_file(const char *path, char out[SL__HASH_HEX_SIZE], uint64_t *out_size)
{
	enum { CHUNK = 1 << 17 };
	sl__sha256 h;
	uint64_t total = 0;
	char *chunk;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl__err(errno == ENOENT ? SL_ENOENT : SL_EIO, "%s: %s", path, strerror(errno));
	chunk = sl__malloc(CHUNK);
	if (!chunk) {
		close(fd);
		return sl__err(SL_ENOMEM, "out of memory hashing %s", path);
	}
	rc = sl__sha256_init(&h);
	while (rc == 0) {
		ssize_t n = read(fd, chunk, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sl__err(SL_EIO, "%s: read: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		rc = sl__sha256_update(&h, chunk, (size_t)n);
	}
	if (rc == 0)
		rc = sl__sha256_final(&h, out);
	else
		sl__sha256_abort(&h);
	sl__free(chunk);
	close(fd);
	if (rc == 0 && out_size)
		*out_size = total;
	return rc;
}

uint64_t sl__hash64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

uint64_t sl__hash64_seed(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}
