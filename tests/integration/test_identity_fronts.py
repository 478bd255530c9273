"""The proxy's identity on a host with look-alikes (issue 13), through both fronts: real forked process
trees (tests/tools/fake_mtproxy) named alike, one of them run by another user, orphaned workers after a
kill -9 of the master, a PidFile holding 1, FIFOs where files are expected. Every process is this test's
own (unique names, ports the test holds), so other processes on the host never matter."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer, wait_until  # noqa: E402
from execd import Execd, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

FAKE = os.path.join(ROOT_DIR, 'build', 'tools', 'fake_mtproxy')
NAME = 'mtid%d' % (os.getpid() % 100000)


class Tree:
    """One fake_mtproxy tree; its JSON ready line as .info. kill() removes every process of it,
    orphans included."""

    def __init__(self, *args):
        self.args = [FAKE, '-n', NAME] + [str(a) for a in args]

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.info = json.loads(self.proc.stdout.readline())
        return self

    def pids(self):
        return [self.info['master']] + self.info['workers']

    def kill(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(5)
        wait_until(lambda: not any(os.path.exists('/proc/%d' % p) for p in self.pids()), 5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def roles(lines):
    return {parse_line(l)[1]['role']: parse_line(l)[2] for l in lines if l.startswith('mtproxy_process,')}


def alive(pid):
    return os.path.exists('/proc/%d' % pid)


class Identity(unittest.TestCase):
    def test_kill_9_orphans_and_one_restart_into_influxd(self):
        """The master is killed hard, its workers live on (ppid 1, same name and command line): they
        are never the proxy, processes is 0 until the proxy runs again, and that is one restart."""
        with StatsServer(mode='404') as srv, Influxd() as influx:
            args = ('-w', 2, '-O', 30, '-p', srv.port)
            lines = []
            with Execd(['--url', srv.url, '--timeout', '300ms', '--process-name', NAME,
                        '--collect-sockets=false']) as ex, Tree(*args) as first:
                batch = ex.tick()
                lines += batch
                self.assertEqual(roles(batch)['all']['processes'], 3)
                os.kill(first.info['master'], signal.SIGKILL)
                first.proc.wait(5)
                for _ in range(3):
                    batch = ex.tick()
                    lines += batch
                    self.assertEqual(roles(batch)['all']['processes'], 0)
                    self.assertEqual(roles(batch)['master']['restarts'], 0)
                self.assertTrue(all(alive(p) for p in first.info['workers']), 'the orphans must live on')
                with Tree(*args) as second:
                    for _ in range(2):
                        batch = ex.tick()
                        lines += batch
                        r = roles(batch)
                        self.assertEqual(r['all']['processes'], 3)
                        self.assertEqual(r['master']['restarts'], 1)
                ex.close_stdin()
            gone = [l for l in ex.stderr_lines if 'is gone' in l]
            self.assertEqual(len(gone), 1, ex.stderr_lines)
            self.assertIn(str(first.info['master']), gone[0])
            found = [l for l in ex.stderr_lines if 'found by' in l]
            self.assertEqual(len(found), 2, ex.stderr_lines)
            self.assertIn('stats port %d' % srv.port, found[0])  # the configured name and -p on the command line
            self.assertIn('the command line of the master seen last', found[1])
            influx.create_db('i')
            status, body = influx.write('i', '\n'.join(lines) + '\n')
            self.assertEqual(status, 204, body)
            rows = influx.rows('i', 'mtproxy_process')
            self.assertEqual(max(r['restarts'] for r in rows if r.get('role') == 'master'), 1)

    @unittest.skipUnless(os.geteuid() == 0, 'needs root to start processes as another user')
    def test_collectd_decoy_of_another_user_and_pidfile_init(self):
        """collectd, two instances: one finds its proxy (dropped to nobody, -p = the URL's port) beside
        a decoy of the same name run by another user that serves its stats elsewhere; the other has a
        PidFile holding 1 and reports 0 processes, saying why."""
        tmp = tempfile.mkdtemp(prefix='mtpm-id-')
        try:
            init_pidfile = os.path.join(tmp, 'init.pid')
            with open(init_pidfile, 'w') as f:
                f.write('1\n')
            with StatsServer(mode='404') as srv, StatsServer(mode='404') as other, \
                    Tree('-w', 1, '-u', 'nobody', '-p', other.port) as decoy, \
                    Tree('-w', 2, '-u', 'nobody', '-p', srv.port) as ours:
                conf = ('<Instance "real">\n  URL "%s"\n  Timeout "300ms"\n  ProcessName "%s"\n'
                        '  CollectSockets false\n</Instance>\n'
                        '<Instance "init">\n  URL "%s"\n  Timeout "300ms"\n  PidFile "%s"\n'
                        '  CollectSockets false\n</Instance>\n' % (srv.url, NAME, srv.url, init_pidfile))
                with Collectd(conf) as cd:
                    v = cd.wait_for('mtproxy-real/ps_count-all', pred=lambda v: v['processes'] == 3)
                    self.assertEqual(v['processes'], 3)
                    v = cd.wait_for('mtproxy-real/ps_count-workers')
                    self.assertEqual(v['processes'], 2)
                    v = cd.wait_for('mtproxy-init/ps_count-all')
                    self.assertEqual(v['processes'], 0)
                    # more reads: the decoy never shows up, init never counts
                    cd.wait_reads('mtproxy-real/ps_count-all', 3)
                    cd.wait_reads('mtproxy-init/ps_count-all', 3)
                    rows = cd.csv_rows('mtproxy-real/ps_count-all')
                    self.assertTrue(rows and all(r['processes'] == 3 for r in rows), rows)
                    rows = cd.csv_rows('mtproxy-init/ps_count-all')
                    self.assertTrue(rows and all(r['processes'] == 0 for r in rows), rows)
                    log = cd.log_text()
                self.assertIn('is init, never the proxy', log)
                self.assertIn('MTProxy master is pid %d' % ours.info['master'], log)
                self.assertNotIn('pid %d (found' % decoy.info['master'], log)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_fifos_never_block_a_gather(self):
        """A FIFO as PidFile and as GeoIP database: the gather ends at once, says what is wrong, and
        reports the rest (up, process 0, connections)."""
        tmp = tempfile.mkdtemp(prefix='mtpm-fifo-')
        try:
            pidfifo, geofifo = os.path.join(tmp, 'proxy.pid'), os.path.join(tmp, 'geo.mmdb')
            os.mkfifo(pidfifo)
            os.mkfifo(geofifo)
            with StatsServer(mode='ok') as srv:
                t0 = time.monotonic()
                rc, out, err = run_once(['--url', srv.url, '--pidfile', pidfifo, '--geoip', geofifo,
                                         '--client-port', str(srv.port)], timeout=20)
                took = time.monotonic() - t0
            self.assertEqual(rc, 0, err)
            self.assertLess(took, 10)
            self.assertEqual(roles(out)['all']['processes'], 0)
            self.assertTrue(any('proxy.pid is not a regular file' in l for l in err), err)
            self.assertTrue(any('geo.mmdb' in l and 'not a regular file' in l for l in err), err)
            self.assertTrue(any(l.startswith('mtproxy_connections,') for l in out), out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_mtg_page_finds_the_mtg_tree_not_a_decoy(self):
        """No process option configured and an mtg Prometheus page: discovery looks for processes named
        mtg (the detected implementation's default), takes the tree whose command line names the stats
        URL's port and never a decoy mtg that does not."""
        page = os.path.join(ROOT_DIR, 'tests', 'fixtures', 'peers', 'mtg', 'metrics-loaded.txt')
        with StatsServer(static=True, fixture=page, path='/',
                         content_type='text/plain; version=0.0.4; charset=utf-8') as srv, \
                Execd(['--url', srv.url, '--timeout', '2s', '--collect-sockets=false']) as ex:
            decoy = subprocess.Popen([FAKE, '-n', 'mtg'], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            try:
                decoy_info = json.loads(decoy.stdout.readline())
                batch = ex.tick()
                self.assertIn('implementation="mtg"', ''.join(batch))
                self.assertEqual(roles(batch)['all']['processes'], 0, batch)
                self.assertTrue(alive(decoy_info['master']))
                good = subprocess.Popen([FAKE, '-n', 'mtg', '-w', '1', '-t', '3', '-p', str(srv.port)],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                try:
                    good_info = json.loads(good.stdout.readline())
                    batch = ex.tick()
                    r = roles(batch)
                    self.assertEqual(r['master']['processes'], 1, batch)
                    self.assertEqual(r['all']['processes'], 2)
                    self.assertEqual(r['master']['num_threads'], good_info['threads'])
                    self.assertNotEqual(good_info['threads'], decoy_info['threads'])
                    self.assertTrue(any("processes named 'mtg'" in l for l in ex.stderr_lines), ex.stderr_lines)
                finally:
                    good.terminate()
                    good.wait(5)
            finally:
                decoy.terminate()
                decoy.wait(5)

    def test_restart_while_the_page_hangs_keeps_the_detected_implementation(self):
        """An mtg page found, then the proxy restarts and its page hangs: discovery keeps looking for
        processes named mtg (what the page said last) and finds the new tree, instead of falling back
        to the default mtproto-proxy and reporting 0 processes."""
        page = os.path.join(ROOT_DIR, 'tests', 'fixtures', 'peers', 'mtg', 'metrics-loaded.txt')
        mtg = [FAKE, '-n', 'mtg', '-w', '1', '-p']
        with StatsServer(static=True, fixture=page, path='/',
                         content_type='text/plain; version=0.0.4; charset=utf-8') as srv, \
                Execd(['--url', srv.url, '--timeout', '1s', '--collect-sockets=false']) as ex:
            old = subprocess.Popen(mtg + [str(srv.port)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            new = None
            try:
                json.loads(old.stdout.readline())
                batch = ex.tick()
                self.assertIn('implementation="mtg"', ''.join(batch))
                self.assertEqual(roles(batch)['master']['processes'], 1, batch)
                srv.set_mode('hang')
                old.terminate()
                old.wait(5)
                new = subprocess.Popen(mtg + [str(srv.port)], stdout=subprocess.PIPE,
                                       stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                json.loads(new.stdout.readline())
                batch = ex.tick()
                self.assertTrue(any(l.startswith('mtproxy,') and 'up=0i' in l for l in batch), batch)
                r = roles(batch)
                self.assertEqual(r['master']['processes'], 1, batch)
                self.assertEqual(r['all']['processes'], 2, batch)
                self.assertEqual(r['master']['restarts'], 1, batch)
            finally:
                for p in (old, new):
                    if p and p.poll() is None:
                        p.terminate()
                        p.wait(5)

if __name__ == '__main__':
    unittest.main()
