/* netmask.h — IP addresses as 16-byte keys, CIDR parsing and matching.
 *
 * Every address the socket code handles is kept as 16 bytes: IPv6 as is,
 * IPv4 in its IPv4-mapped form ::ffff:a.b.c.d. That makes one key type for
 * hash sets and makes an IPv4 peer seen on a dual-stack (AF_INET6) listener
 * and the same peer seen on an AF_INET listener the same key. */
#ifndef MM_NETMASK_H
#define MM_NETMASK_H

#include <stddef.h>
#include <stdint.h>

struct mm_ip {
    uint8_t b[16];
};

struct mm_cidr {
    int family;       /* AF_INET or AF_INET6 */
    int prefix;       /* 0..32 or 0..128 */
    struct mm_ip net; /* host bits cleared; IPv4 in mapped form */
};

/* ipv4_be: the address as the kernel stores it (network byte order). */
void mm_ip_from_v4(struct mm_ip *ip, uint32_t ipv4_be);
void mm_ip_from_v6(struct mm_ip *ip, const void *in6_addr16);
int mm_ip_is_v4(const struct mm_ip *ip); /* IPv4-mapped form */
int mm_ip_is_unspecified(const struct mm_ip *ip); /* 0.0.0.0 or :: */
/* Loopback (127/8, ::1), private (RFC 1918, fc00::/7) or link-local
 * (169.254/16, fe80::/10): peers that are not members of the public. */
int mm_ip_is_local(const struct mm_ip *ip);
/* "1.2.3.4" or "2001:db8::1"; buf of at least 46 bytes. */
const char *mm_ip_format(const struct mm_ip *ip, char *buf, size_t len);

/* Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits below the prefix are cleared. Returns 0, or -1 with a reason in
 * err ("prefix 33 is out of range 0..32", ...). */
int mm_cidr_parse(const char *text, struct mm_cidr *out, char *err, size_t err_len);
int mm_cidr_match(const struct mm_cidr *cidr, const struct mm_ip *ip);
/* "10.0.0.0/8"; buf of at least 50 bytes. */
const char *mm_cidr_format(const struct mm_cidr *cidr, char *buf, size_t len);

#endif
