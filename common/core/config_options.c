/* config_options.c — the table of core options (see config_options.h). */
#include "core/config_options.h"

#include <errno.h>
#include <regex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/duration.h"
#include "core/secret_file.h"

/* ---- value conversions ---- */

static int value_text(const struct mm_option_value *v, const char **out, char *err, size_t err_len)
{
    if (v->kind != MM_VALUE_TEXT) {
        snprintf(err, err_len, "expects a string");
        return -1;
    }
    *out = v->text;
    return 0;
}

static int value_seconds(const struct mm_option_value *v, double *out, char *err, size_t err_len)
{
    if (v->kind == MM_VALUE_NUMBER && v->number > 0 && v->number <= 86400) {
        *out = v->number;
        return 0;
    }
    if (v->kind == MM_VALUE_TEXT && mm_parse_duration(v->text, out) == 0)
        return 0;
    snprintf(err, err_len, "expects a positive number of seconds or a duration like \"500ms\" or \"2s\"");
    return -1;
}

static int value_bool(const struct mm_option_value *v, bool *out, char *err, size_t err_len)
{
    if (v->kind == MM_VALUE_BOOL) {
        *out = v->boolean;
        return 0;
    }
    if (v->kind == MM_VALUE_TEXT) {
        if (!strcasecmp(v->text, "true") || !strcasecmp(v->text, "yes") || !strcmp(v->text, "1")) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v->text, "false") || !strcasecmp(v->text, "no") || !strcmp(v->text, "0")) {
            *out = false;
            return 0;
        }
    }
    snprintf(err, err_len, "expects true or false");
    return -1;
}

static int value_long(const struct mm_option_value *v, long min, long max, long *out, char *err,
                      size_t err_len)
{
    double d = NAN;
    if (v->kind == MM_VALUE_NUMBER) {
        d = v->number;
    } else if (v->kind == MM_VALUE_TEXT) {
        char *end;
        errno = 0;
        long l = strtol(v->text, &end, 10);
        if (!errno && end != v->text && !*end)
            d = (double)l;
    }
    if (!(d == floor(d)) || d < (double)min || d > (double)max) {
        snprintf(err, err_len, "expects a whole number between %ld and %ld", min, max);
        return -1;
    }
    *out = (long)d;
    return 0;
}

static int store_string(char **dst, const struct mm_option_value *v, char *err, size_t err_len)
{
    const char *text;
    if (value_text(v, &text, err, err_len) != 0)
        return -1;
    if (mm_config_set_string(dst, text) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- setters, one per option ---- */

static int set_url(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0 || mm_http_check_url(text, err, n) != 0)
        return -1;
    return store_string(&c->url, v, err, n);
}

static int set_timeout(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return value_seconds(v, &c->timeout_s, err, n);
}

static int set_connect_timeout(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                               size_t n)
{
    return value_seconds(v, &c->connect_timeout_s, err, n);
}

static int set_max_body(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return value_long(v, 1024, 256L * 1024 * 1024, &c->max_body_bytes, err, n);
}

static int set_follow_redirects(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                                size_t n)
{
    return value_bool(v, &c->follow_redirects, err, n);
}

static int set_verify_peer(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return value_bool(v, &c->verify_peer, err, n);
}

static int set_verify_host(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return value_bool(v, &c->verify_host, err, n);
}

static int set_ca_cert(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return store_string(&c->ca_cert, v, err, n);
}

static int set_user(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return store_string(&c->user, v, err, n);
}

static int set_password(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    return mm_config_set_password(c, text, MM_PASSWORD_INLINE, err, n);
}

/* Read at configuration time: a bad file stops the agent's start, and the
 * secret then lives like an inline one (a changed file needs a restart). */
static int set_password_file(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *path;
    char *secret;
    if (value_text(v, &path, err, n) != 0 || mm_read_secret_file(path, &secret, err, n) != 0)
        return -1;
    int rc = mm_config_set_password(c, secret, MM_PASSWORD_FILE, err, n);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    return rc;
}

static int set_pidfile(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return store_string(&c->process.pidfile, v, err, n);
}

static int set_process_name(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    if (!*text || strlen(text) > 15) {
        snprintf(err, n, "expects a process name of 1 to 15 characters (as in /proc/PID/comm)");
        return -1;
    }
    return store_string(&c->process.process_match_name, v, err, n);
}

static int set_process_match(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                             size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    regex_t re;
    int rc = regcomp(&re, text, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &re, why, sizeof(why));
        snprintf(err, n, "not a valid extended regular expression: %s", why);
        return -1;
    }
    regfree(&re);
    return store_string(&c->process.process_match_regex, v, err, n);
}

