"""One option table, two fronts: the same value is accepted by both or refused by both with the same
reason -- the real collectd refusing its config (non-zero exit, the reason in its log) and
mtproxy-telegraf exiting 2 with an E! line. Also collectd's Timeout convention (a bare number is
milliseconds, as in its curl and apache plugins), checked end to end against a stats server that
never answers."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import COLLECTD, TYPES_DB, Collectd, StatsServer, collectd_check_config, plugin_path  # noqa: E402
from execd import run_once  # noqa: E402

# (collectd option line, mtproxy-telegraf flags, reason both must give, or None = accepted)
CASES = [
    ('Timeout "2h"', ['--timeout', '2h'], '2h is out of range 1ms..1h'),
    ('Timeout "1h"', ['--timeout', '1h'], None),
    ('ConnectTimeout "90m"', ['--connect-timeout', '90m'], '90m is out of range 1ms..1h'),
    ('PidFile ""', ['--pidfile', ''], 'expects a non-empty string'),
    ('CACert ""', ['--ca-cert', ''], 'expects a non-empty string'),
    ('ProcessMatch ""', ['--process-match', ''], 'expects a non-empty string'),
    ('GeoIPDatabase ""', ['--geoip', ''], 'expects a non-empty string'),
    ('ProcessName "abcdefghijklmnop"', ['--process-name', 'abcdefghijklmnop'], 'expects 1 to 15 characters, got 16'),
    ('ProcessName "abcdefghijklmno"', ['--process-name', 'abcdefghijklmno'], None),
    ('MaxBodySize 1023', ['--max-body-size', '1023'], '1023 is out of range 1024..16777216'),
    ('MaxBodySize "1e6"', ['--max-body-size', '1e6'], "'1e6' is not a whole number"),
    ('ClientPort 65536', ['--client-port', '65536'], '65536 is out of range 1..65535'),
    ('MaxCountries 513', ['--max-countries', '513'], '513 is out of range 0..512'),
    ('IgnoreNetwork "10.0.0.0/33"', ['--ignore-network', '10.0.0.0/33'],
     "'10.0.0.0/33': the prefix length after '/': 33 is out of range 0..32"),
]


def collectd_reason(log, key):
    m = re.search(r'option "%s": (.*)' % key, log)
    return m.group(1).strip() if m else None


def telegraf_reason(stderr, flag):
    for line in stderr:
        m = re.match(r"E! mtproxy-telegraf: invalid value '.*' for %s: (.*)" % re.escape(flag), line)
        if m:
            return m.group(1)
    return None


class BothFrontsAgree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = StatsServer(static=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_same_verdict_and_reason_in_both_fronts(self):
        base_flags = ['--url', self.srv.url, '--collect-process=false', '--collect-sockets=false']
        for conf_line, flags, reason in CASES:
            key = conf_line.split()[0]
            with self.subTest(option=conf_line):
                rc, log = collectd_check_config('<Instance "x">\n  URL "%s"\n  %s\n</Instance>'
                                                % (self.srv.url, conf_line))
                trc, out, err = run_once(base_flags + flags, timeout=30)
                if reason is None:
                    self.assertEqual(rc, 0, log)
                    self.assertEqual(trc, 0, err)
                    self.assertTrue(any(l.startswith('mtproxy,') for l in out), out)
                    continue
                self.assertNotEqual(rc, 0, log)
                self.assertEqual(collectd_reason(log, key), reason, log)
                self.assertEqual(trc, 2, err)
                self.assertEqual(telegraf_reason(err, flags[0]), reason, err)
                self.assertFalse(any('memory' in l for l in err + log.splitlines()), (err, log))
                self.assertEqual(out, [])


    def test_one_instance_name_rule(self):
        """Both fronts refuse a name the other would refuse, with the same reason; "" (a Zabbix key
        without the instance) means main in both."""
        base_flags = ['--url', self.srv.url, '--collect-process=false', '--collect-sockets=false']
        reason = "'bad name/x': expects up to 63 letters, digits, '_', '.' or '-'"
        rc, log = collectd_check_config('<Instance "bad name/x">\n  URL "%s"\n</Instance>' % self.srv.url)
        self.assertNotEqual(rc, 0, log)
        self.assertIn('invalid instance name ' + reason, log)
        trc, out, err = run_once(base_flags + ['--instance', 'bad name/x'], timeout=30)
        self.assertEqual(trc, 2, err)
        self.assertIn('E! mtproxy-telegraf: invalid instance name ' + reason, err)
        self.assertEqual(out, [])

        rc, log = collectd_check_config('<Instance "">\n  URL "%s"\n  CollectProcess false\n'
                                        '  CollectSockets false\n</Instance>' % self.srv.url)
        self.assertEqual(rc, 0, log)
        trc, out, err = run_once(base_flags + ['--instance', ''], timeout=30)
        self.assertEqual(trc, 0, err)
        self.assertTrue(any(l.startswith('mtproxy,instance=main ') for l in out), out)

class CollectdTimeoutIsMilliseconds(unittest.TestCase):
    def test_small_bare_number_warns_about_the_unit(self):
        rc, log = collectd_check_config('<Instance "x">\n  Timeout 3\n</Instance>')
        self.assertEqual(rc, 0, log)
        self.assertIn('option "Timeout": 3 is 3 ms (a bare number is milliseconds', log)
        self.assertIn('write "3s" for seconds', log)

    def test_bare_number_out_of_range(self):
        rc, log = collectd_check_config('<Instance "x">\n  Timeout 3600001\n</Instance>')
        self.assertNotEqual(rc, 0, log)
        self.assertEqual(collectd_reason(log, 'Timeout'), '3600001 is out of range 1ms..1h', log)
        rc, log = collectd_check_config('<Instance "x">\n  Timeout 0.5\n</Instance>')
        self.assertNotEqual(rc, 0, log)
        self.assertEqual(collectd_reason(log, 'Timeout'), '0.5 is out of range 1ms..1h', log)

    def test_a_hanging_page_is_given_up_after_the_milliseconds(self):
        # Timeout 300 against a server that accepts and never answers: each scrape ends after
        # 0.3 s (as seconds it would be lowered to 0.8 of the interval, 1.6 s).
        with StatsServer(mode='hang') as srv:
            conf = ('<Instance "main">\n  URL "%s"\n  Interval 2\n  Timeout 300\n'
                    '  CollectProcess false\n  CollectSockets false\n</Instance>\n' % srv.url)
            with Collectd(conf, interval=2) as cd:
                v = cd.wait_for('mtproxy-main/gauge-scrape_duration_seconds', timeout=15)
                self.assertGreaterEqual(v['value'], 0.29, v)
                self.assertLess(v['value'], 1.0, v)
                self.assertEqual(cd.getval('mtproxy-main/gauge-up')['value'], 0.0)


class CollectdTestModes(unittest.TestCase):
    """Debian's collectd.service runs `collectd -t` before start. collectd 5.12 exits 0 for -t before it
    reads any file (upstream fixed it in PR #3793, on the 6.0 branch only), so no plugin can fail it
    there; `collectd -T` reads the config (and runs one read). Our checks all run in the config
    callback, so wherever collectd reads the config in a test mode, a refused option fails it."""

    def run_collectd(self, flag, plugin_block, tmp):
        conf = os.path.join(tmp, 'collectd.conf')
        with open(conf, 'w') as f:
            f.write('BaseDir "%s"\nPIDFile "%s/pid"\nTypesDB "%s"\nInterval 1\nHostname "testhost"\n'
                    'LoadPlugin logfile\n<Plugin logfile>\n  File "%s/log"\n</Plugin>\n'
                    'LoadPlugin csv\n<Plugin csv>\n  DataDir "%s/csv"\n</Plugin>\n'
                    'PluginDir "%s"\nLoadPlugin mtproxy\n<Plugin mtproxy>\n%s\n</Plugin>\n'
                    % (tmp, tmp, TYPES_DB, tmp, tmp, os.path.dirname(plugin_path()), plugin_block))
        r = subprocess.run([COLLECTD, flag, '-C', conf], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30, cwd=tmp)
        log_path = os.path.join(tmp, 'log')
        log = open(log_path).read() if os.path.exists(log_path) else ''
        return r.returncode, r.stdout.decode(errors='replace') + r.stderr.decode(errors='replace') + log

    def test_config_errors_fail_wherever_collectd_reads_the_config(self):
        bad = '<Instance "x">\n  URL "http://127.0.0.1:1/stats"\n  PidFile ""\n</Instance>'
        reason = 'option "PidFile": expects a non-empty string'
        with tempfile.TemporaryDirectory() as tmp:
            missing = subprocess.run([COLLECTD, '-t', '-C', os.path.join(tmp, 'missing.conf')],
                                     capture_output=True, timeout=30)
            rc_t, log_t = self.run_collectd('-t', bad, tmp)
            if missing.returncode == 0:
                # collectd 5.12: -t reads nothing, even a missing file passes (documented in
                # collectd-mtproxy(5) NOTES); no plugin code runs at all.
                self.assertEqual(rc_t, 0, log_t)
                self.assertNotIn('mtproxy', log_t)
            else:
                self.assertNotEqual(rc_t, 0, log_t)
                self.assertIn(reason, log_t)
        with tempfile.TemporaryDirectory() as tmp:
            rc, log = self.run_collectd('-T', bad, tmp)
            self.assertNotEqual(rc, 0, log)
            self.assertIn(reason, log)

    def test_dash_T_passes_a_good_config_after_one_read(self):
        with StatsServer(static=True) as srv, tempfile.TemporaryDirectory() as tmp:
            good = ('<Instance "x">\n  URL "%s"\n  Timeout 500\n  CollectProcess false\n'
                    '  CollectSockets false\n</Instance>' % srv.url)
            rc, log = self.run_collectd('-T', good, tmp)
            self.assertEqual(rc, 0, log)
            self.assertTrue(os.path.isdir(os.path.join(tmp, 'csv', 'testhost', 'mtproxy-x')), log)


if __name__ == '__main__':
    unittest.main()
