"""lineproto.py - an independent parser of InfluxDB line protocol, for checking our writer.

parse_line('m,t=a f=1i,s="x y" 123') -> ('m', {'t': 'a'}, {'f': 1, 's': 'x y'}, 123)
Integers ('i' suffix) become int, strings str, booleans bool, the rest float.
"""


def _split_unescaped(text, sep, quotes=False):
    """Splits on sep outside backslash escapes (and outside double quotes if quotes)."""
    parts, cur, i, in_q = [], [], 0, False
    while i < len(text):
        c = text[i]
        if c == '\\' and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if quotes and c == '"':
            in_q = not in_q
        if c == sep and not in_q:
            parts.append(''.join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append(''.join(cur))
    return parts


def _unescape(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == '\\' and i + 1 < len(text) and text[i + 1] in ',= "\\':
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return ''.join(out)


def _value(text):
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return _unescape(text[1:-1])
    if text.endswith('i'):
        return int(text[:-1])
    if text in ('t', 'T', 'true', 'True', 'TRUE'):
        return True
    if text in ('f', 'F', 'false', 'False', 'FALSE'):
        return False
    return float(text)


def parse_line(line):
    sections = _split_unescaped(line, ' ', quotes=True)
    if len(sections) not in (2, 3):
        raise ValueError('bad line: %r' % line)
    series = _split_unescaped(sections[0], ',')
    measurement = _unescape(series[0])
    tags = {}
    for t in series[1:]:
        k, v = _split_unescaped(t, '=')
        tags[_unescape(k)] = _unescape(v)
    fields = {}
    for f in _split_unescaped(sections[1], ',', quotes=True):
        k, v = f.split('=', 1) if '\\=' not in f else _split_unescaped(f, '=', quotes=True)[:2]
        fields[_unescape(k)] = _value(v)
    ts = int(sections[2]) if len(sections) == 3 else None
    return measurement, tags, fields, ts


def fields_of(lines, measurement='mtproxy'):
    """Fields of every line of one measurement, in order."""
    return [parse_line(l)[2] for l in lines if l.startswith(measurement + ',') or l.startswith(measurement + ' ')]
