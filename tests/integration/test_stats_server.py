"""test_stats_server.py — the test stats server (tests/stats_server.py) through real sockets, and a quick
check that the harness's influxd and collectd helpers work. Runs in well under 30 s.

    /usr/bin/python3 -m unittest discover -s tests/integration -p 'test_stats_server.py' -v
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import harness  # noqa: E402
from harness import StatsServer, Influxd, Collectd, collectd_check_config  # noqa: E402

FIXTURE = 'stats-upstream-with-clients-M1.txt'


def fixture_bytes(name=FIXTURE):
    with open(os.path.join(harness.FIXTURES_DIR, name), 'rb') as f:
        return f.read()


def raw_request(port, request, timeout=5.0, source='127.0.0.1'):
    """Sends request bytes, reads until EOF. Returns everything received."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout, source_address=(source, 0))
    try:
        s.sendall(request)
        data = b''
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def parse_response(data):
    head, sep, body = data.partition(b'\r\n\r\n')
    assert sep, 'no end of headers in %r' % data[:200]
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(':')
        headers.append((k.strip(), v.strip()))
    return status, headers, body


def get(port, path='/stats', method='GET', extra_headers='', source='127.0.0.1', timeout=5.0):
    """(status, {lowercase header: value}, body, [header names in order])."""
    req = ('%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n' % (method, path, port, extra_headers))
    status, headers, body = parse_response(raw_request(port, req.encode(), timeout, source))
    return status, {k.lower(): v for k, v in headers}, body, [k for k, _ in headers]


def taken(port):
    """True when nothing else can bind 127.0.0.1:port (nor the wildcard), even with SO_REUSEADDR."""
    for addr in ('127.0.0.1', '0.0.0.0'):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
                return False
            except OSError:
                pass
    return True


def parse_stats(body):
    out = {}
    for line in body.decode().split('\n'):
        if line:
            k, _, v = line.partition('\t')
            out[k] = v
    return out


class StaticServerTest(unittest.TestCase):
    """--static: the fixture byte-exact, MTProxy's headers, paths and methods."""

    @classmethod
    def setUpClass(cls):
        cls.srv = StatsServer(static=True).start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_get_stats_is_fixture_with_mtproxy_headers(self):
        status, h, body, names = get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(body, fixture_bytes())
        self.assertEqual(h['server'], 'MTProxy/1.0')
        self.assertEqual(h['content-type'], 'text/plain')
        self.assertEqual(h['connection'], 'close')
        self.assertEqual(int(h['content-length']), len(body))
        self.assertRegex(h['date'], r'^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$')
        # same header names in the same order as the real capture
        _, real, _ = parse_response(fixture_bytes('http-response-stats-M1-with-headers.txt'))
        self.assertEqual(names, [k for k, _ in real])

    def test_url_must_be_exactly_stats(self):
        for path in ('/', '/stats/', '/stats?x=1', '/metrics', '/STATS', '/statsX'):
            with self.subTest(path=path):
                status, h, body, _ = get(self.port, path)
                self.assertEqual(status, 404)
                self.assertEqual(h['content-type'], 'text/html')
                self.assertEqual(len(body), 168)           # as the real MTProxy
                self.assertIn(b'404 Not Found', body)

    def test_other_methods_501(self):
        for method in ('HEAD', 'POST'):
            with self.subTest(method=method):
                status, h, body, _ = get(self.port, method=method,
                                         extra_headers='Content-Length: 3\r\n' if method == 'POST' else '')
                self.assertEqual(status, 501)
                self.assertEqual(int(h['content-length']), 180)

    def test_peer_other_than_127_0_0_1_gets_404(self):
        status, _, _, _ = get(self.port, source='127.0.0.2')
        self.assertEqual(status, 404)

    def test_request_without_version_gets_bare_body(self):
        self.assertEqual(raw_request(self.port, b'GET /stats\r\n'), fixture_bytes())

    def test_keep_alive_two_responses_on_one_socket(self):
        req = b'GET /stats HTTP/1.1\r\nConnection: keep-alive\r\n\r\n' * 2
        s = socket.create_connection(('127.0.0.1', self.port), timeout=5)
        try:
            s.sendall(req)
            want = 2 * (len(fixture_bytes()) + 150)
            data = b''
            s.settimeout(0.5)
            try:
                while len(data) < want:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            except socket.timeout:
                pass                                        # still open: right for keep-alive
        finally:
            s.close()
        self.assertEqual(data.count(b'HTTP/1.1 200 OK'), 2)
        self.assertEqual(data.count(b'Connection: keep-alive'), 2)

    def test_only_loopback(self):
        with open('/proc/net/tcp') as f:
            listeners = [line.split()[1] for line in f.readlines()[1:] if line.split()[3] == '0A']
        ours = [a for a in listeners if int(a.split(':')[1], 16) == self.port]
        self.assertEqual(ours, ['0100007F:%04X' % self.port])


