"""build/mtproxy.so loaded into the real collectd: values read back through unixsock and csv."""
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, ROOT_DIR, Collectd, StatsServer, collectd_check_config, wait_until  # noqa: E402
from execd import parse_fixture  # noqa: E402

FIXTURE_A = 'stats-upstream-with-clients-M1.txt'
FIXTURE_B = 'stats-with-clients-M2.txt'


def instance_block(name, url, extra=''):
    return '<Instance "%s">\n  URL "%s"\n  Timeout "500ms"\n%s</Instance>\n' % (name, url, extra)


class CollectdPlugin(unittest.TestCase):
    def test_two_instances_report_the_fixture_numbers(self):
        fa = parse_fixture(os.path.join(FIXTURES_DIR, FIXTURE_A))
        fb = parse_fixture(os.path.join(FIXTURES_DIR, FIXTURE_B))
        with StatsServer(static=True, fixture=FIXTURE_A) as a, StatsServer(static=True, fixture=FIXTURE_B) as b:
            conf = instance_block('fra1', a.url) + instance_block('ams2', b.url)
            with Collectd(conf) as cd:
                for inst, fx in (('fra1', fa), ('ams2', fb)):
                    self.assertEqual(cd.wait_for('mtproxy-%s/gauge-up' % inst)['value'], 1.0)
                    for key in ('total_special_connections', 'total_max_special_connections', 'workers',
                                'total_ready_targets', 'vmrss_bytes', 'max_connections'):
                        got = cd.wait_for('mtproxy-%s/gauge-stats-%s' % (inst, key))['value']
                        self.assertEqual(got, float(fx[key]), (inst, key))
                    self.assertAlmostEqual(cd.getval('mtproxy-%s/gauge-stats-average_idle_percent' % inst)['value'],
                                           float(fx['average_idle_percent']))
                # counters are DERIVE; the csv (StoreRates false) keeps the raw value
                self.assertTrue(wait_until(lambda: cd.csv_rows('mtproxy-fra1/derive-stats-tot_forwarded_queries')
                                           and cd.csv_rows('mtproxy-ams2/derive-stats-http_queries'), 10))
                rows = cd.csv_rows('mtproxy-fra1/derive-stats-tot_forwarded_queries')
                self.assertTrue(rows, cd.listval())
                self.assertEqual(rows[-1]['value'], float(fa['tot_forwarded_queries']))
                self.assertEqual(cd.csv_rows('mtproxy-ams2/derive-stats-http_queries')[-1]['value'],
                                 float(fb['http_queries']))
                self.assertIsNotNone(cd.getval('mtproxy-fra1/derive-stats-total_accept_connections_failed_calls'))
                self.assertIsNotNone(cd.getval('mtproxy-fra1/gauge-stats-tot_threads_io'))
                self.assertIsNotNone(cd.getval('mtproxy-fra1/gauge-scrape_duration_seconds'))
                # text keys are not values in collectd
                self.assertIsNone(cd.getval('mtproxy-fra1/gauge-stats-version'))
                self.assertNotIn('ERROR', cd.log_text())

    def test_no_plugin_block_means_instance_main_on_the_default_url(self):
        with Collectd(None) as cd:
            v = cd.wait_for('mtproxy-main/gauge-up')
            self.assertIn(v['value'], (0.0, 1.0))

    def read_while_failing(self, mode, words, intervals=4):
        with StatsServer(mode='ok', fixture=FIXTURE_A) as srv:
            with Collectd(instance_block('main', srv.url)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1.0)
                srv.set_mode(mode)
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 0.0)
                before = len(cd.csv_rows('mtproxy-main/gauge-up'))
                # still read on schedule: no back-off of the read callback. collectd's back-off waits
                # 2, 4, 8 s after failures (3 reads in 2 * intervals + 1 s); on schedule it is one a second.
                self.assertTrue(wait_until(lambda: len(cd.csv_rows('mtproxy-main/gauge-up')) - before >= intervals,
                                           2 * intervals + 1, 0.1), cd.csv_rows('mtproxy-main/gauge-up'))
                self.assertTrue(cd.alive())
                log = cd.log_text()
                errors = [l for l in log.splitlines() if 'cannot read stats' in l]
                self.assertEqual(len(errors), 1, log)
                self.assertTrue(any(w in errors[0] for w in words), errors[0])
                self.assertIn(srv.url, errors[0])
                self.assertIn('instance "main"', errors[0])
                self.assertIn('severity = FAILURE', log)
                self.assertNotIn('read-function of the plugin', log)  # collectd's back-off message
                srv.set_mode('ok')
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 1.0)
                self.assertTrue(wait_until(lambda: 'is up again' in cd.log_text(), 10))
                log = cd.log_text()
                self.assertIn('is up again', log)
                self.assertIn('recovered', log)

    def test_server_down(self):
        self.read_while_failing('refuse', ['Connection refused', "Couldn't connect"])

    def test_server_hanging(self):
        self.read_while_failing('hang', ['timed out'])

    def test_server_garbage(self):
        self.read_while_failing('garbage', ['not an MTProxy stats page'])

    def test_restart_and_reload_notifications(self):
        # Two captures of different proxy runs served one after the other on one port.
        fa = parse_fixture(os.path.join(FIXTURES_DIR, 'stats-upstream-idle-M1.txt'))
        fb = parse_fixture(os.path.join(FIXTURES_DIR, 'stats-idle-M1.txt'))
        self.assertNotEqual(fa['start_time'], fb['start_time'])
        restarted = 'restarted (start_time %s -> %s)' % (fa['start_time'], fb['start_time'])
        with StatsServer(static=True, fixture='stats-upstream-idle-M1.txt') as srv:
            with Collectd(instance_block('main', srv.url)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1.0)
                with srv.successor(static=True, fixture='stats-idle-M1.txt'):
                    self.assertTrue(wait_until(lambda: restarted in cd.log_text(), 10), cd.log_text())
                    cd.wait_reads('mtproxy-main/gauge-up', 2)   # two more reads of the same run: no second notification
                    log = cd.log_text()
        self.assertEqual(log.count(restarted), 1, log)
        self.assertIn('severity = WARNING', log)
        if fa['config_md5'] != fb['config_md5']:
            self.assertEqual(log.count('configuration reloaded'), 1, log)

    @staticmethod
    def notifications(log, severity, type_instance, instance='main'):
        return [l for l in log.splitlines() if 'Notification: severity = %s,' % severity in l
                and 'plugin = mtproxy, plugin_instance = %s,' % instance in l
                and 'type_instance = %s,' % type_instance in l]

    def test_down_up_down_notifies_once_per_transition(self):
        # Timeout well above what a loaded host needs for a loopback page: a slow read of an 'ok'
        # page would be a real (if unwanted) down/up pair of notifications
        fast = '  Interval 0.5\n  Timeout 400\n'
        with StatsServer(static=True, fixture=FIXTURE_A) as srv, \
                StatsServer(static=True, fixture=FIXTURE_B) as other:
            conf = ('<Instance "main">\n  URL "%s"\n%s</Instance>\n' % (srv.url, fast)
                    + '<Instance "other">\n  URL "%s"\n%s</Instance>\n' % (other.url, fast))
            with Collectd(conf) as cd:
                up = lambda want: (lambda v: v['value'] == want)  # noqa: E731
                cd.wait_for('mtproxy-main/gauge-up', pred=up(1.0))
                for mode, want in (('refuse', 0.0), ('ok', 1.0), ('refuse', 0.0)):
                    srv.set_mode(mode)
                    cd.wait_for('mtproxy-main/gauge-up', pred=up(want))
                    # three more reads in the same state (polled): no repeated notification
                    seen = len(cd.csv_rows('mtproxy-main/gauge-up'))
                    self.assertTrue(wait_until(lambda: len(cd.csv_rows('mtproxy-main/gauge-up')) >= seen + 3,
                                               15, 0.1))
                log = cd.log_text()
        failures = self.notifications(log, 'FAILURE', 'up')
        self.assertEqual(len(failures), 2, log)
        self.assertTrue(all('MTProxy "main" is down: %s' % srv.url in l for l in failures), failures)
        okays = self.notifications(log, 'OKAY', 'up')
        self.assertEqual(len(okays), 1, log)
        self.assertIn('MTProxy "main" is up again', okays[0])
        # the other instance never changed state and never notified (but for naming its
        # implementation once, at its first page)
        other = [l for l in log.splitlines() if 'plugin_instance = other,' in l and 'Notification' in l]
        self.assertEqual(len(other), 1, other)
        self.assertIn('type_instance = implementation,', other[0])

    def test_reload_notification(self):
        # The same proxy run (pid, start_time) with another config_md5: a reload, not a restart.
        tmp = tempfile.mkdtemp(prefix='mm-reload-')
        try:
            text = open(os.path.join(FIXTURES_DIR, FIXTURE_A)).read()
            old_md5 = re.search(r'^config_md5\t(\S+)$', text, re.M).group(1)
            new_md5 = '0123456789abcdef0123456789abcdef'
            reloaded = os.path.join(tmp, 'reloaded.txt')
            with open(reloaded, 'w') as f:
                f.write(text.replace(old_md5, new_md5))
            with StatsServer(static=True, fixture=FIXTURE_A) as srv:
                with Collectd(instance_block('edge', srv.url)) as cd:
                    cd.wait_for('mtproxy-edge/gauge-up', pred=lambda v: v['value'] == 1.0)
                    with srv.successor(static=True, fixture=reloaded):
                        msg = 'configuration reloaded (config_md5 %s -> %s)' % (old_md5, new_md5)
                        self.assertTrue(wait_until(lambda: msg in cd.log_text(), 10), cd.log_text())
                        cd.wait_reads('mtproxy-edge/gauge-up', 2)   # two more reads of the new configuration
                        log = cd.log_text()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        reloads = self.notifications(log, 'OKAY', 'config_md5', 'edge')
        self.assertEqual(len(reloads), 1, log)
        self.assertIn('MTProxy "edge" configuration reloaded', reloads[0])
        self.assertEqual(self.notifications(log, 'WARNING', 'start_time', 'edge'), [], log)

    def test_restart_mode_notifies_once_per_restart(self):
        with StatsServer(mode='ok', fixture=FIXTURE_A) as srv:
            conf = '<Instance "main">\n  URL "%s"\n  Interval 0.25\n  Timeout 200\n</Instance>\n' % srv.url
            with Collectd(conf) as cd:
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1.0)
                for n in (1, 2):
                    srv.set_mode('restart')
                    self.assertTrue(wait_until(
                        lambda: len(self.notifications(cd.log_text(), 'WARNING', 'start_time')) >= n, 5),
                        cd.log_text())
                    # more reads in restart mode, then in ok mode (polled): one notification per restart
                    for mode in ('restart', 'ok'):
                        srv.set_mode(mode)
                        seen = len(cd.csv_rows('mtproxy-main/gauge-up'))
                        self.assertTrue(wait_until(lambda: len(cd.csv_rows('mtproxy-main/gauge-up')) >= seen + 3,
                                                   15, 0.05))
                log = cd.log_text()
        restarts = self.notifications(log, 'WARNING', 'start_time')
        self.assertEqual(len(restarts), 2, log)
        self.assertTrue(all('MTProxy "main" restarted (start_time' in l for l in restarts), restarts)

    def test_hanging_instance_does_not_delay_another(self):
        # Two instances hang for their whole Timeout (2 s of every 3 s) on collectd's read threads;
        # the third keeps its 1 s schedule.
        with StatsServer(mode='hang', fixture=FIXTURE_A) as slow, \
                StatsServer(static=True, fixture=FIXTURE_B) as ok:
            slow_conf = '  Interval 3\n  Timeout "2s"\n'
            conf = ('<Instance "slow1">\n  URL "%s"\n%s</Instance>\n' % (slow.url, slow_conf)
                    + '<Instance "slow2">\n  URL "%s"\n%s</Instance>\n' % (slow.url, slow_conf)
                    + instance_block('fast', ok.url))
            with Collectd(conf) as cd:
                cd.wait_for('mtproxy-fast/gauge-up')
                cd.wait_for('mtproxy-slow1/gauge-up', pred=lambda v: v['value'] == 0.0)
                start = time.time()

                def since(name):
                    return [r for r in cd.csv_rows('mtproxy-%s/gauge-up' % name) if r['epoch'] >= start]
                # a window of 6 fast reads and 2 slow ones, polled (a loaded host only makes it longer)
                wait_until(lambda: len(since('fast')) >= 7 and len(since('slow2')) >= 2, 20, 0.1)
                rows, slow_rows = since('fast'), since('slow2')
                log = cd.log_text()
        self.assertGreaterEqual(len(rows), 6, rows)
        gaps = [b['epoch'] - a['epoch'] for a, b in zip(rows, rows[1:])]
        # a read waiting for a hanging one would come 2 s (the Timeout) late; a loaded host adds less
        self.assertLess(max(gaps), 1.8, gaps)
        self.assertTrue(all(r['value'] == 1.0 for r in rows), rows)
        self.assertGreaterEqual(len(slow_rows), 2, log)
        self.assertTrue(all(r['value'] == 0.0 for r in slow_rows), slow_rows)
        self.assertIn('timed out', log)


