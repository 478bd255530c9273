"""mtproxy-telegraf in every execd mode, driven as Telegraf drives it (tests/lib/execd.py): a newline
(STDIN) or a signal (SIGHUP, SIGUSR1, SIGUSR2) per interval, or its own --interval ("none"); at stop
stdin closed, SIGTERM after 5 s, SIGKILL after 5 more. Output into a real influxd; JSON parsed back
and checked against the fixture; the text view checked for the key numbers; EPIPE; no children."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, Influxd, StatsServer  # noqa: E402
from execd import BINARY, Execd, children_of, parse_fixture, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

FIXTURE = 'stats-upstream-with-clients-M1.txt'
MODES = ('STDIN', 'none', 'SIGHUP', 'SIGUSR1', 'SIGUSR2')
INTERVAL = 0.3  # --interval for "none"


def mode_args(mode):
    return ['--interval', '%dms' % (INTERVAL * 1000)] if mode == 'none' else []


def main_lines(lines):
    return [l for l in lines if l.startswith('mtproxy,')]


class TelegrafModes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.influx = Influxd().start()
        cls.fixture = parse_fixture(os.path.join(FIXTURES_DIR, FIXTURE))
        cls.srv = StatsServer(static=True, fixture=FIXTURE).start()
        cls.eof_latencies = {}

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.influx.stop()
        if cls.eof_latencies:
            sys.stdout.write('\n    exit latency after stdin EOF: %s\n' % ', '.join(
                '%s %.0f ms' % (m, s * 1000) for m, s in sorted(cls.eof_latencies.items())))

    def run_mode(self, mode, fmt='influx', gathers=3, extra=()):
        """Runs the binary in one mode for some gathers and stops it as Telegraf does.
        Returns (batches, rc, seconds to exit, how it ended, stderr lines)."""
        with Execd(['--url', self.srv.url, '--instance', 'm_' + mode] + mode_args(mode) + list(extra),
                   signal=mode, fmt=fmt) as ex:
            batches = []
            for _ in range(gathers):
                batches.append(ex.next_gather() if mode == 'none' else ex.tick())
            self.assertEqual(children_of(ex.proc.pid), [], 'the program started children')
            pid = ex.proc.pid
            rc, seconds, how = ex.close_stdin()
            self.assertEqual(children_of(pid), [])
            return batches, rc, seconds, how, list(ex.stderr_lines)

    def test_every_mode_gathers_output_accepted_by_influxd_and_exits_on_eof(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                batches, rc, seconds, how, err = self.run_mode(mode)
                self.assertEqual((rc, how), (0, 'eof'), err)
                self.assertLess(seconds, 1.0)
                self.eof_latencies[mode] = seconds
                lines = [l for b in batches for l in b]
                self.assertEqual(len(main_lines(lines)), 3)
                # one timestamp per batch, distinct between batches
                stamps = [{parse_line(l)[3] for l in b} for b in batches]
                self.assertTrue(all(len(s) == 1 for s in stamps), stamps)
                self.assertEqual(len({min(s) for s in stamps}), 3)
                db = 'modes_' + mode
                self.influx.create_db(db)
                status, body = self.influx.write(db, '\n'.join(lines) + '\n')
                self.assertEqual(status, 204, body)
                rows = self.influx.rows(db, 'mtproxy_stats')
                self.assertEqual(len(rows), 3)
                self.assertEqual(rows[-1]['instance'], 'm_' + mode)
                self.assertEqual(rows[-1]['total_special_connections'],
                                 int(self.fixture['total_special_connections']))
                self.assertFalse([l for l in err if l[:3] not in ('E! ', 'W! ', 'I! ', 'D! ')], err)

    def test_none_mode_keeps_its_own_schedule(self):
        with Execd(['--url', self.srv.url] + mode_args('none'), signal='none') as ex:
            ex.next_gather()
            started = time.monotonic()
            for _ in range(4):
                ex.next_gather()
            took = time.monotonic() - started
            rc, seconds, how = ex.close_stdin()
        self.assertAlmostEqual(took / 4, INTERVAL, delta=0.1)
        self.assertEqual((rc, how), (0, 'eof'))
        self.assertLess(seconds, 1.0)

    def test_signals_gather_in_any_mode(self):
        # a newline-driven run also answers SIGUSR1/SIGHUP, an interval run SIGUSR2
        with Execd(['--url', self.srv.url], signal='STDIN') as ex:
            ex.wait_handlers()
            ex.tick()
            ex.signal = 'SIGUSR1'
            ex.tick()
            ex.signal = 'SIGHUP'
            ex.tick()
            self.assertEqual(ex.gathers(), 3)
            self.assertEqual(ex.close_stdin()[:3:2], (0, 'eof'))
        with Execd(['--url', self.srv.url, '--interval', '1h'], signal='none') as ex:
            ex.next_gather()  # the first gather comes at once
            ex.wait_handlers()
            ex.signal = 'SIGUSR2'
            ex.tick()
            self.assertEqual(ex.gathers(), 2)
            self.assertEqual(ex.close_stdin()[:3:2], (0, 'eof'))

    def test_sigterm_and_sigint_exit_cleanly_in_every_mode(self):
        for mode in MODES:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with self.subTest(mode=mode, sig=sig):
                    with Execd(['--url', self.srv.url] + mode_args(mode), signal=mode) as ex:
                        ex.next_gather() if mode == 'none' else ex.tick()
                        started = time.monotonic()
                        ex.proc.send_signal(sig)
                        self.assertEqual(ex.proc.wait(2), 0)
                        self.assertLess(time.monotonic() - started, 1.0)

    def test_epipe_on_stdout_exits_with_one_error(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                argv = [BINARY, '--url', self.srv.url] + mode_args(mode)
                p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    p.stdout.close()  # the reader is gone
                    if mode in ('SIGHUP', 'SIGUSR1', 'SIGUSR2'):
                        ex = Execd([])
                        ex.proc = p
                        ex.wait_handlers()
                        p.send_signal(getattr(signal, mode))
                    elif mode == 'STDIN':
                        p.stdin.write(b'\n')
                        p.stdin.flush()
                    rc = p.wait(5)
                    err = p.stderr.read().decode().splitlines()
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                    p.stdin.close()
                    p.stderr.close()
                self.assertNotEqual(rc, 0)
                self.assertGreater(rc, 0, 'killed by a signal, not a clean exit')
                errors = [l for l in err if l.startswith('E! ')]
                self.assertEqual(len(errors), 1, err)
                self.assertIn('Broken pipe', errors[0])

    def check_json(self, doc, instance='main'):
        self.assertEqual(doc['instance'], instance)
        self.assertIsInstance(doc['timestamp_ns'], int)
        self.assertGreater(doc['timestamp_ns'], 1.6e18)
        by_name = {(m['measurement'], m['name']): m for m in doc['metrics'] if not m['labels']}
        for key in ('total_special_connections', 'total_max_special_connections', 'http_queries', 'vmrss_bytes',
                    'uptime', 'max_connections'):
            m = by_name[('mtproxy_stats', key)]
            self.assertEqual(m['value'], int(self.fixture[key]), key)
            self.assertEqual(m['type'], 'integer')
        self.assertAlmostEqual(by_name[('mtproxy_stats', 'average_idle_percent')]['value'],
                               float(self.fixture['average_idle_percent']))
        self.assertEqual(by_name[('mtproxy_stats', 'version')]['value'], self.fixture['version'])
        self.assertEqual(by_name[('mtproxy_stats', 'version')]['kind'], 'text')
        self.assertEqual(by_name[('mtproxy_stats', 'http_queries')]['kind'], 'counter')
        self.assertEqual(by_name[('mtproxy', 'up')]['value'], 1)
        for m in doc['metrics']:
            self.assertEqual(set(m), {'measurement', 'name', 'kind', 'type', 'value', 'labels'})
            self.assertIn(m['measurement'], ('mtproxy', 'mtproxy_stats', 'mtproxy_summary', 'mtproxy_process', 'mtproxy_connections',
                                              'mtproxy_country'))

    def test_json_once_matches_the_fixture_and_the_line_protocol(self):
        rc, out, err = run_once(['--url', self.srv.url, '--format', 'json'])
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out), 1)
        doc = json.loads(out[0])
        self.check_json(doc)
        rc, lp, err = run_once(['--url', self.srv.url])
        for measurement in ('mtproxy', 'mtproxy_stats'):
            fields = parse_line([l for l in lp if l.startswith(measurement + ',')][0])[2]
            names = {m['name'] for m in doc['metrics'] if m['measurement'] == measurement}
            self.assertEqual(names, set(fields), measurement)

    def test_json_in_every_mode(self):
        for mode in MODES:
            with self.subTest(mode=mode):
                batches, rc, _, how, err = self.run_mode(mode, fmt='json', gathers=2)
                self.assertEqual((rc, how), (0, 'eof'))
                docs = [json.loads(l) for b in batches for l in b]
                self.assertEqual(len(docs), 2)
                for d in docs:
                    self.check_json(d, 'm_' + mode)

    def check_text(self, out):
        text = '\n'.join(out)
        for line in out:
            self.assertLessEqual(len(line), 80, line)
        f = self.fixture
        for key in ('total_special_connections', 'total_max_special_connections', 'vmrss_bytes', 'tcp_readv_bytes',
                    'tcp_writev_bytes', 'uptime'):
            self.assertIn(f[key], text, key)
        self.assertIn('UP', out[0])
        for label in ('clients', 'traffic', 'cpu', 'memory'):
            self.assertTrue(any(l.startswith(label) for l in out), label)

    def test_text_once_has_the_key_numbers_in_80_columns(self):
        rc, out, err = run_once(['--url', self.srv.url, '--format', 'text'])
        self.assertEqual(rc, 0, err)
        self.check_text([l for l in out if l])
        sys.stdout.write('\n' + '\n'.join('    | ' + l for l in out) + '\n')

    def test_text_in_stdin_mode_and_when_down(self):
        batches, rc, _, how, _ = self.run_mode('STDIN', fmt='text', gathers=2)
        self.assertEqual((rc, how), (0, 'eof'))
        self.check_text([l for l in batches[-1] if l])
        with StatsServer(mode='refuse', fixture=FIXTURE) as down:
            rc, out, err = run_once(['--url', down.url, '--format', 'text'])
        self.assertEqual(rc, 0)
        self.assertIn('DOWN', out[0])

    def test_help_version_and_bad_values(self):
        r = subprocess.run([BINARY, '--help'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for flag in ('--format', '--interval', '--once', '--instance', '--url', '--version'):
            self.assertIn(flag, r.stdout)
        self.assertIn('default: influx', r.stdout)
        r = subprocess.run([BINARY, '--version'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r'^mtproxy-telegraf \d')
        for args, word in ((['--format', 'xml'], '--format'), (['--interval', '0'], '--interval'),
                           (['--interval', 'soon'], '--interval'), (['--interval'], '--interval')):
            rc, out, err = run_once(args)
            self.assertEqual(rc, 2, args)
            self.assertTrue(err and err[0].startswith('E! ') and word in err[0], (args, err))


if __name__ == '__main__':
    unittest.main()
