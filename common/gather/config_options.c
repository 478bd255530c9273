/* config_options.c — the table of core options (see config_options.h). */
#include "gather/config_options.h"
#include "transport/http_fetch.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/number.h"
#include "sources/secrets.h"
#include "sources/source.h"
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

/* A number or a text as the text number.c parses, so both fronts get the
 * same words for the same mistake. */
static const char *number_text(const struct mm_option_value *v, char *buf, size_t len)
{
    if (v->kind == MM_VALUE_TEXT)
        return v->text;
    if (v->kind != MM_VALUE_NUMBER)
        return NULL;
    snprintf(buf, len, "%.15g", v->number);
    return buf;
}

/* Whole numbers and durations are converted and range-checked here, from the
 * table's min and max, before a setter sees them as a number. */
static int convert_number(const struct mm_option *opt, const struct mm_option_value *v, double *out, char *err,
                          size_t err_len)
{
    char buf[40];
    const char *text = number_text(v, buf, sizeof(buf));
    if (opt->type == MM_OPT_INT) {
        int64_t n;
        if (!text) {
            snprintf(err, err_len, "expects a whole number");
            return -1;
        }
        if (mm_parse_i64(text, (int64_t)opt->min, (int64_t)opt->max, &n, err, err_len) != 0)
            return -1;
        *out = (double)n;
        return 0;
    }
    double unit = v->bare_unit_s > 0 ? v->bare_unit_s : 1.0;
    if (!text) {
        snprintf(err, err_len, "expects a duration");
        return -1;
    }
    return mm_parse_duration(text, unit, opt->min, opt->max, out, err, err_len);
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

/* ---- setters, one per option; whole numbers and durations arrive
 * converted and range-checked by mm_option_apply ---- */

static int set_url(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0 || mm_http_check_url(text, err, n) != 0)
        return -1;
    return store_string(&c->url, v, err, n);
}

/* Whole numbers and durations arrive converted and in range: stored as they are. */
#define NUMBER_SETTER(fn_name, field, type)                                                             \
    static int fn_name(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n) \
    {                                                                                                   \
        (void)err, (void)n;                                                                             \
        c->field = (type)v->number;                                                                     \
        return 0;                                                                                       \
    }

NUMBER_SETTER(set_timeout, timeout_s, double)
NUMBER_SETTER(set_connect_timeout, connect_timeout_s, double)
NUMBER_SETTER(set_max_body, max_body_bytes, long)
NUMBER_SETTER(set_ips_over, sockets.ips_over, int)
NUMBER_SETTER(set_max_countries, sockets.max_countries, int)
NUMBER_SETTER(set_max_secrets, max_secrets, unsigned)

static int set_client_endpoint(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                               size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    return mm_sockets_config_add_client_endpoint(&c->sockets, text, err, n);
}

