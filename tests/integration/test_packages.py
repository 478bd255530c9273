"""The .deb packages on the machine: make deb, dpkg -i, the packaged collectd snippet and
mtproxy-telegraf from the system paths against the stats server, then dpkg --purge leaves nothing.

Needs root (dpkg -i) and dpkg-buildpackage/debhelper (tests/install-deps.sh installs them); skipped
otherwise. The packages are built once for the class (about 15 s); the whole module takes well under
a minute. rpm: `make rpm` is built once too, when rpmbuild is there (its contents are checked, not
installed: this is a Debian machine).
"""
import os
import glob
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, StatsServer, listens_on, pick_port, wait_until  # noqa: E402
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
        # dashboards and alert rules, installed where a user finds them
        for p, f in (('collectd-mtproxy', 'grafana/mtproxy-prometheus.json'),
                     ('collectd-mtproxy', 'prometheus/mtproxy-rules.yml'),
                     ('telegraf-mtproxy', 'grafana/mtproxy-influxdb.json'),
                     ('telegraf-mtproxy', 'zabbix/mtproxy-zabbix-template.yaml')):
            path = '/usr/share/mtproxy-monitor/' + f
            self.assertIn(path, files[p])
            with open(path, 'rb') as a, open(os.path.join(ROOT_DIR, 'packaging', f), 'rb') as b:
                self.assertEqual(a.read(), b.read(), path)
        # the Zabbix agent's UserParameter file, where Debian's zabbix_agentd.conf includes it
        zbx = '/etc/zabbix/zabbix_agentd.conf.d/mtproxy.conf'
        self.assertIn(zbx, files['telegraf-mtproxy'])
        with open(zbx) as a, open(os.path.join(ROOT_DIR, 'packaging', 'zabbix', 'mtproxy.conf')) as b:
            self.assertEqual(a.read(), b.read())
        rc, conff = _run(['dpkg-query', '-W', '-f=${Conffiles}', 'telegraf-mtproxy'], timeout=30)
        self.assertIn(zbx, conff)
        if shutil.which('promtool'):
            rc, out = _run(['promtool', 'check', 'rules', '/usr/share/mtproxy-monitor/prometheus/mtproxy-rules.yml'])
            self.assertEqual(rc, 0, out)
        self.assertTrue(os.path.isfile('/usr/share/doc/collectd-mtproxy/copyright'))
        for p in PACKAGES:
            rc, dep = _run(['dpkg-query', '-W', '-f=${Depends}', p], timeout=30)
            self.assertIn('libcurl4', dep, p)       # shlibs-derived
            self.assertIn('libc6', dep, p)
        rc, dep = _run(['dpkg-query', '-W', '-f=${Depends}', 'collectd-mtproxy'], timeout=30)
        # Debian's collectd (the main collectd.conf that collectd.service needs), not collectd-core alone
        self.assertRegex(dep, r'(^|, )collectd(,|$| )')
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


SYSTEM_UNIT = '/lib/systemd/system/collectd.service'
PROM_SNIPPET = '/etc/collectd/collectd.conf.d/write_prometheus.conf'


def _unit_entries(path):
    """[(key, value)] of a systemd unit file, in order (comments and sections dropped)."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in '#;[' or '=' not in line:
                continue
            k, v = line.split('=', 1)
            out.append((k.strip(), v.strip()))
    return out


def _unit_argv(value):
    """An Exec*= value as argv: systemd's prefixes (-, @, +, !, :) stripped, words split."""
    value = value.lstrip('-@+!:')
    return shlex.split(value)


def _env_file(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#') and '=' in line:
                k, v = line.split('=', 1)
                env[k.strip()] = v.strip().strip('"')
    return env


def _prom_value(text, name, labels):
    """The value of the first sample of `name` whose labels include `labels`, or None."""
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)', line)
        if m and m.group(1) == name:
            got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            if all(got.get(k) == v for k, v in labels.items()):
                return float(m.group(3)), got
    return None


@unittest.skipUnless(CAN_BUILD and shutil.which('apt-get'),
                     'needs root, apt-get and dpkg-buildpackage (tests/install-deps.sh)')
