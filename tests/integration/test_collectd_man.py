"""packaging/man/collectd-mtproxy.5: renders without warnings, documents every collectd option."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR  # noqa: E402

MAN = os.path.join(ROOT_DIR, 'packaging', 'man', 'collectd-mtproxy.5')


def rendered():
    env = dict(os.environ, MANWIDTH='80', MAN_KEEP_FORMATTING='', LC_ALL='C.UTF-8')
    r = subprocess.run(['man', '-l', MAN], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30)
    return re.sub(r'.\x08', '', r.stdout)


class CollectdManPage(unittest.TestCase):
    def test_renders_without_warnings(self):
        r = subprocess.run('MANWIDTH=80 man --warnings -l "%s" 2>&1 >/dev/null' % MAN, shell=True,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout + r.stderr, '')
        self.assertEqual(r.returncode, 0)

    def test_documents_every_option_of_the_table(self):
        table = open(os.path.join(ROOT_DIR, 'common', 'gather', 'config_options.c')).read()
        names = re.findall(r'\{\s*"([A-Za-z]+)",\s*"[a-z0-9-]+",\s*MM_OPT_[A-Z]+,', table)
        self.assertGreaterEqual(len(names), 10)
        text = rendered()
        options = text.split('\nOPTIONS\n', 1)[1].split('\nIDENTIFIERS\n', 1)[0]
        for name in names + ['Interval', '<Instance']:
            # each option starts a tagged paragraph: "       Name value" then its type and default
            self.assertRegex(options, r'\n       %s[ "]' % re.escape(name), 'option %s not in the man page' % name)
        for section in ('SYNOPSIS', 'IDENTIFIERS', 'NOTIFICATIONS', 'TYPESDB', 'PROMETHEUS AND GRAFANA',
                        'EXAMPLES'):
            self.assertIn('\n%s\n' % section, text)
        for ident in ('gauge-up', 'derive-scrape_errors', 'gauge-scrape_duration_seconds',
                      'collectd_mtproxy_gauge{mtproxy="main",type="stats-total_special_connections"'):
            self.assertIn(ident, text)

    def test_make_builds_the_gzipped_page(self):
        gz = os.path.join(ROOT_DIR, 'build', 'man', 'collectd-mtproxy.5.gz')
        self.assertTrue(os.path.exists(gz), 'make all builds %s' % gz)
        r = subprocess.run(['gzip', '-dc', gz], capture_output=True, timeout=30)
        self.assertEqual(r.stdout, open(MAN, 'rb').read())


if __name__ == '__main__':
    unittest.main()
