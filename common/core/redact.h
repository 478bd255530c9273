/* redact.h — keeps configured credentials out of every message.
 *
 * A URL that fails to parse (an unencoded '/', '#' or '?' in its password)
 * cannot be trusted to show where its password is, so secrets are not found
 * by parsing: the configured values themselves (user, password, and the
 * URL's userinfo, found by plain string search as everything between "://"
 * and the last '@') are replaced by "***" wherever they appear in a text,
 * and so is a text's end that is the start of one (MM_REDACT_CUT_MIN bytes
 * or more): libcurl cuts its messages at CURL_ERROR_SIZE, a long user name
 * in the middle. */
#ifndef MM_REDACT_H
#define MM_REDACT_H

#include <stddef.h>

#define MM_REDACT_MAX 12
#define MM_REDACT_MARK "***"
#define MM_REDACT_CUT_MIN 4

struct mm_redactor {
    char *secret[MM_REDACT_MAX]; /* longest first, none empty, no duplicates */
    size_t n;
};

void mm_redactor_init(struct mm_redactor *r);
/* Adds the credentials of one configuration (any may be NULL): user,
 * password, the URL's userinfo and its user and password parts, each also
 * percent-decoded. Returns 0, or -1 when out of memory. */
int mm_redactor_add_credentials(struct mm_redactor *r, const char *url, const char *user, const char *password);
/* Replaces every secret in the NUL-terminated text (of buffer size size),
 * and a cut one at its end, by MM_REDACT_MARK, truncating if a short
 * secret makes the text longer. */
void mm_redact(const struct mm_redactor *r, char *text, size_t size);
void mm_redactor_free(struct mm_redactor *r);

#endif
