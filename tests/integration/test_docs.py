"""docs/metrics.md names every metric the fronts really produce."""
import os
import re
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


if __name__ == '__main__':
    unittest.main()
