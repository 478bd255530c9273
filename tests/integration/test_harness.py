"""The test harness's own promises that other tests rely on: daemons that must be told a port get
another one when something took theirs (no picked-then-released race), and the execd driver sees a
whole batch without a fixed sleep."""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
import harness  # noqa: E402
from harness import Collectd, Influxd, StatsServer, listens_on  # noqa: E402
from execd import Execd  # noqa: E402


class TakenPort:
    """pick_port() answers a port that is already taken (on [::] and 127.0.0.1) first, then real ones."""

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.bind(('::', 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.real = harness.pick_port
        self.calls = 0

        def pick():
            self.calls += 1
            return self.port if self.calls == 1 else self.real()
        harness.pick_port = pick
        return self

    def __exit__(self, *exc):
        harness.pick_port = self.real
        self.sock.close()


class TakenUdpPort:
    """pick_port(SOCK_DGRAM) answers a UDP port already bound on 127.0.0.1 first, then real ones.
    shared: bound with SO_REUSEADDR, as collectd's network plugin binds: collectd then binds beside it
    without an error; otherwise collectd logs the failed bind."""

    def __init__(self, shared):
        self.shared = shared

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if self.shared:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.real = harness.pick_port
        self.calls = 0

        def pick(kind=socket.SOCK_STREAM):
            if kind != socket.SOCK_DGRAM:
                return self.real(kind)
            self.calls += 1
            return self.port if self.calls == 1 else self.real(kind)
        harness.pick_port = pick
        return self

    def __exit__(self, *exc):
        harness.pick_port = self.real
        self.sock.close()


class PortClash(unittest.TestCase):
    def test_network_listen_gets_a_port_of_its_own(self):
        for shared in (True, False):
            with self.subTest(shared=shared), TakenUdpPort(shared) as taken, \
                    Collectd(None, load_plugin=False, network_listen=True) as cd:
                self.assertNotEqual(cd.network_port, taken.port)
                self.assertEqual(taken.calls, 2)
                self.assertTrue(harness.udp_port_is_own(cd.proc.pid, cd.network_port))
                self.assertFalse(harness.udp_port_is_own(cd.proc.pid, taken.port))


    def test_write_prometheus_gets_another_port(self):
        with TakenPort() as taken, Collectd(None, load_plugin=False, prometheus=True) as cd:
            self.assertNotEqual(cd.prometheus_port, taken.port)
            self.assertGreaterEqual(taken.calls, 2)
            self.assertTrue(listens_on(cd.proc.pid, cd.prometheus_port))
            self.assertFalse(listens_on(cd.proc.pid, taken.port))

    def test_influxd_gets_another_port(self):
        with TakenPort() as taken, Influxd() as db:
            self.assertNotEqual(db.http_port, taken.port)
            self.assertGreaterEqual(taken.calls, 2)
            db.create_db('x')


class WholeBatches(unittest.TestCase):
    def test_tick_returns_the_whole_batch(self):
        with StatsServer(static=True, fixture='stats-upstream-with-clients-M1.txt') as srv:
            with Execd(['--url', srv.url, '--collect-sockets=false']) as ex:
                sizes = {len(ex.tick()) for _ in range(20)}
        self.assertEqual(len(sizes), 1, sizes)   # the same page gives the same number of lines


if __name__ == '__main__':
    unittest.main()
