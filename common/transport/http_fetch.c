/* http_fetch.c — the libcurl side of reading /stats (see http_fetch.h). */
#include "transport/http_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/number.h"

void mm_http_options_defaults(struct mm_http_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->url = MM_HTTP_DEFAULT_URL;
    opt->timeout_ms = MM_HTTP_DEFAULT_TIMEOUT_MS;
    opt->max_body = MM_HTTP_DEFAULT_MAX_BODY;
    opt->verify_peer = 1;
    opt->verify_host = 1;
    opt->cancel_fd = -1;
}

void mm_http_init(struct mm_http *http)
{
    memset(http, 0, sizeof(*http));
}

void mm_http_free(struct mm_http *http)
{
    if (http->curl)
        curl_easy_cleanup(http->curl);
    if (http->multi)
        curl_multi_cleanup(http->multi);
    free(http->body);
    mm_http_init(http);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct mm_http *http = user;
    size_t n = size * nmemb;
    if (http->len + n > http->max) {
        http->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (http->len + n + 1 > http->cap) {
        size_t cap = http->cap ? http->cap : 16384;
        while (cap < http->len + n + 1)
            cap *= 2;
        char *body = realloc(http->body, cap);
        if (!body)
            return 0;
        http->body = body;
        http->cap = cap;
    }
    memcpy(http->body + http->len, data, n);
    http->len += n;
    http->body[http->len] = '\0';
    return n;
}

int mm_http_check_url(const char *url, char *err, size_t err_len)
{
    if (!url || !*url) {
        snprintf(err, err_len, "URL is empty");
        return -1;
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, err_len, "URL must start with http:// or https://");
        return -1;
    }
    for (const char *p = url; *p; p++) {
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20) {
            snprintf(err, err_len, "URL contains whitespace or control characters");
            return -1;
        }
    }
    return 0;
}

int mm_http_curl_parses(const char *url, char *err, size_t err_len)
{
    CURLU *u = curl_url();
    CURLUcode rc = u ? curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (rc == CURLUE_OK)
        return 0;
    snprintf(err, err_len, "libcurl cannot parse the URL: %s", curl_url_strerror(rc));
    return rc == CURLUE_OUT_OF_MEMORY ? -2 : -1;
}

int mm_http_url_port(const char *url)
{
    /* libcurl's own URL parser, so the port is the one curl will connect to */
    CURLU *u = curl_url();
    char *port = NULL;
    int64_t result = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        mm_parse_i64(port, 0, 65535, &result, NULL, 0) != 0)
        result = 0;
    curl_free(port);
    curl_url_cleanup(u);
    return (int)result;
}

void mm_http_redact_url(const char *url, char *out, size_t out_len)
{
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    const char *at = strrchr(authority, '@');
    if (!at) {
        snprintf(out, out_len, "%s", url);
        return;
    }
    snprintf(out, out_len, "%.*s***@%s", (int)(authority - url), url, at + 1);
}

/* OpenSSL opens and reads CACert inside the transfer, where nothing can
 * interrupt it: a FIFO would block the open forever, /dev/zero or a huge
 * file would be read for as long as it lasts. Only a regular file of a
 * CA bundle's size is handed over (checked before every fetch: the file
 * may change). Returns 0 or -1 with the reason in why. */
static int check_ca_file(const char *path, char *why, size_t why_len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, why_len, "CACert \"%s\": %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "CACert \"%s\" is not a regular file", path);
        return -1;
    }
    if (st.st_size > MM_HTTP_CA_MAX_BYTES) {
        snprintf(why, why_len, "CACert \"%s\" is larger than %d MiB, not a CA bundle", path,
                 MM_HTTP_CA_MAX_BYTES >> 20);
        return -1;
    }
    return 0;
}

