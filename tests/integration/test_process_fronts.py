"""Process metrics of a real process tree (tests/tools/fake_mtproxy) through collectd and influxd."""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer, wait_until  # noqa: E402
from execd import BINARY, Execd, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

FAKE = os.path.join(ROOT_DIR, 'build', 'tools', 'fake_mtproxy')


class FakeProxy:
    """fake_mtproxy -w W -t T -f F with a unique name and a pidfile. A pidfile's process must pass
    the process match (default: the name mtproto-proxy), so the agent is told the name too:
    execd_args() / conf()."""

    def __init__(self, workers=2, threads=3, files=4, extra=()):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-fake-')
        self.pidfile = os.path.join(self.tmp, 'proxy.pid')
        self.name = 'mtpx%d' % (os.getpid() % 100000)
        self.args = [FAKE, '-w', str(workers), '-t', str(threads), '-f', str(files), '-P', self.pidfile,
                     '-n', self.name] + list(extra)

    def execd_args(self):
        return ['--pidfile', self.pidfile, '--process-name', self.name]

    def conf(self):
        return '  PidFile "%s"\n  ProcessName "%s"\n' % (self.pidfile, self.name)

    def start(self):
        # stderr to /dev/null: a fake must not hold the test runner's pipes
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        atexit.register(self.kill)
        self.info = json.loads(self.proc.stdout.readline())
        return self

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


def process_lines(lines):
    return {parse_line(l)[1]['role']: parse_line(l)[2] for l in lines if l.startswith('mtproxy_process,')}


class ProcessMetrics(unittest.TestCase):
    def test_collectd_reports_the_process_tree(self):
        with StatsServer(mode='refuse') as srv, FakeProxy() as fake:
            conf = ('<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n%s</Instance>\n'
                    % (srv.url, fake.conf()))
            with Collectd(conf) as cd:
                threads = fake.info['threads']
                v = cd.wait_for('mtproxy-main/ps_count-all', pred=lambda v: v['processes'] == 3)
                self.assertEqual(v['threads'], 3 * threads)
                v = cd.wait_for('mtproxy-main/ps_count-workers')
                self.assertEqual((v['processes'], v['threads']), (2, 2 * threads))
                v = cd.wait_for('mtproxy-main/file_handles-master')
                self.assertEqual(v['value'], fake.info['fds_master'])
                self.assertGreater(cd.wait_for('mtproxy-main/ps_rss-all')['value'], 0)
                self.assertIsNotNone(cd.wait_for('mtproxy-main/ps_cputime-master'))
                self.assertIsNotNone(cd.wait_for('mtproxy-main/io_octets-all'))
                self.assertIsNotNone(cd.wait_for('mtproxy-main/contextswitch-all_voluntary'))
                self.assertGreater(cd.wait_for('mtproxy-main/file_handles-master_limit_soft')['value'], 0)
                # the stats page is down, the process metrics still come: up tells the truth
                self.assertEqual(cd.getval('mtproxy-main/gauge-up')['value'], 0)

    def test_line_protocol_restart_and_influxd(self):
        with StatsServer(mode='refuse') as srv, Influxd() as influx:
            influx.create_db('p')
            lines = []
            with FakeProxy() as fake, Execd(['--url', srv.url, '--timeout', '300ms'] + fake.execd_args()) as ex:
                batch = ex.tick()
                lines += batch
                roles = process_lines(batch)
                self.assertEqual(roles['all']['processes'], 3)
                self.assertEqual(roles['all']['num_threads'], 3 * fake.info['threads'])
                self.assertEqual(roles['master']['num_fds'], fake.info['fds_master'])
                self.assertEqual(roles['master']['restarts'], 0)
                self.assertGreater(roles['all']['memory_rss'], 0)
                self.assertIsInstance(roles['master']['cpu_time_user'], float)
                pidfile = fake.pidfile
                fake.stop()
                # a new proxy with new pids behind the same pidfile: a restart, followed without restarting us
                fake2 = FakeProxy()
                fake2.pidfile, fake2.args[fake2.args.index('-P') + 1] = pidfile, pidfile
                with fake2:
                    self.assertTrue(wait_until(lambda: os.path.exists(pidfile), 5))
                    batch = ex.tick()
                    lines += batch
                    roles = process_lines(batch)
                    self.assertEqual(roles['all']['processes'], 3)
                    self.assertEqual(roles['master']['restarts'], 1)
                ex.close_stdin()
            status, body = influx.write('p', '\n'.join(lines) + '\n')
            self.assertEqual(status, 204, body)
            types = influx.field_types('p', 'mtproxy_process')
            self.assertEqual(types['processes'], 'integer')
            self.assertEqual(types['cpu_time_user'], 'float')

    def test_no_process_reports_zero_and_warns_once(self):
        with StatsServer(mode='refuse') as srv, Execd(['--url', srv.url, '--timeout', '300ms',
                                                       '--process-name', 'nosuchproc']) as ex:
            for _ in range(3):
                roles = process_lines(ex.tick())
                self.assertEqual(roles['all']['processes'], 0)
            ex.close_stdin()
        warnings = [l for l in ex.stderr_lines if l.startswith('W! ') and 'no MTProxy process' in l]
        self.assertEqual(len(warnings), 1, ex.stderr_lines)

    @unittest.skipUnless(os.geteuid() == 0, 'needs root to start the collector as another user')
    def test_unprivileged_collector_reports_what_it_can(self):
        # the proxy runs as root, the collector as nobody: /proc/PID/io is closed to it
        with StatsServer(mode='refuse') as srv, FakeProxy() as fake, Influxd() as influx:
            os.chmod(fake.tmp, 0o755)
            os.chmod(fake.pidfile, 0o644)
            setpriv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
            with Execd(['--url', srv.url, '--timeout', '300ms', '--collect-sockets=false'] + fake.execd_args(),
                       binary=BINARY, prefix=setpriv) as ex:
                batches = [ex.tick() for _ in range(3)]
                ex.close_stdin()
            roles = process_lines(batches[-1])
            self.assertEqual(roles['all']['processes'], 3)
            self.assertGreater(roles['all']['memory_rss'], 0)
            self.assertIn('cpu_time_user', roles['master'])
            self.assertNotIn('read_bytes', roles['master'])  # io needs privileges
            warnings = [l for l in ex.stderr_lines if l.startswith('W! ') and 'read_bytes' in l]
            self.assertEqual(len(warnings), 1, ex.stderr_lines)
            influx.create_db('u')
            status, body = influx.write('u', '\n'.join(l for b in batches for l in b) + '\n')
            self.assertEqual(status, 204, body)

    def test_bad_process_options(self):
        rc, out, err = run_once(['--process-match', '(unclosed'])
        self.assertEqual(rc, 2)
        self.assertIn('--process-match', err[0])
        rc, out, err = run_once(['--process-name', 'a-name-longer-than-15'])
        self.assertEqual(rc, 2)


if __name__ == '__main__':
    unittest.main()
