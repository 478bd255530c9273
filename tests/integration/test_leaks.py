"""valgrind over many gathers: no leak, no invalid access, in good and failing modes.

The newlines are written one per gather, as Telegraf does: newlines that queue up are coalesced into one
gather, and newlines read together with stdin's EOF are not gathered."""
import fcntl
import os
import re
import signal
import struct
import subprocess
import tempfile
import termios
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import StatsServer, full_run_only, wait_until  # noqa: E402
from execd import BINARY, Execd  # noqa: E402

VALGRIND = ['valgrind', '--leak-check=full', '--show-leak-kinds=all', '--errors-for-leak-kinds=all',
            '--error-exitcode=9']


def valgrind_gathers(url, gathers):
    ex = Execd(['--url', url, '--timeout', '1s'], prefix=VALGRIND).start()
    try:
        for _ in range(gathers):
            ex.tick(timeout=60)
        rc, _, how = ex.close_stdin(grace=120)
        for t in ex._readers:
            t.join(10)
        if how != 'eof':
            rc = 'no exit on EOF (%s)' % how
        return rc, ex.gathers(), '\n'.join(ex.stderr_lines)
    finally:
        ex.stop()


@full_run_only
class Leaks(unittest.TestCase):
    def check(self, mode, gathers, **server):
        with StatsServer(mode=mode, **server) as srv:
            rc, lines, err = valgrind_gathers(srv.url, gathers)
        summary = '\n'.join(l for l in err.splitlines() if re.search(r'in use at exit|ERROR SUMMARY|lost', l))
        self.assertEqual(rc, 0, summary or err[-3000:])
        self.assertEqual(lines, gathers)
        self.assertIn('in use at exit: 0 bytes in 0 blocks', err, summary)
        self.assertIn('ERROR SUMMARY: 0 errors', err, summary)

    def test_1000_gathers_of_a_fixture(self):
        self.check('ok', 1000, static=True)

    def test_failing_modes(self):
        for mode in ('refuse', 'garbage', '404', 'truncated-short', 'big'):
            with self.subTest(mode=mode):
                self.check(mode, 50)

    def test_sigterm_mid_transfer_and_with_stdout_stalled(self):
        """The exits issue 16 added: SIGTERM aborting a transfer in flight, and SIGTERM while a batch
        waits for a reader that stopped reading. Every allocation is freed on both paths."""
        with StatsServer(mode='hang') as srv:
            for stalled in (False, True):
                with self.subTest(stdout_stalled=stalled):
                    if stalled:
                        srv.set_mode('ok')
                    out = tempfile.TemporaryFile()
                    p = subprocess.Popen(VALGRIND + [BINARY, '--url', srv.url, '--timeout', '60s',
                                                     '--collect-sockets=false'],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=out)
                    try:
                        fcntl.fcntl(p.stdout.fileno(), 1031, 4096)    # F_SETPIPE_SZ: a small pipe
                        if stalled:
                            def full():      # the pipe is full: the next batch waits in the program
                                p.stdin.write(b'\n')
                                p.stdin.flush()
                                unread = fcntl.ioctl(p.stdout.fileno(), termios.FIONREAD, b'\0\0\0\0')
                                return struct.unpack('i', unread)[0] >= 4096 - 600
                            self.assertTrue(wait_until(full, 120, 0.3))
                            p.stdin.write(b'\n\n')
                            p.stdin.flush()
                        else:
                            p.stdin.write(b'\n')
                            p.stdin.flush()
                            self.assertTrue(wait_until(lambda: 'mode=hang' in srv.log_text(), 60))
                        p.send_signal(signal.SIGTERM)
                        rc = p.wait(120)
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                        p.stdin.close()
                        p.stdout.close()
                    out.seek(0)
                    err = out.read().decode(errors='replace')
                    out.close()
                    summary = '\n'.join(l for l in err.splitlines()
                                        if re.search(r'in use at exit|ERROR SUMMARY|lost', l))
                    self.assertEqual(rc, 0, summary or err[-3000:])
                    self.assertIn('in use at exit: 0 bytes in 0 blocks', err, summary)
                    self.assertIn('ERROR SUMMARY: 0 errors', err, summary)


if __name__ == '__main__':
    unittest.main()
