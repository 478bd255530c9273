"""collectd with one instance per stats-server mode for 500 intervals: still running, reading on
schedule (no back-off), RSS flat.

Interval 0.05 (collectd takes fractional intervals) keeps 500 intervals at about 25 s.

Memory is measured as RSS with one malloc arena (MALLOC_ARENA_MAX=1): collectd's read threads each get
an arena of their own from glibc, and under CPU contention (a loaded host) new arenas appear and RSS
grows by a megabyte or more without any leak (collectd without our plugin grows as much). With one
arena RSS follows the heap. Leaks themselves are checked by heap accounting: valgrind in test_leaks.py,
LSan in the sanitized pass of `make test`."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import Collectd, StatsServer, full_run_only, wait_until  # noqa: E402

MODES = ['ok', 'refuse', 'hang', '404', '500', 'garbage', 'drip', 'truncated', 'truncated-short', 'big',
         'html', 'wrong-type', 'restart']
INTERVAL = 0.05
INTERVALS = 500
FIXTURE = 'stats-upstream-with-clients-M1.txt'


def vmrss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS for pid %d' % pid)


def instance_name(mode):
    return mode.replace('-', '_')


@full_run_only
class CollectdLongRun(unittest.TestCase):
    def test_every_mode_for_500_intervals(self):
        servers = [StatsServer(mode=m, fixture=FIXTURE) for m in MODES]
        try:
            for s in servers:
                s.start()
            # The stats-server faults are the subject: the /proc scan and the
            # socket dump (13 instances x 20 reads/s) would only measure the box's load.
            conf = ('CollectProcess false\nCollectSockets false\n' +
                    ''.join('<Instance "%s">\n  URL "%s"\n  Interval %s\n  Timeout "40ms"\n</Instance>\n'
                            % (instance_name(m), s.url, INTERVAL) for m, s in zip(MODES, servers)))
            with Collectd(conf, env=dict(os.environ, MALLOC_ARENA_MAX='1')) as cd:
                pid = cd.proc.pid
                up = {m: 'mtproxy-%s/gauge-up' % instance_name(m) for m in MODES}

                def reached(n):
                    return all(len(cd.csv_rows(up[m])) >= n for m in MODES)
                self.assertTrue(wait_until(lambda: reached(50), 30, 0.2), cd.log_text()[-3000:])
                rss_50 = vmrss_kib(pid)
                t50 = time.monotonic()
                counts_50 = {m: len(cd.csv_rows(up[m])) for m in MODES}
                # until every instance has read INTERVALS times (or, with a back-off, the deadline
                # passed): the checks below use the time it really took
                wait_until(lambda: reached(INTERVALS), 4 * INTERVALS * INTERVAL, 0.2)
                elapsed = time.monotonic() - t50
                rss_500 = vmrss_kib(pid)
                counts = {m: len(cd.csv_rows(up[m])) - counts_50[m] for m in MODES}
                self.assertTrue(cd.alive(), cd.log_text()[-3000:])
                values = {m: cd.getval(up[m])['value'] for m in MODES}
                log = cd.log_text()
        finally:
            for s in servers:
                s.stop()
        sys.stderr.write('\n  collectd VmRSS after 50 intervals %d KiB, after 500 %d KiB (%+d KiB); '
                         'reads per instance in %.1f s: %s\n'
                         % (rss_50, rss_500, rss_500 - rss_50, elapsed,
                            ' '.join('%s=%d' % (m, counts[m]) for m in MODES)))
        expected = elapsed / INTERVAL
        for m in MODES:
            # on schedule: no back-off. collectd's back-off doubles the wait after every failed read
            # (0.1 s, 0.2 s ... 12.8 s): about 10 reads in 22 s instead of 450. Half the schedule
            # tells the two apart even on a loaded host, where reads come late but come.
            self.assertGreaterEqual(counts[m], 0.5 * expected, (m, counts, expected))
        self.assertNotIn('read-function of the plugin', log)
        self.assertLess(rss_500 - rss_50, 1024, 'RSS grew from %d to %d KiB' % (rss_50, rss_500))
        self.assertEqual(values['ok'], 1.0)
        self.assertEqual(values['restart'], 1.0)
        # Transport failures are up=0; how the body checks judge the other modes is the core's business
        # (tests/integration/test_stats_server.py and the unit tests).
        for m in ('refuse', 'hang', '404', '500', 'drip', 'big'):
            self.assertEqual(values[m], 0.0, m)


if __name__ == '__main__':
    unittest.main()
