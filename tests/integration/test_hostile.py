"""A hostile world (issue 16): for every case the bound (time, memory) and the truthful answer (`up`,
one log line, the rest of the gather reported), through mtproxy-telegraf and the real collectd.

  ExecdLoop      mtproxy-telegraf's loop: queued newlines against a hanging page, SIGTERM in every
                 state (waiting, mid-transfer, stdout stalled), a stalled reader, no trigger at all
  StatsPage      a stats server that accepts and never reads, never answers, drips, answers
                 "100 Continue" forever, sends headers forever, a body at the size cap in the most
                 costly shape and one byte beyond it
  HostilePaths   every path option (PidFile, GeoIPDatabase, CACert, PasswordFile) pointing at a FIFO,
                 a directory, /dev/zero, a 2 GB sparse file, a file that vanishes
  ProxyKilled    the proxy's process tree killed in the middle of a gather

The measured bounds are printed (`bound: ...` lines) and summarised in docs/faults.md."""
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import Collectd, StatsServer, collectd_check_config, hold_port, wait_until  # noqa: E402
from execd import BINARY, Execd, caught_signals  # noqa: E402
from lineproto import parse_line  # noqa: E402

F_SETPIPE_SZ = 1031
SIGTERM_BOUND = 1.0   # seconds from SIGTERM to exit, in every state
BOUNDS = []


def bound(case, **figures):
    text = '%s: %s' % (case, ', '.join('%s %s' % (k, v) for k, v in figures.items()))
    BOUNDS.append(text)
    sys.stdout.write('\n    bound: %s' % text)
    sys.stdout.flush()


def health(lines):
    recs = [parse_line(l)[2] for l in lines if l.startswith('mtproxy,') and 'up=' in l]
    assert recs, lines
    return recs[-1]


