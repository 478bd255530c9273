"""Bounded work (issue 11): a gather of any body up to MaxBodySize ends within Timeout + 1 s.

The worst bodies found for each page parser, generated at the 16 MiB cap (the largest MaxBodySize
the option table accepts) and served byte-exact by tests/stats_server.py (static mode):
  /stats, one distinct unknown key per line: each line used to search the snapshot before the
    unknown-key cap (6.1 s through mtproxy-telegraf at 16 MiB);
  /stats, 16 values per unknown key (16.0 s; its values also crowded `up` out of the snapshot);
  Prometheus text, one distinct metric family per line (Source auto picks the Prometheus parser).
Each is gathered once through `mtproxy-telegraf --once --timeout 2s` with the body cap raised to
16 MiB; the wall time of the whole run (start, fetch, parse, output, exit) must stay within
Timeout + 1 s, and the page must still be read (up=1, every junk line counted)."""
import os
import re
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import StatsServer  # noqa: E402
from execd import run_once  # noqa: E402

MIB = 1024 * 1024
CAP = 16 * MIB          # the largest MaxBodySize the option table accepts
TIMEOUT = 2.0
BOUND = TIMEOUT + 1.0
UNKNOWN_MAX = 512       # MM_STATS_UNKNOWN_MAX: values of unknown /stats keys kept per gather
FAMILIES_MAX = 2000     # the Prometheus parser's default family limit
SIXTEEN = b' '.join(b'%d' % k for k in range(16))

# name: (line i, lines kept)
BODIES = {
    'stats-distinct-keys': (lambda i: b'k%08d\t1\n' % i, UNKNOWN_MAX),
    'stats-sixteen-values': (lambda i: b'k%07d\t' % i + SIXTEEN + b'\n', UNKNOWN_MAX // 16),
    'prometheus-distinct-families': (lambda i: b'm%08d 1\n' % i, FAMILIES_MAX),
}


def write_body(path, size, line):
    """Lines line(0), line(1) ... up to size bytes, written in pieces (a list of millions of lines
    would cost the test hundreds of MiB); returns the number of lines."""
    n, i = 0, 0
    with open(path, 'wb') as f:
        while True:
            piece = []
            while len(piece) < 65536:
                text = line(i)
                if n + len(text) > size:
                    break
                piece.append(text)
                n += len(text)
                i += 1
            f.write(b''.join(piece))
            if len(piece) < 65536:
                return i


class BoundedGather(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='mm-bounded-')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def gather(self, name):
        path = os.path.join(self.tmp.name, name + '.txt')
        line, kept = BODIES[name]
        lines = write_body(path, CAP, line)
        try:
            with StatsServer(static=True, fixture=path) as srv:
                started = time.monotonic()
                rc, out, err = run_once(['--url', srv.url, '--timeout', '%gs' % TIMEOUT,
                                         '--max-body-size', str(CAP), '--collect-process=false',
                                         '--collect-sockets=false'], timeout=60)
                took = time.monotonic() - started
        finally:
            os.unlink(path)
        text = '\n'.join(out)
        self.assertEqual(rc, 0, err)
        # the health values survive the page's flood of keys
        self.assertTrue(re.search(r'\bup=1i\b', text), (err, text[-2000:]))
        skipped = re.search(r'\bstats_lines_skipped=(\d+)i', text)
        self.assertTrue(skipped, (err, text[-2000:]))
        self.assertEqual(int(skipped.group(1)), lines - kept)
        scrape = float(re.search(r'\bscrape_duration_seconds=([0-9.e-]+)', text).group(1))
        sys.stdout.write('\n    %s, %d MiB (%d lines): run %.2f s, scrape %.2f s (bound %.1f s) '
                         % (name, CAP // MIB, lines, took, scrape, BOUND))
        sys.stdout.flush()
        self.assertLess(scrape, BOUND)
        self.assertLess(took, BOUND)

    def test_stats_distinct_unknown_keys(self):
        self.gather('stats-distinct-keys')

    def test_stats_sixteen_values_per_unknown_key(self):
        self.gather('stats-sixteen-values')

    def test_prometheus_distinct_families(self):
        self.gather('prometheus-distinct-families')


if __name__ == '__main__':
    unittest.main()
