"""Every implementation's page (tests/fixtures/peers: real captures of teleproxy and mtprotoproxy,
pages written from the metric code of mtg, telemt and mtproto.zig, plus an official capture) served
by tests/stats_server.py, read with Source auto through both fronts: mtproxy-telegraf into a real
influxd, and the real collectd loading build/mtproxy.so. Each time: up=1, the right implementation,
and every summary field equal to the page's own figures (computed here from the page, per secret too)
with no field the implementation does not have."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, Collectd, Influxd, StatsServer  # noqa: E402
from execd import Execd  # noqa: E402

PEERS = os.path.join(FIXTURES_DIR, 'peers')
PROM_0_0_4 = 'text/plain; version=0.0.4; charset=utf-8'
OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8'


def body_of(path):
    data = open(path, 'rb').read()
    if data.startswith(b'HTTP/'):
        data = data.split(b'\r\n\r\n', 1)[1]
    return data.decode('utf-8')


# ---- the page's own figures, computed independently of the C code --------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prom_samples(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        labels = dict(LABEL.findall(m.group(2) or ''))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def stats_keys(text):
    return dict(line.split('\t', 1) for line in text.splitlines() if '\t' in line)


def psum(samples, name, **flt):
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in flt.items())]
    return sum(vals) if vals else None


def per(samples, name, label):
    out = {}
    for n, l, v in samples:
        if n == name and label in l:
            out[l[label]] = out.get(l[label], 0) + v
    return out


def expected(case, text):
    """{(field, secret or None): value} the summary must hold, nothing more."""
    exp = {}

    def put(field, value, secret=None):
        if value is not None:
            exp[(field, secret)] = value

    def put_per(field, d):
        for s, v in d.items():
            put(field, v, s)

    if case in ('official', 'teleproxy-stats'):
        k = stats_keys(text)
        put('clients', int(k['total_special_connections']))
        put('uptime_seconds', float(k['uptime']))
        if case == 'official' or k.get('direct_mode') == '0':
            put('upstream_ready', int(k['ready_targets']))
        if case == 'teleproxy-stats':
            secrets = {m.group(1) for m in (re.match(r'secret_(.+)_connections$', x) for x in k) if m}
            for s in secrets:
                put('clients', int(k['secret_%s_connections' % s]), s)
                put('connections_accepted', int(k['secret_%s_connections_created' % s]), s)
            put('connections_accepted', sum(int(k['secret_%s_connections_created' % s]) for s in secrets))
        return exp
    p = prom_samples(text)
    if case == 'teleproxy':
        pre = 'teleproxy_'
        for field, name in (('clients', 'secret_connections'),
                            ('connections_accepted', 'secret_connections_created_total'),
                            ('bytes_from_clients', 'secret_bytes_received_total'),
                            ('bytes_to_clients', 'secret_bytes_sent_total')):
            put(field, psum(p, pre + name))
            put_per(field, per(p, pre + name, 'secret'))
        limits = per(p, pre + 'secret_max_ips', 'secret')
        put_per('unique_ips', {s: v for s, v in per(p, pre + 'secret_unique_ips', 'secret').items()
                               if limits.get(s, 0) > 0})
        put('uptime_seconds', psum(p, pre + 'uptime_seconds'))
    elif case == 'mtprotoproxy':
        pre = 'mtprotoproxy_'
        for field, total, user in (('clients', 'user_connects_curr', 'user_connects_curr'),
                                   ('connections_accepted', 'connects_all', 'user_connects'),
                                   ('bytes_from_clients', 'user_octets_from', 'user_octets_from'),
                                   ('bytes_to_clients', 'user_octets_to', 'user_octets_to')):
            put(field, psum(p, pre + total))
            put_per(field, per(p, pre + user, 'user'))
        put('handshake_failures', psum(p, pre + 'connects_bad'))
        put('uptime_seconds', psum(p, pre + 'uptime'))
    elif case in ('mtg', 'mtg-openmetrics'):
        pre = 'mtg_' if case == 'mtg' else 'proxy_'
        sfx = '' if case == 'mtg' else '_total'
        put('clients', psum(p, pre + 'client_connections') or 0)
        put('bytes_to_telegram', psum(p, pre + 'telegram_traffic' + sfx, direction='from_client') or 0)
        put('bytes_from_telegram', psum(p, pre + 'telegram_traffic' + sfx, direction='to_client') or 0)
        put('handshake_failures', psum(p, pre + 'domain_fronting' + sfx))
    elif case == 'telemt':
        pre = 'telemt_'
        for field, total, user in (('clients', 'user_connections_current', 'user_connections_current'),
                                   ('connections_accepted', 'connections_total', 'user_connections_total'),
                                   ('bytes_from_clients', 'user_octets_from_client', 'user_octets_from_client'),
                                   ('bytes_to_clients', 'user_octets_to_client', 'user_octets_to_client')):
            put(field, psum(p, pre + total))
            put_per(field, per(p, pre + user, 'user'))
        put('handshake_failures', psum(p, pre + 'connections_bad_total'))
        put_per('unique_ips', per(p, pre + 'user_unique_ips_current', 'user'))
        put('uptime_seconds', psum(p, pre + 'uptime_seconds'))
    elif case == 'mtproto.zig':
        pre = 'mtproto_'
        put('clients', psum(p, pre + 'connections_active'))
        put_per('clients', per(p, pre + 'user_connections_active', 'user'))
        put('connections_accepted', psum(p, pre + 'connections_accepted_total'))
        put('bytes_from_clients', psum(p, pre + 'client_to_upstream_bytes_total'))
        put_per('bytes_from_clients', per(p, pre + 'user_client_to_upstream_bytes_total', 'user'))
        put('bytes_to_clients', psum(p, pre + 'upstream_to_client_bytes_total'))
        put_per('bytes_to_clients', per(p, pre + 'user_upstream_to_client_bytes_total', 'user'))
        put('handshake_failures', psum(p, pre + 'handshake_timeouts_total'))
        put('uptime_seconds', psum(p, pre + 'uptime_seconds'))
    return exp


# case: (fixture, path served, Content-Type or None for the capture's, implementation, measurement)
CASES = {
    'official': ('stats-upstream-with-clients-M2.txt', '/stats', None, 'mtproxy', 'mtproxy_stats'),
    'teleproxy-stats': ('peers/teleproxy/stats-loaded.txt', '/stats', None, 'teleproxy', 'teleproxy_stats'),
    'teleproxy': ('peers/teleproxy/metrics-loaded.txt', '/metrics', None, 'teleproxy', 'teleproxy'),
    'mtprotoproxy': ('peers/mtprotoproxy/metrics-loaded.txt', '*', PROM_0_0_4, 'mtprotoproxy', 'mtprotoproxy'),
    'mtg': ('peers/mtg/metrics-loaded.txt', '/', PROM_0_0_4 + '; escaping=underscores', 'mtg', 'mtg'),
    'mtg-openmetrics': ('peers/mtg/metrics-openmetrics.txt', '/', OPENMETRICS, 'mtg', 'mtg'),
    'telemt': ('peers/telemt/metrics-loaded.txt', '/metrics', PROM_0_0_4, 'telemt', 'telemt'),
    'mtproto.zig': ('peers/mtproto.zig/metrics-loaded.txt', '/metrics', 'text/plain; version=0.0.4',
                    'mtproto.zig', 'mtproto_zig'),
}

INT_FIELDS = {'clients', 'connections_accepted', 'bytes_from_clients', 'bytes_to_clients', 'bytes_to_telegram',
              'bytes_from_telegram', 'handshake_failures', 'unique_ips', 'upstream_ready'}

# collectd: <type>-summary-<field>[-<secret>] (docs/implementations.md)
CD_TYPE = {'clients': 'current_connections', 'connections_accepted': 'total_connections',
           'bytes_from_clients': 'total_bytes', 'bytes_to_clients': 'total_bytes',
           'bytes_to_telegram': 'total_bytes', 'bytes_from_telegram': 'total_bytes',
           'handshake_failures': 'errors', 'unique_ips': 'count', 'upstream_ready': 'count',
           'uptime_seconds': 'uptime'}


def serve(case):
    fixture, path, ctype, _, _ = CASES[case]
    return StatsServer(static=True, fixture=os.path.join(FIXTURES_DIR, fixture), path=path, content_type=ctype)


def url_of(srv, case):
    path = CASES[case][1]
    return 'http://127.0.0.1:%d%s' % (srv.port, '/metrics' if path == '*' else path)


NO_HOST = ['--collect-process=false', '--collect-sockets=false']


class TelegrafInflux(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.influx = Influxd().start()

    @classmethod
    def tearDownClass(cls):
        cls.influx.stop()

    def check_case(self, case):
        fixture, _, _, impl, measurement = CASES[case]
        want = expected(case, body_of(os.path.join(FIXTURES_DIR, fixture)))
        self.assertTrue(want)
        db = 'db_' + re.sub(r'\W', '_', case)
        self.influx.create_db(db)
        with serve(case) as srv, Execd(['--url', url_of(srv, case), '--instance', 'peer'] + NO_HOST) as ex:
            lines = ex.tick()
            ex.close_stdin()
        status, body = self.influx.write(db, '\n'.join(lines) + '\n')
        self.assertEqual(status, 204, 'influxd rejected the lines: %s' % body)

        health = self.influx.rows(db, 'mtproxy')[-1]
        self.assertEqual(health['up'], 1)
        self.assertEqual(health['implementation'], impl)
        self.assertEqual(health['stats_lines_skipped'], 0)
        self.assertTrue(self.influx.rows(db, measurement), 'no page metrics in measurement %s' % measurement)

        got = {}
        for row in self.influx.rows(db, 'mtproxy_summary'):
            self.assertEqual(row['instance'], 'peer')
            for field in CD_TYPE:
                if row.get(field) is not None:
                    got[(field, row.get('secret'))] = row[field]
        self.assertEqual(set(got), set(want), 'summary fields (absent ones must stay absent)')
        for key, value in want.items():
            self.assertAlmostEqual(got[key], value, places=6, msg=str(key))
        types = self.influx.field_types(db, 'mtproxy_summary')
        for field, t in types.items():
            self.assertEqual(t, 'integer' if field in INT_FIELDS else 'float', field)
        self.assertEqual(self.influx.field_types(db, 'mtproxy')['implementation'], 'string')

    def test_official(self):
        self.check_case('official')

    def test_teleproxy_stats(self):
        self.check_case('teleproxy-stats')

    def test_teleproxy_metrics(self):
        self.check_case('teleproxy')

    def test_mtprotoproxy(self):
        self.check_case('mtprotoproxy')

    def test_mtg(self):
        self.check_case('mtg')

    def test_mtg_openmetrics(self):
        self.check_case('mtg-openmetrics')

    def test_telemt(self):
        self.check_case('telemt')

    def test_mtproto_zig(self):
        self.check_case('mtproto.zig')

    def test_explicit_source_overrides_detection(self):
        """--source mtprotoproxy on a telemt page: read as mtprotoproxy's, so no summary field matches."""
        db = 'db_explicit'
        self.influx.create_db(db)
        with serve('telemt') as srv, Execd(['--url', url_of(srv, 'telemt'), '--source', 'mtprotoproxy'] + NO_HOST) as ex:
            lines = ex.tick()
            ex.close_stdin()
        self.assertEqual(self.influx.write(db, '\n'.join(lines) + '\n')[0], 204)
        self.assertEqual(self.influx.rows(db, 'mtproxy')[-1]['implementation'], 'mtprotoproxy')
        self.assertFalse(self.influx.rows(db, 'mtproxy_summary'))

    def test_max_secrets(self):
        """--max-secrets 1 on teleproxy's page: alice keeps her series, bob becomes "other"."""
        db = 'db_max_secrets'
        self.influx.create_db(db)
        with serve('teleproxy') as srv, Execd(['--url', url_of(srv, 'teleproxy'), '--max-secrets', '1'] + NO_HOST) as ex:
            lines = ex.tick()
            ex.close_stdin()
        self.assertEqual(self.influx.write(db, '\n'.join(lines) + '\n')[0], 204)
        rows = {r.get('secret'): r for r in self.influx.rows(db, 'mtproxy_summary')}
        self.assertEqual(set(rows), {None, 'alice', 'other'})
        self.assertEqual(rows['alice']['clients'], 3)
        self.assertEqual(rows['other']['clients'], 2)
        self.assertEqual(rows[None]['clients'], 5)


