"""mtproxy-telegraf started with descriptors 0-2 closed, as daemon wrappers, cron and init scripts do
(issue 25): each closed one gets /dev/null before anything else is opened. stdin closed reads as EOF
(Telegraf's stop: exit 0 without a gather), stdout closed discards the lines, and with all three closed
a state file's lock file stays empty (no log line lands in it) and the state file is a real one."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, StatsServer  # noqa: E402

BIN = os.path.join(ROOT_DIR, os.environ.get('BUILD', 'build'), 'mtproxy-telegraf')
FIXTURE = 'stats-upstream-with-clients-M1.txt'


def run_closed(redirs, args, timeout=30):
    """Runs the front through sh with the redirections (e.g. '<&-'): (exit code, stdout, stderr).
    stdout/stderr not closed by redirs are captured."""
    script = 'exec "$0" "$@" %s' % redirs
    r = subprocess.run(['/bin/sh', '-c', script, BIN] + args, stdin=subprocess.PIPE,
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode('utf-8', 'replace'), r.stderr.decode('utf-8', 'replace')


class ClosedStdio(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-stdio-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def base(self, url):
        return ['--url', url, '--timeout', '2s', '--collect-process=false', '--collect-sockets=false']

    def test_stdin_closed_is_eof(self):
        with StatsServer(fixture=FIXTURE) as srv:
            # the default signal is STDIN: before the fix fd 0 was the stop signalfd, polled as stdin,
            # and the front neither gathered nor exited (the timeout would fire)
            rc, out, err = run_closed('<&-', self.base(srv.url), timeout=20)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, '')

    def test_stdout_closed_discards_lines(self):
        with StatsServer(fixture=FIXTURE) as srv:
            rc, out, err = run_closed('>&-', ['--once'] + self.base(srv.url))
        self.assertEqual(rc, 0, err)
        self.assertNotIn('E! ', err)  # before: "writing stdout: Invalid argument; exiting"

    def test_all_closed_with_a_state_file(self):
        state = os.path.join(self.tmp, 'all-closed.state')
        with StatsServer(fixture=FIXTURE) as srv:
            args = ['--once', '--url', srv.url, '--timeout', '2s', '--collect-process=false',
                    '--client-port', '1', '--include-local', '--upstream-port', '0', '--state-file', state,
                    '--instance', 'closed']
            rc, _, _ = run_closed('<&- >&- 2>&-', args)
        self.assertEqual(rc, 0)
        with open(state + '.lock', 'rb') as f:
            self.assertEqual(f.read(), b'')  # before: every log line was written here
        with open(state, 'rb') as f:
            self.assertEqual(f.read(8), b'MTPXSTAT')


if __name__ == '__main__':
    unittest.main()
