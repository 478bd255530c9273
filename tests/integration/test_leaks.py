"""valgrind over many gathers: no leak, no invalid access, in good and failing modes.

The newlines are written one per gather, as Telegraf does: newlines that queue up are coalesced into one
gather, and newlines read together with stdin's EOF are not gathered."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import StatsServer  # noqa: E402
from execd import Execd  # noqa: E402

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
