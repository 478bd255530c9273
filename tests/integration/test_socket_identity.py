"""The proxy's client and upstream connections on a host with other services (issue 13), checked against
`ss`: clients matched by the proxy's listening address and port (another service on 127.0.0.2 with the
same port is not counted), client ports found from the proxy's command line by an unprivileged agent
when the proxy dropped its privileges, upstream identified by destination network, and the agent's own
stats scrapes never counted as upstream. Real forked trees (fake_mtproxy) and real loopback sockets."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer  # noqa: E402
from execd import Execd, run_once  # noqa: E402
from lineproto import parse_line  # noqa: E402

FAKE = os.path.join(ROOT_DIR, 'build', 'tools', 'fake_mtproxy')
HOLDER = os.path.join(ROOT_DIR, 'build', 'tools', 'conn_holder')
NAME = 'mtsk%d' % (os.getpid() % 100000)


def reserved_port():
    """A port held bound (not listening) with SO_REUSEPORT until the fake listens on it, so the fake's
    command line names the real port and nothing else can take it meanwhile."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(('127.0.0.1', 0))
    return s, s.getsockname()[1]


class Proc:
    def __init__(self, argv, ready):
        self.argv, self.ready = [str(a) for a in argv], ready

    def __enter__(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.line = self.proc.stdout.readline().decode()
        if not self.ready(self.line):
            self.proc.kill()
            raise RuntimeError('%s did not start: %r' % (self.argv[0], self.line))
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def fake(*args):
    p = Proc([FAKE, '-n', NAME] + list(args), lambda l: l.startswith('{'))
    return p


def holder(*args):
    return Proc([HOLDER] + list(args), lambda l: 'READY' in l)


def ss_count(*filt):
    out = subprocess.run(['ss', '-Htn'] + list(filt), capture_output=True, text=True, check=True).stdout
    return len([l for l in out.splitlines() if l.strip()])


def sides(lines):
    return {parse_line(l)[1]['side']: parse_line(l)[2] for l in lines if l.startswith('mtproxy_connections,')}


class SocketIdentity(unittest.TestCase):
    def test_second_service_on_another_address_is_not_counted(self):
        """Proxy on 127.0.0.1:P (found through its fd links), another service on 127.0.0.2:P with its
        own clients: only the proxy's are counted, equal to ss; both fronts, into influxd."""
        hold, port = reserved_port()
        with StatsServer(mode='404') as srv, fake('-w', 2, '-H', port, '-p', srv.port) as f:
            hold.close()
            with holder('-t', port, '-g', '127.1.0.1:5:2'), \
                    holder('-L', '127.0.0.2', '-p', port, '-g', '127.4.0.1:3:1'):
                truth = ss_count('state', 'established', 'src', '127.0.0.1:%d' % port)
                other = ss_count('state', 'established', 'src', '127.0.0.2:%d' % port)
                self.assertEqual((truth, other), (10, 3))
                rc, out, err = run_once(['--url', srv.url, '--timeout', '300ms', '--process-name', NAME,
                                         '--include-local', '--max-countries', '0'])
                self.assertEqual(rc, 0, err)
                client = sides(out)['client']
                self.assertEqual(client['established'], truth)
                self.assertEqual(client['listen'], 1)
                self.assertEqual(client['unique_ips'], 5)
                with Influxd() as influx:
                    influx.create_db('s')
                    status, body = influx.write('s', '\n'.join(out) + '\n')
                    self.assertEqual(status, 204, body)
                conf = ('<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n  ProcessName "%s"\n'
                        '  IncludeLocal true\n  MaxCountries 0\n</Instance>\n' % (srv.url, NAME))
                with Collectd(conf) as cd:
                    v = cd.wait_for('mtproxy-main/tcp_connections-client-ESTABLISHED')
                    self.assertEqual(v['value'], truth)
                    self.assertEqual(cd.wait_for('mtproxy-main/tcp_connections-client-LISTEN')['value'], 1)

    @unittest.skipUnless(os.geteuid() == 0, 'needs root to start the proxy and the agent as other users')
    def test_unprivileged_agent_finds_client_ports_from_the_command_line(self):
        """The proxy drops to nobody (its /proc/PID/fd becomes root's), the agent runs as yet another
        user: the client port comes from -H on the proxy's command line; counts equal ss."""
        hold, port = reserved_port()
        with StatsServer(mode='404') as srv, fake('-w', 2, '-H', port, '-p', srv.port, '-u', 'nobody'):
            hold.close()
            with holder('-t', port, '-g', '127.1.0.1:4:3'):
                truth = ss_count('state', 'established', 'src', '127.0.0.1:%d' % port)
                self.assertEqual(truth, 12)
                setpriv = ['setpriv', '--reuid=4242', '--regid=4242', '--clear-groups']
                with Execd(['--url', srv.url, '--timeout', '300ms', '--process-name', NAME,
                            '--include-local', '--max-countries', '0'], prefix=setpriv) as ex:
                    batch = ex.tick()
                    ex.close_stdin()
                client = sides(batch)['client']
                self.assertEqual(client['established'], truth)
                self.assertEqual(client['unique_ips'], 4)
                self.assertFalse([l for l in ex.stderr_lines if 'client port' in l and l.startswith('W!')],
                                 ex.stderr_lines)

    def test_upstream_by_destination_and_own_scrapes(self):
        """Upstream = connections to the configured networks (a loopback stand-in for Telegram's middle
        proxy on 127.0.0.3), counted like ss; the agent's own requests to the stats port never count,
        even when the stats port is inside the upstream networks."""
        with StatsServer(mode='ok') as srv, holder('-L', '127.0.0.3', '-p', 0, '-g', '127.5.0.1:2:2') as mid:
            mid_port = int(re.search(r'port=(\d+)', mid.line).group(1))
            truth = ss_count('state', 'established', 'dst', '127.0.0.3:%d' % mid_port)
            self.assertEqual(truth, 4)
            # 127.0.0.1 is an upstream network too, and the stats port an upstream port
            with Execd(['--url', srv.url, '--collect-process=false',
                        '--upstream-network', '127.0.0.3/32', '--upstream-network', '127.0.0.1/32',
                        '--upstream-port', str(mid_port), '--upstream-port', str(srv.port)]) as ex:
                scrapes = 0
                for _ in range(4):
                    batch = ex.tick()
                    scrapes += ss_count('state', 'connected', 'dst', '127.0.0.1:%d' % srv.port) + ss_count('state', 'connected', 'src', '127.0.0.1:%d' % srv.port)
                ex.close_stdin()
            self.assertGreater(scrapes, 0)  # the agent's connections to the stats port exist...
            up = sides(batch)['upstream']
            self.assertEqual(up['established'], truth)  # ...and are not upstream
            self.assertEqual(sum(v for k, v in up.items() if k in (
                'syn_sent', 'syn_recv', 'fin_wait1', 'fin_wait2', 'time_wait', 'close', 'close_wait',
                'last_ack', 'closing')), 0)
            self.assertEqual(up['unique_ips'], 1)
            # the same through collectd's options
            conf = ('<Instance "main">\n  URL "%s"\n  CollectProcess false\n'
                    '  UpstreamNetwork "127.0.0.3/32"\n  UpstreamNetwork "127.0.0.1/32"\n'
                    '  UpstreamPort %d\n  UpstreamPort %d\n</Instance>\n' % (srv.url, mid_port, srv.port))
            with Collectd(conf) as cd:
                v = cd.wait_for('mtproxy-main/tcp_connections-upstream-ESTABLISHED')
                self.assertEqual(v['value'], truth)
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1)
                # more reads: the scrapes still do not count
                rows = cd.wait_reads('mtproxy-main/tcp_connections-upstream-ESTABLISHED', 3)
                self.assertEqual([r['value'] for r in rows], [truth] * len(rows))
                self.assertEqual(cd.getval('mtproxy-main/tcp_connections-upstream-TIME_WAIT')['value'], 0)


if __name__ == '__main__':
    unittest.main()
