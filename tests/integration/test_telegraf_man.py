"""The man page mtproxy-telegraf(1): `make` builds build/man/mtproxy-telegraf.1.gz from
packaging/man/mtproxy-telegraf.1; man renders it at 80 columns without a warning, and it documents
every flag --help lists (the core's flags come from the shared option table, so a new row there
must reach the man page too)."""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR  # noqa: E402
from execd import BINARY  # noqa: E402

SOURCE = os.path.join(ROOT_DIR, 'packaging', 'man', 'mtproxy-telegraf.1')
BUILT = os.path.join(ROOT_DIR, 'build', 'man', 'mtproxy-telegraf.1.gz')


class ManPage(unittest.TestCase):
    def render(self, warnings=False):
        env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8', MAN_DISABLE_SECCOMP='1')
        argv = ['man'] + (['--warnings'] if warnings else []) + ['-l', BUILT]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)

    def setUp(self):
        if not shutil.which('man'):
            self.skipTest('man (man-db) is not installed')
        self.assertTrue(os.path.exists(BUILT), 'make all builds ' + BUILT)

    def test_built_from_the_source(self):
        import gzip
        with gzip.open(BUILT, 'rb') as f, open(SOURCE, 'rb') as g:
            self.assertEqual(f.read(), g.read(), 'build/man is stale: run make')

    def test_renders_without_warnings(self):
        r = self.render(warnings=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, '', 'man/groff warnings')
        self.assertIn('mtproxy-telegraf', r.stdout)

    def test_every_flag_of_help_is_documented(self):
        text = self.render().stdout
        text = re.sub(r'.\x08', '', text)  # overstrike, if any
        text = text.replace('\u2010', '-')  # hyphens as groff may render them
        help_text = subprocess.run([BINARY, '--help'], capture_output=True, text=True).stdout
        flags = sorted(set(re.findall(r'^  (--[a-z][a-z0-9-]*)', help_text, re.M)))
        self.assertGreater(len(flags), 10)
        missing = [f for f in flags if f not in text]
        self.assertEqual(missing, [], 'flags of --help missing from packaging/man/mtproxy-telegraf.1')
        for section in ('NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'EXIT STATUS', 'EXAMPLES'):
            self.assertRegex(text, r'(?m)^%s$' % section)


if __name__ == '__main__':
    unittest.main()