def hostile_page(path):
    """The issue's acceptance page: 10,000 series in one family, a 1 MiB line, broken escapes,
    duplicate series, and good families around them. Returns what must come through."""
    with open(path, 'w') as f:
        f.write('# TYPE mtprotoproxy_uptime counter\nmtprotoproxy_uptime 42.5\n'
                'mtprotoproxy_connects_all 9\nmtprotoproxy_connects_bad 2\nmtprotoproxy_handshake_timeouts 0\n')
        f.write('# TYPE mtprotoproxy_big gauge\n')
        for i in range(10000):
            f.write('mtprotoproxy_big{n="%05d"} %d\n' % (i, i))
        f.write('mtprotoproxy_huge{l="' + 'x' * (1 << 20) + '"} 1\n')
        for i in range(50):
            f.write('mtprotoproxy_bad{l="\\q%d"} 1\n' % i)
        f.write('mtprotoproxy_user_connects_curr{user="alice"} 3\nmtprotoproxy_user_connects_curr{user="alice"} 99\n')
        f.write('mtprotoproxy_user_connects_curr{user="bob"} 2\n')
    return {'clients': 5, 'uptime_seconds': 42.5, 'connections_accepted': 9, 'handshake_failures': 2}


class HostilePage(unittest.TestCase):
    def test_bounded_one_warning_the_rest_reported(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix='mtpm-hostile-')
        path = os.path.join(tmp, 'page.txt')
        want = hostile_page(path)
        influx = Influxd().start()
        try:
            influx.create_db('h')
            with StatsServer(static=True, fixture=path, path='/metrics', content_type=PROM_0_0_4) as srv, \
                    Execd(['--url', srv.url, '--max-body-size', str(4 << 20), '--timeout', '5s'] + NO_HOST) as ex:
                batches = [ex.tick(timeout=20) for _ in range(3)]
                ex.close_stdin()
                err = list(ex.stderr_lines)
            warnings = [l for l in err if 'skipped' in l]
            self.assertEqual(len(warnings), 1, err)  # once, not once per gather
            self.assertIn('malformed', warnings[0])
            for lines in batches:
                status, body = influx.write('h', '\n'.join(lines) + '\n')
                self.assertEqual(status, 204, body)
            health = influx.rows('h', 'mtproxy')
            self.assertEqual([r['up'] for r in health], [1, 1, 1])
            # 8,000 series over the family limit, the 1 MiB line, 50 broken escapes, 1 duplicate
            self.assertEqual(health[-1]['stats_lines_skipped'], 8000 + 1 + 50 + 1)
            self.assertLess(max(r['scrape_duration_seconds'] for r in health), 2.0)
            summary = {r.get('secret'): r for r in influx.rows('h', 'mtproxy_summary')}
            for field, value in want.items():
                self.assertEqual(summary[None][field], value, field)
            self.assertEqual(summary['alice']['clients'], 3)  # the first of a duplicate is kept
            big = [l for l in batches[-1] if l.startswith('mtprotoproxy,') and 'big=' in l]
            self.assertEqual(len(big), 2000)
        finally:
            influx.stop()
            for name in os.listdir(tmp):
                os.unlink(os.path.join(tmp, name))
            os.rmdir(tmp)


