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
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import Collectd, StatsServer, collectd_check_config, wait_until  # noqa: E402
from execd import BINARY, Execd  # noqa: E402
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
        """Newlines written one by one while a gather hangs: one more gather, not one per newline."""
        with StatsServer(mode='hang') as srv:
            ex = Execd(['--url', srv.url, '--timeout', '1s', '--collect-sockets=false']).start()
            try:
                t0 = time.monotonic()
                ex.trigger()
                for _ in range(19):
                    time.sleep(0.02)
                    ex.trigger()
                self.assertTrue(wait_until(lambda: ex.gathers() >= 2, 10), ex.stderr_lines)
                took = time.monotonic() - t0
                # no third gather comes: poll for twice the gather time
                self.assertIsNone(wait_until(lambda: ex.gathers() > 2, 2.5))
                rc, secs, how = ex.close_stdin()
            finally:
                ex.stop()
        bound('20 newlines during a hanging gather', gathers=2, two_gathers_took='%.2fs' % took)
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
                            time.sleep(0.2)
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
                    time.sleep(0.005)
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
                time.sleep(1.5)   # the others had as long, and more
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


def tearDownModule():
    if BOUNDS:
        sys.stdout.write('\n\nbounds measured:\n%s\n' % '\n'.join('  ' + b for b in BOUNDS))


if __name__ == '__main__':
    unittest.main()
