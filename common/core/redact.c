/* redact.c — replacing configured credentials in messages (see redact.h). */
#include "core/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"

void mm_redactor_init(struct mm_redactor *r)
{
    memset(r, 0, sizeof(*r));
}

void mm_redactor_free(struct mm_redactor *r)
{
    for (size_t i = 0; i < r->n; i++) {
        explicit_bzero(r->secret[i], strlen(r->secret[i]));
        free(r->secret[i]);
    }
    mm_redactor_init(r);
}

/* Adds text[0..len) unless empty or known; keeps the list longest first so
 * a secret containing another one is replaced whole. */
static int add(struct mm_redactor *r, const char *text, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < r->n; i++)
        if (strlen(r->secret[i]) == len && memcmp(r->secret[i], text, len) == 0)
            return 0;
    if (r->n == MM_REDACT_MAX) /* the longest stay: they contain the others */
        return 0;
    char *copy = strndup(text, len);
    if (!copy)
        return -1;
    size_t at = r->n;
    while (at > 0 && strlen(r->secret[at - 1]) < len) {
        r->secret[at] = r->secret[at - 1];
        at--;
    }
    r->secret[at] = copy;
    r->n++;
    return 0;
}

/* text[0..len) and, when it holds %XX escapes, its decoded form. */
static int add_with_decoded(struct mm_redactor *r, const char *text, size_t len)
{
    if (add(r, text, len) != 0)
        return -1;
    if (!memchr(text, '%', len))
        return 0;
    char *dec = malloc(len + 1);
    if (!dec)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (text[i] == '%' && i + 2 < len && (hi = mm_hex_digit(text[i + 1])) >= 0 &&
            (lo = mm_hex_digit(text[i + 2])) >= 0 && (hi | lo) != 0) {
            dec[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dec[n++] = text[i];
        }
    }
    int rc = add(r, dec, n);
    explicit_bzero(dec, len + 1);
    free(dec);
    return rc;
}

int mm_redactor_add_credentials(struct mm_redactor *r, const char *url, const char *user, const char *password)
{
    if (user && add_with_decoded(r, user, strlen(user)) != 0)
        return -1;
    if (password && add_with_decoded(r, password, strlen(password)) != 0)
        return -1;
    if (!url)
        return 0;
    const char *scheme_end = strstr(url, "://");
    const char *start = scheme_end ? scheme_end + 3 : url;
    const char *at = strrchr(start, '@');
    if (!at)
        return 0;
    size_t len = (size_t)(at - start);
    const char *colon = memchr(start, ':', len);
    if (add_with_decoded(r, start, len) != 0)
        return -1;
    if (colon && (add_with_decoded(r, start, (size_t)(colon - start)) != 0 ||
                  add_with_decoded(r, colon + 1, (size_t)(at - colon - 1)) != 0))
        return -1;
    return 0;
}

/* Replaces every occurrence of needle in text (buffer size size). */
static void replace_all(char *text, size_t size, const char *needle)
{
    size_t nlen = strlen(needle), mlen = strlen(MM_REDACT_MARK);
    char *p = text;
    while ((p = strstr(p, needle)) != NULL) {
        size_t len = strlen(text);
        size_t tail = len - (size_t)(p - text) - nlen; /* bytes after the needle */
        size_t room = size - 1 - (size_t)(p - text);   /* bytes left for mark + tail */
        size_t mark = mlen < room ? mlen : room;
        size_t keep = tail < room - mark ? tail : room - mark;
        memmove(p + mark, p + nlen, keep);
        memcpy(p, MM_REDACT_MARK, mark);
        p[mark + keep] = '\0';
        p += mark;
    }
}

/* A text cut at a length limit (libcurl's CURL_ERROR_SIZE, a message buffer) may end in a prefix
 * of a secret: the longest such prefix of at least MM_REDACT_CUT_MIN bytes becomes the mark. */
static void replace_cut_tail(const struct mm_redactor *r, char *text, size_t size)
{
    size_t len = strlen(text), best = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t slen = strlen(r->secret[i]);
        for (size_t k = (slen - 1 < len ? slen - 1 : len); k >= MM_REDACT_CUT_MIN && k > best; k--)
            if (memcmp(text + len - k, r->secret[i], k) == 0) {
                best = k;
                break;
            }
    }
    if (best)
        snprintf(text + len - best, size - (len - best), "%s", MM_REDACT_MARK);
}

void mm_redact(const struct mm_redactor *r, char *text, size_t size)
{
    if (!r || !text || size == 0)
        return;
    for (size_t i = 0; i < r->n; i++)
        replace_all(text, size, r->secret[i]);
    replace_cut_tail(r, text, size);
}