class DynamicServerTest(unittest.TestCase):
    """Without --static the counters advance between requests, gauges and constants stay."""

    def test_counters_advance(self):
        with StatsServer() as srv:
            s1, _, b1, _ = get(srv.port)
            got = {'n': 0}

            def clock_moved():      # the page's clock counts whole seconds: ask until it moved on
                got['n'] += 1
                got['s'], got['h'], got['b'], _ = get(srv.port)
                return parse_stats(got['b'])['current_time'] != parse_stats(b1)['current_time']
            harness.wait_until(clock_moved, 10, 0.1, what="the page's current_time to move on")
            s2, h2, b2, n = got['s'], got['h'], got['b'], got['n']
        self.assertEqual((s1, s2), (200, 200))
        self.assertEqual(int(h2['content-length']), len(b2))
        a, b = parse_stats(b1), parse_stats(b2)
        self.assertEqual(list(a), list(parse_stats(fixture_bytes())))   # same keys, same order
        self.assertEqual(len(a), 199)
        for key in ('epoll_calls', 'tcp_readv_bytes', 'tcp_writev_bytes', 'tot_forwarded_queries',
                    'tot_forwarded_responses', 'timer_ops', 'event_timer_insert_ops', 'jobs_created'):
            self.assertGreater(int(b[key]), int(a[key]), key)
        self.assertEqual(int(b['http_queries']), int(a['http_queries']) + n)
        self.assertGreater(int(b['uptime']), int(a['uptime']))
        self.assertGreater(int(b['current_time']), int(a['current_time']))
        self.assertEqual(int(b['current_time']) - int(b['uptime']), int(b['start_time']))
        for key in ('max_connections', 'start_time', 'pid', 'total_special_connections', 'version',
                    'total_max_special_connections', 'config_md5'):
            self.assertEqual(a[key], b[key], key)
        self.assertTrue(b2.endswith(b'\n'))


