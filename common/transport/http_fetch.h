/* http_fetch.h — one bounded HTTP GET of the stats page with libcurl.
 *
 * One handle per instance, created lazily and reused (keep-alive, no
 * re-resolution cost). Every fetch is bounded in time (connect and total
 * timeouts) and size (the body cap), follows no redirect unless told to, and
 * speaks only http and https. The transfer runs on libcurl's multi interface
 * so that a caller's cancel descriptor (a signalfd of SIGTERM, say) stops it
 * at once rather than at the timeout. */
#ifndef MM_HTTP_FETCH_H
#define MM_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#define MM_HTTP_DEFAULT_URL "http://127.0.0.1:8888/stats"
#define MM_HTTP_DEFAULT_TIMEOUT_MS 2000
#define MM_HTTP_DEFAULT_MAX_BODY (1024 * 1024)

struct mm_http_options {
    const char *url;
    long timeout_ms;         /* whole request */
    long connect_timeout_ms; /* 0 = same as timeout_ms */
    size_t max_body;
    int follow_redirects;
    int verify_peer; /* TLS, both on by default like collectd's apache plugin */
    int verify_host;
    const char *ca_cert; /* NULL = system store */
    const char *user;    /* NULL = none (credentials may also sit in the URL) */
    const char *password;
    int cancel_fd; /* readable = abort the transfer now; -1 (the default) = none */
};

void mm_http_options_defaults(struct mm_http_options *opt);

struct mm_http {
    void *curl;  /* CURL *, created on first use */
    void *multi; /* CURLM * that runs it and keeps its connection */
    char *body;
    size_t len;
    size_t cap;
    size_t max;
    int too_big;
    long status;
    char content_type[64];
};

void mm_http_init(struct mm_http *http);
void mm_http_free(struct mm_http *http);

/* Kinds of failure, for the log latch: a curl error is its CURLcode. */
#define MM_HTTP_FAIL_STATUS 1000 /* + the HTTP status */
#define MM_HTTP_FAIL_TOO_BIG 2000
#define MM_HTTP_FAIL_INTERNAL 2001
#define MM_HTTP_FAIL_CANCELLED 2002
#define MM_HTTP_FAIL_CA_FILE 2003 /* CACert missing, not a regular file, or too big */

/* The largest CACert accepted (Debian's whole bundle is about 200 KB). */
#define MM_HTTP_CA_MAX_BYTES (16 * 1024 * 1024)

/* GETs opt->url. On success (HTTP 200, body within the cap) returns 0 with the body in http->body[0..len) (NUL-terminated).
 * Otherwise returns the kind of failure (> 0) and writes a one-line reason
 * to err. */
int mm_http_get(struct mm_http *http, const struct mm_http_options *opt, char *err, size_t err_len);

/* The Content-Type was text/plain (what MTProxy sends) or absent. */
bool mm_http_is_text_plain(const struct mm_http *http);

/* Checks a URL before use: http:// or https://, no whitespace. Returns 0 or
 * -1 with the reason in err. */
int mm_http_check_url(const char *url, char *err, size_t err_len);
/* Whether libcurl's own parser takes the URL, with the flags of a transfer (the
 * message names no part of it: no credential). 0; -1 refused; -2 out of
 * memory. A front that keeps running retries such a URL every gather (and says
 * why); --check calls it a bad command line. */
int mm_http_curl_parses(const char *url, char *err, size_t err_len);

/* The URL's port (80 or 443 when none is written), 0 when it does not parse. */
int mm_http_url_port(const char *url);

/* The URL with any userinfo replaced by "***@", for log lines: everything
 * between "://" and the last '@' (a password may hold '/', '#' or '?'). */
void mm_http_redact_url(const char *url, char *out, size_t out_len);

#endif
