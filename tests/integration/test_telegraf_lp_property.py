"""Property test of the line-protocol writer: random names and values (commas, spaces, equals signs,
quotes, backslashes, UTF-8, invalid UTF-8, control characters, newlines, leading '_', `time`) go
through the real C writer (build/tools/lp_writer_tool) into a real influxd, are read back and must
equal what was sent, after the replacements documented in common/outputs/line_protocol.h:
control characters -> ' ', invalid UTF-8 -> U+FFFD, in names and tag values a backslash that ends
the text or precedes \\ , = ' ' or '"' -> '/', a leading '_' of a name (or '#' of a measurement)
gets an 'x' prefix, key `time` -> `time_`,
empty tag values / empty keys left out, NaN and infinities left out.

PROPERTY_SEED=<n> reproduces a run; PROPERTY_LINES=<n> sets the number of lines per round."""
import math
import os
import random
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import Influxd, ROOT_DIR, _quote_ident  # noqa: E402

TOOL = os.path.join(ROOT_DIR, 'build', 'tools', 'lp_writer_tool')
ROUNDS = 4
LINES = int(os.environ.get('PROPERTY_LINES', '150'))

PIECES = [b'a', b'b', b'Z', b'0', b'_', b'-', b'.', b',', b' ', b'=', b'"', b"'", b'\\', b'\\\\', b'\n', b'\r\n',
          b'\t', b'\x01', b'\x7f', 'é'.encode(), '日本'.encode(), '\U0001F600'.encode(), b'\xff', b'\xc3',
          b'\xe2\x82', b'\xed\xa0\x80', b'\xc0\xaf', b'time', b'#', b'{', b'}', b'/', b'*']


def rand_bytes(rng, lo=0, hi=6):
    return b''.join(rng.choice(PIECES) for _ in range(rng.randint(lo, hi)))


def sanitize(raw):
    """Bytes -> text as the writer cleans it: invalid UTF-8 -> U+FFFD per byte, controls -> ' '."""
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        n = 1 if c < 0x80 else 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else 4 if 0xf0 <= c <= 0xf4 else 0
        ch = None
        if n:
            try:
                ch = raw[i:i + n].decode('utf-8')
                if len(ch) != 1:
                    ch = None
            except UnicodeDecodeError:
                ch = None
        if ch is None:
            out.append('\ufffd')
            i += 1
            continue
        out.append(' ' if ord(ch) < 0x20 or ord(ch) == 0x7f else ch)
        i += n
    return ''.join(out)


def identifier(raw, is_key=False, is_tag_value=False, is_measurement=False):
    text = sanitize(raw)
    chars = list(text)
    for i, ch in enumerate(chars):
        if ch == '\\' and (i + 1 == len(chars) or chars[i + 1] in '\\,= "'):
            chars[i] = '/'
    text = ''.join(chars)
    if not is_tag_value and (text.startswith('_') or (is_measurement and text.startswith('#'))):
        text = 'x' + text
    if is_key and raw == b'time':
        text = 'time_'
    return text


def rand_double(rng):
    kind = rng.random()
    if kind < 0.1:
        return rng.choice([float('nan'), float('inf'), float('-inf')])
    if kind < 0.3:
        return struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
    if kind < 0.5:
        return float(rng.randint(-10**6, 10**6))
    return rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30)


def hexs(raw):
    return raw.hex()


