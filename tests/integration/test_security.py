"""Security (issue 8): only http(s) URLs, credentials never in logs or output, redirects only when
configured and only to http(s), TLS verification on by default with CACert / VerifyPeer as in
collectd's apache plugin; both fronts."""
import base64
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, Collectd, StatsServer, collectd_check_config, wait_until  # noqa: E402
from execd import Execd, run_once as _run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

SECRET = 's3cr3t-Pa55'
FIXTURE = os.path.join(FIXTURES_DIR, 'stats-idle-M1.txt')


class Once:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, '\n'.join(out), '\n'.join(err)

    def __repr__(self):
        return 'rc %s\nstdout: %s\nstderr: %s' % (self.returncode, self.stdout, self.stderr)


def run_once(args, timeout=30):
    return Once(*_run_once(args, timeout=timeout))


def up_of(lines):
    for l in lines:
        if l.startswith('mtproxy,') and 'up=' in l:
            return parse_line(l)[2]['up']
    raise AssertionError('no up in %r' % lines)


class TinyServer:
    """A one-purpose HTTP(S) server on 127.0.0.1: /stats answers with the fixture, or a redirect to
    `location` when given."""

    def __init__(self, location=None, tls=None, auth=None):
        body = open(FIXTURE, 'rb').read()
        want = 'Basic ' + base64.b64encode(('%s:%s' % auth).encode()).decode() if auth else None

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if want and self.headers.get('Authorization') != want:
                    self.send_response(401)
                    self.send_header('WWW-Authenticate', 'Basic realm="stats"')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if location:
                    self.send_response(302)
                    self.send_header('Location', location)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        scheme = 'https' if tls else 'http'
        self.url = '%s://127.0.0.1:%d/stats' % (scheme, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def block(url, extra=''):
    return '<Instance "main">\n  URL "%s"\n  Timeout 500\n  CollectSockets false\n%s</Instance>\n' % (url, extra)


class Schemes(unittest.TestCase):
    BAD = ['file:///etc/passwd', 'ftp://127.0.0.1/stats', 'gopher://127.0.0.1:70/', 'dict://127.0.0.1:2628/d',
           'ldap://127.0.0.1/', 'scp://127.0.0.1/x', 'FILE:///etc/passwd', '/etc/passwd']

    def test_only_http_and_https_at_config_time(self):
        for url in self.BAD:
            with self.subTest(url=url):
                r = run_once(['--url', url], timeout=10)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn('url', r.stderr.lower())
                self.assertEqual(r.stdout, '')
                rc, log = collectd_check_config(block(url))
                self.assertNotEqual(rc, 0, log)
                self.assertIn('URL', log)


class Credentials(unittest.TestCase):
    def test_never_in_logs_or_output(self):
        for mode in ('refuse', '404', 'garbage', 'hang'):
            with self.subTest(mode=mode), StatsServer(mode=mode) as srv:
                url = srv.url.replace('http://', 'http://admin:%s@' % SECRET)
                ex = Execd(['--url', url, '--timeout', '300ms', '--user', 'u', '--password', SECRET,
                            '--collect-sockets=false']).start()
                try:
                    ex.tick()
                    ex.tick()
                finally:
                    ex.stop()
                text = '\n'.join(ex.lines + ex.stderr_lines)
                self.assertTrue(ex.stderr_lines)  # the failure is logged ...
                self.assertNotIn(SECRET, text)    # ... without the secret
                for fmt in ('json', 'text'):
                    r = run_once(['--url', url, '--timeout', '300ms', '--password', SECRET,
                                  '--format', fmt, '--collect-sockets=false'], timeout=10)
                    self.assertNotIn(SECRET, r.stdout + r.stderr)
                with Collectd(block(url, '  User "u"\n  Password "%s"\n' % SECRET), interval=0.5) as cd:
                    cd.wait_for('mtproxy-main/gauge-up', timeout=10)
                    log = cd.log_text()
                self.assertIn('cannot read stats', log)
                self.assertNotIn(SECRET, log)

    def test_bad_credentials_config_error_does_not_echo_them(self):
        r = run_once(['--url', 'http://admin:%s@127.0.0.1:1/stats' % SECRET, '--timeout', 'x'], timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertNotIn(SECRET, r.stdout + r.stderr)


# unencoded '/', '#', '?', '@', ':' and '%' break URL parsing: the secret must stay out anyway
ODD_PASSWORDS = ['se/cret-Pa55', 'Pa55#frag-x', 'Pa55?query=1', 'P@55:w%2Fo/rd#?', '/#?@:%-Pa55']


def cd_string(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


class CredentialsWithAnyCharacters(unittest.TestCase):
    """Redacted from the configured values, not by parsing the URL that failed to parse."""

    def test_telegraf_never_shows_them(self):
        with StatsServer(mode='refuse') as srv:
            for pw in ODD_PASSWORDS:
                for mode in ('refuse', 'ok'):
                    with self.subTest(password=pw, mode=mode):
                        srv.set_mode(mode)
                        url = srv.url.replace('http://', 'http://admin-Pa55:%s@' % pw)
                        for args in (['--url', url], ['--url', srv.url, '--user', 'user-Pa55', '--password', pw]):
                            ex = Execd(args + ['--timeout', '300ms', '--collect-sockets=false']).start()
                            try:
                                ex.tick()
                                ex.tick()
                            finally:
                                ex.stop()
                            text = '\n'.join(ex.lines + ex.stderr_lines)
                            self.assertNotIn(pw, text)
                            self.assertNotIn('admin-Pa55', text)
                            self.assertNotIn('user-Pa55', text)
                            for fmt in ('json', 'text'):
                                r = run_once(args + ['--timeout', '300ms', '--format', fmt,
                                                     '--collect-sockets=false'], timeout=10)
                                self.assertNotIn(pw, r.stdout + r.stderr)
                        if mode == 'refuse':
                            self.assertTrue(ex.stderr_lines)   # a failure was logged, redacted
                        # a bad value of a secret-bearing flag is not echoed
                        r = run_once(['--url', 'ftp://admin:%s@127.0.0.1/' % pw], timeout=10)
                        self.assertEqual(r.returncode, 2)
                        self.assertNotIn(pw, r.stdout + r.stderr)

    def test_collectd_log_and_notifications_never_show_them(self):
        with StatsServer(mode='refuse') as srv:
            blocks = []
            for i, pw in enumerate(ODD_PASSWORDS):
                url = srv.url.replace('http://', 'http://admin-Pa55:%s@' % pw)
                blocks.append('<Instance "u%d">\n  URL %s\n  Timeout 300\n  CollectSockets false\n</Instance>\n'
                              % (i, cd_string(url)))
                blocks.append('<Instance "p%d">\n  URL "%s"\n  Timeout 300\n  CollectSockets false\n'
                              '  User "user-Pa55"\n  Password %s\n</Instance>\n' % (i, srv.url, cd_string(pw)))
            with Collectd(''.join(blocks), interval=0.5) as cd:
                for i in range(len(ODD_PASSWORDS)):
                    for kind in 'up':
                        cd.wait_for('mtproxy-%s%d/gauge-up' % (kind, i), timeout=10, pred=lambda v: v['value'] == 0)
                self.assertTrue(wait_until(lambda: cd.log_text().count('Notification') >= 2 * len(ODD_PASSWORDS),
                                           10), cd.log_text()[-2000:])
                log = cd.log_text()
        self.assertIn('is down', log)
        for pw in ODD_PASSWORDS:
            self.assertNotIn(pw, log)
        self.assertNotIn('admin-Pa55', log)
        self.assertNotIn('user-Pa55', log)


class PasswordSources(unittest.TestCase):
    """--password-file / PasswordFile and the environment: the password need not be in argv."""
    PW = 'f1le/Pa55#?@:%'

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-pw-')
        self.file = os.path.join(self.tmp, 'pw')
        with open(self.file, 'w') as f:
            f.write(self.PW + '\n')
        os.chmod(self.file, 0o600)
        self.fifo = os.path.join(self.tmp, 'fifo')
        os.mkfifo(self.fifo)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_telegraf_file_and_environment(self):
        with TinyServer(auth=('mon', self.PW)) as srv:
            base = ['--url', srv.url, '--user', 'mon', '--collect-sockets=false', '--collect-process=false']
            r = run_once(base + ['--password-file', self.file])
            self.assertEqual(up_of(r.stdout.splitlines()), 1, r)
            r = run_once(base + ['--password', 'wrong'])
            self.assertEqual(up_of(r.stdout.splitlines()), 0, r)   # the server does check it
            env = dict(os.environ, MTPROXY_PASSWORD=self.PW, OTHER_PW=self.PW)
            for extra in ([], ['--password-env', 'OTHER_PW']):
                with self.subTest(extra=extra):
                    ex = Execd(base + extra, env=env).start()
                    try:
                        self.assertEqual(up_of(ex.tick()), 1, ex.stderr_lines)
                        with open('/proc/%d/cmdline' % ex.proc.pid, 'rb') as f:
                            self.assertNotIn(self.PW.encode(), f.read())
                    finally:
                        ex.stop()
            self.assertNotIn(self.PW, '\n'.join(ex.lines + ex.stderr_lines))
        for bad, words in ((['--password-file', self.fifo], 'not a regular file'),
                           (['--password-file', self.tmp], 'not a regular file'),
                           (['--password-file', '/dev/zero'], 'not a regular file'),
                           (['--password-file', self.file + '.missing'], 'No such file'),
                           (['--password', 'x', '--password-file', self.file], 'twice'),
                           (['--password-env', 'MTPM_SURELY_UNSET'], 'not set')):
            with self.subTest(bad=bad):
                t0 = time.monotonic()
                r = run_once(['--user', 'mon'] + bad, timeout=10)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(words, r.stderr)
                self.assertNotIn(self.PW, r.stdout + r.stderr)
                self.assertLess(time.monotonic() - t0, 5)

    def test_collectd_password_file(self):
        with TinyServer(auth=('mon', self.PW)) as srv:
            with Collectd(block(srv.url, '  User "mon"\n  PasswordFile "%s"\n' % self.file)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 1)
                self.assertNotIn(self.PW, cd.log_text())
        for extra, words in (('  PasswordFile "%s"\n' % self.fifo, 'not a regular file'),
                             ('  PasswordFile "%s"\n  Password "x"\n' % self.file, 'twice')):
            with self.subTest(extra=extra):
                t0 = time.monotonic()
                rc, log = collectd_check_config(block('http://127.0.0.1:1/stats', '  User "mon"\n' + extra))
                self.assertNotEqual(rc, 0, log)
                self.assertIn(words, log)
                self.assertNotIn(self.PW, log)
                self.assertLess(time.monotonic() - t0, 5)


class Redirects(unittest.TestCase):
    def test_not_followed_unless_configured_and_only_to_http(self):
        with StatsServer(mode='ok') as target, TinyServer(location=target.url) as redir:
            lines = run_once(['--url', redir.url, '--collect-sockets=false']).stdout.splitlines()
            self.assertEqual(up_of(lines), 0)
            lines = run_once(['--url', redir.url, '--follow-redirects', '--collect-sockets=false']).stdout
            self.assertEqual(up_of(lines.splitlines()), 1)
            with Collectd(block(redir.url)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 0)
            with Collectd(block(redir.url, '  FollowRedirects true\n')) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 1)
        for location in ('file:///etc/passwd', 'ftp://127.0.0.1:1/stats', 'gopher://127.0.0.1:1/'):
            with self.subTest(location=location), TinyServer(location=location) as redir:
                r = run_once(['--url', redir.url, '--follow-redirects', '--collect-sockets=false'])
                self.assertEqual(up_of(r.stdout.splitlines()), 0)
                self.assertNotIn('root:', r.stdout + r.stderr)


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which('openssl'):
            raise unittest.SkipTest('openssl missing')
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-tls-')
        cls.cert = os.path.join(cls.tmp, 'cert.pem')
        cls.key = os.path.join(cls.tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                        '-keyout', cls.key, '-out', cls.cert], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_verification_on_by_default_cacert_and_verify_peer(self):
        with TinyServer(tls=(self.cert, self.key)) as srv:
            r = run_once(['--url', srv.url, '--collect-sockets=false'])
            self.assertEqual(up_of(r.stdout.splitlines()), 0)
            self.assertRegex(r.stderr, r'(?i)certificate')
            r = run_once(['--url', srv.url, '--ca-cert', self.cert, '--collect-sockets=false'])
            self.assertEqual(up_of(r.stdout.splitlines()), 1, r.stderr)
            r = run_once(['--url', srv.url, '--verify-peer=false', '--collect-sockets=false'])
            self.assertEqual(up_of(r.stdout.splitlines()), 1, r.stderr)
            with Collectd(block(srv.url)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 0)
                self.assertRegex(cd.log_text(), r'(?i)certificate')
            with Collectd(block(srv.url, '  CACert "%s"\n' % self.cert)) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 1)
            with Collectd(block(srv.url, '  VerifyPeer false\n')) as cd:
                cd.wait_for('mtproxy-main/gauge-up', timeout=10, pred=lambda v: v['value'] == 1)


class Unprivileged(unittest.TestCase):
    def test_runs_as_nobody(self):
        if os.geteuid() != 0 or not shutil.which('setpriv'):
            self.skipTest('needs root and setpriv')
        with StatsServer(mode='ok') as srv:
            ex = Execd(['--url', srv.url], prefix=['setpriv', '--reuid=65534', '--regid=65534',
                                                   '--clear-groups']).start()
            try:
                b = ex.tick()
                self.assertEqual(up_of(b), 1)
                self.assertTrue([l for l in b if l.startswith('mtproxy_connections,')], b)
            finally:
                ex.stop()
            self.assertEqual([l for l in ex.stderr_lines if l.startswith('E! ')], [])


if __name__ == '__main__':
    unittest.main()
