#!/usr/bin/python3
"""stats_server.py — a stand-in for MTProxy's HTTP stats port, for tests and for `make demo`.

It answers like the official MTProxy (commit dc0c7f3de405, see tests/fixtures/): 127.0.0.1 only,
`GET /stats` exactly -> 200 text/plain with Server/Date/Content-Type/Connection/Content-Length, any other
path -> 404 with MTProxy's small HTML page, other methods -> 501, a peer other than 127.0.0.1 -> 404,
`Connection: keep-alive` honoured, a request line without an HTTP version -> the bare body.
Unless --static is given, the body evolves: current_time/uptime/tot_idle_time follow the wall clock since
the server started (start_time fixed), http_queries counts the requests, a few counters grow per request.

Misbehaving modes for fault tests (--mode, or one word in --control-file, re-read at every accepted
connection and every 50 ms; the mode in effect is echoed to <control-file>.applied):
  ok               normal behaviour (above)
  404 / 500        every request gets that status with an HTML body
  refuse           the listening socket is closed (connects are refused); reopened on the same port later.
                   Meanwhile a socket bound to the port, not listening, holds it (as it does from the
                   start with --mode refuse --port 0): nothing else on the host can take the port
  hang             the request is read and never answered; the socket stays open until the server exits
  drip             a valid 200 response, sent 1 byte per second
  garbage          200 text/plain, ~4 KB of random binary bytes including NUL
  truncated        200, Content-Length of the full body, but the connection closes after half, mid-line
  truncated-short  200, Content-Length = the half actually sent (cut mid-line: last line lacks its LF)
  big              200 with a 10 MiB body of valid-looking key<TAB>value lines
  html             200 text/html with an HTML page
  wrong-type       the normal body with Content-Type application/octet-stream
  restart          like ok, but entering this mode simulates a proxy restart: new pid and start_time,
                   counters restart from zero (leave the mode and re-enter it to restart again)
  silent           the connection is accepted and neither read nor answered until the server exits
  continue         the request is read and answered with "100 Continue" every 0.1 s, forever
  headers          "200 OK" and then one more header line every 10 ms, forever
  worst            200, a body of exactly --cap bytes (default 1 MiB, the clients' default cap) in the
                   most costly shape for a parser: distinct keys of 1 to 5 characters, one tiny line each
  worst-over       the same shape, one byte more than --cap

Other implementations' pages (tests/fixtures/peers/): --path answers another path than /stats ('*' for any
path, as mtprotoproxy does) and --content-type sets the 200's Content-Type. A fixture captured with
`curl -i` (it starts with "HTTP/") is served without its captured headers, with its captured Content-Type
unless --content-type says otherwise. A fixture that is not a TAB-separated /stats page (a Prometheus
page) is always served byte-exact, as with --static.

Python 3 standard library only; raw sockets and one thread per connection.
"""

import argparse
import itertools
import os
import random
import select
import signal
import socket
import sys
import threading
import time
from email.utils import formatdate

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURE = os.path.join(HERE, 'fixtures', 'stats-upstream-with-clients-M1.txt')

MODES = ('ok', '404', '500', 'refuse', 'hang', 'drip', 'garbage', 'truncated', 'truncated-short',
         'big', 'html', 'wrong-type', 'restart', 'silent', 'continue', 'headers', 'worst', 'worst-over')

# Counters that grow by a fixed amount per served request (roughly one scrape interval of a busy proxy).
COUNTER_STEP = {
    b'epoll_calls': 850,
    b'tcp_readv_bytes': 83,
    b'tcp_writev_bytes': 5950,
    b'tot_forwarded_queries': 16,
    b'tot_forwarded_responses': 16,
    b'timer_ops': 1000,
    b'event_timer_insert_ops': 500,
    b'jobs_created': 10,
}

REASONS = {200: 'OK', 400: 'Bad Request', 404: 'Not Found', 500: 'Internal Server Error',
           501: 'Not Implemented'}

BIG_SIZE = 10 * 1024 * 1024
LETTERS = [bytes([c]) for c in range(97, 123)]
DIGIT_LINES = [b'\t%d\n' % d for d in range(10)]
GARBAGE_SIZE = 4096
MAX_REQUEST = 16384
REQUEST_TIMEOUT = 30.0

HTML_PAGE = (b'<!DOCTYPE html>\n<html>\n<head><title>Welcome</title></head>\n<body>\n'
             b'<h1>It works!</h1>\n<p>This is not the MTProxy stats page.</p>\n'
             b'<p>pid\t1</p>\n</body>\n</html>\n')