class ModesTest(unittest.TestCase):
    """Each misbehaving mode, switched at run time through the control file."""

    @classmethod
    def setUpClass(cls):
        cls.srv = StatsServer().start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.srv.set_mode('ok')

    def mode(self, mode):
        self.srv.set_mode(mode)

    def test_404(self):
        self.mode('404')
        self.assertEqual(get(self.port)[0], 404)

    def test_500(self):
        self.mode('500')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 500)
        self.assertEqual(h['content-type'], 'text/html')

    def test_refuse_and_resume(self):
        self.mode('refuse')
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(('127.0.0.1', self.port), timeout=2).close()
        self.assertTrue(taken(self.port))                # held meanwhile: nothing else can take it
        self.mode('ok')
        self.assertEqual(get(self.port)[0], 200)         # listening again, same port

    def test_hang(self):
        self.mode('hang')
        s = socket.create_connection(('127.0.0.1', self.port), timeout=2)
        try:
            s.sendall(b'GET /stats HTTP/1.1\r\n\r\n')
            s.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                s.recv(1)
        finally:
            s.close()

    def test_drip(self):
        self.mode('drip')
        s = socket.create_connection(('127.0.0.1', self.port), timeout=2)
        got = b''
        try:
            s.sendall(b'GET /stats HTTP/1.1\r\n\r\n')
            deadline = time.monotonic() + 2.2
            while time.monotonic() < deadline:
                s.settimeout(max(deadline - time.monotonic(), 0.01))
                try:
                    chunk = s.recv(100)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        self.assertTrue(b'HTTP/1.1 200 OK'.startswith(got) and got, got)
        self.assertLessEqual(len(got), 4)                # ~1 byte per second

    def test_garbage(self):
        self.mode('garbage')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(h['content-type'], 'text/plain')
        self.assertIn(b'\0', body)
        self.assertEqual(int(h['content-length']), len(body))
        self.assertGreaterEqual(len(body), 4000)

    def test_truncated(self):
        self.mode('truncated')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 200)
        self.assertLess(len(body), int(h['content-length']))
        self.assertGreater(len(body), 0)
        self.assertFalse(body.endswith(b'\n'))           # cut mid-line

    def test_truncated_short(self):
        self.mode('truncated-short')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), int(h['content-length']))
        self.assertLess(len(body), len(fixture_bytes()))
        self.assertFalse(body.endswith(b'\n'))
        last = body.rsplit(b'\n', 1)[1]
        self.assertIn(b'\t', last)                        # looks like a line, but is cut

    def test_big(self):
        self.mode('big')
        status, h, body, _ = get(self.port, timeout=20)
        self.assertEqual(status, 200)
        self.assertGreaterEqual(len(body), 10 * 1024 * 1024)
        self.assertEqual(int(h['content-length']), len(body))
        self.assertTrue(body.endswith(b'\n'))
        self.assertTrue(all(b'\t' in line for line in body[-4096:].split(b'\n')[1:-1]))

    def test_html(self):
        self.mode('html')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(h['content-type'], 'text/html')
        self.assertIn(b'<html>', body)

    def test_wrong_type(self):
        self.mode('wrong-type')
        status, h, body, _ = get(self.port)
        self.assertEqual(status, 200)
        self.assertEqual(h['content-type'], 'application/octet-stream')
        self.assertTrue(body.startswith(b'pid\t'))

    def test_restart(self):
        before = parse_stats(get(self.port)[2])
        self.mode('restart')
        after = parse_stats(get(self.port)[2])
        self.assertNotEqual(after['pid'], before['pid'])
        self.assertGreaterEqual(int(after['start_time']), int(before['start_time']))
        self.assertLess(int(after['http_queries']), int(before['http_queries']))
        self.assertLess(int(after['epoll_calls']), int(before['epoll_calls']))
        self.assertIn(':%s:%s]' % (after['pid'], after['start_time']), after['PID'])

    def test_survives_client_reset(self):
        self.mode('big')
        s = socket.create_connection(('127.0.0.1', self.port), timeout=5)
        s.sendall(b'GET /stats HTTP/1.1\r\n\r\n')
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        s.close()                                          # RST in the middle of 10 MB
        s = socket.create_connection(('127.0.0.1', self.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        s.close()                                          # RST before any request
        self.mode('ok')
        self.assertEqual(get(self.port)[0], 200)
        self.assertIsNone(self.srv.proc.poll())


class LifecycleTest(unittest.TestCase):

    def test_sigterm_exits_cleanly_even_with_hanging_client(self):
        srv = StatsServer(mode='hang').start()
        s = socket.create_connection(('127.0.0.1', srv.port), timeout=2)
        try:
            s.sendall(b'GET /stats HTTP/1.1\r\n\r\n')
            harness.wait_until(lambda: 'mode=hang -> no answer' in srv.log_text(), 10,
                               what='the server to hold the request unanswered')
            t = time.monotonic()
            self.assertEqual(srv.stop(), 0)
            self.assertLess(time.monotonic() - t, 3)
        finally:
            s.close()

    def test_starts_in_refuse_mode(self):
        with StatsServer(mode='refuse') as srv:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(('127.0.0.1', srv.port), timeout=2).close()
            self.assertTrue(taken(srv.port))             # its port is reserved, not picked and released
            srv.set_mode('ok')
            self.assertEqual(get(srv.port)[0], 200)

    def test_successor_on_the_same_port(self):
        """A proxy restarting on its port: between the two servers the port is held (connects refused,
        nothing else can bind it), then the successor serves its own page there."""
        with StatsServer(static=True) as srv:
            port = srv.port
            hold = harness.hold_port(port)      # what successor() does before it stops srv
            try:
                srv.stop()
                with self.assertRaises(ConnectionRefusedError):
                    socket.create_connection(('127.0.0.1', port), timeout=2).close()
                self.assertTrue(taken(port))
                with StatsServer(static=True, fixture='stats-idle-M0.txt', port=port) as nxt:
                    self.assertEqual(get(nxt.port)[2], fixture_bytes('stats-idle-M0.txt'))
            finally:
                hold.close()
        with StatsServer(static=True) as srv, srv.successor(static=True, fixture='stats-idle-M0.txt') as nxt:
            self.assertEqual(nxt.port, srv.port)
            self.assertEqual(get(nxt.port)[2], fixture_bytes('stats-idle-M0.txt'))

    def test_other_fixture(self):
        with StatsServer(static=True, fixture='stats-idle-M0.txt') as srv:
            self.assertEqual(get(srv.port)[2], fixture_bytes('stats-idle-M0.txt'))


class InfluxdTest(unittest.TestCase):

    def test_accepts_i_rejects_u(self):
        with Influxd() as ix:
            ix.create_db('t')
            self.assertEqual(ix.write('t', 'm,t=a f=1i\n')[0], 204)
            status, body = ix.write('t', 'm f=1u\n')
            self.assertEqual(status, 400, body)
            self.assertIn('unable to parse', body)
            self.assertEqual(ix.field_types('t', 'm'), {'f': 'integer'})
            rows = ix.rows('t', 'm')
            self.assertEqual([(r['t'], r['f']) for r in rows], [('a', 1)])


class CollectdHarnessTest(unittest.TestCase):

    def test_stock_plugins_and_readback(self):
        with Collectd(None, load_plugin=False, extra_conf='LoadPlugin uptime') as cd:
            v = cd.wait_for('uptime/uptime', timeout=5)
            self.assertGreater(v['value'], 0)
            self.assertIn('testhost/uptime/uptime', cd.listval())
            harness.wait_until(lambda: cd.csv_rows('uptime/uptime'), 3)
            self.assertTrue(cd.csv_rows('testhost/uptime/uptime'))
            self.assertIsNone(cd.getval('nope/nope'))
            self.assertTrue(cd.alive())
        self.assertEqual(cd.returncode, 0)
        self.assertIn('Exiting normally', cd.log_text())

    def test_refused_config(self):
        rc, text = collectd_check_config(None, load_plugin=False,
                                         extra_conf='<Plugin csv>\n  NoSuchOption 1\n</Plugin>')
        self.assertNotEqual(rc, 0)
        self.assertIn('NoSuchOption', text)

    @unittest.skipUnless(os.path.exists(harness.plugin_path()), 'build/mtproxy.so not built yet')
    def test_loads_mtproxy_with_empty_block(self):
        rc, text = collectd_check_config('<Plugin mtproxy>\n</Plugin>')
        self.assertIn('plugin "mtproxy" successfully loaded', text)
        with Collectd('<Plugin mtproxy>\n</Plugin>') as cd:
            cd.wait_for('mtproxy-main/gauge-up')
            cd.wait_reads('mtproxy-main/gauge-up', 2)     # more reads, collectd still running
            self.assertTrue(cd.alive(), cd.log_text())


if __name__ == '__main__':
    unittest.main()