def waiting(pid):
    """mtproxy-telegraf asleep with SIGTERM blocked (it reads it from a signalfd): its loop waits."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == 'S' and signal.SIGTERM in caught_signals(pid)


def peak_rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


class RawExecd:
    """mtproxy-telegraf with stdout a pipe this test reads only when it wants to (a stalled reader),
    stderr to a file."""

    def __init__(self, args, pipe_size=None):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-raw-')
        self.err_path = os.path.join(self.tmp, 'stderr')
        err = open(self.err_path, 'wb')
        self.proc = subprocess.Popen([BINARY] + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=err)
        err.close()
        if pipe_size:
            fcntl.fcntl(self.proc.stdout.fileno(), F_SETPIPE_SZ, pipe_size)

    def newlines(self, n=1):
        self.proc.stdin.write(b'\n' * n)
        self.proc.stdin.flush()

    def stderr(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def unread(self):
        import termios
        import struct
        buf = fcntl.ioctl(self.proc.stdout.fileno(), termios.FIONREAD, b'\0\0\0\0')
        return struct.unpack('i', buf)[0]

    def exit_time(self, how):
        """Sends SIGTERM (how='sigterm') or closes stdin (how='eof'); returns (rc, seconds)."""
        t0 = time.monotonic()
        if how == 'sigterm':
            self.proc.send_signal(signal.SIGTERM)
        else:
            self.proc.stdin.close()
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, time.monotonic() - t0

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class ExecdLoop(unittest.TestCase):
    def test_queued_newlines_against_a_hanging_page(self):
        """20 newlines at once, --timeout 1s, then EOF: one gather, exit after it (not 20 s)."""
        with StatsServer(mode='hang') as srv:
            ex = RawExecd(['--url', srv.url, '--timeout', '1s', '--collect-sockets=false'])
            try:
                ex.newlines(20)
                self.assertTrue(wait_until(lambda: 'GET /stats' in srv.log_text(), 5))
                rc, secs = ex.exit_time('eof')
                out = ex.proc.stdout.read().decode()
            finally:
                ex.close()
        gathers = out.count('\nmtproxy,') + out.startswith('mtproxy,')
        bound('20 queued newlines, hanging page, --timeout 1s, then EOF', exit_after_eof='%.2fs' % secs,
              gathers=gathers)
        self.assertEqual(rc, 0)
        self.assertEqual(gathers, 1, out)
        self.assertLess(secs, 1.0 + 1.0)

    def test_newlines_during_a_gather_count_as_one(self):
        """Newlines written one by one while a gather hangs: one more gather, not one per newline.
        The page hangs until the test ends it (the server stops, its port held: then refused), so the
        newlines fall inside the first gather however slowly this host runs."""
        with StatsServer(mode='hang') as srv:
            ex = Execd(['--url', srv.url, '--timeout', '60s', '--collect-sockets=false']).start()
            hold = None
            try:
                ex.trigger()
                wait_until(lambda: 'mode=hang' in srv.log_text(), 10, what='the first gather to hang')
                for _ in range(19):
                    time.sleep(0.02)    # paces: one newline at a time (any spacing will do)
                    ex.trigger()
                self.assertEqual(ex.gathers(), 0)
                hold = hold_port(srv.port)
                t0 = time.monotonic()
                srv.stop()              # the first gather ends; the next one is refused at once
                self.assertTrue(wait_until(lambda: ex.gathers() >= 2, 10), ex.stderr_lines)
                took = time.monotonic() - t0
                # no third gather comes: poll for a while
                self.assertIsNone(wait_until(lambda: ex.gathers() > 2, 2.5))
                rc, secs, how = ex.close_stdin()
            finally:
                ex.stop()
                if hold is not None:
                    hold.close()
        bound('20 newlines during a hanging gather', gathers=2, both_done_after_the_page_ended='%.2fs' % took)
        self.assertEqual((rc, how), (0, 'eof'))
        self.assertLess(secs, 1.5)

    def test_sigterm_in_every_state(self):
        with StatsServer(mode='hang') as srv:
            for state in ('waiting', 'gathering', 'stdout-stalled'):
                with self.subTest(state=state):
                    srv.set_mode('hang' if state == 'gathering' else 'ok')
                    ex = RawExecd(['--url', srv.url, '--timeout', '60s', '--collect-sockets=false'], pipe_size=4096)
                    try:
                        if state == 'gathering':
                            before = srv.log_text().count('mode=hang')
                            ex.newlines()
                            self.assertTrue(wait_until(lambda: srv.log_text().count('mode=hang') > before, 5))
                        elif state == 'stdout-stalled':
                            # gathers until the 4 KiB pipe is full and a batch waits
                            def stalled():
                                ex.newlines()
                                time.sleep(0.05)
                                return ex.unread() >= 4096 - 600
                            self.assertTrue(wait_until(stalled, 20), ex.unread())
                            ex.newlines(5)
                        else:
                            wait_until(lambda: waiting(ex.proc.pid), 10, 0.01, what='the loop to wait for stdin')
                        self.assertIsNone(ex.proc.poll())
                        rc, secs = ex.exit_time('sigterm')
                    finally:
                        ex.close()
                    bound('SIGTERM while %s' % state, exit='%.3fs' % secs)
                    self.assertEqual(rc, 0)
                    self.assertLess(secs, SIGTERM_BOUND)

    def test_stalled_reader_holds_one_batch(self):
        """A reader that stops reading: the program stays responsive, memory stays at one batch,
        requests meanwhile become one gather, a stall over 10 s is reported once, and what finally
        comes out is whole lines only."""
        with StatsServer(mode='ok') as srv:
            ex = RawExecd(['--url', srv.url, '--collect-sockets=false'], pipe_size=4096)
            try:
                def stalled():
                    ex.newlines()
                    time.sleep(0.05)
                    return ex.unread() >= 4096 - 600
                self.assertTrue(wait_until(stalled, 20), ex.unread())
                requests = srv.log_text().count('GET /stats')
                rss0 = peak_rss_kib(ex.proc.pid)
                for _ in range(200):
                    ex.newlines()
                    time.sleep(0.005)   # paces: requests one by one while stalled (any spacing will do)
                self.assertTrue(wait_until(lambda: 'stdout has not been read' in ex.stderr(), 15), ex.stderr())
                gathered_while_stalled = srv.log_text().count('GET /stats') - requests
                rss1 = peak_rss_kib(ex.proc.pid)
                out = b''
                deadline = time.monotonic() + 10
                os.set_blocking(ex.proc.stdout.fileno(), False)
                while time.monotonic() < deadline:   # read until a gather after the stall arrived
                    try:
                        chunk = os.read(ex.proc.stdout.fileno(), 65536)
                    except BlockingIOError:
                        chunk = b''
                    out += chunk
                    if 'stdout is read again' in ex.stderr() and srv.log_text().count('GET /stats') > requests \
                            and out.endswith(b'\n') and not chunk:
                        break
                    time.sleep(0.05)
                rc, secs = ex.exit_time('sigterm')
                log = ex.stderr()
            finally:
                ex.close()
        bound('stdout stalled (4 KiB pipe), 200 requests', gathers_while_stalled=gathered_while_stalled,
              peak_rss='%d -> %d KiB' % (rss0, rss1))
        self.assertEqual(gathered_while_stalled, 0)
        self.assertLess(rss1 - rss0, 1024)
        self.assertEqual(log.count('stdout has not been read'), 1, log)
        self.assertIn('stdout is read again', log)
        lines = out.decode().split('\n')
        self.assertEqual(lines[-1], '')
        for line in lines[:-1]:
            parse_line(line)   # every line whole
        self.assertEqual(rc, 0)

    def test_idle_warning_when_nothing_triggers(self):
        with StatsServer(mode='ok') as srv:
            base = ['--url', srv.url, '--collect-sockets=false', '--idle-warning', '1s']
            silent = RawExecd(base)
            interval = RawExecd(base + ['--interval', '200ms'])
            fed = RawExecd(base)
            try:
                fed.newlines()
                self.assertTrue(wait_until(lambda: 'no gather requested' in silent.stderr(), 5))
                # paces: a window for the warnings that must not come (--idle-warning 1s); the
                # others had as long, and longer only makes the check stricter
                time.sleep(1.5)
                warnings = [silent.stderr(), interval.stderr(), fed.stderr()]
                for ex in (silent, interval, fed):
                    self.assertEqual(ex.exit_time('eof')[0], 0)
            finally:
                for ex in (silent, interval, fed):
                    ex.close()
        self.assertEqual(warnings[0].count('no gather requested'), 1, warnings[0])
        self.assertIn('W! ', warnings[0])
        self.assertIn('signal = "STDIN"', warnings[0])
        self.assertIn('--interval', warnings[0])
        self.assertNotIn('no gather requested', warnings[1])
        self.assertNotIn('no gather requested', warnings[2])


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_process_fronts import FakeProxy  # noqa: E402

TIMEOUT = 1.0
# mode -> (up, words one of which the single log line holds)
PAGE_FAULTS = {
    'silent': (0, ['timed out']),      # accepted, never read
    'hang': (0, ['timed out']),        # read, never answered
    'drip': (0, ['timed out']),        # 1 byte/s
    'continue': (0, ['timed out']),    # 100 Continue every 0.1 s, forever
    'headers': (0, ['timed out']),     # header lines forever
    'worst-over': (0, ['larger than 1048576']),
}


def instance_of(mode):
    return 'h' + re.sub(r'[^a-z0-9]', '', mode)


class StatsPage(unittest.TestCase):
    """Each gather ends within --timeout (+ the host's slack), up tells the truth, the failure is one log
    line, the process and connection groups still come; SIGTERM ends a gather stuck in any of them."""

    def test_telegraf(self):
        fake = FakeProxy()
        fake.args += ['-l', '0']
        with fake:
            port = fake.info['listen_port']
            for mode, (up, words) in PAGE_FAULTS.items():
                with self.subTest(mode=mode), StatsServer(mode=mode) as srv:
                    ex = Execd(['--url', srv.url, '--timeout', '%gs' % TIMEOUT, '--client-port', str(port)]
                               + fake.execd_args()).start()
                    try:
                        walls = []
                        for _ in range(3):
                            t0 = time.monotonic()
                            batch = ex.tick(timeout=TIMEOUT + 10)
                            walls.append(time.monotonic() - t0)
                            h = health(batch)
                            self.assertEqual(h['up'], up, batch)
                            self.assertLessEqual(h['scrape_duration_seconds'], TIMEOUT + 0.5)
                            roles = {parse_line(l)[1]['role']: parse_line(l)[2]
                                     for l in batch if l.startswith('mtproxy_process,')}
                            self.assertEqual(roles['all']['processes'], 3, batch)
                            self.assertTrue([l for l in batch if l.startswith('mtproxy_connections,')], batch)
                        logs = [l for l in ex.stderr_lines if srv.url in l]
                        self.assertEqual(len(logs), 1, ex.stderr_lines)
                        self.assertTrue(any(w in logs[0] for w in words), logs)
                        # SIGTERM while the next gather is stuck in the same fault
                        # (the server logs every connection it takes, with its mode: ' mode=')
                        before = srv.log_text().count(' mode=')
                        ex.trigger()
                        self.assertTrue(wait_until(lambda: srv.log_text().count(' mode=') > before, 5))
                        t0 = time.monotonic()
                        ex.proc.send_signal(signal.SIGTERM)
                        rc = ex.proc.wait(10)
                        term = time.monotonic() - t0
                    finally:
                        ex.stop()
                    bound('stats page %s (telegraf, --timeout 1s)' % mode, gather='%.2f-%.2fs' % (min(walls), max(walls)),
                          up=up, log_lines=len(logs), sigterm_mid_gather='%.3fs' % term)
                    self.assertEqual(rc, 0)
                    self.assertLess(term, SIGTERM_BOUND)
                    self.assertLess(max(walls), TIMEOUT + 2.0)

    def test_collectd(self):
        servers = {}
        fake = FakeProxy()
        fake.args += ['-l', '0']
        try:
            fake.start()
            blocks = []
            for mode in PAGE_FAULTS:
                servers[mode] = StatsServer(mode=mode).start()
                blocks.append('<Instance "%s">\n  URL "%s"\n  Timeout "%gs"\n  ClientPort %d\n%s</Instance>\n'
                              % (instance_of(mode), servers[mode].url, TIMEOUT, fake.info['listen_port'],
                                 fake.conf()))
            with Collectd(''.join(blocks), interval=1.5) as cd:
                for mode, (up, words) in PAGE_FAULTS.items():
                    with self.subTest(mode=mode):
                        name = instance_of(mode)
                        cd.wait_for('mtproxy-%s/gauge-up' % name, timeout=15, pred=lambda v, up=up: v['value'] == up)
                        self.assertTrue(wait_until(lambda: len(cd.csv_rows('mtproxy-%s/gauge-up' % name)) >= 3, 20))
                        d = max(r['value'] for r in cd.csv_rows('mtproxy-%s/gauge-scrape_duration_seconds' % name))
                        self.assertLessEqual(d, TIMEOUT + 0.5)
                        self.assertEqual(cd.wait_for('mtproxy-%s/ps_count-all' % name)['processes'], 3)
                        bound('stats page %s (collectd, Timeout 1s)' % mode, longest_read='%.2fs' % d, up=up)
                self.assertTrue(cd.alive())
                log = cd.log_text()
            for mode, (up, words) in PAGE_FAULTS.items():
                lines = [l for l in log.splitlines() if servers[mode].url in l and 'Notification' not in l]
                self.assertEqual(len(lines), 1, (mode, lines))
                self.assertTrue(any(w in lines[0] for w in words), lines)
            self.assertNotIn('read-function of the plugin', log)
        finally:
            for s in servers.values():
                s.stop()
            fake.kill()

    def test_worst_body_at_the_cap(self):
        """The most costly body a cap admits (distinct 1-5 character keys, one tiny line each), at the
        default cap (1 MiB) and at 16 MiB: the gather's time and the peak memory stay bounded, the
        page's fate is said in one line."""
        for cap in (1 << 20, 16 << 20):
            with self.subTest(cap=cap), StatsServer(mode='worst', cap=cap) as srv:
                ex = Execd(['--url', srv.url, '--timeout', '20s', '--max-body-size', str(cap),
                            '--collect-sockets=false']).start()
                try:
                    rss0 = peak_rss_kib(ex.proc.pid)
                    durations = []
                    for _ in range(3):
                        h = health(ex.tick(timeout=60))
                        durations.append(h['scrape_duration_seconds'])
                    rss = peak_rss_kib(ex.proc.pid)
                    logs = [l for l in ex.stderr_lines if srv.url in l]
                finally:
                    ex.stop()
                bound('worst body of %d MiB at the cap' % (cap >> 20), scrape='%.2fs' % max(durations),
                      peak_rss='%d KiB (+%d)' % (rss, rss - rss0), up=h['up'], log_lines=len(logs))
                self.assertLess(max(durations), 5.0)
                self.assertLess(rss - rss0, 8 * (cap >> 10) + 32 * 1024)
                self.assertLessEqual(len(logs), 1, ex.stderr_lines)
                if not h['up']:
                    self.assertEqual(len(logs), 1)


KINDS = ('fifo', 'directory', 'dev-zero', 'sparse-2g', 'vanishing')
MMDB_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tools', 'write_test_mmdb.py')


def hostile_path(tmp, option, kind, good=None):
    """A path for option of the given kind; 'vanishing' is a good file (good bytes) the test removes."""
    path = os.path.join(tmp, '%s-%s' % (option, kind))
    if kind == 'fifo':
        os.mkfifo(path)
    elif kind == 'directory':
        os.mkdir(path)
    elif kind == 'dev-zero':
        # a private node of the same device: a program that renames its output over the path (a state
        # file written as root) must not replace the host's /dev/zero
        if os.geteuid() != 0:
            return '/dev/zero'
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    elif kind == 'sparse-2g':
        with open(path, 'wb') as f:
            f.truncate(2 << 30)
    else:
        with open(path, 'wb') as f:
            f.write(good)
    return path


class HostilePaths(unittest.TestCase):
    """Every path option pointing at a FIFO, a directory, /dev/zero, a 2 GB sparse file or a file that
    vanishes between gathers: no gather blocks or reads for long, the rest of the gather is reported,
    the path's trouble is said once (and its recovery once)."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which('openssl'):
            raise unittest.SkipTest('openssl missing')
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-hostile-')
        cls.cert = os.path.join(cls.tmp, 'cert.pem')
        cls.key = os.path.join(cls.tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                        '-keyout', cls.key, '-out', cls.cert], check=True, capture_output=True)
        cls.mmdb = os.path.join(cls.tmp, 'good.mmdb')
        subprocess.run([sys.executable, MMDB_TOOL, cls.mmdb], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='mtpm-paths-', dir=self.tmp)

    @contextlib.contextmanager
    def proxy(self):
        """A fake proxy listening on a port of its own with one client connected: the socket table has
        a client to count and to look up in the GeoIP database."""
        fake = FakeProxy()
        fake.args += ['-l', '0']
        with fake, socket.create_connection(('127.0.0.1', fake.info['listen_port'])):
            yield fake

    def good(self, option, fake):
        if option == 'pidfile':
            return b'%d\n' % fake.proc.pid
        if option == 'state-file':
            return b''      # the program writes its own state there
        with open(self.cert if option == 'ca-cert' else self.mmdb, 'rb') as f:
            return f.read()

    def test_telegraf(self):
        from test_security import TinyServer
        with self.proxy() as fake, StatsServer(mode='ok') as srv, TinyServer(tls=(self.cert, self.key)) as tls:
            for option, kind in self.cases or [(o, k) for o in ('pidfile', 'geoip', 'ca-cert', 'state-file')
                                               for k in KINDS]:
                with self.subTest(option=option, kind=kind):
                    path = hostile_path(self.dir, option, kind, self.good(option, fake))
                    if kind == 'dev-zero' and option == 'state-file' and path == '/dev/zero':
                        continue    # not root: no private device node, and the host's is not ours to risk
                    was = os.stat(path).st_mode
                    url = tls.url if option == 'ca-cert' else srv.url
                    args = ['--url', url, '--timeout', '%gs' % TIMEOUT, '--%s' % option, path]
                    args += ['--process-name', fake.name] if option == 'pidfile' else fake.execd_args()
                    args += ['--include-local']   # the client below is on loopback: look it up
                    ex = Execd(args).start()
                    walls, ups, procs = [], [], []
                    try:
                        for i in range(4):
                            if kind == 'vanishing' and i == 1:
                                os.unlink(path)
                            if kind == 'vanishing' and i == 3:
                                with open(path, 'wb') as f:
                                    f.write(self.good(option, fake))
                            t0 = time.monotonic()
                            batch = ex.tick(timeout=10)
                            walls.append(time.monotonic() - t0)
                            ups.append(health(batch)['up'])
                            procs.append({parse_line(l)[1]['role']: parse_line(l)[2] for l in batch
                                          if l.startswith('mtproxy_process,')}.get('all', {}).get('processes'))
                            self.assertTrue([l for l in batch if l.startswith('mtproxy_connections,')])
                        rc, secs, how = ex.close_stdin()    # (the state file is written at exit)
                        said = [l for l in ex.stderr_lines if l.startswith(('E! ', 'W! '))
                                and (path in l or 'CACert' in l)]
                    finally:
                        ex.stop()
                    bound('%s -> %s (telegraf)' % (option, kind), gather='<= %.2fs' % max(walls),
                          up=ups, processes=procs, lines=len(said), exit_after_eof='%.2fs' % secs)
                    self.assertEqual((rc, how), (0, 'eof'))
                    self.assertLess(secs, 2.0)
                    self.assertLess(max(walls), TIMEOUT + 2.0)
                    # the process group is reported in every gather (how a PidFile that is no use
                    # weighs against the name is process discovery's rule, docs/process-metrics.md)
                    self.assertTrue(all(isinstance(p, int) for p in procs), procs)
                    if option != 'pidfile':
                        self.assertEqual(procs, [3] * 4)
                    if option == 'ca-cert':
                        self.assertEqual(ups, [1, 0, 0, 1] if kind == 'vanishing' else [0] * 4)
                    else:
                        self.assertEqual(ups, [1] * 4)
                    if option == 'state-file':
                        # read at start, written at exit: at most a line for each; what stood at the path
                        # is still there (a FIFO, a directory, a device is not replaced by a file)
                        self.assertLessEqual(len(said), 2, ex.stderr_lines)
                        if kind != 'vanishing':
                            self.assertEqual(stat.S_IFMT(os.stat(path).st_mode), stat.S_IFMT(was), path)
                        continue
                    # said once; a vanishing PidFile may go unmentioned (the proxy is known by then)
                    self.assertLessEqual(len(said), 1, ex.stderr_lines)
                    if not (option == 'pidfile' and kind == 'vanishing'):
                        self.assertEqual(len(said), 1, ex.stderr_lines)

    cases = None

    def test_collectd(self):
        from test_security import TinyServer
        with self.proxy() as fake, StatsServer(mode='ok') as srv, TinyServer(tls=(self.cert, self.key)) as tls:
            blocks, paths = [], {}
            spelling = {'pidfile': 'PidFile', 'geoip': 'GeoIPDatabase', 'ca-cert': 'CACert', 'state-file': 'StateFile'}
            for option in spelling:
                for kind in KINDS:
                    name = 'p' + re.sub(r'[^a-z0-9]', '', option + kind)
                    path = hostile_path(self.dir, option, kind, self.good(option, fake))
                    if kind == 'dev-zero' and option == 'state-file' and path == '/dev/zero':
                        continue    # not root: no private device node, and the host's is not ours to risk
                    paths[name] = path
                    url = tls.url if option == 'ca-cert' else srv.url
                    ident = '  ProcessName "%s"\n' % fake.name if option == 'pidfile' else fake.conf()
                    ident += '  IncludeLocal true\n' 
                    blocks.append('<Instance "%s">\n  URL "%s"\n  Timeout "%gs"\n  %s "%s"\n%s</Instance>\n'
                                  % (name, url, TIMEOUT, spelling[option], path, ident))
            with Collectd(''.join(blocks), interval=1.5) as cd:
                def rows(name):
                    return len(cd.csv_rows('mtproxy-%s/gauge-up' % name))
                self.assertTrue(wait_until(lambda: all(rows(n) >= 2 for n in paths), 30, 0.2), cd.log_text()[-3000:])
                for name, path in paths.items():
                    if name.endswith('vanishing'):
                        os.unlink(path)
                seen = {n: rows(n) for n in paths}
                self.assertTrue(wait_until(lambda: all(rows(n) >= seen[n] + 3 for n in paths), 30, 0.2))
                for name in paths:
                    with self.subTest(instance=name):
                        up = cd.getval('mtproxy-%s/gauge-up' % name)['value']
                        self.assertEqual(up, 0 if name.startswith('pcacert') else 1, name)
                        procs = (cd.getval('mtproxy-%s/ps_count-all' % name) or {}).get('processes')
                        if not name.startswith('ppidfile'):
                            self.assertEqual(procs, 3, cd.listval())
                        if name.startswith('pstatefile'):
                            continue
                        d = max(r['value'] for r in cd.csv_rows('mtproxy-%s/gauge-scrape_duration_seconds' % name))
                        self.assertLess(d, TIMEOUT + 0.5)
                self.assertTrue(cd.alive())
                log = cd.log_text()
            for name, path in paths.items():
                lines = [l for l in log.splitlines() if 'instance "%s"' % name in l and
                         ('[error]' in l or '[warning]' in l) and (path in l or 'CACert' in l)]
                with self.subTest(instance=name):
                    self.assertLessEqual(len(lines), 2 if name.startswith('pstatefile') else 1, lines)
                    if name.startswith('pstatefile'):
                        continue
                    if name != 'ppidfilevanishing':
                        self.assertEqual(len(lines), 1, lines)
            bound('every path option x %s (collectd)' % '/'.join(KINDS), instances=len(paths),
                  reads_kept_coming='yes', log_lines_per_instance=1)

    def test_password_file_at_start(self):
        """PasswordFile is read once at start: a bad one stops the start at once, in both fronts."""
        for kind in KINDS:
            with self.subTest(kind=kind):
                path = hostile_path(self.dir, 'password', kind, b'pw\n')
                if kind == 'vanishing':
                    os.unlink(path)
                t0 = time.monotonic()
                r = subprocess.run([BINARY, '--once', '--user', 'u', '--password-file', path],
                                   capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
                telegraf = time.monotonic() - t0
                self.assertEqual(r.returncode, 2, r.stderr)
                t0 = time.monotonic()
                rc, log = collectd_check_config('<Instance "main">\n  User "u"\n  PasswordFile "%s"\n'
                                                '</Instance>\n' % path)
                collectd = time.monotonic() - t0
                self.assertNotEqual(rc, 0, log)
                self.assertIn('PasswordFile', log)
                bound('PasswordFile -> %s' % kind, telegraf_exit_2='%.2fs' % telegraf, collectd_refused='%.2fs' % collectd)
                self.assertLess(telegraf, 5)
                self.assertLess(collectd, 10)


class ProxyKilled(unittest.TestCase):
    def test_killed_in_the_middle_of_a_gather(self):
        """The proxy's tree is SIGKILLed while a gather waits on its (hanging) stats page: the gather
        finishes at --timeout with up=0 and processes=0, nothing else is reported about the dead pids,
        and the restarted proxy is found again."""
        with StatsServer(mode='hang') as srv:
            fake = FakeProxy(workers=4, threads=2).start()
            box = {'fake': fake}
            ex = Execd(['--url', srv.url, '--timeout', '%gs' % TIMEOUT] + fake.execd_args()).start()
            try:
                before = srv.log_text().count('mode=hang')
                t0 = time.monotonic()
                ex.trigger()
                self.assertTrue(wait_until(lambda: srv.log_text().count('mode=hang') > before, 5))
                fake.proc.kill()                 # mid-gather
                fake.proc.wait(5)
                batch = ex.tick(timeout=TIMEOUT + 10, trigger=False)
                took = time.monotonic() - t0
                roles = {parse_line(l)[1]['role']: parse_line(l)[2] for l in batch if l.startswith('mtproxy_process,')}
                self.assertEqual(health(batch)['up'], 0)
                self.assertEqual(roles['all']['processes'], 0, batch)
                new = FakeProxy(workers=4, threads=2)
                new.args[new.args.index('-P') + 1] = new.pidfile = fake.pidfile
                box['fake'] = new.start()
                srv.set_mode('ok')

                def five():
                    b = ex.tick(timeout=10)
                    r = {parse_line(l)[1]['role']: parse_line(l)[2] for l in b if l.startswith('mtproxy_process,')}
                    return r.get('all', {}).get('processes') == 5
                self.assertTrue(wait_until(five, 20, 0))
                self.assertIsNone(ex.proc.poll())
            finally:
                ex.stop()
                box['fake'].kill()
        bound('proxy SIGKILLed mid-gather (telegraf)', gather='%.2fs' % took, up=0, processes=0)
        self.assertLess(took, TIMEOUT + 2.0)


def tearDownModule():
    if BOUNDS:
        sys.stdout.write('\n\nbounds measured:\n%s\n' % '\n'.join('  ' + b for b in BOUNDS))


if __name__ == '__main__':
    unittest.main()
