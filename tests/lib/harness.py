"""harness.py — helpers for the integration tests: the stats server, a private influxd, a real collectd.

Every helper runs its process from a private temp dir, binds to 127.0.0.1 only, and makes sure the
process dies with the test run: context managers stop it in __exit__, an atexit hook kills whatever is
left, and children get PR_SET_PDEATHSIG(SIGKILL) so they do not outlive a killed test runner (create
them from the main thread: the signal follows the creating thread).
Python 3 standard library only. Set MTPM_KEEP_TMP=1 to keep the temp dirs for a post-mortem.

Hermetic by rule: every wait polls for what it waits for, with a deadline (wait_until(..., what=...)
fails naming it; Collectd.wait_for / wait_reads); a fixed sleep only paces, and says so. No port is
picked and released: our own servers bind port 0 and report it; a daemon that must be told its port
gets one from pick_port and is restarted on another when it did not get it (retry_on_port_clash);
a port that must outlive its server is held by hold_port (StatsServer.successor).

    from harness import StatsServer, Influxd, Collectd, collectd_check_config
    with StatsServer() as srv, Collectd('<Plugin mtproxy>\\n<Instance "main">\\nURL "%s"\\n'
                                         '</Instance>\\n</Plugin>' % srv.url) as cd:
        values = cd.wait_for('mtproxy-main/gauge-up', timeout=5)
"""

import atexit
import ctypes
import glob
import grp
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

LIB_DIR = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(LIB_DIR)
ROOT_DIR = os.path.dirname(TESTS_DIR)
FIXTURES_DIR = os.path.join(TESTS_DIR, 'fixtures')
STATS_SERVER = os.path.join(TESTS_DIR, 'stats_server.py')
PYTHON = sys.executable or '/usr/bin/python3'
HOSTNAME = 'testhost'
TYPES_DB = '/usr/share/collectd/types.db'


def _find(prog, *fallbacks):
    found = shutil.which(prog)
    if found:
        return found
    for f in fallbacks:
        if os.path.exists(f):
            return f
    return prog


# The long runs (soak, longrun, valgrind leaks: most of `make test`'s time) run only with MM_FULL=1,
# which .ci/run sets; without it they are reported as skipped.
full_run_only = unittest.skipUnless(os.environ.get('MM_FULL') == '1',
                                    'a long run: set MM_FULL=1 (CI does) to run it')

COLLECTD = _find('collectd', '/usr/sbin/collectd')
COLLECTDCTL = _find('collectdctl', '/usr/bin/collectdctl')
INFLUXD = _find('influxd', '/usr/bin/influxd')

# ---------------------------------------------------------------------------------------------------
# processes: spawn, track, always kill

_LIVE = set()
_TMPDIRS = set()

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _child_setup():
    if _libc is not None:
        _libc.prctl(1, int(signal.SIGKILL))     # PR_SET_PDEATHSIG


def _spawn(argv, cwd, stdout_path, stdin=subprocess.DEVNULL, env=None):
    out = open(stdout_path, 'ab')
    try:
        p = subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=_child_setup, close_fds=True, env=env)
    finally:
        out.close()
    _LIVE.add(p)
    return p


def _stop(p, sig=signal.SIGTERM, timeout=10.0):
    """Signal p, wait up to timeout, then SIGKILL. Returns the exit code."""
    if p is None:
        return None
    try:
        if p.poll() is None:
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
    finally:
        _LIVE.discard(p)
    return p.returncode


@atexit.register
def _kill_all():
    for p in list(_LIVE):
        try:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        except Exception:
            pass
    _LIVE.clear()
    for d in list(_TMPDIRS):
        _rmtree(d)


def _mkdtemp(what):
    d = tempfile.mkdtemp(prefix='mtpm-%s-' % what)
    _TMPDIRS.add(d)
    return d


def _rmtree(path):
    if path and not os.environ.get('MTPM_KEEP_TMP'):
        shutil.rmtree(path, ignore_errors=True)
        _TMPDIRS.discard(path)


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def _tail(text, n=40):
    return '\n'.join(text.splitlines()[-n:])


