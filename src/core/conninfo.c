/*
 * The text of PostgreSQL connections, for messages: a connection string
 * with its password hidden, and libpq's multi-line messages folded onto one
 * line. Shared by the SQL reader (dataset/sql.c) and the metadata store's
 * PostgreSQL driver (store/postgres.c), neither of which may print a
 * password or break a one-line error.
 */
#include <ctype.h>
#include <string.h>

#include "core.h"

void sl__fold_lines(sl__buf *b, const char *msg)
{
	bool space = false;

	for (const char *p = msg; p && *p; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r') {
			space = b->len > 0;
			continue;
		}
		if (space)
			sl__buf_putc(b, ' ');
		space = false;
		sl__buf_putc(b, *p);
	}
}

char *sl__pg_redact(const char *ci)
{
	sl__buf b;
	const char *p = ci;
	int rc = 0;

	if (!ci)
		return NULL;
	sl__buf_init(&b, 0);
	if (!strncmp(ci, "postgresql://", 13) || !strncmp(ci, "postgres://", 11)) {
		/* scheme://[user[:password]@]host...[?k=v&password=x] */
		const char *auth = strstr(ci, "://") + 3;
		const char *end = auth + strcspn(auth, "/?#");
		const char *at = NULL, *colon;
		for (const char *q = auth; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			rc |= sl__buf_append(&b, ci, (size_t)(colon + 1 - ci));
			rc |= sl__buf_puts(&b, "***");
			p = at;
		}
		for (const char *q = end; *q;) {
			if ((q[-1] == '?' || q[-1] == '&') && !strncmp(q, "password=", 9)) {
				rc |= sl__buf_append(&b, p, (size_t)(q + 9 - p));
				rc |= sl__buf_puts(&b, "***");
				q += 9 + strcspn(q + 9, "&#");
				p = q;
			} else {
				q++;
			}
		}
		rc |= sl__buf_puts(&b, p);
	} else {
		/* key = value pairs; a value may be 'quoted' with \ escapes. */
		while (*p) {
			const char *k = p, *v;
			size_t klen;
			while (*p && *p != '=' && !isspace((unsigned char)*p))
				p++;
			klen = (size_t)(p - k);
			while (isspace((unsigned char)*p) || *p == '=')
				p++;
			rc |= sl__buf_append(&b, k, (size_t)(p - k));
			v = p;
			if (*p == '\'') {
				for (p++; *p && *p != '\''; p++)
					if (*p == '\\' && p[1])
						p++;
				if (*p)
					p++;
			} else {
				while (*p && !isspace((unsigned char)*p))
					p++;
			}
			if (klen == 8 && !strncmp(k, "password", 8))
				rc |= sl__buf_puts(&b, "***");
			else
				rc |= sl__buf_append(&b, v, (size_t)(p - v));
			k = p;
			while (isspace((unsigned char)*p))
				p++;
			rc |= sl__buf_append(&b, k, (size_t)(p - k));
		}
	}
	if (rc) {
		sl__buf_free(&b);
		return NULL;
	}
	return b.data ? sl__buf_detach(&b) : sl__strdup("");
}
