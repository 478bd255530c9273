/* netmask.c — IP keys and CIDRs (see netmask.h). IPv4 networks are matched
 * in the mapped space: 10.0.0.0/8 is ::ffff:10.0.0.0/104. */
#include "core/netmask.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/number.h"

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void mm_ip_from_v4(struct mm_ip *ip, uint32_t ipv4_be)
{
    memcpy(ip->b, v4_mapped_prefix, 12);
    memcpy(ip->b + 12, &ipv4_be, 4);
}

void mm_ip_from_v6(struct mm_ip *ip, const void *in6_addr16)
{
    memcpy(ip->b, in6_addr16, 16);
}

int mm_ip_is_v4(const struct mm_ip *ip)
{
    return memcmp(ip->b, v4_mapped_prefix, 12) == 0;
}

int mm_ip_is_unspecified(const struct mm_ip *ip)
{
    static const uint8_t zero[16];
    if (mm_ip_is_v4(ip))
        return memcmp(ip->b + 12, zero, 4) == 0;
    return memcmp(ip->b, zero, 16) == 0;
}

int mm_ip_is_local(const struct mm_ip *ip)
{
    const uint8_t *b = ip->b;
    if (mm_ip_is_v4(ip)) {
        const uint8_t *a = b + 12;
        return a[0] == 127 || a[0] == 10 ||
               (a[0] == 172 && (a[1] & 0xf0) == 16) ||
               (a[0] == 192 && a[1] == 168) ||
               (a[0] == 169 && a[1] == 254);
    }
    static const uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return memcmp(b, loop6, 16) == 0 ||
           (b[0] & 0xfe) == 0xfc ||                /* fc00::/7 unique local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80); /* fe80::/10 link-local */
}

const char *mm_ip_format(const struct mm_ip *ip, char *buf, size_t len)
{
    const char *r = mm_ip_is_v4(ip) ? inet_ntop(AF_INET, ip->b + 12, buf, (socklen_t)len)
                                    : inet_ntop(AF_INET6, ip->b, buf, (socklen_t)len);
    if (!r && len > 0)
        snprintf(buf, len, "?");
    return buf;
}

/* Keeps the first bits of ip (mapped space), clears the rest. */
static void clear_host_bits(struct mm_ip *ip, int bits)
{
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        if (keep >= 8)
            continue;
        ip->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

static int mapped_bits(const struct mm_cidr *c)
{
    return c->family == AF_INET ? 96 + c->prefix : c->prefix;
}

int mm_cidr_parse(const char *text, struct mm_cidr *out, char *err, size_t err_len)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);

    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(err, err_len, "'%s' is not an IP address or CIDR network", text);
        return -1;
    }
    memcpy(addr, text, alen);
    addr[alen] = '\0';

    memset(out, 0, sizeof(*out));
    uint8_t raw[16];
    if (inet_pton(AF_INET, addr, raw) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
        memcpy(out->net.b, v4_mapped_prefix, 12);
        memcpy(out->net.b + 12, raw, 4);
    } else if (inet_pton(AF_INET6, addr, raw) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
        memcpy(out->net.b, raw, 16);
    } else {
        snprintf(err, err_len, "'%s' is not an IP address or CIDR network ('%s' is not an address)",
                 text, addr);
        return -1;
    }

    if (slash) {
        int max = out->prefix;
        int64_t n;
        char why[96];
        if (strlen(slash + 1) > 3) /* "/0008": no padded prefixes */
            snprintf(why, sizeof(why), "'%s' is not a number of 1 to 3 digits", slash + 1);
        if (strlen(slash + 1) > 3 || mm_parse_i64(slash + 1, 0, max, &n, why, sizeof(why)) != 0) {
            snprintf(err, err_len, "'%s': the prefix length after '/': %s", text, why);
            return -1;
        }
        out->prefix = (int)n;
    }
    clear_host_bits(&out->net, mapped_bits(out));
    return 0;
}

int mm_cidr_match(const struct mm_cidr *cidr, const struct mm_ip *ip)
{
    int bits = mapped_bits(cidr);
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(cidr->net.b, ip->b, (size_t)bytes) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (ip->b[bytes] & mask) == cidr->net.b[bytes];
}

const char *mm_cidr_format(const struct mm_cidr *cidr, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    /* An IPv6 network stays IPv6 in print even when it lies in the mapped space. */
    if (cidr->family == AF_INET6 && !inet_ntop(AF_INET6, cidr->net.b, a, sizeof(a)))
        snprintf(a, sizeof(a), "?");
    else if (cidr->family == AF_INET)
        mm_ip_format(&cidr->net, a, sizeof(a));
    snprintf(buf, len, "%s/%d", a, cidr->prefix);
    return buf;
}
