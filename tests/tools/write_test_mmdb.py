#!/usr/bin/python3
"""write_test_mmdb.py — writes a tiny, valid MaxMind DB file for the tests.

    write_test_mmdb.py OUT NETWORK=CODE [NETWORK=CODE ...] [--ip-version 4|6]

NETWORK is "127.1.0.0/16", "::1/128" or a bare address. CODE is an ISO code
stored as country/iso_code (GeoLite2 style); "flat:FR" stores a flat
country_code key (DB-IP / ip-location-db style), "reg:JP" only
registered_country/iso_code, "none" a record without any country (a lookup
then says "unknown"). More specific networks win over broader ones.

The format (MaxMind DB spec 2.0): a binary search tree of 24-bit records,
16 zero bytes, the data section, then "\\xAB\\xCD\\xEFMaxMind.com" and the
metadata map. IPv4 networks of an IPv6 tree live under ::/96 (where
libmaxminddb looks IPv4 addresses up). Check a file with
`mmdblookup --file OUT --ip 127.1.2.3`.
"""
import ipaddress
import struct
import sys
import time

RECORD_BITS = 24


def ctrl(type_num, size):
    """Control byte(s) for a field of this type and payload size."""
    ext = b""
    if type_num > 7:
        ext = bytes([type_num - 7])
        type_num = 0
    if size < 29:
        return bytes([(type_num << 5) | size]) + ext
    if size < 29 + 256:
        return bytes([(type_num << 5) | 29]) + ext + bytes([size - 29])
    if size < 285 + 65536:
        return bytes([(type_num << 5) | 30]) + ext + struct.pack(">H", size - 285)
    return bytes([(type_num << 5) | 31]) + ext + struct.pack(">I", size - 65821)[1:]


def enc(value):
    if isinstance(value, str):
        raw = value.encode()
        return ctrl(2, len(raw)) + raw
    if isinstance(value, dict):
        out = ctrl(7, len(value))
        for k, v in value.items():
            out += enc(k) + enc(v)
        return out
    if isinstance(value, list):
        out = ctrl(11, len(value))
        for v in value:
            out += enc(v)
        return out
    if isinstance(value, tuple):  # (type number, int)
        type_num, n = value
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
        return ctrl(type_num, len(raw)) + raw
    raise TypeError(value)


def uint16(n):
    return (5, n)


def uint32(n):
    return (6, n)


def uint64(n):
    return (9, n)


def record_for(code):
    if code == "none":
        return {"city": {"names": {"en": "Nowhere"}}}
    if code.startswith("flat:"):
        return {"country_code": code[5:]}
    if code.startswith("reg:"):
        return {"registered_country": {"iso_code": code[4:]}}
    return {"country": {"iso_code": code}, "registered_country": {"iso_code": code}}


def build(networks, ip_version):
    data = b""
    offsets = {}
    nodes = [[None, None]]  # child: None, ("data", offset) or node index
    bits_total = 128 if ip_version == 6 else 32

    entries = []
    for net_text, code in networks:
        net = ipaddress.ip_network(net_text, strict=False)
        if net.version == 4:
            value, plen = int(net.network_address), net.prefixlen
            if ip_version == 6:
                plen += 96  # ::a.b.c.d
        else:
            if ip_version == 4:
                raise SystemExit("IPv6 network %s in an IPv4 database" % net_text)
            value, plen = int(net.network_address), net.prefixlen
        if code not in offsets:
            offsets[code] = len(data)
            data += enc(record_for(code))
        entries.append((plen, value, code))

    for plen, value, code in sorted(entries):  # broad first, specific later
        if plen == 0:
            raise SystemExit("a /0 network is not supported")
        node = 0
        for depth in range(plen):
            bit = (value >> (bits_total - 1 - depth)) & 1
            if depth == plen - 1:
                nodes[node][bit] = ("data", offsets[code])
                break
            child = nodes[node][bit]
            if not isinstance(child, int):
                # empty, or a broader network: split it into a node whose
                # both halves keep the broader answer
                nodes.append([child, child])
                nodes[node][bit] = len(nodes) - 1
                child = len(nodes) - 1
            node = child

    count = len(nodes)

    def rec(child):
        if child is None:
            return count
        if isinstance(child, int):
            return child
        return count + 16 + child[1]

    tree = b""
    for left, right in nodes:
        tree += struct.pack(">I", rec(left))[1:] + struct.pack(">I", rec(right))[1:]

    meta = {
        "binary_format_major_version": uint16(2),
        "binary_format_minor_version": uint16(0),
        "build_epoch": uint64(int(time.time())),
        "database_type": "MTProxy-Monitor-Test-Country",
        "description": {"en": "test database written by write_test_mmdb.py"},
        "ip_version": uint16(ip_version),
        "languages": ["en"],
        "node_count": uint32(count),
        "record_size": uint16(RECORD_BITS),
    }
    return tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + enc(meta)


def main(argv):
    ip_version = 6
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--ip-version":
            ip_version = int(argv[i + 1])
            i += 2
            continue
        args.append(argv[i])
        i += 1
    if len(args) < 1 or ip_version not in (4, 6):
        print(__doc__, file=sys.stderr)
        return 2
    networks = []
    for spec in args[1:]:
        net, sep, code = spec.partition("=")
        if not sep or not code:
            print("bad network spec %r (want NETWORK=CODE)" % spec, file=sys.stderr)
            return 2
        networks.append((net, code))
    blob = build(networks, ip_version)
    with open(args[0], "wb") as f:
        f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
