"""mtproxy-telegraf driven as Telegraf's execd does, its output written into a real influxd."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, Influxd, StatsServer  # noqa: E402
from execd import Execd, parse_fixture, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

FIXTURE = 'stats-upstream-with-clients-M1.txt'


def field(line, name):
    """Value of one field of a line-protocol line (None if absent)."""
    return parse_line(line)[2].get(name)


class TelegrafInflux(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.influx = Influxd().start()
        cls.fixture = parse_fixture(os.path.join(FIXTURES_DIR, FIXTURE))

    @classmethod
    def tearDownClass(cls):
        cls.influx.stop()

    def new_db(self, suffix=''):
        name = 'db_%s%s' % (self._testMethodName, suffix)
        self.influx.create_db(name)
        return name

    def write_all(self, db, lines):
        status, body = self.influx.write(db, '\n'.join(lines) + '\n')
        self.assertEqual(status, 204, 'influxd rejected our line protocol: %s' % body)

    def test_stdin_mode_values_and_types_in_influxd(self):
        db = self.new_db()
        with StatsServer(static=True, fixture=FIXTURE) as srv, Execd(['--url', srv.url, '--instance', 'fra1']) as ex:
            batches = [ex.tick() for _ in range(3)]
            rc, seconds, how = ex.close_stdin()
        self.assertEqual((rc, how), (0, 'eof'))
        self.assertLess(seconds, 1.0)
        lines = [l for b in batches for l in b]
        self.assertEqual(sum(1 for l in lines if l.startswith('mtproxy,')), 3)
        self.assertEqual(sum(1 for l in lines if l.startswith('mtproxy_stats,')), 3)
        self.write_all(db, lines)

        # the page's keys in their own measurement, health in mtproxy
        rows = self.influx.rows(db, 'mtproxy_stats')
        self.assertEqual(len(rows), 3)
        last = rows[-1]
        health = self.influx.rows(db, 'mtproxy')[-1]
        self.assertEqual(last['instance'], 'fra1')
        self.assertEqual(health['instance'], 'fra1')
        for key in ('total_special_connections', 'total_max_special_connections', 'http_queries',
                    'tot_forwarded_queries', 'total_ready_targets', 'vmrss_bytes', 'uptime'):
            self.assertEqual(last[key], int(self.fixture[key]), key)
        self.assertAlmostEqual(last['average_idle_percent'], float(self.fixture['average_idle_percent']))
        self.assertEqual(last['version'], self.fixture['version'])
        self.assertEqual(last['config_md5'], self.fixture['config_md5'])
        self.assertEqual(health['up'], 1)
        self.assertGreater(health['scrape_duration_seconds'], 0)
        self.assertEqual(last['total_accept_connections_failed_calls'], 0)
        self.assertEqual(last['tot_threads_io'], 16)

        types = self.influx.field_types(db, 'mtproxy_stats')
        self.assertEqual(types['http_queries'], 'integer')
        self.assertEqual(types['total_special_connections'], 'integer')
        self.assertEqual(types['tot_idle_time'], 'float')
        self.assertEqual(types['rpc_qps'], 'float')
        self.assertEqual(types['version'], 'string')
        types = self.influx.field_types(db, 'mtproxy')
        self.assertEqual(types['up'], 'integer')
        self.assertEqual(types['scrape_duration_seconds'], 'float')

    def test_counters_advance_between_gathers(self):
        with StatsServer(fixture=FIXTURE) as srv, Execd(['--url', srv.url]) as ex:
            # the stats server's counters grow with each request it answers, not with time
            first = [l for l in ex.tick() if l.startswith('mtproxy_stats,')][0]
            second = [l for l in ex.tick() if l.startswith('mtproxy_stats,')][0]
            ex.close_stdin()
        self.assertGreater(field(second, 'http_queries'), field(first, 'http_queries'))
        self.assertEqual(field(second, 'max_connections'), field(first, 'max_connections'))

    def check_down(self, srv_mode, reason_words, args=()):
        db = self.new_db(srv_mode)
        with StatsServer(mode=srv_mode, fixture=FIXTURE) as srv:
            started = time.monotonic()
            with Execd(['--url', srv.url, '--timeout', '500ms'] + list(args)) as ex:
                batches = [ex.tick() for _ in range(3)]
                rc, _, how = ex.close_stdin()
                errors = [l for l in ex.stderr_lines if l.startswith('E! ')]
            took = time.monotonic() - started
        self.assertEqual((rc, how), (0, 'eof'))
        lines = [l for b in batches for l in b]
        main = [l for l in lines if l.startswith('mtproxy,')]
        self.assertEqual(len(main), 3)
        for l in main:
            self.assertEqual(field(l, 'up'), 0)
        self.assertFalse([l for l in lines if l.startswith('mtproxy_stats,')])
        # the same failure three times is logged once, naming the URL and the reason
        self.assertEqual(len(errors), 1, ex.stderr_lines)
        self.assertIn(srv.url, errors[0])
        self.assertTrue(any(w in errors[0] for w in reason_words), errors[0])
        self.write_all(db, lines)
        rows = self.influx.rows(db, 'mtproxy')
        self.assertEqual([r['up'] for r in rows], [0, 0, 0])
        return took

    def test_server_refusing(self):
        self.check_down('refuse', ['Connection refused', "Couldn't connect"])

    def test_server_hanging_is_bounded_by_the_timeout(self):
        took = self.check_down('hang', ['timed out', 'Timeout'])
        self.assertLess(took, 3 * 0.5 + 3.0)

    def test_server_returning_garbage(self):
        self.check_down('garbage', ['not an MTProxy stats page'])

    def test_server_404_and_500(self):
        self.check_down('404', ['HTTP status 404'])
        self.check_down('500', ['HTTP status 500'])

    def test_body_over_the_cap(self):
        self.check_down('big', ['larger than'])

    def test_recovery_is_logged(self):
        with StatsServer(mode='refuse', fixture=FIXTURE) as srv, Execd(['--url', srv.url]) as ex:
            ex.tick()
            srv.set_mode('ok')
            batch = ex.tick()
            ex.close_stdin()
        self.assertEqual(field([l for l in batch if l.startswith('mtproxy,')][0], 'up'), 1)
        self.assertTrue(any(l.startswith('I! ') and 'recovered' in l for l in ex.stderr_lines), ex.stderr_lines)

    def test_once(self):
        with StatsServer(static=True, fixture=FIXTURE) as srv:
            rc, out, err = run_once(['--url', srv.url])
        self.assertEqual(rc, 0)
        self.assertEqual(len([l for l in out if l.startswith('mtproxy,')]), 1)
        page = [l for l in out if l.startswith('mtproxy_stats,')]
        self.assertEqual(len(page), 1)
        self.assertEqual(field(page[0], 'total_special_connections'), int(self.fixture['total_special_connections']))

    def test_sigterm_exits_cleanly(self):
        import signal
        with StatsServer(static=True, fixture=FIXTURE) as srv, Execd(['--url', srv.url]) as ex:
            ex.tick()
            ex.proc.send_signal(signal.SIGTERM)
            self.assertEqual(ex.proc.wait(2), 0)

    def test_bad_flags_exit_2_naming_the_flag(self):
        for args, word in ((['--bogus'], '--bogus'), (['--timeout', 'soon'], 'timeout'),
                           (['--url', 'ftp://x/'], '--url'), (['--max-body-size', '12'], '--max-body-size'),
                           (['--verify-peer=maybe'], '--verify-peer'), (['--timeout'], '--timeout')):
            rc, out, err = run_once(args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(out, [])
            self.assertTrue(err and err[0].startswith('E! ') and word in err[0], (args, err))


if __name__ == '__main__':
    unittest.main()