class CollectdFront(unittest.TestCase):
    """All cases in one collectd: one <Instance> per implementation, each against its own server."""

    DERIVE = ('total_connections', 'total_bytes', 'errors')

    def test_every_implementation(self):
        servers = {case: serve(case).start() for case in CASES}
        try:
            blocks = ['<Instance "%s">\n  URL "%s"\n  CollectProcess false\n  CollectSockets false\n</Instance>'
                      % (re.sub(r'\W', '_', case), url_of(srv, case)) for case, srv in servers.items()]
            with Collectd('\n'.join(blocks)) as cd:
                for case in CASES:
                    self.check_case(cd, case)
        finally:
            for srv in servers.values():
                srv.stop()

    def check_case(self, cd, case):
        inst = re.sub(r'\W', '_', case)
        fixture, _, _, impl, _ = CASES[case]
        want = expected(case, body_of(os.path.join(FIXTURES_DIR, fixture)))

        def ident(field, secret):
            return 'mtproxy-%s/%s-summary-%s%s' % (inst, CD_TYPE[field], field, '-' + secret if secret else '')

        up = cd.wait_for('mtproxy-%s/gauge-up' % inst, timeout=20, pred=lambda v: v['value'] == 1)
        self.assertEqual(up['value'], 1)
        for (field, secret), value in want.items():
            if CD_TYPE[field] in self.DERIVE:
                # a DERIVE's cached value is a rate: the csv file holds what was dispatched
                cd.wait_for(ident(field, secret), timeout=20)
                rows = cd.csv_rows(ident(field, secret))
                self.assertTrue(rows, ident(field, secret))
                self.assertEqual(rows[-1]['value'], value, ident(field, secret))
            else:
                got = cd.wait_for(ident(field, secret), timeout=20)
                self.assertAlmostEqual(got['value'], value, places=6, msg=ident(field, secret))
        # nothing the implementation does not have
        present = {v.split('/', 1)[1] for v in cd.listval() if '/mtproxy-%s/' % inst in v and '-summary-' in v}
        self.assertEqual(present, {ident(f, s) for f, s in want}, case)
        # the implementation, a text: a notification at the first page
        log = cd.log_text()
        said = [l for l in log.splitlines() if 'Notification: severity = OKAY,' in l
                and 'plugin_instance = %s,' % inst in l and 'type_instance = implementation,' in l]
        self.assertEqual(len(said), 1, log[-3000:])
        self.assertIn('page written by %s' % impl, said[0])


if __name__ == '__main__':
    unittest.main()
