"""mtproxy-telegraf --check: the health check of Nagios/Icinga, Docker HEALTHCHECK and Kubernetes exec
probes, against proxies that are up, down and degraded.

Up/down/no upstream/clients near the limit: the stats server (real HTTP on loopback) with real captures of
MTProxy's page, some with total_special_connections raised towards total_max_special_connections.
Descriptors: a real forked process tree (tests/tools/fake_mtproxy) with RLIMIT_NOFILE lowered and known
descriptors open. Each run: exit status 0/1/2/3 and exactly one status line in the monitoring-plugins
format on stdout.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import FIXTURES_DIR, ROOT_DIR, StatsServer  # noqa: E402
from test_process_fronts import FakeProxy  # noqa: E402

BIN = os.path.join(ROOT_DIR, os.environ.get('BUILD', 'build'), 'mtproxy-telegraf')
HEALTHY = 'stats-upstream-with-clients-M1.txt'      # 35 of 16000 clients, 5 ready targets
LOST = 'stats-upstream-lost-M1.txt'                 # total_ready_targets 0
# monitoring-plugins: "SERVICE STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max] ..."
STATUS_LINE = re.compile(r'^MTPROXY (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]*'
                         r'(?: \| (?:[a-z_]+=-?[0-9.]+%?(?:;[0-9.:]*){0,4}(?: |$))+)?$')
CODES = {'OK': 0, 'WARNING': 1, 'CRITICAL': 2, 'UNKNOWN': 3}


def run_check(args, timeout=30):
    t0 = time.monotonic()
    r = subprocess.run([BIN, '--check'] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode(), time.monotonic() - t0


def perfdata(line):
    if ' | ' not in line:
        return {}
    out = {}
    for item in line.split(' | ', 1)[1].split():
        k, v = item.split('=', 1)
        out[k] = v.split(';')
    return out


class CheckMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-check-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assertCheck(self, args, status, contains=(), timeout=30):
        rc, out, err, took = run_check(args, timeout)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, 'stdout: %r\nstderr: %s' % (out, err))
        self.assertRegex(lines[0], STATUS_LINE)
        self.assertEqual(lines[0].split()[1], status, out + err)
        self.assertEqual(rc, CODES[status], out + err)
        for c in contains:
            self.assertIn(c, lines[0])
        return lines[0], took

    def fixture_with_clients(self, clients):
        with open(os.path.join(FIXTURES_DIR, HEALTHY)) as f:
            text = f.read()
        text, n = re.subn(r'(?m)^total_special_connections\t\d+$', 'total_special_connections\t%d' % clients, text)
        self.assertEqual(n, 1)
        path = os.path.join(self.tmp, 'clients-%d.txt' % clients)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_up_is_ok(self):
        with StatsServer(static=True, fixture=HEALTHY) as srv:
            line, _ = self.assertCheck(['--url', srv.url], 'OK', ['main: up', '35 of 16000 clients'])
        pd = perfdata(line)
        self.assertEqual(pd['up'][0], '1')
        self.assertEqual(pd['ready_targets'][0], '5')
        self.assertEqual(pd['clients'], ['35', '12800', '14400', '0', '16000'])

    def test_down_refused_and_hanging_are_critical_in_bounded_time(self):
        with StatsServer(mode='refuse') as srv:
            line, _ = self.assertCheck(['--url', srv.url, '--instance', 'edge'], 'CRITICAL',
                                       ['edge: down (stats page not readable', "Couldn't connect"])
            self.assertEqual(perfdata(line)['up'][0], '0')
        with StatsServer(mode='hang') as srv:
            line, took = self.assertCheck(['--url', srv.url, '--timeout', '300ms'], 'CRITICAL', ['down'])
            self.assertLess(took, 10)

    def test_other_implementations_through_the_summary_family(self):
        """mtprotoproxy's Prometheus page (a real capture): clients from the summary family, no limit and
        no upstream concept there, so neither is judged."""
        page = os.path.join(FIXTURES_DIR, 'peers', 'mtprotoproxy', 'metrics-loaded.txt')
        with StatsServer(static=True, fixture=page, path='*') as srv:
            line, _ = self.assertCheck(['--url', srv.base_url + '/metrics'], 'OK', ['main: up, 5 clients'])
        self.assertNotIn('ready', line)
        self.assertEqual(perfdata(line)['clients'][0], '5')

    def test_no_upstream_ready_is_critical(self):
        with StatsServer(static=True, fixture=LOST) as srv:
            self.assertCheck(['--url', srv.url], 'CRITICAL', ['no upstream target ready'])

    def test_clients_near_the_limit(self):
        with StatsServer(static=True, fixture=self.fixture_with_clients(13000)) as srv:   # 81.3 %
            self.assertCheck(['--url', srv.url], 'WARNING', ['WARNING: 13000 of 16000 clients (81.2%)'])
            self.assertCheck(['--url', srv.url, '--warn-clients-percent', '85'], 'OK')
        with StatsServer(static=True, fixture=self.fixture_with_clients(15000)) as srv:   # 93.75 %
            self.assertCheck(['--url', srv.url], 'CRITICAL', ['CRITICAL: 15000 of 16000 clients'])
            self.assertCheck(['--url', srv.url, '--warn-clients-percent', '90', '--crit-clients-percent', '95'],
                             'WARNING')

    def _fake(self, files, nofile):
        return FakeProxy(workers=1, threads=1, files=files, extra=['-N', str(nofile)])

    def test_descriptors_against_the_limit(self):
        with StatsServer(static=True, fixture=HEALTHY) as srv:
            # fds of the fullest process / RLIMIT_NOFILE: about 4 fds of 64 -> OK
            with self._fake(1, 64) as fake:
                line, _ = self.assertCheck(['--url', srv.url] + fake.execd_args(), 'OK', ['descriptors at'])
                pct = float(perfdata(line)['fd_usage'][0].rstrip('%'))
                self.assertEqual(pct, round(100.0 * fake.info['fds_master'] / 64, 1))
            # about 85 % -> WARNING, about 95 % -> CRITICAL; the fake says how many it holds
            for want, status in ((0.85, 'WARNING'), (0.95, 'CRITICAL')):
                nofile = 40
                files = int(want * nofile) - 4
                with self._fake(files, nofile) as fake:
                    pct = 100.0 * fake.info['fds_master'] / nofile
                    expect = 'CRITICAL' if pct > 90 else 'WARNING' if pct > 80 else 'OK'
                    self.assertEqual(expect, status, fake.info)
                    line, _ = self.assertCheck(['--url', srv.url] + fake.execd_args(), status,
                                               ['%s: descriptors at' % status])
                    self.assertEqual(perfdata(line)['fd_usage'][1:], ['80', '90', '0', '100'])
                    self.assertCheck(['--url', srv.url] + fake.execd_args() + ['--warn-fd-percent', '97',
                                      '--crit-fd-percent', '99'], 'OK')

    def test_bad_command_line_is_unknown(self):
        for args in (['--warn-fd-percent', 'lots'], ['--warn-fd-percent', '95'], ['--bogus'],
                     ['--url', 'ftp://127.0.0.1/stats'], ['--crit-clients-percent', '101'],
                     # issue 25: URLs libcurl's parser refuses were a failed fetch (CRITICAL)
                     ['--url', 'http://[bad/stats'], ['--url', 'http://127.0.0.1:99999/stats'],
                     ['--url', 'http://u:p@[::1/stats']):
            rc, out, err, _ = run_check(args)
            self.assertEqual(rc, 3, (args, out, err))
            self.assertRegex(out, r'^MTPROXY UNKNOWN - [^\n]*\n$')
            self.assertIn('E! ', err)

    def test_a_long_user_name_cut_by_libcurl_does_not_leak(self):
        """Issue 25: an unencoded '/' makes curl take the user name for the host; its error text is cut at
        CURL_ERROR_SIZE, so only a prefix of the secret is in it. Neither the log nor the status line
        may show any of it."""
        user = 'Qa' * 150
        rc, out, err, _ = run_check(['--url', 'http://%s/x:pw@127.0.0.1:1/stats' % user, '--timeout', '2s'])
        self.assertEqual(rc, 2, out + err)
        self.assertIn('Could not resolve host: ***', out)
        self.assertIn('Could not resolve host: ***', err)
        self.assertNotIn('QaQa', out + err)

    def test_once_keeps_exit_0_when_down(self):
        with StatsServer(mode='refuse') as srv:
            r = subprocess.run([BIN, '--once', '--url', srv.url], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'up=0i', r.stdout)

    def test_as_docker_healthcheck_and_kubernetes_probe_run_it(self):
        """Both run a command and look only at its exit status (Docker: 0 healthy, 1 unhealthy, 2
        reserved; the README maps any failure to 1 with `|| exit 1`)."""
        cmd = '%s --check --url %%s >/dev/null 2>&1 || exit 1' % BIN
        with StatsServer(static=True, fixture=HEALTHY) as srv:
            self.assertEqual(subprocess.run(['sh', '-c', cmd % srv.url], timeout=30).returncode, 0)
            srv.set_mode('refuse')
            self.assertEqual(subprocess.run(['sh', '-c', cmd % srv.url], timeout=30).returncode, 1)


if __name__ == '__main__':
    unittest.main()