static int set_collect_process(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                               size_t n)
{
    return value_bool(v, &c->collect_process, err, n);
}

/* The sockets module parses its own values from text: numbers are checked
 * here like every other whole-number option (same message in both fronts),
 * then handed over as text. */
#define SOCKETS_INT_SETTER(fn_name, parser, min, max)                                                   \
    static int fn_name(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n) \
    {                                                                                                   \
        long number;                                                                                    \
        char buf[24];                                                                                   \
        if (value_long(v, min, max, &number, err, n) != 0)                                             \
            return -1;                                                                                  \
        snprintf(buf, sizeof(buf), "%ld", number);                                                      \
        return parser(&c->sockets, buf, err, n);                                                        \
    }

#define SOCKETS_TEXT_SETTER(fn_name, parser)                                                            \
    static int fn_name(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n) \
    {                                                                                                   \
        const char *text;                                                                               \
        if (value_text(v, &text, err, n) != 0)                                                          \
            return -1;                                                                                  \
        return parser(&c->sockets, text, err, n);                                                       \
    }

SOCKETS_INT_SETTER(set_client_port, mm_sockets_config_add_client_port, 1, 65535)
SOCKETS_INT_SETTER(set_upstream_port, mm_sockets_config_set_upstream_port, 0, 65535)
SOCKETS_INT_SETTER(set_ips_over, mm_sockets_config_set_ips_over, 0, 1000000)
SOCKETS_INT_SETTER(set_max_countries, mm_sockets_config_set_max_countries, 0, 512)
SOCKETS_TEXT_SETTER(set_ignore_network, mm_sockets_config_add_ignore)
SOCKETS_TEXT_SETTER(set_geoip, mm_sockets_config_set_geoip_path)

static int set_include_local(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    bool b;
    if (value_bool(v, &b, err, n) != 0)
        return -1;
    c->sockets.include_local = b;
    return 0;
}

static int set_collect_sockets(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                               size_t n)
{
    return value_bool(v, &c->collect_sockets, err, n);
}