def error_page(status):
    """MTProxy's (nginx-like) error page: 168 bytes for 404, 180 for 501."""
    title = '%d %s' % (status, REASONS[status])
    return ('<html>\r\n<head><title>%s</title></head>\r\n<body bgcolor="white">\r\n'
            '<center><h1>%s</h1></center>\r\n<hr><center>MTProxy/1.0</center>\r\n'
            '</body>\r\n</html>\r\n' % (title, title)).encode('ascii')


def response(status, body, ctype='text/plain', connection='close', content_length=None):
    if content_length is None:
        content_length = len(body)
    head = ('HTTP/1.1 %d %s\r\nServer: MTProxy/1.0\r\nDate: %s\r\nContent-Type: %s\r\n'
            'Connection: %s\r\nContent-Length: %d\r\n\r\n'
            % (status, REASONS[status], formatdate(usegmt=True), ctype, connection, content_length))
    return head.encode('ascii') + body


def cut_mid_line(body):
    """An offset near the middle of body that falls inside a numeric value (key<TAB>12|34), so the
    truncated text still looks like a valid last line without its LF."""
    pos = len(body) // 2
    while True:
        start = body.find(b'\n', pos)
        if start < 0:
            break
        start += 1
        end = body.find(b'\n', start)
        if end < 0:
            break
        line = body[start:end]
        tab = line.find(b'\t')
        if tab > 0:
            value = line[tab + 1:]
            if len(value) >= 2 and value.isdigit():
                return start + tab + 1 + len(value) // 2
        pos = end
    # no numeric line after the middle: cut one byte into the middle line
    pos = len(body) // 2
    while pos > 0 and body[pos - 1:pos] == b'\n':
        pos -= 1
    return max(pos, 1)


class Stats:
    """The /stats body: the fixture with evolving values."""

    def __init__(self, data, static):
        self.raw = data
        self.static = static
        self.lock = threading.Lock()
        self.lines = []   # [key, value] pairs, bytes; order kept
        # static: served byte-exact, never split (a generated 16 MiB body starts at once)
        for line in ([] if static else data.split(b'\n')):
            if not line:
                continue
            key, _, value = line.partition(b'\t')
            self.lines.append([key, value])
        self.index = {k: i for i, (k, _) in enumerate(self.lines)}
        self.t0 = time.monotonic()
        self.base_current = self._num(b'current_time', 0)
        self.start_time = self._num(b'start_time', int(time.time()))
        self.base_idle = float(self._num(b'tot_idle_time', 0.0, float))
        self.base = {k: self._num(k, 0) for k in list(COUNTER_STEP) + [b'http_queries']}
        self.pid = self._num(b'pid', os.getpid())
        self.requests = 0        # requests parsed since start (or the last simulated restart)
        self.restarts = 0

    def _num(self, key, default, conv=int):
        i = self.index.get(key)
        if i is None:
            return default
        try:
            return conv(self.lines[i][1])
        except ValueError:
            return default

    def _set(self, key, text):
        i = self.index.get(key)
        if i is not None:
            self.lines[i][1] = text.encode('ascii')

    def note_request(self):
        with self.lock:
            self.requests += 1

    def restart(self):
        """Simulate a proxy restart: new pid and start_time, counters from zero."""
        with self.lock:
            now = self.base_current + (time.monotonic() - self.t0)
            self.start_time = int(now)
            self.base_idle = -(now - self.base_current)   # tot_idle_time restarts at 0
            self.base = {k: 0 for k in self.base}
            self.requests = 0
            self.pid += 1
            self.restarts += 1
            i = self.index.get(b'PID')
            if i is not None:
                parts = self.lines[i][1].strip(b'[]').split(b':')
                if len(parts) == 4:
                    self._set(b'PID', '[%s:%s:%d:%d]' % (parts[0].decode(), parts[1].decode(),
                                                        self.pid, self.start_time))
            self._set(b'pid', str(self.pid))

    def body(self):
        if self.static:
            return self.raw
        with self.lock:
            elapsed = time.monotonic() - self.t0
            current = int(self.base_current + elapsed)
            uptime = max(current - self.start_time, 0)
            self._set(b'start_time', str(self.start_time))
            self._set(b'current_time', str(current))
            self._set(b'uptime', str(uptime))
            self._set(b'tot_idle_time', '%.3f' % max(self.base_idle + elapsed, 0.0))
            n = self.requests
            for key, step in COUNTER_STEP.items():
                self._set(key, str(self.base[key] + step * n))
            http_queries = self.base[b'http_queries'] + n
            self._set(b'http_queries', str(http_queries))
            self._set(b'http_qps', '%.6f' % (http_queries / uptime if uptime > 0 else 0.0))
            return b''.join(k + b'\t' + v + b'\n' for k, v in self.lines)


