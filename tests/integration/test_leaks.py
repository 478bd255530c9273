"""valgrind over many gathers: no leak, no invalid access, in good and failing modes."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import StatsServer  # noqa: E402
from execd import BINARY  # noqa: E402


def valgrind_gathers(url, gathers):
    r = subprocess.run(['valgrind', '--leak-check=full', '--show-leak-kinds=all', '--errors-for-leak-kinds=all',
                        '--error-exitcode=9', BINARY, '--url', url, '--timeout', '1s'],
                       input=b'\n' * gathers, capture_output=True, timeout=600)
    out = r.stdout.decode(errors='replace')
    err = r.stderr.decode(errors='replace')
    return r.returncode, out.count('\nmtproxy,') + out.startswith('mtproxy,'), err


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


if __name__ == '__main__':
    unittest.main()