static int set_upstream_port(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                             size_t n)
{
    return mm_sockets_config_add_upstream_port(&c->sockets, (int)v->number, err, n);
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

static int set_client_port(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return mm_sockets_config_add_client_port(&c->sockets, (int)v->number, err, n);
}

static int set_upstream_network(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                                size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    return mm_sockets_config_add_upstream_net(&c->sockets, text, err, n);
}

/* Source: "auto" or a registered source's name (sources/sources.c). */
static int set_source(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    if (strcmp(text, "auto") != 0 && !mm_source_by_name(text)) {
        size_t len = (size_t)snprintf(err, n, "unknown page format '%.40s' (auto", text);
        for (size_t i = 0; i < mm_source_count() && len < n; i++)
            len += (size_t)snprintf(err + len, n - len, ", %s", mm_source_at(i)->name);
        if (len < n)
            snprintf(err + len, n - len, ")");
        return -1;
    }
    return store_string(&c->source, v, err, n);
}

static int set_ignore_network(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                              size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    return mm_sockets_config_add_ignore(&c->sockets, text, err, n);
}

static int set_geoip(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    const char *text;
    if (value_text(v, &text, err, n) != 0)
        return -1;
    return mm_sockets_config_set_geoip_path(&c->sockets, text, err, n);
}

static int set_state_file(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                          size_t n)
{
    return store_string(&c->sockets.state_file, v, err, n);
}

/* A boolean into one of the sockets module's int flags. */
static int store_flag(int *dst, const struct mm_option_value *v, char *err, size_t n)
{
    bool b;
    if (value_bool(v, &b, err, n) != 0)
        return -1;
    *dst = b;
    return 0;
}

static int set_include_local(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return store_flag(&c->sockets.include_local, v, err, n);
}

static int set_socket_bytes(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n)
{
    return store_flag(&c->sockets.socket_bytes, v, err, n);
}

static int set_collect_sockets(struct mm_instance_config *c, const struct mm_option_value *v, char *err,
                               size_t n)
{
    return value_bool(v, &c->collect_sockets, err, n);
}

/* The fleet's options (fleet/fleet_config.h). */
#define FLEET_TEXT_SETTER(fn_name, setter)                                                                \
    static int fn_name(struct mm_instance_config *c, const struct mm_option_value *v, char *err, size_t n) \
    {                                                                                                     \
        const char *text;                                                                                 \
        if (value_text(v, &text, err, n) != 0)                                                            \
            return -1;                                                                                    \
        return setter(&c->fleet, text, err, n);                                                           \
    }

FLEET_TEXT_SETTER(set_fleet_redis, mm_fleet_config_set_redis)
FLEET_TEXT_SETTER(set_fleet_name, mm_fleet_config_set_name)
FLEET_TEXT_SETTER(set_fleet_password_file, mm_fleet_config_set_password_file)
FLEET_TEXT_SETTER(set_fleet_salt_file, mm_fleet_config_set_salt_file)
NUMBER_SETTER(set_fleet_interval, fleet.interval_s, double)

static const struct mm_option options[] = {
    { "URL", "url", MM_OPT_STRING, false, MM_HTTP_DEFAULT_URL, "the proxy's stats page (http or https)", 0, 0,
      set_url },
    { "Timeout", "timeout", MM_OPT_DURATION, false, "2s", "whole request, kept below the interval", 0.001,
      3600, set_timeout },
    { "ConnectTimeout", "connect-timeout", MM_OPT_DURATION, false, "the timeout", "TCP and TLS connect", 0.001,
      3600, set_connect_timeout },
    /* At most 16 MiB: every page parser is linear, and the largest body parses in under 1 s even on a
     * loaded host (docs/faults.md); the official page is 6 KB. */
    { "MaxBodySize", "max-body-size", MM_OPT_INT, false, "1048576", "bytes; a larger stats page is refused",
      1024, 16L * 1024 * 1024, set_max_body },
    { "FollowRedirects", "follow-redirects", MM_OPT_BOOL, false, "false", "follow HTTP redirects (http/https)",
      0, 0, set_follow_redirects },
    { "VerifyPeer", "verify-peer", MM_OPT_BOOL, false, "true", "verify the TLS certificate", 0, 0,
      set_verify_peer },
    { "VerifyHost", "verify-host", MM_OPT_BOOL, false, "true", "verify the TLS host name", 0, 0,
      set_verify_host },
    { "CACert", "ca-cert", MM_OPT_STRING, false, "system store", "CA certificate file for https", 1, 0,
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
      "file with the master's PID, used when the stats page gives none", 1, 0, set_pidfile },
    { "ProcessName", "process-name", MM_OPT_STRING, false, "mtproto-proxy",
      "process name (/proc/PID/comm) that finds the master without a PID", 1, 15 /* TASK_COMM_LEN - 1 */,
      set_process_name },
    { "ProcessMatch", "process-match", MM_OPT_STRING, false, "none",
      "extended regex on the command line that finds the master (with ProcessName both must match)", 1, 0,
      set_process_match },
    { "CollectSockets", "collect-sockets", MM_OPT_BOOL, false, "true",
      "report client and upstream connections from the kernel's socket table", 0, 0, set_collect_sockets },
    { "ClientPort", "client-port", MM_OPT_INT, true, "the ports the proxy listens on",
      "a port clients connect to", 1, 65535, set_client_port },
    { "ClientEndpoint", "client-endpoint", MM_OPT_STRING, true, "the proxy's listeners",
      "a local ADDRESS:PORT clients connect to (127.0.0.1:443, [::1]:443); another service on the same port "
      "and another address is then not counted", 0, 0, set_client_endpoint },
    { "UpstreamNetwork", "upstream-network", MM_OPT_STRING, true, "Telegram's published networks",
      "a network (CIDR, IPv4 or IPv6) whose connections are upstream; replaces the built-in list", 0, 0,
      set_upstream_network },
    { "UpstreamPort", "upstream-port", MM_OPT_INT, true, "any",
      "narrows upstream connections to this remote port (8888 middle proxies, 443 data centers); 0 = no "
      "upstream side", 0, 65535, set_upstream_port },
    { "IPsOver", "ips-over", MM_OPT_INT, false, "16",
      "ips_over_limit counts client IPs holding more connections than this", 0, 1000000, set_ips_over },
    { "IncludeLocal", "include-local", MM_OPT_BOOL, false, "false",
      "count loopback, private and link-local clients in distinct IPs and countries", 0, 0, set_include_local },
    { "SocketBytes", "socket-bytes", MM_OPT_BOOL, false, "false",
      "report bytes_received/bytes_acked summed over the open sockets (asks the kernel for tcp_info: "
      "about a quarter more kernel time per gather)", 0, 0, set_socket_bytes },
    { "IgnoreNetwork", "ignore-network", MM_OPT_STRING, true, "none",
      "a client network (CIDR, IPv4 or IPv6) left out of distinct IPs and countries", 0, 0, set_ignore_network },
    { "GeoIPDatabase", "geoip", MM_OPT_STRING, false, "the usual GeoLite2/DB-IP paths",
      "MaxMind DB file for connections per country", 1, 0, set_geoip },
    { "Source", "source", MM_OPT_STRING, false, "auto",
      "page format: auto (told by content), mtproxy-stats, teleproxy-stats, prometheus, teleproxy, mtg, "
      "telemt, mtprotoproxy, mtproto.zig (docs/implementations.md)", 1, 32, set_source },
    { "MaxSecrets", "max-secrets", MM_OPT_INT, false, "64",
      "per-secret (per-user) series kept, the rest summed as secret=other", 1, MM_SECRETS_LIMIT, set_max_secrets },
    { "MaxCountries", "max-countries", MM_OPT_INT, false, "50",
      "countries reported per gather, the rest summed as other; 0 = no countries", 0, MM_COUNTRIES_MAX,
      set_max_countries },
    { "StateFile", "state-file", MM_OPT_STRING, false, "none (in memory only)",
      "file that keeps the distinct-client windows and churn counters across restarts; one per instance",
      1, 4095, set_state_file },
    { "FleetName", "fleet-name", MM_OPT_STRING, false, "none (no fleet)",
      "the fleet this proxy belongs to: its distinct clients go to FleetRedis, merged with every other "
      "agent's of that name", 1, 64, set_fleet_name },
    { "FleetRedis", "fleet-redis", MM_OPT_STRING, false, "none",
      "the fleet's Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or redis+unix:///PATH[?db=DB]", 1, 4095,
      set_fleet_redis },
    { "FleetPasswordFile", "fleet-password-file", MM_OPT_STRING, false, "none",
      "file holding the fleet Redis's password (one line), read at start; never logged", 1, 4095,
      set_fleet_password_file },
    { "FleetSaltFile", "fleet-salt-file", MM_OPT_STRING, false, "none",
      "file holding the fleet salt (at least 16 bytes, the same on every host) that keys the hash of each "
      "client address; read at start", 1, 4095, set_fleet_salt_file },
    { "FleetInterval", "fleet-interval", MM_OPT_DURATION, false, "60s",
      "how often the fleet's distinct clients are read from Redis", 1, 86400, set_fleet_interval },
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
    return opt->set == set_url || opt->set == set_user || opt->set == set_password || opt->set == set_fleet_redis;
}

int mm_option_apply(const struct mm_option *opt, struct mm_instance_config *cfg,
                    const struct mm_option_value *value, char *err, size_t err_len)
{
    if (opt->type == MM_OPT_STRING && value->kind == MM_VALUE_TEXT) {
        /* an empty path or pattern is a mistake (an unset variable in a
         * template), never "off" */
        size_t len = strlen(value->text);
        if (len < (size_t)opt->min || (opt->max > 0 && len > (size_t)opt->max)) {
            if (opt->max > 0)
                snprintf(err, err_len, "expects %g to %g characters, got %zu", opt->min, opt->max, len);
            else
                snprintf(err, err_len, "expects a non-empty string");
            return -1;
        }
    }
    if (opt->type != MM_OPT_INT && opt->type != MM_OPT_DURATION)
        return opt->set(cfg, value, err, err_len);
    struct mm_option_value number = { .kind = MM_VALUE_NUMBER };
    if (convert_number(opt, value, &number.number, err, err_len) != 0)
        return -1;
    return opt->set(cfg, &number, err, err_len);
}
