"""Client connections from the kernel (real loopback sockets from many 127.x source addresses) and
countries from a MaxMind DB written at test time, through the real collectd and into influxd."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer  # noqa: E402
from execd import run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

HOLDER = os.path.join(ROOT_DIR, 'build', 'tools', 'conn_holder')
MMDB = os.path.join(ROOT_DIR, 'tests', 'tools', 'write_test_mmdb.py')

# 10 IPs x 3 connections in DE, 5 IPs x 20 connections in BR (over the 16 limit), 4 x 2 unmapped
GROUPS = [('127.1.0.1', 10, 3), ('127.2.0.1', 5, 20), ('127.3.0.1', 4, 2)]
MAPPING = ['127.1.0.0/16=DE', '127.2.0.0/16=BR']


class Holder:
    def __init__(self, groups, extra=()):
        args = [HOLDER, '-p', '0'] + list(extra)
        for ip, n, k in groups:
            args += ['-g', '%s:%d:%d' % (ip, n, k)]
        self.args = args

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.search(r'READY port=(\d+)', line)
        if not m:
            self.proc.kill()
            raise RuntimeError('conn_holder did not start: %r' % line)
        self.port = int(m.group(1))
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def by_tags(lines, measurement, tag):
    out = {}
    for l in lines:
        m, tags, fields, _ = parse_line(l)
        if m == measurement:
            out[tags[tag]] = fields
    return out


class SocketMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-geo-')
        cls.mmdb = os.path.join(cls.tmp, 'test.mmdb')
        subprocess.run(['/usr/bin/python3', MMDB, cls.mmdb] + MAPPING, check=True)

    def execd(self, port, *extra):
        with StatsServer(mode='refuse') as srv:
            rc, out, err = run_once(['--url', srv.url, '--timeout', '300ms', '--client-port', str(port),
                                     '--geoip', self.mmdb, '--collect-process=false'] + list(extra))
        self.assertEqual(rc, 0, err)
        return out, err

    def test_line_protocol_counts_and_countries_into_influxd(self):
        with Holder(GROUPS) as h:
            out, err = self.execd(h.port, '--include-local')
        sides = by_tags(out, 'mtproxy_connections', 'side')
        client = sides['client']
        self.assertEqual(client['established'], 30 + 100 + 8)
        self.assertEqual(client['listen'], 1)
        self.assertEqual(client['unique_ips'], 19)
        self.assertEqual(client['max_per_ip'], 20)
        self.assertEqual(client['ips_over_limit'], 5)
        countries = by_tags(out, 'mtproxy_country', 'country')
        self.assertEqual(countries['DE'], {'connections': 30, 'unique_ips': 10, 'distinct_ips_24h': 10})
        self.assertEqual(countries['BR'], {'connections': 100, 'unique_ips': 5, 'distinct_ips_24h': 5})
        self.assertEqual(countries['unknown'], {'connections': 8, 'unique_ips': 4, 'distinct_ips_24h': 4})
        with Influxd() as influx:
            influx.create_db('s')
            status, body = influx.write('s', '\n'.join(out) + '\n')
            self.assertEqual(status, 204, body)
            rows = influx.rows('s', 'mtproxy_country')
            self.assertEqual(sorted((r['country'], r['connections']) for r in rows),
                             [('BR', 100), ('DE', 30), ('unknown', 8)])
            self.assertEqual(influx.field_types('s', 'mtproxy_connections')['established'], 'integer')

    def test_socket_bytes_only_when_asked(self):
        # each client sends 100 bytes, the server 50 on each of the 138 connections
        with Holder(GROUPS, ['-s', '100', '-r', '50']) as h:
            out, _ = self.execd(h.port, '--include-local')
            client = by_tags(out, 'mtproxy_connections', 'side')['client']
            self.assertEqual(client['established'], 138)
            self.assertNotIn('bytes_received', client)
            self.assertNotIn('bytes_acked', client)
            out, _ = self.execd(h.port, '--include-local', '--socket-bytes')
            client = by_tags(out, 'mtproxy_connections', 'side')['client']
            self.assertEqual(client['established'], 138)
            self.assertEqual(client['bytes_received'], 138 * 100)
            self.assertEqual(client['bytes_acked'], 138 * 50)

    def test_local_peers_are_excluded_by_default_and_ignore_lists(self):
        with Holder(GROUPS) as h:
            out, _ = self.execd(h.port)
            client = by_tags(out, 'mtproxy_connections', 'side')['client']
            self.assertEqual(client['established'], 138)  # states count every socket
            self.assertEqual(client['unique_ips'], 0)  # 127/8 is loopback
            self.assertEqual(by_tags(out, 'mtproxy_country', 'country'), {})
            out, _ = self.execd(h.port, '--include-local', '--ignore-network', '127.2.0.0/16',
                                '--ips-over', '2')
            client = by_tags(out, 'mtproxy_connections', 'side')['client']
            self.assertEqual(client['unique_ips'], 14)
            self.assertEqual(client['ips_over_limit'], 10)  # the DE IPs hold 3 > 2
            self.assertNotIn('BR', by_tags(out, 'mtproxy_country', 'country'))

    def test_missing_database_reports_everything_else(self):
        with Holder(GROUPS[:1]) as h:
            out, err = self.execd(h.port, '--include-local', '--geoip', os.path.join(self.tmp, 'nope.mmdb'))
        self.assertEqual(by_tags(out, 'mtproxy_connections', 'side')['client']['established'], 30)
        self.assertTrue(any(l.startswith('E! ') and 'nope.mmdb' in l for l in err), err)

    def test_bad_socket_options(self):
        for args, flag in ((['--client-port', '70000'], '--client-port'), (['--ignore-network', '10.0.0.0/33'],
                           '--ignore-network'), (['--max-countries', 'x'], '--max-countries')):
            rc, out, err = run_once(args)
            self.assertEqual(rc, 2, args)
            self.assertIn(flag, err[0])

    def test_collectd_identifiers(self):
        with Holder(GROUPS) as h, StatsServer(mode='refuse') as srv:
            conf = ('<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n  ClientPort %d\n  IncludeLocal true\n'
                    '  GeoIPDatabase "%s"\n  CollectProcess false\n  SocketBytes true\n</Instance>\n'
                    % (srv.url, h.port, self.mmdb))
            with Collectd(conf) as cd:
                self.assertEqual(cd.wait_for('mtproxy-main/tcp_connections-client-ESTABLISHED')['value'], 138)
                self.assertEqual(cd.wait_for('mtproxy-main/tcp_connections-client-LISTEN')['value'], 1)
                self.assertEqual(cd.wait_for('mtproxy-main/gauge-client-unique_ips')['value'], 19)
                self.assertEqual(cd.wait_for('mtproxy-main/gauge-client-ips_over_limit')['value'], 5)
                self.assertEqual(cd.wait_for('mtproxy-main/tcp_connections-country-BR')['value'], 100)
                self.assertEqual(cd.wait_for('mtproxy-main/gauge-country-DE-unique_ips')['value'], 10)
                self.assertIsNotNone(cd.wait_for('mtproxy-main/bytes-client-received'))
                self.assertIsNotNone(cd.wait_for('mtproxy-main/tcp_connections-upstream-ESTABLISHED'))

    def test_plugin_level_defaults_shared_by_two_instances(self):
        # list- and string-valued defaults are copied per instance, not shared (freed once each)
        with Holder(GROUPS[:1]) as h, StatsServer(mode='refuse') as srv:
            conf = ('URL "%s"\nTimeout "300ms"\nClientPort %d\nIgnoreNetwork "10.0.0.0/8"\n'
                    'IgnoreNetwork "fc00::/7"\nPidFile "/nonexistent"\nGeoIPDatabase "%s"\nIncludeLocal true\n'
                    '<Instance "a">\n</Instance>\n<Instance "b">\n  IgnoreNetwork "127.1.0.0/24"\n</Instance>\n'
                    % (srv.url, h.port, self.mmdb))
            cd = Collectd(conf).start()
            try:
                self.assertEqual(cd.wait_for('mtproxy-a/gauge-client-unique_ips')['value'], 10)
                self.assertEqual(cd.wait_for('mtproxy-b/gauge-client-unique_ips')['value'], 0)
            finally:
                rc = cd.stop()
            self.assertEqual(rc, 0, cd.final_log[-2000:])
            self.assertNotIn('double free', cd.final_log)


if __name__ == '__main__':
    unittest.main()