# ---------------------------------------------------------------------------------------------------
# ports

class PortInUse(RuntimeError):
    """A daemon could not bind the port it was given: retry_on_port_clash picks another."""


def _ephemeral_low():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def pick_port(kind=socket.SOCK_STREAM):
    """A port for a daemon that must be told its port (influxd, collectd's write_prometheus and network
    plugins, prometheus), for retry_on_port_clash only: drawn at random below the kernel's ephemeral
    range (where outgoing connections never land) and bindable on 127.0.0.1 and [::] at this moment
    (kind: SOCK_STREAM or SOCK_DGRAM). The servers of our own (stats_server.py, fake_mtproxy,
    conn_holder) bind port 0 and report the port instead."""
    low = max(_ephemeral_low(), 12000)
    while True:
        port = random.randrange(10000, low)
        try:
            for family, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::')):
                with socket.socket(family, kind) as s:
                    s.bind((addr, port))
            return port
        except OSError:
            continue


def hold_port(port):
    """A TCP socket bound to 127.0.0.1:port, not listening, with SO_REUSEPORT and without SO_REUSEADDR:
    while it is open connects are refused and nobody can bind the port, except a socket of ours with
    SO_REUSEPORT (stats_server.py listens that way). What keeps a port between two servers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('127.0.0.1', port))
    except BaseException:
        s.close()
        raise
    return s


def _socket_inodes(port, tables, state=None):
    """'socket:[inode]' of the sockets in the /proc/net tables bound to local port (any address), in
    state (hex, e.g. '0A' = LISTEN) when given."""
    inodes = set()
    for table in tables:
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if len(f) > 9 and (state is None or f[3] == state) and int(f[1].rsplit(':', 1)[1], 16) == port:
                inodes.add('socket:[%s]' % f[9])
    return inodes


def _fd_links(pid):
    out = set()
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            out.add(os.readlink('/proc/%d/fd/%s' % (pid, fd)))
        except OSError:
            pass
    return out


def listens_on(pid, port):
    """True when process pid holds a listening TCP socket on port (any address): whether a daemon got
    the port it was told, for daemons that do not say so in a log."""
    inodes = _socket_inodes(port, ('/proc/net/tcp', '/proc/net/tcp6'), '0A')
    return bool(inodes & _fd_links(pid))


def udp_port_is_own(pid, port):
    """True when process pid holds a UDP socket on port and no other process does. A UDP listener
    that sets SO_REUSEADDR (collectd's network plugin does) binds a port another such listener
    holds without an error, and the datagrams then go to one of them: this is how to tell."""
    inodes = _socket_inodes(port, ('/proc/net/udp', '/proc/net/udp6'))
    return bool(inodes) and inodes <= _fd_links(pid)


def retry_on_port_clash(start, attempts=8, pick=None):
    """start(port) starts a daemon on port and returns it, or raises PortInUse when the daemon said the
    port was taken (by anything on the host, between the pick and the bind): then a fresh port.
    pick() gives the port (default pick_port)."""
    for _ in range(attempts - 1):
        try:
            return start((pick or pick_port)())
        except PortInUse:
            continue
    return start((pick or pick_port)())


def wait_until(pred, timeout, interval=0.02, what=None):
    """Polls pred() until it returns something truthy (returned) or timeout passes: then None, or,
    when what (the awaited thing, in words) is given, AssertionError('... waiting for <what>')."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            if what is not None:
                raise AssertionError('timed out after %g s waiting for %s' % (timeout, what))
            return None
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------
# the stats server

class _ServerProcess:
    """What the stats server and influxd share: a process in a temp dir with a log file, stopped
    with SIGTERM (SIGKILL after stop_timeout), its log's tail printed when a `with` block fails.
    Subclasses set NAME and STOP_TIMEOUT and start() sets self.tmp, self.proc, self.log_file."""
    NAME = 'server'
    STOP_TIMEOUT = 5

    def log_text(self):
        return _read(self.log_file) if self.tmp else ''

    def stop(self):
        rc = _stop(self.proc, signal.SIGTERM, self.STOP_TIMEOUT)
        self.proc = None
        _rmtree(self.tmp)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.tmp:
            sys.stderr.write('\n--- %s log (tail) ---\n%s\n' % (self.NAME, _tail(self.log_text())))
        self.stop()
        return False


class StatsServer(_ServerProcess):
    """tests/stats_server.py in a temp dir, with a control file and a port file.

    StatsServer(mode='ok', static=False, fixture=None, port=0, path='/stats', content_type=None, cap=None)
      .port, .url ('http://127.0.0.1:PORT' + path; '/metrics' when path is '*'), .base_url
      path / content_type: serve another implementation's page (tests/fixtures/peers), see stats_server.py
      cap: body size of the 'worst' modes
      .set_mode(mode, timeout=5)  switch modes; returns once the server applied it
      .successor(**kwargs)        stops this server and starts another one (kwargs as here) on its port
      .log_text()                 the server's stderr (one line per request)
      .stop() -> exit code        also done by __exit__
    fixture: a path, or a bare file name looked up in tests/fixtures/.
    """

    NAME = 'stats_server'

    def __init__(self, mode='ok', static=False, fixture=None, port=0, path='/stats', content_type=None, cap=None):
        self.mode = mode
        self.cap = cap
        self.static = static
        self.path = path
        self.content_type = content_type
        if fixture and not os.path.isabs(fixture) and not os.path.exists(fixture):
            fixture = os.path.join(FIXTURES_DIR, fixture)
        self.fixture = fixture
        self.want_port = port
        self.tmp = None
        self.proc = None
        self.port = None

    @property
    def url(self):
        return 'http://127.0.0.1:%d%s' % (self.port, '/metrics' if self.path == '*' else self.path)

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self):
        self.tmp = _mkdtemp('stats')
        self.control_file = os.path.join(self.tmp, 'mode')
        self.port_file = os.path.join(self.tmp, 'port')
        self.log_file = os.path.join(self.tmp, 'stats_server.log')
        with open(self.control_file, 'w') as f:
            f.write(self.mode + '\n')
        argv = [PYTHON, STATS_SERVER, '--port', str(self.want_port), '--mode', self.mode,
                '--control-file', self.control_file, '--port-file', self.port_file]
        if self.static:
            argv.append('--static')
        if self.cap:
            argv += ['--cap', str(self.cap)]
        if self.fixture:
            argv += ['--fixture', self.fixture]
        if self.path != '/stats':
            argv += ['--path', self.path]
        if self.content_type:
            argv += ['--content-type', self.content_type]
        self.proc = _spawn(argv, self.tmp, self.log_file)
        try:
            ok = wait_until(lambda: self.proc.poll() is not None or os.path.exists(self.port_file), 10)
            if not ok or self.proc.poll() is not None:
                raise RuntimeError('stats_server did not start:\n' + self.log_text())
            self.port = int(_read(self.port_file).strip())
            if self.mode != 'refuse':
                if not wait_until(self._connects, 5):
                    raise RuntimeError('stats_server does not accept on %d:\n%s'
                                       % (self.port, self.log_text()))
        except BaseException:
            self.stop()
            raise
        return self

    def _connects(self):
        try:
            socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def successor(self, **kwargs):
        """A proxy restarting on its port: this server stops, another one (StatsServer(**kwargs)) starts
        on the same port. hold_port keeps the port meanwhile (connects are refused, as between a real
        proxy's exit and its restart), so nothing else on the host can take it in between."""
        hold = hold_port(self.port)
        try:
            self.stop()
            return StatsServer(port=self.port, **kwargs).start()
        finally:
            hold.close()

    def set_mode(self, mode, timeout=5.0):
        tmp = self.control_file + '.new'
        with open(tmp, 'w') as f:
            f.write(mode + '\n')
        os.replace(tmp, self.control_file)
        applied = self.control_file + '.applied'
        if not wait_until(lambda: _read(applied).strip() == mode, timeout):
            raise RuntimeError('stats_server did not switch to mode %r:\n%s' % (mode, self.log_text()))
        self.mode = mode