class LineProtocolProperty(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(TOOL):
            raise unittest.SkipTest('build/tools/lp_writer_tool missing (make tools)')
        cls.influx = Influxd().start()

    @classmethod
    def tearDownClass(cls):
        cls.influx.stop()

    def make_lines(self, rng):
        """[(records for the tool, expected (measurement, tags, fields) or None if skipped)]"""
        lines = []
        used_measurements = set()
        for n in range(LINES):
            while True:
                mraw = rand_bytes(rng, 1, 6)
                m = identifier(mraw, is_measurement=True)
                if m.strip() and m not in used_measurements:
                    break
            used_measurements.add(m)
            records = ['L\t%s\t%d' % (hexs(mraw), 1600000000000000000 + n)]
            keys_seen = set()
            tags, fields = {}, {}

            def fresh_key():
                while True:
                    raw = rand_bytes(rng, 0, 5)
                    k = identifier(raw, is_key=True)
                    if k not in keys_seen and k != 'time':
                        keys_seen.add(k)
                        return raw, k
            for _ in range(rng.randint(0, 3)):
                kraw, k = fresh_key()
                vraw = rand_bytes(rng, 0, 5)
                v = identifier(vraw, is_tag_value=True)
                records.append('T\t%s\t%s' % (hexs(kraw), hexs(vraw)))
                if k and v:
                    tags[k] = v
            for _ in range(rng.randint(1, 4)):
                kraw, k = fresh_key()
                kind = rng.choice('IDS')
                if kind == 'I':
                    v = rng.choice([0, -1, 2**63 - 1, -2**63, rng.randint(-2**63, 2**63 - 1)])
                    records.append('I\t%s\t%d' % (hexs(kraw), v))
                elif kind == 'D':
                    v = rand_double(rng)
                    records.append('D\t%s\t%s' % (hexs(kraw), repr(v)))
                    if not math.isfinite(v):
                        v = None
                else:
                    vraw = rand_bytes(rng, 0, 8)
                    v = sanitize(vraw)
                    records.append('S\t%s\t%s' % (hexs(kraw), hexs(vraw)))
                if k and v is not None:
                    fields[k] = v
            records.append('E')
            lines.append((records, (m, tags, fields) if fields else None))
        return lines

    def read_back(self, db):
        """{measurement: (tags, fields)} of a database holding one point per measurement. Each
        measurement is queried on its own: influxd 1.6 leaves some series out of the answer to
        SELECT * FROM /.*/ GROUP BY * (three in 143 in one run) though it stored them."""
        res = self.influx.query(db, 'SHOW MEASUREMENTS')
        names = [v[0] for r in res['results'] for s in r.get('series', []) for v in s['values']]
        got = {}
        for name in names:
            res = self.influx.query(db, 'SELECT * FROM %s GROUP BY *' % _quote_ident(name))
            for r in res.get('results', []):
                self.assertNotIn('error', r)
                for s in r.get('series', []):
                    self.assertEqual(s['name'], name)
                    self.assertEqual(len(s['values']), 1, s)
                    row = dict(zip(s['columns'], s['values'][0]))
                    row.pop('time')
                    fields = {k: v for k, v in row.items() if v is not None}
                    got[name] = ({k: v for k, v in s.get('tags', {}).items() if v != ''}, fields)
        return got

    def run_round(self, seed):
        rng = random.Random(seed)
        lines = self.make_lines(rng)
        stdin = '\n'.join(r for records, _ in lines for r in records) + '\n'
        out = subprocess.run([TOOL], input=stdin.encode(), capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        written = out.stdout.split(b'\n')
        self.assertEqual(written[-1], b'')
        written = written[:-1]
        # one output line per input line: nothing the writer produced split a line
        self.assertEqual(len(written), len(lines), 'seed %d' % seed)
        body = []
        for (records, expected), line in zip(lines, written):
            self.assertNotRegex(line, rb'[\x00-\x1f\x7f]', 'seed %d: control byte in %r' % (seed, line))
            line.decode('utf-8')  # valid UTF-8, or this raises
            if expected is None:
                self.assertEqual(line, b'#skipped', 'seed %d' % seed)
            else:
                body.append(line)
        db = 'prop%d' % seed
        self.influx.create_db(db)
        status, text = self.influx.write(db, b'\n'.join(body) + b'\n')
        self.assertEqual(status, 204, 'seed %d: influxd rejected: %s' % (seed, text))

        got = self.read_back(db)
        want = {m: (tags, fields) for _, e in lines if e for m, tags, fields in [e]}
        self.assertEqual(set(got), set(want), 'seed %d: measurements differ; extra %r, missing %r'
                         % (seed, set(got) - set(want), set(want) - set(got)))
        for m, (tags, fields) in want.items():
            gtags, gfields = got[m]
            self.assertEqual(gtags, tags, 'seed %d, measurement %r' % (seed, m))
            self.assertEqual(set(gfields), set(fields), 'seed %d, measurement %r' % (seed, m))
            for k, v in fields.items():
                if isinstance(v, float):
                    self.assertEqual(float(gfields[k]), v, 'seed %d, %r.%r' % (seed, m, k))
                else:
                    self.assertEqual(gfields[k], v, 'seed %d, %r.%r' % (seed, m, k))
                    self.assertEqual(type(gfields[k]), type(v), 'seed %d, %r.%r' % (seed, m, k))

    def test_random_names_and_values_round_trip_through_influxd(self):
        base = int(os.environ.get('PROPERTY_SEED', random.randrange(1 << 30)))
        for i in range(ROUNDS):
            with self.subTest(seed=base + i):
                self.run_round(base + i)

    def test_tricky_cases(self):
        """The cases named in the spec, one by one, through the tool into influxd."""
        cases = [  # (measurement, tag key, tag value, field key, string value)
            (b'm', b'k', b'ends\\', b'f\\', b'v\\'),
            (b'#m', b'#k', b'#v', b'#f', b'#'),
            (b'_m', b'_k', b'_v', b'_f', b'_'),
            (b'm time', b'time', b'time', b'time', b'time'),
            (b'm\nx', b'k\ny', b'v\r\nz', b'f\tq', b'line1\nline2'),
            (b'm\xffx', b'k\xc3', b'v\xed\xa0\x80', b'f\xe2\x82', b'\xc0\xafs'),
            (b'a,b c', b'a,b=c d', b'a,b=c d', b'a,b=c d "q"', b'say "hi" \\ ok'),
        ]
        for i, (m, tk, tv, fk, sv) in enumerate(cases):
            with self.subTest(case=i):
                records = ['L\t%s\t%d' % (hexs(m), 1600000000000000000), 'T\t%s\t%s' % (hexs(tk), hexs(tv)),
                           'S\t%s\t%s' % (hexs(fk), hexs(sv)), 'I\t%s\t7' % hexs(b'n'), 'E']
                out = subprocess.run([TOOL], input=('\n'.join(records) + '\n').encode(), capture_output=True,
                                     timeout=10)
                self.assertEqual(out.returncode, 0)
                line = out.stdout
                self.assertEqual(line.count(b'\n'), 1, line)
                db = 'tricky%d' % i
                self.influx.create_db(db)
                status, text = self.influx.write(db, line)
                self.assertEqual(status, 204, '%r: %s' % (line, text))
                got = self.read_back(db)
                self.assertEqual(got, {identifier(m, is_measurement=True): (
                    {identifier(tk, is_key=True): identifier(tv, is_tag_value=True)},
                    {identifier(fk, is_key=True): sanitize(sv), 'n': 7})}, line)


if __name__ == '__main__':
    unittest.main()