class DebNewcomerPath(unittest.TestCase):
    """The README's collectd path, literally: `apt install` of the .deb with the packages the README
    names, the URL edited in the installed snippet, write_prometheus enabled as the README says,
    then collectd started the way Debian's collectd.service starts it (systemd is not PID 1 here, so
    the unit's own ExecStartPre and ExecStart lines are run, read from the installed unit file, with
    its EnvironmentFile and a NOTIFY_SOCKET for Type=notify), and a value read from its scrape."""

    def setUp(self):
        if not os.path.isdir(PKG_DIR) or 'collectd-mtproxy' not in _debs():
            rc, out = _run(['make', '-s', 'deb'])
            self.assertEqual(rc, 0, out[-4000:])
        _purge()
        self.addCleanup(_purge)
        self.tmp = tempfile.mkdtemp(prefix='mtpm-newcomer-')
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def _readme_install_command(self):
        with open(os.path.join(ROOT_DIR, 'README.md')) as f:
            readme = f.read()
        m = re.search(r'^\s*(?:sudo )?(apt(?:-get)? install [^\n]*\./build/packages/collectd-mtproxy_\*\.deb[^\n]*)$',
                      readme, re.M)
        self.assertTrue(m, 'README has no apt install line for collectd-mtproxy')
        argv = shlex.split(m.group(1))
        self.assertIn('libmicrohttpd12', argv)      # write_prometheus's libraries are stated
        self.assertIn('libprotobuf-c1', argv)
        deb = _debs()['collectd-mtproxy']
        # `apt` warns that its CLI is unstable in scripts; apt-get takes the same arguments
        return [('apt-get' if a == 'apt' else deb if a.startswith('./build/packages/') else a) for a in argv]

    def test_collectd_starts_with_the_plugin_as_debian_starts_it(self):
        argv = self._readme_install_command() + ['-y', '-q']
        rc, out = _run(argv, timeout=600, env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))
        self.assertEqual(rc, 0, out[-3000:])
        # the main config comes from Debian's collectd package, pulled in by the dependency
        rc, owner = _run(['dpkg', '-S', '/etc/collectd/collectd.conf'], timeout=30)
        self.assertEqual(rc, 0, owner)
        self.assertTrue(owner.startswith('collectd:'), owner)
        rc, dep = _run(['dpkg-query', '-W', '-f=${Depends}', 'collectd-mtproxy'], timeout=30)
        self.assertRegex(dep, r'(^|, )collectd(,|$| )')
        # README: edit the URL in the installed snippet; add write_prometheus
        with StatsServer() as srv:
            with open(COLLECTD_SNIPPET) as f:
                snippet = f.read()
            self.addCleanup(self._restore, COLLECTD_SNIPPET, snippet)
            with open(COLLECTD_SNIPPET, 'w') as f:
                f.write(snippet.replace('http://127.0.0.1:8888/stats', srv.url))
            self.addCleanup(lambda: os.path.exists(PROM_SNIPPET) and os.unlink(PROM_SNIPPET))
            rrd_before = set(glob.glob('/var/lib/collectd/rrd/*')) | set(glob.glob('/var/lib/collectd/rrd/*/*'))
            self.addCleanup(self._remove_new_rrds, rrd_before)
            for attempt in range(6):
                # README: write_prometheus listens on 9103; here a port of its own, another one when
                # something on the host took it between the pick and collectd's bind
                port = pick_port()
                with open(PROM_SNIPPET, 'w') as f:
                    f.write('LoadPlugin write_prometheus\n<Plugin write_prometheus>\n  Port "%d"\n</Plugin>\n'
                            % port)
                proc = self._start_like_systemd()
                if wait_until(lambda: listens_on(proc.pid, port) or proc.poll() is not None, 10):
                    if proc.poll() is None:
                        break
                proc.terminate()
                proc.wait(timeout=30)
            try:
                got = {}

                def up():
                    try:
                        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=2) as r:
                            got['text'] = r.read().decode('utf-8')
                    except OSError:
                        return False
                    got['up'] = _prom_value(got['text'], 'collectd_mtproxy_gauge',
                                            {'mtproxy': 'main', 'type': 'up'})
                    return got['up'] is not None and got['up'][0] == 1.0
                ok = wait_until(up, 30, 0.5)
                self.assertTrue(ok, 'no mtproxy up=1 from the system collectd; scrape:\n%s\nlog:\n%s'
                                % (got.get('text', '')[-1500:], self._log()))
                conns = _prom_value(got['text'], 'collectd_mtproxy_current_connections',
                                    {'mtproxy': 'main', 'type': 'summary-clients'})
                self.assertIsNotNone(conns, got['text'][-1500:])
                # Debian's collectd.conf also writes RRDs: the plugin's values are there too
                self.assertTrue(wait_until(lambda: glob.glob('/var/lib/collectd/rrd/*/mtproxy-main/gauge-up.rrd'),
                                           15, 0.5), self._log())
                self.assertIsNone(proc.poll())
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)

    def _log(self):
        path = os.path.join(self.tmp, 'collectd.out')
        return open(path, errors='replace').read()[-3000:] if os.path.exists(path) else ''

    @staticmethod
    def _restore(path, text):
        if os.path.exists(path):
            with open(path, 'w') as f:
                f.write(text)

    @staticmethod
    def _remove_new_rrds(before):
        """What Debian's collectd.conf (rrdtool, cpu, df ...) wrote during the test, and only that."""
        for d in sorted(set(glob.glob('/var/lib/collectd/rrd/*')) - before):
            shutil.rmtree(d, ignore_errors=True)
        for d in set(glob.glob('/var/lib/collectd/rrd/*/*')) - before:
            shutil.rmtree(d, ignore_errors=True)

    def _start_like_systemd(self):
        """ConditionPathExists checked, EnvironmentFile read, ExecStartPre run (must exit 0), ExecStart
        spawned with NOTIFY_SOCKET; returns once collectd says READY=1 (Type=notify)."""
        self.assertTrue(os.path.exists(SYSTEM_UNIT), SYSTEM_UNIT)
        entries = _unit_entries(SYSTEM_UNIT)
        env = dict(os.environ)
        pre, start = [], None
        for k, v in entries:
            if k == 'ConditionPathExists':
                neg = v.startswith('!')
                path = v.lstrip('!|')
                self.assertEqual(os.path.exists(path), not neg, 'the unit would not start: %s=%s' % (k, v))
            elif k == 'EnvironmentFile':
                path = v.lstrip('-')
                if os.path.exists(path):
                    env.update(_env_file(path))
                else:
                    self.assertTrue(v.startswith('-'), v)
            elif k == 'ExecStartPre':
                pre.append(_unit_argv(v))
            elif k == 'ExecStart':
                start = _unit_argv(v)
            elif k == 'Type':
                self.assertEqual(v, 'notify')
        self.assertTrue(start, 'no ExecStart in ' + SYSTEM_UNIT)
        for argv in pre:
            rc, out = _run(argv, timeout=60, env=env)
            self.assertEqual(rc, 0, '%s: %s' % (' '.join(argv), out))
        notify_path = os.path.join(self.tmp, 'notify')
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(notify_path)
        env['NOTIFY_SOCKET'] = notify_path
        out = open(os.path.join(self.tmp, 'collectd.out'), 'wb')
        self.addCleanup(out.close)
        proc = subprocess.Popen(start, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        sock.settimeout(0.5)
        deadline = time.monotonic() + 30
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                msg = sock.recv(4096).decode('utf-8', 'replace')
            except socket.timeout:
                continue
            if 'READY=1' in msg.split('\n'):
                ready = True
                break
        if not ready:
            proc.kill()
            proc.wait(timeout=10)
        self.assertTrue(ready, 'collectd never sent READY=1 (rc %s):\n%s' % (proc.poll(), self._log()))
        return proc


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
        self.assertIn('/usr/share/mtproxy-monitor/prometheus/mtproxy-rules.yml', files)
        self.assertIn('/usr/share/mtproxy-monitor/grafana/mtproxy-prometheus.json', files)
        self.assertRegex(files, r'(?m)^/usr/share/licenses/collectd-mtproxy[^/]*/LICENSE$')
        rc, lic = _run(['rpm', '-qp', '--qf', '%{LICENSE}', rpms['collectd-mtproxy']], timeout=60)
        self.assertEqual(lic.strip(), 'MIT')
        rc, files = _run(['rpm', '-qlp', rpms['telegraf-mtproxy']], timeout=60)
        self.assertIn('/usr/bin/mtproxy-telegraf', files)
        self.assertIn('/etc/telegraf/telegraf.d/mtproxy.conf', files)
        self.assertIn('/usr/share/mtproxy-monitor/zabbix/mtproxy-zabbix-template.yaml', files)
        rc, conf = _run(['rpm', '-qcp', rpms['telegraf-mtproxy']], timeout=60)
        self.assertIn('/etc/telegraf/telegraf.d/mtproxy.conf', conf)
        rc, req = _run(['rpm', '-qpR', rpms['collectd-mtproxy']], timeout=60)
        self.assertIn('libcurl.so.4', req)
        self.assertRegex(req, r'(?m)^collectd\b')


if __name__ == '__main__':
    unittest.main()
