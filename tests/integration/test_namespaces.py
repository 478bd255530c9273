"""A page whose keys are named like our health values (up, scrape_errors, scrape_duration_seconds: other
implementations add such keys), and a key unknown to this version that goes from 1 to 1.5 between two
gathers: every line of both gathers is accepted by a real influxd, and collectd's gauge-up stays the
health value (the real daemon), the page's keys under stats-<key>."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, Collectd, Influxd, StatsServer, wait_until  # noqa: E402
from execd import Execd  # noqa: E402
from lineproto import parse_line  # noqa: E402

BASE = 'stats-upstream-with-clients-M1.txt'


def write_pages(tmp):
    """Two pages of one proxy run: the real capture plus colliding keys, and new_gauge 1 then 1.5."""
    base = open(os.path.join(FIXTURES_DIR, BASE)).read()
    paths = []
    for i, value in enumerate(('1', '1.5')):
        path = os.path.join(tmp, 'page%d.txt' % i)
        with open(path, 'w') as f:
            f.write(base + 'up\t0\nscrape_errors\t7\nscrape_duration_seconds\t9.5\nnew_gauge\t%s\n' % value)
        paths.append(path)
    return paths


class Namespaces(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mm-ns-')
        self.pages = write_pages(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_influxd_accepts_every_line(self):
        with Influxd() as influx:
            influx.create_db('ns')
            lines = []
            with StatsServer(static=True, fixture=self.pages[0]) as srv, \
                    Execd(['--url', srv.url, '--collect-process=false', '--collect-sockets=false']) as ex:
                first = ex.tick()
                with srv.successor(static=True, fixture=self.pages[1]):
                    second = ex.tick()
                ex.close_stdin()
            for batch in (first, second):
                # each gather written on its own, as Telegraf flushes them
                status, body = influx.write('ns', '\n'.join(batch) + '\n')
                self.assertEqual(status, 204, 'influxd rejected: %s\n%s' % (body, '\n'.join(batch)))
                lines += batch
            health = [parse_line(l)[2] for l in lines if l.startswith('mtproxy,')]
            page = [parse_line(l)[2] for l in lines if l.startswith('mtproxy_stats,')]
            self.assertEqual([h['up'] for h in health], [1, 1])
            self.assertEqual([h['scrape_errors'] for h in health], [0, 0])
            self.assertTrue(all(h['scrape_duration_seconds'] < 9 for h in health), health)
            self.assertEqual([p['up'] for p in page], [0.0, 0.0])
            self.assertEqual([p['scrape_errors'] for p in page], [7.0, 7.0])
            self.assertEqual([p['new_gauge'] for p in page], [1.0, 1.5])
            # what influxd stored, with the types it fixed at the first point
            self.assertEqual([r['up'] for r in influx.rows('ns', 'mtproxy')], [1, 1])
            self.assertEqual([r['up'] for r in influx.rows('ns', 'mtproxy_stats')], [0, 0])
            self.assertEqual([r['new_gauge'] for r in influx.rows('ns', 'mtproxy_stats')], [1, 1.5])
            types = influx.field_types('ns', 'mtproxy_stats')
            self.assertEqual((types['new_gauge'], types['up']), ('float', 'float'))
            self.assertEqual(types['total_special_connections'], 'integer')
            self.assertEqual(influx.field_types('ns', 'mtproxy')['up'], 'integer')

    def test_collectd_up_is_the_health_value(self):
        with StatsServer(static=True, fixture=self.pages[0]) as srv:
            conf = ('<Instance "main">\n  URL "%s"\n  Interval 0.25\n  Timeout "200ms"\n  CollectProcess false\n'
                    '  CollectSockets false\n</Instance>\n' % srv.url)
            with Collectd(conf) as cd:
                cd.wait_for('mtproxy-main/gauge-stats-up')
                rows = cd.wait_reads('mtproxy-main/gauge-up', 4)
                self.assertTrue(all(r['value'] == 1.0 for r in rows), rows)  # never the page's 0
                self.assertEqual(cd.getval('mtproxy-main/gauge-stats-up')['value'], 0.0)
                self.assertEqual(cd.getval('mtproxy-main/gauge-stats-scrape_errors')['value'], 7.0)
                self.assertEqual(cd.getval('mtproxy-main/gauge-stats-scrape_duration_seconds')['value'], 9.5)
                self.assertLess(cd.getval('mtproxy-main/gauge-scrape_duration_seconds')['value'], 9)
                self.assertEqual(cd.csv_rows('mtproxy-main/derive-scrape_errors')[-1]['value'], 0.0)
                with srv.successor(static=True, fixture=self.pages[1]):
                    self.assertTrue(wait_until(
                        lambda: (cd.getval('mtproxy-main/gauge-stats-new_gauge') or {}).get('value') == 1.5, 10))
                log = cd.log_text()
        # two values of one identifier per read would make collectd log this every read; one line is
        # possible without us when the host's wall clock steps back between two reads
        too_old = [l for l in log.splitlines() if 'Value too old' in l and '/mtproxy-main/gauge-up;' in l]
        self.assertLessEqual(len(too_old), 1, too_old)
        self.assertNotIn('ERROR', log)


if __name__ == '__main__':
    unittest.main()
