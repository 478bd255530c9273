"""Clients over time (issue 14) with real loopback connections: two disjoint sets of 1,000 source
addresses connect one after the other -> distinct_ips_1h counts their union while unique_ips counts
only the live set; churn sees the first set close; the figures survive a restart of the front with
the same state file; a corrupted or shared state file is one warning. Through mtproxy-telegraf into a
real influxd and through the real collectd."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer, wait_until  # noqa: E402
from execd import Execd, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

HOLDER = os.path.join(ROOT_DIR, 'build', 'tools', 'conn_holder')
MMDB = os.path.join(ROOT_DIR, 'tests', 'tools', 'write_test_mmdb.py')
SET_A = '127.50.0.1:1000:1'   # 1,000 addresses, one connection each
SET_B = '127.60.0.1:1000:1'   # 1,000 others
MAPPING = ['127.50.0.0/16=DE', '127.60.0.0/16=FR']


class Holder:
    """conn_holder: a listener (no args), or clients of one address set connecting to port."""

    def __init__(self, group=None, port=None):
        self.args = [HOLDER, '-p', '0'] if group is None else [HOLDER, '-t', str(port), '-g', group]

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.search(r'READY port=(\d+)', line)
        if not m:
            self.proc.kill()
            self.proc.wait(10)
            raise RuntimeError('conn_holder did not start: %r' % line)
        self.port = int(m.group(1))
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)  # the workers close with RST: gone from the table at once
        self.proc.wait(10)


def fields_of(lines, measurement, **tags):
    for l in lines:
        m, t, f, _ = parse_line(l)
        if m == measurement and all(t.get(k) == v for k, v in tags.items()):
            return f
    return None


def client(lines):
    return fields_of(lines, 'mtproxy_connections', side='client')


def clients(lines):
    return fields_of(lines, 'mtproxy_clients')


class ClientWindows(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-windows-')
        cls.mmdb = os.path.join(cls.tmp, 'test.mmdb')
        subprocess.run(['/usr/bin/python3', MMDB, cls.mmdb] + MAPPING, check=True)

    def state(self, name):
        return os.path.join(self.tmp, name)

    def args(self, port, url, state):
        return ['--url', url, '--timeout', '300ms', '--client-port', str(port), '--include-local',
                '--geoip', self.mmdb, '--collect-process=false', '--upstream-port', '0',
                '--state-file', state]

    def tick_until(self, ex, pred, what):
        """Gathers until pred(lines) holds (the kernel tears a set down in a few ms, but poll)."""
        got = []

        def once():
            got[:] = ex.tick()
            return pred(got)
        if not wait_until(once, 15, 0.05):
            self.fail('%s: never true; last gather:\n%s' % (what, '\n'.join(got)))
        return got

    def test_telegraf_union_of_two_sets_restart_and_influxd(self):
        state = self.state('telegraf.state')
        with Holder() as listener, StatsServer(mode='refuse') as srv:
            argv = self.args(listener.port, srv.url, state)
            ex = Execd(argv).start()
            try:
                with Holder(SET_A, listener.port):
                    first = self.tick_until(ex, lambda l: client(l)['unique_ips'] == 1000, 'set A live')
                self.assertEqual(clients(first)['distinct_ips_1h'], 1000)
                with Holder(SET_B, listener.port):
                    both = self.tick_until(ex, lambda l: client(l)['unique_ips'] == 1000 and
                                           clients(l)['connections_opened'] == 1000, 'set B live')
                    c = clients(both)
                    self.assertEqual(c['distinct_ips_1h'], 2000)   # exact up to 16384 addresses
                    self.assertEqual(c['distinct_ips_24h'], 2000)
                    self.assertEqual(c['distinct_ips_7d'], 2000)
                    self.assertEqual(c['lifetime_seconds_count'], 1000)  # set A closed
                    self.assertEqual(fields_of(both, 'mtproxy_clients', le='+Inf')['lifetime_seconds_bucket'], 1000)
                    self.assertEqual(fields_of(both, 'mtproxy_country', country='DE')['distinct_ips_24h'], 1000)
                    self.assertEqual(fields_of(both, 'mtproxy_country', country='FR')['distinct_ips_24h'], 1000)
                    self.assertNotIn('unique_ips', fields_of(both, 'mtproxy_country', country='DE'))
                    rc = ex.close_stdin()[0]
                    self.assertEqual(rc, 0, '\n'.join(ex.stderr_lines))
                    # the front restarts with the same state file, set B still connected
                    ex = Execd(argv).start()
                    again = ex.tick()
                    c = clients(again)
                    self.assertEqual(client(again)['unique_ips'], 1000)
                    self.assertEqual(c['distinct_ips_1h'], 2000)
                    self.assertEqual(c['connections_opened'], 1000)
                    self.assertEqual(c['lifetime_seconds_count'], 1000)
                    self.assertFalse([l for l in ex.stderr_lines if 'state file' in l and l.startswith('W!')],
                                     ex.stderr_lines)
                    with Influxd() as influx:
                        influx.create_db('w')
                        status, body = influx.write('w', '\n'.join(first + both + again) + '\n')
                        self.assertEqual(status, 204, body)
                        rows = influx.rows('w', 'mtproxy_clients')
                        self.assertEqual([r['distinct_ips_1h'] for r in rows if r.get('distinct_ips_1h') is not None],
                                         [1000, 2000, 2000])
                        types = influx.field_types('w', 'mtproxy_clients')
                        self.assertEqual(types['distinct_ips_1h'], 'integer')
                        self.assertEqual(types['lifetime_seconds_sum'], 'float')
            finally:
                if ex.proc.poll() is None:
                    ex.close_stdin()

    def test_corrupt_and_foreign_state_files_one_warning_each(self):
        with Holder() as listener, StatsServer(mode='refuse') as srv, Holder(SET_A, listener.port):
            state = self.state('bad.state')
            for content, why in ((b'MTPXSTAT' + os.urandom(200), 'corrupt'),
                                 (None, 'truncated')):
                if content is None:  # a good file, cut
                    os.unlink(state)
                    rc, out, err = run_once(self.args(listener.port, srv.url, state))
                    self.assertEqual(rc, 0, err)
                    with open(state, 'rb') as f:
                        content = f.read()[:-100]
                with open(state, 'wb') as f:
                    f.write(content)
                rc, out, err = run_once(self.args(listener.port, srv.url, state))
                self.assertEqual(rc, 0, err)
                warnings = [l for l in err if 'state file' in l]
                self.assertEqual(len(warnings), 1, err)
                self.assertTrue(warnings[0].startswith('W! ') and why in warnings[0], warnings)
                self.assertEqual(clients(out)['distinct_ips_1h'], 1000)
                self.assertEqual(clients(out)['connections_opened'], 0)
            # the fresh state was written over the bad file: the next run reads it silently
            rc, out, err = run_once(self.args(listener.port, srv.url, state))
            self.assertFalse([l for l in err if 'state file' in l and l.startswith('W!')], err)

    def test_a_file_not_ours_is_never_overwritten(self):
        """Issue 25: a copy of /etc/services, another instance's file and a newer format's file given as
        the state file stay byte for byte; one error each, the windows are kept in memory."""
        with Holder() as listener, StatsServer(mode='refuse') as srv, Holder(SET_A, listener.port):
            theirs = self.state('theirs.state')
            rc, out, err = run_once(self.args(listener.port, srv.url, theirs) + ['--instance', 'other'])
            self.assertEqual(rc, 0, err)
            with open(theirs, 'rb') as f:
                newer = bytearray(f.read())
            newer[8] = 2  # the format version of a later release
            services = b'# Network services, Internet style\ntcpmux\t\t1/tcp\nssh\t\t22/tcp\n'
            for name, content, why in (('services', services, 'not a state file of this program'),
                                       ('instance', None, "belongs to instance 'other'"),
                                       ('newer', bytes(newer), 'format version 2')):
                path = self.state('not-ours-%s.state' % name)
                if content is None:
                    path = theirs
                    with open(path, 'rb') as f:
                        content = f.read()
                else:
                    with open(path, 'wb') as f:
                        f.write(content)
                ex = Execd(self.args(listener.port, srv.url, path)).start()
                try:
                    for _ in range(2):
                        self.assertEqual(clients(ex.tick())['distinct_ips_1h'], 1000)
                finally:
                    self.assertEqual(ex.close_stdin()[0], 0)
                lines = [l for l in ex.stderr_lines if 'state file' in l]
                self.assertEqual(len(lines), 1, ex.stderr_lines)
                self.assertTrue(lines[0].startswith('E! ') and why in lines[0] and 'left alone' in lines[0], lines)
                with open(path, 'rb') as f:
                    self.assertEqual(f.read(), content, name)

    def test_unwritable_state_location_keeps_going_in_memory(self):
        with Holder() as listener, StatsServer(mode='refuse') as srv, Holder(SET_A, listener.port):
            state = os.path.join(self.tmp, 'no-such-dir', 'x.state')
            ex = Execd(self.args(listener.port, srv.url, state)).start()
            try:
                for _ in range(3):
                    lines = ex.tick()
                    self.assertEqual(clients(lines)['distinct_ips_1h'], 1000)
            finally:
                self.assertEqual(ex.close_stdin()[0], 0)
            warnings = [l for l in ex.stderr_lines if 'state file' in l]
            self.assertEqual(len(warnings), 1, ex.stderr_lines)
            self.assertIn('memory only', warnings[0])

    def test_collectd_union_restart_and_a_shared_file(self):
        state = self.state('collectd.state')
        with Holder() as listener, StatsServer(mode='refuse') as srv:
            conf = ('<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n  ClientPort %d\n  IncludeLocal true\n'
                    '  UpstreamPort 0\n  GeoIPDatabase "%s"\n  CollectProcess false\n  StateFile "%s"\n'
                    '</Instance>\n' % (srv.url, listener.port, self.mmdb, state))
            with Collectd(conf) as cd:
                with Holder(SET_A, listener.port):
                    cd.wait_for('mtproxy-main/gauge-client-unique_ips', 15, lambda v: v['value'] == 1000)
                    cd.wait_for('mtproxy-main/gauge-clients-distinct_ips_1h', 15, lambda v: v['value'] == 1000)
                with Holder(SET_B, listener.port):
                    cd.wait_for('mtproxy-main/gauge-clients-distinct_ips_1h', 15, lambda v: v['value'] == 2000)
                    cd.wait_for('mtproxy-main/gauge-client-unique_ips', 15, lambda v: v['value'] == 1000)
                    self.assertEqual(cd.wait_for('mtproxy-main/gauge-clients-distinct_ips_24h')['value'], 2000)
                    self.assertEqual(cd.wait_for('mtproxy-main/gauge-country-FR-distinct_ips_24h')['value'], 1000)
                    for ident in ('derive-clients-connections_opened', 'derive-clients-lifetime_le_1',
                                  'derive-clients-lifetime_le_+Inf', 'derive-clients-lifetime_count',
                                  'derive-clients-lifetime_sum'):
                        self.assertIsNotNone(cd.wait_for('mtproxy-main/' + ident), ident)
                    rc = cd.stop()
                    self.assertEqual(rc, 0, cd.final_log[-2000:])
                    # collectd restarts: the first value is already the union
                    shared = conf.replace('</Instance>\n', '</Instance>\n', 1) + conf.replace('"main"', '"second"')
                    with Collectd(shared) as cd2:
                        first = cd2.wait_for('mtproxy-main/gauge-clients-distinct_ips_1h', 15)
                        self.assertEqual(first['value'], 2000)
                        self.assertEqual(cd2.wait_for('mtproxy-main/gauge-client-unique_ips')['value'], 1000)
                        # the second instance was given the same file: memory only, one warning
                        self.assertEqual(cd2.wait_for('mtproxy-second/gauge-clients-distinct_ips_1h', 15)['value'],
                                         1000)
                        log = cd2.log_text()
                        self.assertEqual(log.count('in use by another instance'), 1, log[-3000:])


if __name__ == '__main__':
    unittest.main()