# ---------------------------------------------------------------------------------------------------
# influxd

INFLUXD_CONF = '''reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{tmp}/meta"

[data]
  dir = "{tmp}/data"
  wal-dir = "{tmp}/wal"
  index-version = "inmem"

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false

[ifql]
  enabled = false
'''


def _quote_ident(name):
    return '"%s"' % name.replace('\\', '\\\\').replace('"', '\\"')


class Influxd(_ServerProcess):
    """Debian's influxd 1.6 with a private config in a temp dir, loopback only (ports: pick_port, another
    pair when one was taken).

    Influxd()
      .url ('http://127.0.0.1:PORT'), .http_port, .rpc_port
      .create_db(name)
      .write(db, lines_text, precision='ns') -> (http_status, body_text)   400 for rejected lines
      .query(db, q, epoch='ns') -> parsed JSON of /query
      .field_types(db, measurement) -> {field: 'integer'|'float'|'string'|'boolean'}
      .rows(db, measurement) -> [{'time': ns, column: value, ...}, ...]   (SELECT *)
      .log_text(), .stop()
    """
    NAME = 'influxd'
    STOP_TIMEOUT = 10

    def __init__(self):
        self.tmp = None
        self.proc = None

    def start(self):
        return retry_on_port_clash(self._start_on)

    def _start_on(self, http_port):
        self.tmp = _mkdtemp('influxd')
        self.rpc_port, self.http_port = pick_port(), http_port
        self.url = 'http://127.0.0.1:%d' % self.http_port
        self.conf = os.path.join(self.tmp, 'influxdb.conf')
        self.log_file = os.path.join(self.tmp, 'influxd.log')
        with open(self.conf, 'w') as f:
            f.write(INFLUXD_CONF.format(tmp=self.tmp, rpc_port=self.rpc_port, http_port=self.http_port))
        self.proc = _spawn([INFLUXD, 'run', '-config', self.conf], self.tmp, self.log_file)
        try:
            if not wait_until(lambda: self.proc.poll() is not None or self._ping() == 204, 30, 0.05) \
                    or self.proc.poll() is not None:
                if 'address already in use' in self.log_text():
                    raise PortInUse(self.log_text())
                raise RuntimeError('influxd did not start:\n' + _tail(self.log_text()))
        except BaseException:
            self.stop()
            raise
        return self

    def _ping(self):
        try:
            with urllib.request.urlopen(self.url + '/ping', timeout=1) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def _request(self, method, path, params, data=None):
        url = self.url + path + '?' + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode('utf-8', 'replace')
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode('utf-8', 'replace')

    def create_db(self, name):
        status, body = self._request('POST', '/query', {'q': 'CREATE DATABASE ' + _quote_ident(name)})
        if status != 200 or '"error"' in body:
            raise RuntimeError('CREATE DATABASE %s failed: %d %s' % (name, status, body))

    def write(self, db, lines_text, precision='ns'):
        data = lines_text.encode('utf-8') if isinstance(lines_text, str) else bytes(lines_text)
        return self._request('POST', '/write', {'db': db, 'precision': precision}, data)

    def query(self, db, q, epoch='ns'):
        params = {'q': q, 'epoch': epoch}
        if db:
            params['db'] = db
        status, body = self._request('GET', '/query', params)
        try:
            return json.loads(body)
        except ValueError:
            raise RuntimeError('influxd query %r: %d %s' % (q, status, body))

    def _series(self, res):
        out = []
        for r in res.get('results', []):
            if 'error' in r:
                raise RuntimeError('influxd: ' + r['error'])
            out.extend(r.get('series', []))
        return out

    def field_types(self, db, measurement):
        res = self.query(db, 'SHOW FIELD KEYS FROM ' + _quote_ident(measurement))
        return {k: t for s in self._series(res) for k, t in s.get('values', [])}

    def rows(self, db, measurement):
        res = self.query(db, 'SELECT * FROM ' + _quote_ident(measurement))
        return [dict(zip(s['columns'], v)) for s in self._series(res) for v in s.get('values', [])]



