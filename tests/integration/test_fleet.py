"""A fleet (issue 24): three mtproxy-telegraf agents, each seeing its own real loopback clients (sets
that overlap), push keyed hashes to one real redis-server started here on a unix socket; each reads
the union back (exact for small sets). Redis killed and restarted empty mid-run loses nothing of the
hour; a MONITOR capture of every command holds no client address; a refused password, a key of the
wrong type: one warning, the local figures go on."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import StatsServer, wait_until  # noqa: E402
from execd import Execd  # noqa: E402
from lineproto import parse_line  # noqa: E402
from test_client_windows import Holder  # noqa: E402
from redis_server import REDIS_CLI, Redis  # noqa: E402


# (first address, count) groups, each inside one /24 (conn_holder skips .0 and .255)
SETS = [
    ['127.70.0.1:200:1'],                       # 127.70.0.1-200
    ['127.70.0.151:100:1', '127.71.0.1:100:1'],  # overlaps the first on .151-200
    ['127.71.0.51:150:1'],                      # overlaps the second on 127.71.0.51-100
]
UNION = 250 + 200
LATE = ['127.72.0.1:100:1']  # arrives while Redis is down
SALT = b'0123456789abcdef0123456789abcdef'
MASK = (1 << 64) - 1


def siphash24(k0, k1, data):
    """SipHash-2-4 (common/fleet/siphash.c), to rebuild what the agents send."""
    v = [0x736f6d6570736575 ^ k0, 0x646f72616e646f6d ^ k1, 0x6c7967656e657261 ^ k0, 0x7465646279746573 ^ k1]

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & MASK

    def rnd():
        v[0] = (v[0] + v[1]) & MASK; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)  # noqa: E702
        v[2] = (v[2] + v[3]) & MASK; v[3] = rotl(v[3], 16) ^ v[2]  # noqa: E702
        v[0] = (v[0] + v[3]) & MASK; v[3] = rotl(v[3], 21) ^ v[0]  # noqa: E702
        v[2] = (v[2] + v[1]) & MASK; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)  # noqa: E702
    whole = len(data) - len(data) % 8
    for i in range(0, whole, 8):
        m = int.from_bytes(data[i:i + 8], 'little')
        v[3] ^= m; rnd(); rnd(); v[0] ^= m  # noqa: E702
    b = (len(data) << 56 | int.from_bytes(data[whole:] + bytes(8 - len(data) % 8), 'little')) & MASK
    v[3] ^= b; rnd(); rnd(); v[0] ^= b; v[2] ^= 0xff  # noqa: E702
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


KEY = (siphash24(0x6d7470726f78792d, 0x666c6565742d6b30, SALT), siphash24(0x6d7470726f78792d, 0x666c6565742d6b31, SALT))


def addresses(groups):
    for g in groups:
        first, n = g.split(':')[:2]
        a, b, c, d = map(int, first.split('.'))
        for i in range(int(n)):
            yield '%d.%d.%d.%d' % (a, b, c, d + i)


def fleet_hash(ip):
    """The element an agent adds for an address: its IPv4-mapped bytes, SipHash-keyed, in hex."""
    mapped = bytes(10) + b'\xff\xff' + bytes(int(x) for x in ip.split('.'))
    return '%016x' % (siphash24(KEY[0], KEY[1], mapped) or 1)


def fleet(lines, country=None):
    for l in lines:
        m, t, f, _ = parse_line(l)
        if m == 'mtproxy_fleet' and t.get('fleet') == 'test' and t.get('country') == country:
            return f
    return None


class Fleet(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-fleet-')
        self.salt = os.path.join(self.tmp, 'salt')
        with open(self.salt, 'w') as f:
            f.write(SALT.decode() + '\n')

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def args(self, port, url, redis, extra=()):
        return ['--url', url, '--timeout', '300ms', '--client-port', str(port), '--include-local',
                '--collect-process=false', '--upstream-port', '0', '--fleet-name', 'test',
                '--fleet-redis', 'redis+unix://' + redis.sock, '--fleet-salt-file', self.salt,
                '--fleet-interval', '1s'] + list(extra)

    def poll(self, agents, pred, what, timeout=20):
        got = []

        def once():
            for ex in agents:
                got[:] = ex.tick()
            return pred(got)
        if not wait_until(once, timeout, 0.05):
            self.fail('%s: never true; last gather:\n%s\nstderr: %s' % (what, '\n'.join(got),
                                                                          agents[-1].stderr_lines[-5:]))
        return got

    def reference(self, redis, ips):
        redis.cli('DEL', 'reference')
        redis.cli('PFADD', 'reference', *sorted(fleet_hash(ip) for ip in ips))
        return int(redis.cli('PFCOUNT', 'reference'))

    def test_three_agents_union_redis_restart_and_monitor(self):
        redis = Redis(self.tmp).start()
        monitor_path = os.path.join(self.tmp, 'monitor.txt')
        monitor = None
        listeners, holders, agents = [], [], []
        try:
            monitor_out = open(monitor_path, 'w')
            monitor = subprocess.Popen([REDIS_CLI, '-s', redis.sock, 'MONITOR'], stdout=monitor_out, stderr=subprocess.DEVNULL,
                                       stdin=subprocess.DEVNULL)
            wait_until(lambda: os.path.getsize(monitor_path) > 0 or redis.cli('PING'), 5, 0.02)
            srv = StatsServer(mode='refuse').__enter__()
            for groups in SETS:
                listener = Holder().__enter__()
                listeners.append(listener)
                h = Holder(groups[0], listener.port)
                h.args += sum((['-g', g] for g in groups[1:]), [])
                holders.append(h.__enter__())
                agents.append(Execd(self.args(listener.port, srv.url, redis)).start())
            # Redis's estimate of the same elements, added by hand: what the fleet must show
            union = set(a for groups in SETS for a in addresses(groups))
            self.assertEqual(len(union), UNION)
            want = self.reference(redis, union)
            self.assertLessEqual(abs(want - UNION), UNION * 0.02)
            lines = self.poll(agents, lambda l: (fleet(l) or {}).get('distinct_ips_24h') == want, 'the union')
            f = fleet(lines)
            self.assertLessEqual(f['distinct_ips_1h'], want)  # the hour may have just turned
            self.assertEqual(f['distinct_ips_7d'], want)
            self.assertEqual(f['redis_up'], 1)
            self.assertEqual(f['pending'], 0)
            self.assertEqual(f['pending_dropped'], 0)
            self.assertTrue(redis.cli('TTL', redis.cli('KEYS', '{mtproxy:test}:ips:*').split()[0]).strip() > '0')

            # Redis dies: the agents go on, keep what arrives, and one warning each
            redis.kill()
            late = Holder(LATE[0], listeners[0].port).__enter__()
            holders.append(late)
            down = self.poll(agents[:1], lambda l: (fleet(l) or {}).get('pending', 0) >= 100, 'hashes kept')
            self.assertEqual(fleet(down)['redis_up'], 0)
            self.assertTrue(any(parse_line(l)[0] == 'mtproxy_connections' for l in down))
            # restarted empty: every agent sends its hour again
            redis.start()
            monitor_out.close()
            monitor.kill()
            monitor.wait(10)
            monitor_out = open(monitor_path, 'a')
            monitor = subprocess.Popen([REDIS_CLI, '-s', redis.sock, 'MONITOR'], stdout=monitor_out, stderr=subprocess.DEVNULL,
                                       stdin=subprocess.DEVNULL)
            want = self.reference(redis, union | set(addresses(LATE)))
            lines = self.poll(agents, lambda l: (fleet(l) or {}).get('distinct_ips_1h') == want,
                              'the union after the restart (the hour only: Redis came back empty)')
            self.assertEqual(fleet(lines)['pending'], 0)
            for ex in agents:
                warnings = [l for l in ex.stderr_lines if 'fleet' in l and l.startswith('W!')]
                self.assertLessEqual(len(warnings), 2, ex.stderr_lines)  # the failure (and its reason once)
            self.assertTrue(any('fleet' in l and 'W!' in l for l in agents[0].stderr_lines), agents[0].stderr_lines)
        finally:
            for ex in agents:
                if ex.proc.poll() is None:
                    ex.close_stdin()
            for h in holders + listeners:
                h.__exit__(None, None, None)
            if monitor:
                monitor.kill()
                monitor.wait(10)
            redis.kill()
        with open(monitor_path) as f:
            capture = f.read()
        self.assertIn('PFADD', capture)
        for needle in ('127.70.', '127.71.', '127.72.', '7f46', '7f47', '7f48'):
            self.assertNotIn(needle, capture)

    def test_a_stopped_redis_bounds_the_gather(self):
        with Redis(self.tmp) as redis, StatsServer(mode='refuse') as srv, Holder() as listener, \
                Holder(SETS[0][0], listener.port):
            ex = Execd(self.args(listener.port, srv.url, redis)).start()
            try:
                self.poll([ex], lambda l: (fleet(l) or {}).get('distinct_ips_7d', 0) > 0, 'the first figures')
                os.kill(redis.proc.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
                try:
                    with Holder(SETS[2][0], listener.port):
                        for _ in range(3):
                            started = time.monotonic()
                            lines = ex.tick()
                            # a gather waits at most the command timeout (0.5 s) on Redis
                            self.assertLess(time.monotonic() - started, 1.5)
                            self.assertTrue(any(parse_line(l)[0] == 'mtproxy_connections' for l in lines))
                        self.assertEqual(fleet(lines)['redis_up'], 0)
                        self.assertGreater(fleet(lines)['pending'], 0)
                finally:
                    os.kill(redis.proc.pid, signal.SIGCONT)
                lines = self.poll([ex], lambda l: (fleet(l) or {}).get('redis_up') == 1 and
                                  fleet(l)['pending'] == 0, 'Redis back, the hashes sent')
            finally:
                ex.close_stdin()

    def test_refused_password_and_wrong_type(self):
        with Redis(self.tmp, ['--requirepass', 'right-password-123']) as redis, \
                StatsServer(mode='refuse') as srv, Holder() as listener, Holder(SETS[0][0], listener.port):
            wrong = os.path.join(self.tmp, 'wrong')
            with open(wrong, 'w') as f:
                f.write('wrong-password-456\n')
            ex = Execd(self.args(listener.port, srv.url, redis, ['--fleet-password-file', wrong])).start()
            try:
                for _ in range(4):
                    lines = ex.tick()
                    self.assertEqual(fleet(lines)['redis_up'], 0)
                    self.assertTrue(any(parse_line(l)[0] == 'mtproxy_connections' for l in lines))
            finally:
                ex.close_stdin()
            warnings = [l for l in ex.stderr_lines if 'fleet' in l]
            self.assertEqual(len(warnings), 1, ex.stderr_lines)
            self.assertNotIn('wrong-password-456', '\n'.join(ex.stderr_lines))

            right = os.path.join(self.tmp, 'right')
            with open(right, 'w') as f:
                f.write('right-password-123\n')
            hour = time.strftime('%Y%m%d%H', time.gmtime())
            redis.cli('-a', 'right-password-123', 'SET', '{mtproxy:test}:ips:' + hour, 'not a sketch')
            ex = Execd(self.args(listener.port, srv.url, redis, ['--fleet-password-file', right])).start()
            try:
                lines = self.poll([ex], lambda l: (fleet(l) or {}).get('pending_dropped', 0) > 0, 'refused hashes')
                self.assertEqual(fleet(lines)['pending'], 0)
            finally:
                ex.close_stdin()
            self.assertEqual(len([l for l in ex.stderr_lines if 'refused some hashes' in l]), 1, ex.stderr_lines)


if __name__ == '__main__':
    unittest.main()