def load_fixture(path):
    """(body, captured Content-Type or None): a `curl -i` capture loses its headers here."""
    with open(path, 'rb') as f:
        data = f.read()
    ctype = None
    if data.startswith(b'HTTP/'):
        head, sep, body = data.partition(b'\r\n\r\n')
        if sep:
            data = body
            for line in head.split(b'\r\n')[1:]:
                name, _, value = line.partition(b':')
                if name.strip().lower() == b'content-type':
                    ctype = value.strip().decode('latin-1')
    return data, ctype


def is_stats_page(body):
    first = body.split(b'\n', 1)[0]
    return b'\t' in first and not first.startswith(b'#')


class Server:
    def __init__(self, args):
        data, captured_type = load_fixture(args.fixture)
        self.stats = Stats(data, args.static or not is_stats_page(data))
        self.path = args.path
        self.content_type = args.content_type or captured_type or 'text/plain'
        self.port = args.port
        self.cap = args.cap
        self.worst_cache = {}
        if args.mode in ('worst', 'worst-over'):
            self.worst_body(self.cap + (args.mode == 'worst-over'))
        self.port_file = args.port_file
        self.control_file = args.control_file
        self.mode = None
        self.stop = threading.Event()
        self.lsock = None
        self.hold = None         # in mode refuse: the port, held
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.big_cache = None
        self.bad_control = None
        self.fixture = args.fixture
        self.apply_mode(args.mode)
        if self.mode != 'refuse' and self.lsock is None:
            raise SystemExit('stats_server: cannot listen on 127.0.0.1:%d' % self.port)

    # ---- logging, mode control ----
    def log(self, msg):
        with self.log_lock:
            try:
                sys.stderr.write('%s stats_server[%d]: %s\n'
                                 % (time.strftime('%H:%M:%S'), os.getpid(), msg))
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def read_control(self):
        if not self.control_file:
            return
        try:
            with open(self.control_file, 'r') as f:
                word = f.read().strip()
        except OSError:
            return
        if not word:
            return     # being written, or empty: keep the current mode
        if word not in MODES:
            if word != self.bad_control:
                self.log('ignoring unknown mode %r in %s' % (word, self.control_file))
                self.bad_control = word
            return
        if word != self.mode:
            self.apply_mode(word)

    def apply_mode(self, mode):
        if mode == 'big':
            self.big_body()  # built before the mode applies: a request must not wait for it
        old, self.mode = self.mode, mode
        if mode == 'restart' and old is not None and old != 'restart':
            self.stats.restart()
        if mode == 'refuse':
            if self.hold is None:     # before the listener closes: the port is never free
                try:
                    self.hold = self.bind(listen=False)
                except OSError as e:
                    self.log('cannot hold 127.0.0.1:%d: %s' % (self.port, e))
            if self.lsock is not None:
                self.lsock.close()
                self.lsock = None
        elif self.lsock is None:
            try:
                self.lsock = self.bind()
            except OSError as e:
                self.log('cannot listen on 127.0.0.1:%d: %s (retrying)' % (self.port, e))
                return
            if self.hold is not None:
                self.hold.close()
                self.hold = None
        if old is not None and old != mode:
            self.log('mode %s -> %s' % (old, mode))
        if self.control_file:
            write_atomic(self.control_file + '.applied', self.mode + '\n')

    def bind(self, listen=True):
        """A listener on 127.0.0.1:port (port 0: a free one), or with listen=False a socket that only
        holds the port: not listening (connects are refused) and without SO_REUSEADDR, so nothing can
        bind the port beside it but a socket with SO_REUSEPORT of this user (our next listener, or the
        harness holding the port while one server replaces another)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if listen:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            s.bind(('127.0.0.1', self.port))
            if listen:
                s.listen(128)
        except OSError:
            s.close()
            raise
        self.port = s.getsockname()[1]
        return s

    # ---- main loop ----
    def serve(self):
        if self.port_file:
            write_atomic(self.port_file, '%d\n' % self.port)
        self.log('listening on 127.0.0.1:%d, mode %s, fixture %s%s'
                 % (self.port, self.mode, os.path.basename(self.fixture), ' (static)' if self.stats.static else ''))
        while not self.stop.is_set():
            self.read_control()
            if self.mode != 'refuse' and self.lsock is None:
                self.apply_mode(self.mode)      # a failed re-bind: retry
            if self.lsock is None:
                self.stop.wait(0.05)
                continue
            try:
                ready, _, _ = select.select([self.lsock], [], [], 0.05)
            except (OSError, ValueError):
                continue
            if not ready:
                continue
            try:
                conn, peer = self.lsock.accept()
            except OSError:
                continue
            self.read_control()                 # the mode is re-read at every accepted connection
            if self.mode == 'refuse':
                conn.close()
                continue
            with self.conns_lock:
                self.conns.add(conn)
            threading.Thread(target=self.handle, args=(conn, peer), daemon=True).start()
        self.shutdown()

    def shutdown(self):
        for sock in (self.lsock, self.hold):
            if sock is not None:
                sock.close()
        self.lsock = self.hold = None
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.log('stopped')

    # ---- one connection ----
    def handle(self, conn, peer):
        try:
            self.handle_requests(conn, peer)
        except OSError as e:              # resets, broken pipes, timeouts: the client's business
            self.log('%s:%d connection error: %s' % (peer[0], peer[1], e))
        except Exception as e:            # never let one connection take the server down
            self.log('%s:%d internal error: %r' % (peer[0], peer[1], e))
        finally:
            with self.conns_lock:
                self.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_requests(self, conn, peer):
        if self.mode == 'silent':
            self.log('%s:%d mode=silent -> accepted, not read' % (peer[0], peer[1]))
            self.stop.wait()
            return
        buf = b''
        conn.settimeout(REQUEST_TIMEOUT)
        while not self.stop.is_set():
            req, buf = read_request(conn, buf)
            if req is None:
                return
            self.stats.note_request()
            mode = self.mode
            method, path, version, headers = req
            reqline = ' '.join(x for x in (method, path, version) if x)
            status, data, keep = self.answer(mode, method, path, version, headers, peer)
            if mode == 'hang':
                self.log('%s:%d "%s" mode=hang -> no answer' % (peer[0], peer[1], reqline))
                self.stop.wait()
                return
            if mode == 'continue':
                self.log('%s:%d "%s" mode=continue -> 100 Continue every 0.1 s' % (peer[0], peer[1], reqline))
                while not self.stop.wait(0.1):
                    conn.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
                return
            if mode == 'headers':
                self.log('%s:%d "%s" mode=headers -> a header line every 10 ms' % (peer[0], peer[1], reqline))
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n')
                i = 0
                while not self.stop.wait(0.01):
                    conn.sendall(b'X-Filler-%d: %s\r\n' % (i, b'x' * 64))
                    i += 1
                return
            if mode == 'drip':
                self.log('%s:%d "%s" mode=drip -> %d, %d bytes at 1 byte/s'
                         % (peer[0], peer[1], reqline, status, len(data)))
                for i in range(len(data)):
                    conn.sendall(data[i:i + 1])
                    if self.stop.wait(1.0):
                        return
                graceful_close(conn)
                return
            self.log('%s:%d "%s" mode=%s -> %d, %d bytes'
                     % (peer[0], peer[1], reqline, mode, status, len(data)))
            conn.sendall(data)
            if not keep:
                graceful_close(conn)
                return

    def answer(self, mode, method, path, version, headers, peer):
        """Returns (status, bytes to send, keep the connection open)."""
        if mode in ('ok', 'restart'):
            keep = version is not None and 'keep-alive' in headers.get('connection', '').lower()
            conn_hdr = 'keep-alive' if keep else 'close'
            if method != 'GET':
                status, body, ctype, keep, conn_hdr = 501, error_page(501), 'text/html', False, 'close'
            elif (self.path != '*' and path != self.path) or peer[0] != '127.0.0.1':
                status, body, ctype = 404, error_page(404), 'text/html'
            else:
                status, body, ctype = 200, self.stats.body(), self.content_type
            if version is None:                  # HTTP/0.9 style request: the bare body
                return status, body, False
            return status, response(status, body, ctype, conn_hdr), keep
        if mode == '404':
            return 404, response(404, error_page(404), 'text/html'), False
        if mode == '500':
            return 500, response(500, error_page(500), 'text/html'), False
        if mode in ('hang', 'drip'):
            return 200, response(200, self.stats.body()), False
        if mode == 'garbage':
            rnd = random.Random(self.stats.requests)
            body = bytearray(rnd.randbytes(GARBAGE_SIZE))
            body[7] = 0
            body[GARBAGE_SIZE // 2] = 0
            return 200, response(200, bytes(body)), False
        if mode in ('truncated', 'truncated-short'):
            body = self.stats.body()
            cut = cut_mid_line(body)
            cl = len(body) if mode == 'truncated' else cut
            return 200, response(200, body[:cut], content_length=cl), False
        if mode == 'big':
            return 200, response(200, self.big_body()), False
        if mode in ('worst', 'worst-over'):
            return 200, response(200, self.worst_body(self.cap + (mode == 'worst-over'))), False
        if mode == 'html':
            return 200, response(200, HTML_PAGE, 'text/html'), False
        if mode == 'wrong-type':
            return 200, response(200, self.stats.body(), 'application/octet-stream'), False
        return 500, response(500, error_page(500), 'text/html'), False

    def worst_body(self, size):
        """Exactly size bytes of distinct short keys, one tiny line each: the most lines, keys and
        metrics a body of that size can hold. Built once per size (at start for an initial worst mode,
        so the first request is not slowed by the building)."""
        if self.worst_cache.get(size) is None:
            parts, total = [], 0
            for n in range(1, 6):
                for i, key in enumerate(itertools.product(LETTERS, repeat=n)):
                    line = b''.join(key) + DIGIT_LINES[i % 10]
                    parts.append(line)
                    total += len(line)
                    if total >= size:
                        break
                if total >= size:
                    break
            self.worst_cache[size] = b''.join(parts)[:size]
        return self.worst_cache[size]

    def big_body(self):
        if self.big_cache is None:
            parts = [self.stats.body()]
            size = len(parts[0])
            i = 0
            while size < BIG_SIZE:
                line = b'filler_counter_%07d\t%d\n' % (i, 1000000 + i * 7)
                parts.append(line)
                size += len(line)
                i += 1
            self.big_cache = b''.join(parts)
        return self.big_cache


def read_request(conn, buf):
    """Reads one request. Returns ((method, path, version|None, headers), rest) or (None, b'') on EOF
    or on a request that is too long."""
    while True:
        nl = buf.find(b'\n')
        if nl >= 0:
            first = buf[:nl].rstrip(b'\r').decode('latin-1')
            parts = first.split()
            if len(parts) == 2:                  # no HTTP version: answer right away
                return (parts[0], parts[1], None, {}), buf[nl + 1:]
            ends = [(e, len(sep)) for sep in (b'\r\n\r\n', b'\n\n') for e in [buf.find(sep)] if e >= 0]
            if ends:
                end = min(ends)
                head, rest = buf[:end[0]], buf[end[0] + end[1]:]
                lines = head.decode('latin-1').replace('\r\n', '\n').split('\n')
                parts = lines[0].split()
                headers = {}
                for h in lines[1:]:
                    k, _, v = h.partition(':')
                    headers[k.strip().lower()] = v.strip()
                if len(parts) != 3:
                    parts = (parts + ['', '', ''])[:3]
                return (parts[0], parts[1], parts[2], headers), rest
        if len(buf) > MAX_REQUEST:
            return None, b''
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            return None, b''
        if not chunk:
            return None, b''
        buf += chunk


def graceful_close(conn):
    """FIN first, then drain what the client still sends, so the close never turns into a RST that
    could destroy the response before the client read it."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(0.5)
        for _ in range(16):
            if not conn.recv(4096):
                break
    except OSError:
        pass


