/* proxy_cmdline.c — ports named on a proxy's command line (see proxy_cmdline.h). */
#include "host/process/proxy_cmdline.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/number.h"

/* A whole decimal port 1..65535; 0 for anything else. */
static int port_of(const char *s, size_t len)
{
    uint64_t v;
    if (len > 5 || mm_scan_u64(s, s + len, &v) != s + len)
        return 0;
    return v >= 1 && v <= 65535 ? (int)v : 0;
}

static void add_client_port(struct mm_proxy_cmdline *out, int port)
{
    for (size_t i = 0; i < out->n_client_ports; i++)
        if (out->client_ports[i] == port)
            return;
    if (out->n_client_ports < MM_CMDLINE_MAX_PORTS)
        out->client_ports[out->n_client_ports++] = (uint16_t)port;
}

/* "443,444": MTProxy's -H list; a malformed list adds nothing after the
 * bad item (MTProxy itself refuses to start with it). */
static void add_port_list(struct mm_proxy_cmdline *out, const char *s)
{
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        int port = port_of(s, len);
        if (!port)
            return;
        add_client_port(out, port);
        if (!comma)
            return;
        s = comma + 1;
    }
}

/* "HOST:PORT" or "[V6]:PORT" with a literal address. */
static int parse_hostport(const char *s, struct mm_ip *ip, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    *port = port_of(colon + 1, strlen(colon + 1));
    char host[64];
    size_t hlen = (size_t)(colon - s);
    if (!*port || hlen == 0 || hlen >= sizeof(host))
        return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        unsigned char a6[16];
        if (inet_pton(AF_INET6, host + 1, a6) != 1)
            return -1;
        mm_ip_from_v6(ip, a6);
        return 0;
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1)
        return -1;
    mm_ip_from_v4(ip, a4.s_addr);
    return 0;
}

/* The value of option `name` (short "-p" or long "--port") in argv[i]:
 * "-p 8888", "-p8888", "--port 8888", "--port=8888". Moves *i past a
 * separate value. */
static const char *option_value(const char *const *argv, size_t argc, size_t *i, const char *shrt,
                                const char *lng)
{
    const char *a = argv[*i];
    size_t ls = strlen(shrt), ll = strlen(lng);
    if (strcmp(a, shrt) == 0 || strcmp(a, lng) == 0) {
        if (*i + 1 >= argc)
            return NULL;
        return argv[++*i];
    }
    if (strncmp(a, lng, ll) == 0 && a[ll] == '=')
        return a + ll + 1;
    if (strncmp(a, shrt, ls) == 0 && a[ls] >= '0' && a[ls] <= '9')
        return a + ls;
    return NULL;
}

#define MAX_ARGS 256

void mm_proxy_cmdline_parse(const char *args, size_t len, struct mm_proxy_cmdline *out)
{
    memset(out, 0, sizeof(*out));
    const char *argv[MAX_ARGS];
    size_t argc = 0;
    for (size_t pos = 0; pos < len && argc < MAX_ARGS;) {
        const char *a = args + pos;
        size_t alen = strnlen(a, len - pos);
        if (pos + alen == len)
            break; /* the last argument was cut off (or is not terminated) */
        argv[argc++] = a;
        pos += alen + 1;
    }
    if (argc == 0)
        return;

    /* mtg: "mtg simple-run [flags] HOST:PORT SECRET". */
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "mtg") == 0 && argc > 2 && strcmp(argv[1], "simple-run") == 0) {
        for (size_t i = 2; i < argc; i++) {
            int port;
            struct mm_ip ip;
            if (argv[i][0] != '-' && parse_hostport(argv[i], &ip, &port) == 0) {
                add_client_port(out, port);
                if (!mm_ip_is_unspecified(&ip)) {
                    out->have_bind = 1;
                    out->bind = ip;
                }
                return;
            }
        }
        return;
    }

    /* MTProxy and teleproxy (getopt_long). */
    for (size_t i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        const char *v;
        if ((v = option_value(argv, argc, &i, "-p", "--port")) != NULL)
            out->stats_port = port_of(v, strlen(v)); /* "start:end" ranges stay unknown */
        else if ((v = option_value(argv, argc, &i, "-H", "--http-ports")) != NULL)
            add_port_list(out, v);
    }
}