class CollectdConfigErrors(unittest.TestCase):
    def refused(self, conf, *words):
        rc, log = collectd_check_config(conf)
        self.assertNotEqual(rc, 0, log)
        line = [l for l in log.splitlines() if 'mtproxy plugin' in l]
        self.assertTrue(line, log)
        for w in words:
            self.assertIn(w, '\n'.join(line))

    def test_unknown_option(self):
        self.refused('<Instance "x">\n  Bogus 1\n</Instance>', 'instance "x"', 'option "Bogus"', 'unknown option')

    def test_wrong_type(self):
        self.refused('<Instance "x">\n  URL 5\n</Instance>', 'instance "x"', 'option "URL"', 'string')
        self.refused('<Instance "x">\n  Timeout "soon"\n</Instance>', 'option "Timeout"', 'duration')

    def test_bad_url_scheme(self):
        self.refused('<Instance "x">\n  URL "file:///etc/passwd"\n</Instance>', 'instance "x"', 'URL')

    def test_duplicate_instance(self):
        self.refused('<Instance "x">\n</Instance>\n<Instance "x">\n</Instance>', 'instance "x"', 'defined twice')

    def test_out_of_range(self):
        self.refused('<Instance "x">\n  MaxBodySize 10\n</Instance>', 'option "MaxBodySize"',
                     '10 is out of range 1024..16777216')

    def test_wrong_type_for_every_option_in_the_table(self):
        # Every row of the core option table (shared with mtproxy-telegraf), one wrong value per type.
        table = open(os.path.join(ROOT_DIR, 'common', 'gather', 'config_options.c')).read()
        rows = re.findall(r'\{\s*"([A-Za-z]+)",\s*"[a-z0-9-]+",\s*(MM_OPT_[A-Z]+),', table)
        self.assertGreaterEqual(len(rows), 10, 'option table not found')
        wrong = {'MM_OPT_STRING': ('5', 'string'), 'MM_OPT_DURATION': ('"soon"', 'not a duration'),
                 'MM_OPT_BOOL': ('"maybe"', 'true or false'), 'MM_OPT_INT': ('"lots"', 'whole number')}
        for name, type_ in rows:
            value, word = wrong[type_]
            with self.subTest(option=name):
                self.refused('<Instance "x">\n  %s %s\n</Instance>' % (name, value),
                             'instance "x"', 'option "%s"' % name, word)
        # and as a <Plugin>-level default
        self.refused('VerifyPeer "maybe"\n<Instance "x">\n</Instance>', '(defaults)', 'option "VerifyPeer"')
        self.refused('<Instance "x">\n  Interval "often"\n</Instance>', 'option "Interval"', 'a number of seconds')
        self.refused('<Instance "x">\n  URL "http://a/" "http://b/"\n</Instance>', 'option "URL"',
                     'exactly one argument')

    def test_option_given_twice(self):
        self.refused('<Instance "x">\n  Timeout 1\n  timeout 2\n</Instance>', 'instance "x"',
                     'option "timeout"', 'twice')
        self.refused('Interval 2\nInterval 3\n<Instance "x">\n</Instance>', '(defaults)', 'option "Interval"',
                     'twice')
        # a default overridden inside an <Instance> is not a repetition
        rc, log = collectd_check_config('Timeout 500\n<Instance "x">\n  Timeout 300\n</Instance>')
        self.assertEqual(rc, 0, log)

    def test_instance_without_name(self):
        # (collectd's parser drops an empty block without arguments, so give it an option)
        self.refused('<Instance>\n  Timeout 1\n</Instance>', '<Instance> needs one name')
        # one rule for both fronts (gather/instance_name.c): "" means main, a space is refused
        rc, log = collectd_check_config('<Instance "">\n</Instance>')
        self.assertEqual(rc, 0, log)
        self.refused('<Instance "a b">\n</Instance>', 'invalid instance name')
        self.refused('<Instance 5>\n</Instance>', '<Instance> needs one name')

    def test_option_as_block(self):
        self.refused('<Instance "x">\n  <URL "a">\n    Foo 1\n  </URL>\n</Instance>', 'option "URL"', 'not a block')

    def test_timeout_not_below_interval_is_lowered(self):
        rc, log = collectd_check_config('<Instance "x">\n  Interval 2\n  Timeout "5s"\n</Instance>')
        self.assertEqual(rc, 0, log)
        self.assertIn('instance "x": Timeout 5s is not below the interval 2s; using 1.6s', log)
        # a bare number is milliseconds (collectd's curl/apache convention): 1500 is below 2 s
        rc, log = collectd_check_config('<Instance "y">\n  Interval 2\n  Timeout 1500\n</Instance>')
        self.assertEqual(rc, 0, log)
        self.assertNotIn('not below the interval', log)

    def test_valid_config_starts(self):
        rc, log = collectd_check_config('URL "http://127.0.0.1:1/stats"\n<Instance "a">\n</Instance>\n'
                                        '<Instance "b">\n  Interval 2\n</Instance>')
        self.assertEqual(rc, 0, log)


if __name__ == '__main__':
    unittest.main()
