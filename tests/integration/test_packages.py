"""The .deb packages on the machine: make deb, dpkg -i, the packaged collectd snippet and
mtproxy-telegraf from the system paths against the stats server, then dpkg --purge leaves nothing.

Needs root (dpkg -i) and dpkg-buildpackage/debhelper (tests/install-deps.sh installs them); skipped
otherwise. The packages are built once for the class (about 15 s); the whole module takes well under
a minute. rpm: `make rpm` is built once too, when rpmbuild is there (its contents are checked, not
installed: this is a Debian machine).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, StatsServer  # noqa: E402
from lineproto import parse_line  # noqa: E402

PACKAGES = ('collectd-mtproxy', 'telegraf-mtproxy')
BUILD = os.path.join(ROOT_DIR, 'build')
PKG_DIR = os.path.join(BUILD, 'packages')
COLLECTD_SNIPPET = '/etc/collectd/collectd.conf.d/mtproxy.conf'
TELEGRAF_SNIPPET = '/etc/telegraf/telegraf.d/mtproxy.conf'


def _run(argv, timeout=600, **kw):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, cwd=ROOT_DIR, **kw)
    return r.returncode, r.stdout.decode('utf-8', 'replace')


def _debs():
    found = {}
    for name in os.listdir(PKG_DIR):
        m = re.match(r'^(collectd-mtproxy|telegraf-mtproxy)_[^_]+_[^_]+\.deb$', name)
        if m:
            found[m.group(1)] = os.path.join(PKG_DIR, name)
    return found


def _installed(pkg):
    rc, out = _run(['dpkg-query', '-W', '-f=${Status}', pkg], timeout=30)
    return rc == 0 and 'install ok installed' in out


def _purge():
    present = [p for p in PACKAGES if _run(['dpkg-query', '-W', p], timeout=30)[0] == 0]
    if present:
        return _run(['dpkg', '--purge'] + present, timeout=120)
    return 0, ''


CAN_BUILD = os.geteuid() == 0 and shutil.which('dpkg-buildpackage') and shutil.which('dh')


@unittest.skipUnless(CAN_BUILD, 'needs root and dpkg-buildpackage + debhelper (tests/install-deps.sh)')
class DebPackages(unittest.TestCase):
    """Built once: make deb (which also runs lintian when it is installed and fails on a warning)."""

    @classmethod
    def setUpClass(cls):
        rc, out = _run(['make', '-s', 'deb'])
        cls.build_rc, cls.build_log = rc, out
        if rc == 0:
            _purge()    # a leftover of an earlier, killed run
            cls.debs = _debs()
            cls.install_rc, cls.install_log = _run(['dpkg', '-i'] + [cls.debs[p] for p in PACKAGES
                                                                      if p in cls.debs], timeout=120)
            cls.file_lists = {}
            for p in PACKAGES:
                rc2, listing = _run(['dpkg', '-L', p], timeout=30)
                cls.file_lists[p] = listing.splitlines() if rc2 == 0 else []

    @classmethod
    def tearDownClass(cls):
        _purge()

    def setUp(self):
        self.assertEqual(self.build_rc, 0, 'make deb failed:\n' + self.build_log[-4000:])
        self.assertEqual(sorted(self.debs), sorted(PACKAGES), self.build_log[-2000:])
        self.assertEqual(self.install_rc, 0, 'dpkg -i failed:\n' + self.install_log)

    def test_1_lintian_clean(self):
        if not shutil.which('lintian'):
            self.skipTest('lintian not installed')
        # make deb ran lintian with --fail-on error,warning; its output must hold no E:/W: tag
        self.assertFalse(re.search(r'^[EW]: ', self.build_log, re.M), self.build_log[-4000:])

    def test_2_contents_and_dependencies(self):
        files = {p: {f for f in self.file_lists[p] if os.path.isfile(f)} for p in PACKAGES}
        self.assertIn('/usr/lib/collectd/mtproxy.so', files['collectd-mtproxy'])
        self.assertIn(COLLECTD_SNIPPET, files['collectd-mtproxy'])
        self.assertIn('/usr/share/man/man5/collectd-mtproxy.5.gz', files['collectd-mtproxy'])
        self.assertIn('/usr/bin/mtproxy-telegraf', files['telegraf-mtproxy'])
        self.assertIn(TELEGRAF_SNIPPET, files['telegraf-mtproxy'])
        self.assertIn('/usr/share/man/man1/mtproxy-telegraf.1.gz', files['telegraf-mtproxy'])
        for p in PACKAGES:
            rc, dep = _run(['dpkg-query', '-W', '-f=${Depends}', p], timeout=30)
            self.assertIn('libcurl4', dep, p)       # shlibs-derived
            self.assertIn('libc6', dep, p)
        rc, dep = _run(['dpkg-query', '-W', '-f=${Depends}', 'collectd-mtproxy'], timeout=30)
        self.assertIn('collectd-core', dep)
        rc, conff = _run(['dpkg-query', '-W', '-f=${Conffiles}', 'collectd-mtproxy'], timeout=30)
        self.assertIn(COLLECTD_SNIPPET, conff)
        # the man page renders (man reads the installed, gzipped page by name)
        rc, out = _run(['man', '-P', 'cat', '5', 'collectd-mtproxy'], timeout=60,
                       env=dict(os.environ, MANWIDTH='80'))
        self.assertEqual(rc, 0, out)
        self.assertIn('mtproxy', out)

    def test_3_packaged_collectd_snippet(self):
        with open(COLLECTD_SNIPPET) as f:
            snippet = f.read()
        self.assertRegex(snippet, r'(?m)^LoadPlugin mtproxy$')
        self.assertIn('URL "http://127.0.0.1:8888/stats"', snippet)
        tmp = tempfile.mkdtemp(prefix='mtpm-pkg-')
        try:
            with StatsServer() as srv:
                # the installed snippet, pointed at the test server: only the URL changes
                conf = os.path.join(tmp, 'mtproxy.conf')
                with open(conf, 'w') as f:
                    f.write(snippet.replace('http://127.0.0.1:8888/stats', srv.url))
                extra = 'PluginDir "/usr/lib/collectd"\nInclude "%s"\n' % conf
                with Collectd(None, load_plugin=False, extra_conf=extra) as cd:
                    v = cd.wait_for('mtproxy-main/gauge-up', timeout=15, pred=lambda v: v['value'] == 1.0)
                    self.assertEqual(v['value'], 1.0)
                    cd.wait_for('mtproxy-main/gauge-stats-total_special_connections', timeout=10)
                    cd.wait_for('mtproxy-main/gauge-stats-workers', timeout=10)
                    rows = cd.csv_rows('mtproxy-main/gauge-up')
                    self.assertTrue(rows and rows[-1]['value'] == 1.0, rows)
                    log = cd.log_text()
            self.assertIn('plugin "mtproxy" successfully loaded', log)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_4_installed_telegraf_once(self):
        with StatsServer() as srv:
            rc, out = _run(['/usr/bin/mtproxy-telegraf', '--once', '--url', srv.url], timeout=60)
        self.assertEqual(rc, 0, out)
        lines = [l for l in out.splitlines() if l.startswith('mtproxy,')]
        self.assertTrue(lines, out)
        measurement, tags, fields, ts = parse_line(lines[0])
        self.assertEqual(tags.get('instance'), 'main')
        self.assertEqual(fields.get('up'), 1)
        page = [l for l in out.splitlines() if l.startswith('mtproxy_stats,')]
        self.assertTrue(page, out)
        self.assertIn('total_special_connections', parse_line(page[0])[2])
        # the packaged Telegraf snippet calls the installed binary
        with open(TELEGRAF_SNIPPET) as f:
            self.assertIn('"/usr/bin/mtproxy-telegraf"', f.read())
        rc, out = _run(['/usr/bin/mtproxy-telegraf', '--version'], timeout=30)
        self.assertEqual(rc, 0, out)

    def test_5_purge_leaves_nothing(self):
        files = [f for p in PACKAGES for f in self.file_lists[p] if os.path.isfile(f)]
        self.assertGreater(len(files), 6)
        rc, out = _purge()
        self.assertEqual(rc, 0, out)
        for p in PACKAGES:
            self.assertFalse(_installed(p), p)
            rc, out = _run(['dpkg-query', '-W', p], timeout=30)
            self.assertNotEqual(rc, 0, 'still known to dpkg after purge: ' + out)
        left = [f for f in files if os.path.lexists(f)]
        self.assertEqual(left, [])
        for path in (COLLECTD_SNIPPET, TELEGRAF_SNIPPET, '/usr/lib/collectd/mtproxy.so',
                     '/usr/bin/mtproxy-telegraf', '/usr/share/doc/collectd-mtproxy',
                     '/usr/share/doc/telegraf-mtproxy'):
            self.assertFalse(os.path.lexists(path), path)
        for leftover in ('.dpkg-old', '.dpkg-dist', '.dpkg-new'):
            for d in ('/etc/collectd/collectd.conf.d', '/etc/telegraf/telegraf.d'):
                if os.path.isdir(d):
                    self.assertFalse([n for n in os.listdir(d) if n.startswith('mtproxy') and
                                      n.endswith(leftover)], d)


@unittest.skipUnless(shutil.which('rpmbuild'), 'rpmbuild not installed (Debian package rpm)')
class RpmPackages(unittest.TestCase):
    """make rpm (rpmbuild --nodeps, then rpmlint with packaging/rpm's filters when installed)."""

    def test_rpm_builds_both_subpackages(self):
        rc, out = _run(['make', '-s', 'rpm'])
        self.assertEqual(rc, 0, out[-4000:])
        if shutil.which('rpmlint'):
            self.assertRegex(out, r'0 errors, 0 warnings')
        rpms = {}
        for name in os.listdir(PKG_DIR):
            m = re.match(r'^(collectd-mtproxy|telegraf-mtproxy)-[0-9].*\.rpm$', name)
            if m:
                rpms[m.group(1)] = os.path.join(PKG_DIR, name)
        self.assertEqual(sorted(rpms), sorted(PACKAGES))
        rc, files = _run(['rpm', '-qlp', rpms['collectd-mtproxy']], timeout=60)
        self.assertRegex(files, r'(?m)^/usr/lib(64)?/collectd/mtproxy\.so$')
        self.assertIn('/etc/collectd.d/mtproxy.conf', files)
        rc, files = _run(['rpm', '-qlp', rpms['telegraf-mtproxy']], timeout=60)
        self.assertIn('/usr/bin/mtproxy-telegraf', files)
        self.assertIn('/etc/telegraf/telegraf.d/mtproxy.conf', files)
        rc, conf = _run(['rpm', '-qcp', rpms['telegraf-mtproxy']], timeout=60)
        self.assertIn('/etc/telegraf/telegraf.d/mtproxy.conf', conf)
        rc, req = _run(['rpm', '-qpR', rpms['collectd-mtproxy']], timeout=60)
        self.assertIn('libcurl.so.4', req)
        self.assertRegex(req, r'(?m)^collectd\b')


if __name__ == '__main__':
    unittest.main()
