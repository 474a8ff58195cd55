/*
 * Input in another encoding than UTF-8 (the `encoding` option of
 * ingest.csv): the file is transcoded to UTF-8 in memory and the reader
 * parses that buffer like any other source.
 *
 * Why glibc's iconv rather than tables of our own: converting encodings is a
 * generic job, glibc is always there (no new dependency), and it knows every
 * encoding users meet, single-byte code pages (latin1, windows-1252) as well
 * as UTF-16 with its byte order mark, Shift-JIS or GB18030, so one option
 * covers them all. Its windows-1252 refuses the five bytes that code page
 * leaves undefined (0x81 0x8D 0x8F 0x90 0x9D), as Python's does; such a
 * byte is reported with its place rather than guessed at.
 *
 * Invariants:
 *   1. UTF-8 never comes here (ds_encoding_is_utf8): the reader's fast path
 *      parses the mapped file as it is, untouched by this option.
 *   2. The result is the whole file: its UTF-8 size is known only at the
 *      end, so the buffer grows geometrically, up to a hard maximum.
 *   3. Positions in messages are those of the UTF-8 text (line, then byte
 *      column), as the reader reports them for bad rows, plus the byte
 *      offset in the original file.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "dataset/internal.h"

/* UTF-8 text is at most 4 bytes per character, and no encoding spends less
 * than one byte per character: 4x the input, plus slack, is a hard bound. */
#define GROWTH_MAX 4

bool ds_encoding_is_utf8(const char *enc)
{
	return !enc || !*enc || !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8");
}

/* The name iconv knows for what users write: Python's "latin-1" spelling. */
static const char *iconv_name(const char *enc)
{
	if (!strcasecmp(enc, "latin-1"))
		return "LATIN1";
	return enc;
}

static int open_conv(const char *enc, iconv_t *out)
{
	*out = iconv_open("UTF-8", iconv_name(enc));
	if (*out == (iconv_t)-1)
		return sl__err(errno == EINVAL ? SL_EINVAL : SL_ENOMEM,
			       "unknown encoding '%s' (expected utf-8, latin1, windows-1252, or "
			       "another name 'iconv -l' lists)",
			       enc);
	return 0;
}

int ds_encoding_check(const char *enc)
{
	iconv_t cd;
	int rc;

	if (ds_encoding_is_utf8(enc))
		return 0;
	if ((rc = open_conv(enc, &cd)))
		return rc;
	iconv_close(cd);
	return 0;
}

/* Line and byte column of the end of the UTF-8 text out[0..n). */
static void position(const char *out, size_t n, uint64_t *line, uint64_t *col)
{
	const char *ls = out;

	*line = 1;
	for (const char *q = out; q < out + n && (q = memchr(q, '\n', (size_t)(out + n - q))); q++) {
		(*line)++;
		ls = q + 1;
	}
	*col = (uint64_t)(out + n - ls) + 1;
}

int ds_transcode(const char *name, const char *data, size_t len, const char *enc, char **out,
		 size_t *out_len)
{
	iconv_t cd;
	char *buf = NULL, *in = (char *)data, *op;
	size_t cap, left = len, room;
	uint64_t line, col;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		return sl__err(SL_EPARSE, "%s: starts with a UTF-8 byte order mark, so it is UTF-8, "
					  "not %s: leave out the encoding option", name, enc);
	if ((rc = open_conv(enc, &cd)))
		return rc;
	if (len > (SIZE_MAX - 64) / GROWTH_MAX) {
		iconv_close(cd);
		return sl__err(SL_ENOMEM, "%s: too large to transcode", name);
	}
	/* Most text is ASCII: a little over the input's size is usually enough. */
	cap = len + len / 8 + 64;
	if (!(buf = sl__malloc(cap))) {
		iconv_close(cd);
		return sl__err(SL_ENOMEM, "out of memory transcoding %s", name);
	}
	op = buf;
	room = cap;
	for (bool flushing = false;;) {
		/* iconv succeeds only once all input is read; then a call without
		 * input ends a stateful encoding's last shift sequence. */
		size_t r = flushing ? iconv(cd, NULL, NULL, &op, &room) : iconv(cd, &in, &left, &op, &room);
		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = true;
			continue;
		}
		if (errno == E2BIG) {
			size_t used = (size_t)(op - buf), ncap = cap * 2;
			char *nb;
			if (ncap > len * GROWTH_MAX + 64)
				ncap = len * GROWTH_MAX + 64;
			if (ncap <= cap || !(nb = sl__realloc(buf, ncap))) {
				rc = sl__err(SL_ENOMEM, "out of memory transcoding %s", name);
				break;
			}
			buf = nb;
			op = buf + used;
			room = ncap - used;
			cap = ncap;
			continue;
		}
		position(buf, (size_t)(op - buf), &line, &col);
		if (errno == EILSEQ)
			rc = sl__err(SL_EPARSE, "%s:%llu:%llu: byte 0x%02X (offset %zu) is not valid %s; "
						"check the encoding option",
				     name, (unsigned long long)line, (unsigned long long)col,
				     (unsigned char)*in, (size_t)(in - data), enc);
		else
			rc = sl__err(SL_EPARSE, "%s:%llu:%llu: the file ends inside a %s character",
				     name, (unsigned long long)line, (unsigned long long)col, enc);
		break;
	}
	iconv_close(cd);
	if (rc) {
		sl__free(buf);
		return rc;
	}
	*out = buf;
	*out_len = (size_t)(op - buf);
	return 0;
}