static int setup_handle(struct mm_http *http, const struct mm_http_options *opt)
{
    if (!http->curl) {
        http->curl = curl_easy_init();
        if (!http->curl)
            return -1;
    }
    CURL *c = http->curl;
    long connect_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : opt->timeout_ms;
    if (connect_ms > opt->timeout_ms)
        connect_ms = opt->timeout_ms;
    /* NOSIGNAL: curl must not use SIGALRM inside collectd's threads. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_URL, opt->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, opt->follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opt->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opt->max_body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, http);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mtproxy-monitor");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, opt->verify_peer ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, opt->verify_host ? 2L : 0L);
    if (opt->ca_cert)
        curl_easy_setopt(c, CURLOPT_CAINFO, opt->ca_cert);
    if (opt->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, opt->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, opt->password ? opt->password : "");
    }
    return 0;
}

/* Runs the transfer on the instance's multi handle, waking at once when
 * cancel_fd becomes readable. Returns the transfer's CURLcode, or -1 with
 * *why set when the multi interface itself failed or the caller cancelled. */
static int perform(struct mm_http *http, int cancel_fd, const char **why)
{
    if (!http->multi && !(http->multi = curl_multi_init())) {
        *why = "cannot create a curl multi handle";
        return -1;
    }
    CURLM *multi = http->multi;
    CURLMcode mc = curl_multi_add_handle(multi, http->curl);
    if (mc != CURLM_OK) {
        *why = curl_multi_strerror(mc);
        return -1;
    }
    int result = -1;
    *why = "the transfer ended without a result";
    for (;;) {
        int running = 0;
        mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
            *why = curl_multi_strerror(mc);
            break;
        }
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                result = (int)msg->data.result;
        if (result >= 0 || !running)
            break;
        struct curl_waitfd wfd = { .fd = cancel_fd, .events = CURL_WAIT_POLLIN, .revents = 0 };
        mc = curl_multi_poll(multi, cancel_fd >= 0 ? &wfd : NULL, cancel_fd >= 0 ? 1 : 0, 1000, NULL);
        if (mc != CURLM_OK) {
            *why = curl_multi_strerror(mc);
            break;
        }
        if (wfd.revents) {
            *why = NULL; /* cancelled */
            break;
        }
    }
    curl_multi_remove_handle(multi, http->curl);
    return result;
}

int mm_http_get(struct mm_http *http, const struct mm_http_options *opt, char *err, size_t err_len)
{
    char url[512];
    mm_http_redact_url(opt->url, url, sizeof(url));

    http->len = 0;
    http->too_big = 0;
    http->status = 0;
    http->content_type[0] = '\0';
    http->max = opt->max_body;
    if (http->body)
        http->body[0] = '\0';

    char ca_why[512];
    if (opt->ca_cert && check_ca_file(opt->ca_cert, ca_why, sizeof(ca_why)) != 0) {
        snprintf(err, err_len, "%s: %s", url, ca_why);
        return MM_HTTP_FAIL_CA_FILE;
    }
    if (setup_handle(http, opt) != 0) {
        snprintf(err, err_len, "%s: cannot create a curl handle", url);
        return MM_HTTP_FAIL_INTERNAL;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, curl_err);
    const char *why = NULL;
    int result = perform(http, opt->cancel_fd, &why);
    curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, NULL);
    if (result < 0) {
        if (!why) {
            snprintf(err, err_len, "%s: stopped (the agent is shutting down)", url);
            return MM_HTTP_FAIL_CANCELLED;
        }
        snprintf(err, err_len, "%s: %s", url, why);
        return MM_HTTP_FAIL_INTERNAL;
    }
    CURLcode rc = (CURLcode)result;

    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &http->status);
    char *ctype = NULL;
    curl_easy_getinfo(http->curl, CURLINFO_CONTENT_TYPE, &ctype);
    if (ctype)
        snprintf(http->content_type, sizeof(http->content_type), "%s", ctype);

    if (http->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, err_len, "%s: response body larger than %zu bytes", url, opt->max_body);
        return MM_HTTP_FAIL_TOO_BIG;
    }
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "%s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
        return (int)rc;
    }
    if (http->status != 200) {
        snprintf(err, err_len, "%s: HTTP status %ld", url, http->status);
        return MM_HTTP_FAIL_STATUS + (int)(http->status % 1000);
    }
    if (!http->body) {
        /* An empty 200: hand the parser an empty string, not NULL. */
        http->body = malloc(1);
        if (!http->body) {
            snprintf(err, err_len, "%s: out of memory", url);
            return MM_HTTP_FAIL_INTERNAL;
        }
        http->cap = 1;
        http->body[0] = '\0';
    }
    return 0;
}

bool mm_http_is_text_plain(const struct mm_http *http)
{
    return !http->content_type[0] || strncasecmp(http->content_type, "text/plain", 10) == 0;
}