def write_atomic(path, text):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    p = argparse.ArgumentParser(description='MTProxy-like /stats server for tests and demos')
    p.add_argument('--port', type=int, default=0, help='TCP port on 127.0.0.1 (0 = pick a free one)')
    p.add_argument('--fixture', default=DEFAULT_FIXTURE, help='stats body to serve (default: %(default)s)')
    p.add_argument('--static', action='store_true', help='serve the fixture byte-exact every time')
    p.add_argument('--mode', default='ok', choices=MODES, help='initial mode (default ok)')
    p.add_argument('--control-file', help='file holding the mode (one word), re-read at every connection')
    p.add_argument('--port-file', help='write the bound port here once listening')
    p.add_argument('--cap', type=int, default=1048576, help='body size of the worst modes (default 1 MiB)')
    p.add_argument('--path', default='/stats', help="the path that answers 200 ('*' = any; default /stats)")
    p.add_argument('--content-type', help='Content-Type of a 200 (default: the capture\'s, else text/plain)')
    args = p.parse_args(argv)
    if args.control_file and not os.path.exists(args.control_file):
        write_atomic(args.control_file, args.mode + '\n')
    srv = Server(args)

    def on_signal(signum, _frame):
        srv.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    srv.serve()
    return 0


if __name__ == '__main__':
    sys.exit(main())
