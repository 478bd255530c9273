"""docs/metrics.md names every metric the fronts really produce, and says of each family of the schema
(common/core/families.c, the official /stats field table) what the code does: measurement, kind, type and
collectd identifier, as build/tools/mm_schema prints them from the real collectd mapping."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, StatsServer  # noqa: E402
from execd import run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402


class MetricsDoc(unittest.TestCase):
    def test_every_produced_field_is_documented(self):
        doc = open(os.path.join(ROOT_DIR, 'docs', 'metrics.md')).read()
        documented = set(re.findall(r'`([A-Za-z_0-9]+)(?:_\*)?`', doc)) | set(re.findall(r'^\| ([a-z_]+) \|', doc, re.M))
        prefixes = set(re.findall(r'`([A-Za-z_0-9]+)_\*`', doc))
        with StatsServer(static=True, fixture='stats-upstream-with-clients-M1.txt') as srv:
            rc, out, err = run_once(['--url', srv.url])
        self.assertEqual(rc, 0, err)
        missing = []
        for line in out:
            measurement, tags, fields, _ = parse_line(line)
            for name in fields:
                if name in documented or any(name.startswith(p + '_') for p in prefixes):
                    continue
                missing.append('%s.%s' % (measurement, name))
        self.assertEqual(missing, [], 'not in docs/metrics.md')


def schema():
    out = subprocess.run([os.path.join(ROOT_DIR, 'build', 'tools', 'mm_schema')], stdout=subprocess.PIPE, check=True,
                         timeout=30).stdout.decode()
    return [dict(zip(('origin', 'measurement', 'name', 'kind', 'type', 'collectd'), l.split('\t')))
            for l in out.splitlines()]


def sections(doc):
    """{measurement: [tables]} by the `measurement` named in each ## heading; a table is its rows, header
    first, each a list of cells. Only tables of metrics (first header cell metric, key or field)."""
    out, current, table = {}, None, None
    for line in doc.splitlines():
        if line.startswith('## '):
            m = re.search(r'`(mtproxy[a-z_]*)`', line)
            current = out.setdefault(m.group(1), []) if m else None
            table = None
        elif current is not None and line.startswith('|'):
            if line.startswith('|---'):
                continue
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if table is None:
                table = [cells]
                if cells[0] in ('metric', 'line protocol field', 'key'):
                    current.append(table)
            else:
                table.append(cells)
        else:
            table = None
    return out


def as_regex(identifier):
    """A collectd identifier whose <placeholders> (and *) match any label value."""
    parts = re.split(r'(<[^>]+>|\*)', identifier)
    return ''.join('(?:<[^>]+>|[A-Za-z0-9_*]+)' if p.startswith('<') or p == '*' else re.escape(p) for p in parts)


def same_identifier(a, b):
    """b as the docs spell it: an optional part in brackets ([-<secret>]) may be left out."""
    b = re.sub(r'\[[^\]]*\]', '', b)
    return bool(re.fullmatch(as_regex(a), b) or re.fullmatch(as_regex(b), a))


class MetricsDocAgainstSchema(unittest.TestCase):
    def test_every_family_is_documented_as_the_code_does_it(self):
        doc = sections(open(os.path.join(ROOT_DIR, 'docs', 'metrics.md')).read())
        families = schema()
        self.assertGreater(len(families), 200)
        problems = []
        for f in families:
            tables = doc.get(f['measurement'])
            if not tables:
                problems.append('%(measurement)s: no section' % f)
                continue
            name = f['name']
            mine = [(t[0], r) for t in tables for r in t[1:]
                    if re.search(r'(^|[`\s,])%s($|[`\s,])' % re.escape(name), r[0])]
            if not mine:
                problems.append('%s.%s: no row' % (f['measurement'], name))
                continue
            header, row = mine[0]
            text = ' | '.join(row)
            if 'kind' in header and row[header.index('kind')].split(' ')[0] != f['kind']:
                problems.append('%s.%s: kind %s, the code says %s' % (f['measurement'], name,
                                                                       row[header.index('kind')], f['kind']))
            for t in ('integer', 'float', 'string'):
                if re.search(r'\b%s\b' % t, text) and t != f['type']:
                    problems.append('%s.%s: %s, the code writes %s' % (f['measurement'], name, t, f['type']))
            if f['collectd'] == '-':
                if not re.search(r'not a value|notification', text):
                    problems.append('%s.%s: not a collectd value, the row gives one' % (f['measurement'], name))
                continue
            ident, _, ds = f['collectd'].partition(' DS ')
            spelled = re.findall(r'`([a-z_]+-[^`]+)`', text)
            if not any(same_identifier(ident, s) for s in spelled):
                problems.append('%s.%s: collectd %s, the row says %s' % (f['measurement'], name, ident, spelled))
            if ds and 'DS %s' % ds not in text:
                problems.append('%s.%s: data source %s not named' % (f['measurement'], name, ds))
        # and every row names a family the code has
        known = {(f['measurement'], f['name']) for f in families}
        for measurement, tables in doc.items():
            for row in [r for t in tables for r in t[1:]]:
                for name in re.findall(r'`?([A-Za-z_0-9*]+)`?', re.sub(r'\(.*?\)', '', row[0])):
                    if (measurement, name) not in known:
                        problems.append('%s.%s: documented, but not in the schema' % (measurement, name))
        self.assertEqual(problems, [], "\n".join(problems))


if __name__ == '__main__':
    unittest.main()