# ---------------------------------------------------------------------------------------------------
# collectd

def plugin_path(build_dir='build'):
    """Absolute path of mtproxy.so in build_dir (relative build dirs are relative to the project)."""
    return os.path.join(_abs_build(build_dir), 'mtproxy.so')


def _abs_build(build_dir):
    return build_dir if os.path.isabs(build_dir) else os.path.join(ROOT_DIR, build_dir)


def _plugin_block(text):
    if text is None:
        return ''
    if '<plugin' not in text.lower():
        text = '<Plugin mtproxy>\n%s\n</Plugin>' % text
    return text if text.endswith('\n') else text + '\n'


def _split_identifier(identifier):
    """'[host/]plugin[-inst]/type[-tinst]' -> (host, plugin[-inst], type[-tinst])."""
    parts = identifier.split('/')
    if len(parts) == 2:
        parts = [HOSTNAME] + parts
    if len(parts) != 3:
        raise ValueError('bad identifier %r' % identifier)
    return parts


def _group_name():
    try:
        return grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        return str(os.getgid())


class Collectd:
    """The real collectd (collectd -f -C conf) loading build/mtproxy.so, everything in a temp dir.

    Collectd(plugin_conf_text, interval=1, build_dir='build', extra_types_db=None,
             extra_conf='', load_plugin=True, wait=True)
      plugin_conf_text: the '<Plugin mtproxy>...</Plugin>' text (inner text alone gets wrapped;
                        None = no block at all)
      build_dir:        where mtproxy.so is; relative = relative to the project root
      extra_types_db:   a path or a list of paths added after Debian's types.db
      extra_conf:       more config for stock plugins, placed before the PluginDir switch
      load_plugin:      False = do not load mtproxy at all (for testing the harness itself)
      hostname:         collectd's Hostname (default HOSTNAME; several hosts of a fleet in one test)
      wait:             start() waits for the unixsock socket (raises if collectd exits first)
      prometheus:       True = load write_prometheus on a port of its own (.prometheus_port; another
                        port and a restart when that one was taken)
      network_listen:   True = load the network plugin listening on 127.0.0.1, a UDP port of its own
                        (.network_port; another port and a restart when that one was taken or shared)
      env:              collectd's environment (default: ours)
      .getval(identifier) -> {'value': 1.0, ...} or None          identifier: [host/]plugin-inst/type-tinst
      .listval() -> ['testhost/mtproxy-main/gauge-up', ...]
      .wait_for(identifier, timeout=10, pred=None) -> values dict  (pred(values) must be true; raises
                                                                     AssertionError with the log on timeout)
      .csv_rows(identifier) -> [{'epoch': 1.7e9, 'value': 3.0}, ...] (column names from the csv header)
      .wait_reads(identifier, n, timeout=15) -> the csv rows of n more reads (raises on timeout)
      .log_text(), .returncode, .alive(), .stop(timeout=10) -> exit code (SIGTERM, then SIGKILL)
    """

    def __init__(self, plugin_conf_text, interval=1, build_dir='build', extra_types_db=None,
                 extra_conf='', load_plugin=True, wait=True, hostname=HOSTNAME, prometheus=False, env=None,
                 network_listen=False):
        self.hostname = hostname
        self.prometheus = prometheus
        self.prometheus_port = None
        self.network_listen = network_listen
        self.network_port = None
        self.env = env
        self.plugin_conf_text = plugin_conf_text
        self.interval = interval
        self.build_dir = _abs_build(build_dir)
        if isinstance(extra_types_db, str):
            extra_types_db = [extra_types_db]
        self.extra_types_db = [os.path.abspath(p) for p in (extra_types_db or [])]
        self.extra_conf = extra_conf
        self.load_plugin = load_plugin
        self.wait = wait
        self.tmp = None
        self.proc = None
        self.final_log = ''

    def config_text(self):
        t = self.tmp
        types = ' '.join('"%s"' % p for p in [TYPES_DB] + self.extra_types_db)
        conf = [
            'Hostname "%s"' % self.hostname,
            'FQDNLookup false',
            'BaseDir "%s"' % t,
            'PIDFile "%s/collectd.pid"' % t,
            'TypesDB %s' % types,
            'Interval %s' % self.interval,
            '',
            'LoadPlugin logfile',
            '<Plugin logfile>',
            '  LogLevel info',
            '  File "%s"' % self.log_file,
            '  Timestamp true',
            '  PrintSeverity true',
            '</Plugin>',
            'LoadPlugin csv',
            '<Plugin csv>',
            '  DataDir "%s"' % self.csv_dir,
            '  StoreRates false',
            '</Plugin>',
            'LoadPlugin unixsock',
            '<Plugin unixsock>',
            '  SocketFile "%s"' % self.sock,
            '  SocketGroup "%s"' % _group_name(),
            '  SocketPerms "0660"',
            '</Plugin>',
            self.extra_conf or '',
        ]
        if self.load_plugin:
            conf += ['PluginDir "%s"' % self.build_dir, 'LoadPlugin mtproxy',
                     _plugin_block(self.plugin_conf_text)]
        return '\n'.join(conf) + '\n'

    def start(self):
        if not (self.prometheus or self.network_listen):
            return self._start()

        def pick():
            return (pick_port() if self.prometheus else None,
                    pick_port(socket.SOCK_DGRAM) if self.network_listen else None)
        return retry_on_port_clash(self._start_on_ports, pick=pick)

    def _start_on_ports(self, ports):
        """collectd with write_prometheus on TCP port ports[0] and/or the network plugin on UDP port
        ports[1]; PortInUse when either was taken (collectd logs it and runs on without it) or, for
        UDP, shared: the network plugin binds with SO_REUSEADDR, so another listener that does the
        same holds the port beside it without an error and may receive the datagrams."""
        self.prometheus_port, self.network_port = ports
        base = self.extra_conf
        extra = base or ''
        if self.prometheus:
            extra += ('\nLoadPlugin write_prometheus\n<Plugin write_prometheus>\n'
                      '  Port "%d"\n</Plugin>\n' % self.prometheus_port)
        if self.network_listen:
            extra += ('\nLoadPlugin network\n<Plugin network>\n  <Listen "127.0.0.1" "%d">\n  </Listen>\n'
                      '</Plugin>\n' % self.network_port)
        self.extra_conf = extra
        try:
            self._start()
        finally:
            self.extra_conf = base
        if not wait_until(lambda: 'Initialization complete' in self.log_text() or not self.alive(), 10):
            self.stop()
            raise RuntimeError('collectd did not initialise:\n' + self.final_log)
        log = self.log_text()
        if 'write_prometheus plugin: Opening a listening socket' in log \
                or 'sockent_server_listen failed' in log \
                or (self.network_listen and self.alive() and not udp_port_is_own(self.proc.pid, self.network_port)):
            self.stop()
            raise PortInUse(self.final_log)
        return self

    def _start(self):
        if self.load_plugin and not os.path.exists(os.path.join(self.build_dir, 'mtproxy.so')):
            raise RuntimeError('%s/mtproxy.so is not built (run make)' % self.build_dir)
        self.tmp = _mkdtemp('collectd')
        self.conf = os.path.join(self.tmp, 'collectd.conf')
        self.log_file = os.path.join(self.tmp, 'collectd.log')
        self.stderr_file = os.path.join(self.tmp, 'collectd.stderr')
        self.csv_dir = os.path.join(self.tmp, 'csv')
        self.sock = os.path.join(self.tmp, 'sock')
        with open(self.conf, 'w') as f:
            f.write(self.config_text())
        self.proc = _spawn([COLLECTD, '-f', '-C', self.conf], self.tmp, self.stderr_file, env=self.env)
        if self.wait:
            try:
                ok = wait_until(lambda: self.proc.poll() is not None or os.path.exists(self.sock), 10)
                if not ok or self.proc.poll() is not None:
                    raise RuntimeError('collectd did not start (rc %s):\n%s'
                                       % (self.proc.poll(), self.log_text()))
            except BaseException:
                self.stop()
                raise
        return self

    # ---- state ----
    @property
    def returncode(self):
        return self.proc.poll() if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        if not self.tmp:
            return self.final_log
        return _read(self.stderr_file) + _read(self.log_file)

    # ---- values ----
    def _ctl(self, *args):
        r = subprocess.run([COLLECTDCTL, '-s', self.sock] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return r.returncode, r.stdout.decode('utf-8', 'replace')

    def getval(self, identifier):
        """Current values of identifier from collectd's cache, {name: float} (nan for a DERIVE's first
        sample), or None if collectd has no such value."""
        ident = '/'.join(_split_identifier(identifier))
        rc, out = self._ctl('getval', ident)
        if rc != 0:
            return None
        values = {}
        for line in out.splitlines():
            k, sep, v = line.partition('=')
            if not sep:
                continue
            try:
                values[k.strip()] = float(v)
            except ValueError:
                values[k.strip()] = math.nan
        return values or None

    def listval(self):
        rc, out = self._ctl('listval')
        if rc != 0:
            return []
        return sorted(line.split()[-1] for line in out.splitlines() if line.strip())

    def wait_for(self, identifier, timeout=10.0, pred=None):
        def check():
            if not self.alive():
                raise AssertionError('collectd exited (rc %s) while waiting for %s:\n%s'
                                     % (self.returncode, identifier, _tail(self.log_text())))
            v = self.getval(identifier)
            if v is not None and (pred is None or pred(v)):
                return v
            return None
        v = wait_until(check, timeout, 0.1)
        if v is None:
            raise AssertionError('no value for %s within %.1f s (last %r); listval: %s\nlog:\n%s'
                                 % (identifier, timeout, self.getval(identifier),
                                    ', '.join(self.listval()), _tail(self.log_text())))
        return v

    def wait_reads(self, identifier, n, timeout=15.0):
        """Waits until collectd has written n more rows (reads) of identifier than it had at the call
        and returns those rows: for checks that something stays true over several reads."""
        seen = len(self.csv_rows(identifier))
        wait_until(lambda: len(self.csv_rows(identifier)) >= seen + n, timeout, 0.05,
                   what='%d more reads of %s' % (n, identifier))
        return self.csv_rows(identifier)[seen:]

    def csv_rows(self, identifier):
        host, plugin, type_ = _split_identifier(identifier)
        pattern = os.path.join(self.csv_dir, glob.escape(host), glob.escape(plugin),
                               glob.escape(type_) + '-[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
        rows = []
        for path in sorted(glob.glob(pattern)):
            text = _read(path)
            lines = text.split('\n')
            if not text.endswith('\n'):
                lines = lines[:-1]              # a row being written
            header = None
            for line in lines:
                if not line:
                    continue
                cols = line.split(',')
                if header is None:
                    header = cols
                    continue
                row = {}
                for name, val in zip(header, cols):
                    try:
                        row[name] = float(val)
                    except ValueError:
                        row[name] = math.nan
                rows.append(row)
        return rows

    # ---- lifetime ----
    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit code. The log stays in .final_log."""
        if self.tmp is None:
            return self.returncode
        rc = _stop(self.proc, signal.SIGTERM, timeout)
        self.final_log = self.log_text()
        _rmtree(self.tmp)
        self.tmp = None
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.tmp:
            sys.stderr.write('\n--- collectd log (tail) ---\n%s\n' % _tail(self.log_text()))
        self.stop()
        return False


def collectd_check_config(plugin_conf_text, timeout=5.0, **kwargs):
    """Starts collectd with plugin_conf_text and returns (exit_code, log and stderr text).

    A refused config makes collectd exit non-zero within milliseconds. An accepted one reaches the read
    loop; collectd is then stopped with SIGTERM and the code is 0 (or -9 if it had to be killed after
    timeout). kwargs go to Collectd (interval, build_dir, extra_types_db, extra_conf, load_plugin)."""
    cd = Collectd(plugin_conf_text, wait=False, **kwargs)
    try:
        cd.start()
        wait_until(lambda: cd.proc.poll() is not None
                   or 'Initialization complete' in cd.log_text(), timeout, 0.02)
        rc = cd.stop(timeout=5)
        return rc, cd.final_log
    finally:
        cd.stop()