static const struct mm_option options[] = {
    { "URL", "url", MM_OPT_STRING, false, MM_HTTP_DEFAULT_URL, "the proxy's stats page (http or https)", 0, 0,
      set_url },
    { "Timeout", "timeout", MM_OPT_DURATION, false, "2s", "whole request, kept below the interval", 0, 0,
      set_timeout },
    { "ConnectTimeout", "connect-timeout", MM_OPT_DURATION, false, "the timeout", "TCP and TLS connect", 0, 0,
      set_connect_timeout },
    { "MaxBodySize", "max-body-size", MM_OPT_INT, false, "1048576", "bytes; a larger stats page is refused",
      1024, 256L * 1024 * 1024, set_max_body },
    { "FollowRedirects", "follow-redirects", MM_OPT_BOOL, false, "false", "follow HTTP redirects (http/https)",
      0, 0, set_follow_redirects },
    { "VerifyPeer", "verify-peer", MM_OPT_BOOL, false, "true", "verify the TLS certificate", 0, 0,
      set_verify_peer },
    { "VerifyHost", "verify-host", MM_OPT_BOOL, false, "true", "verify the TLS host name", 0, 0,
      set_verify_host },
    { "CACert", "ca-cert", MM_OPT_STRING, false, "system store", "CA certificate file for https", 0, 0,
      set_ca_cert },
    { "User", "user", MM_OPT_STRING, false, "none", "HTTP basic-auth user", 0, 0, set_user },
    { "Password", "password", MM_OPT_STRING, false, "none",
      "HTTP basic-auth password (never logged; visible in process listings: prefer the file or environment)", 0, 0,
      set_password },
    { "PasswordFile", "password-file", MM_OPT_STRING, false, "none",
      "file holding the HTTP basic-auth password (one line), read at start", 0, 0, set_password_file },
    { "CollectProcess", "collect-process", MM_OPT_BOOL, false, "true",
      "report the proxy's processes (CPU, memory, descriptors, I/O) from /proc", 0, 0, set_collect_process },
    { "PidFile", "pidfile", MM_OPT_STRING, false, "none",
      "file with the master's PID, used when the stats page gives none", 0, 0, set_pidfile },
    { "ProcessName", "process-name", MM_OPT_STRING, false, "mtproto-proxy",
      "process name (/proc/PID/comm) that finds the master without a PID", 0, 0, set_process_name },
    { "ProcessMatch", "process-match", MM_OPT_STRING, false, "none",
      "extended regex on the command line that finds the master (with ProcessName both must match)", 0, 0,
      set_process_match },
    { "CollectSockets", "collect-sockets", MM_OPT_BOOL, false, "true",
      "report client and upstream connections from the kernel's socket table", 0, 0, set_collect_sockets },
    { "ClientPort", "client-port", MM_OPT_INT, true, "the ports the proxy listens on",
      "a port clients connect to", 1, 65535, set_client_port },
    { "UpstreamPort", "upstream-port", MM_OPT_INT, false, "8888",
      "remote port of the upstream (Telegram middle-proxy) connections; 0 = off", 0, 65535, set_upstream_port },
    { "IPsOver", "ips-over", MM_OPT_INT, false, "16",
      "ips_over_limit counts client IPs holding more connections than this", 0, 1000000, set_ips_over },
    { "IncludeLocal", "include-local", MM_OPT_BOOL, false, "false",
      "count loopback, private and link-local clients in distinct IPs and countries", 0, 0, set_include_local },
    { "IgnoreNetwork", "ignore-network", MM_OPT_STRING, true, "none",
      "a client network (CIDR, IPv4 or IPv6) left out of distinct IPs and countries", 0, 0, set_ignore_network },
    { "GeoIPDatabase", "geoip", MM_OPT_STRING, false, "the usual GeoLite2/DB-IP paths",
      "MaxMind DB file for connections per country", 0, 0, set_geoip },
    { "MaxCountries", "max-countries", MM_OPT_INT, false, "50",
      "countries reported per gather, the rest summed as other; 0 = no countries", 0, 512, set_max_countries },
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))

size_t mm_option_count(void)
{
    return OPTION_COUNT;
}

const struct mm_option *mm_option_at(size_t i)
{
    return i < OPTION_COUNT ? &options[i] : NULL;
}

const struct mm_option *mm_option_by_collectd_name(const char *name)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcasecmp(options[i].collectd_name, name) == 0)
            return &options[i];
    return NULL;
}

const struct mm_option *mm_option_by_flag(const char *flag)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].flag, flag) == 0)
            return &options[i];
    return NULL;
}

bool mm_option_is_secret(const struct mm_option *opt)
{
    return opt->set == set_url || opt->set == set_user || opt->set == set_password;
}

int mm_option_apply(const struct mm_option *opt, struct mm_instance_config *cfg,
                    const struct mm_option_value *value, char *err, size_t err_len)
{
    return opt->set(cfg, value, err, err_len);
}
