"""execd.py - drives build/mtproxy-telegraf exactly as Telegraf's execd input does.

signal = "STDIN": a "\\n" on stdin per interval; "SIGHUP"/"SIGUSR1"/"SIGUSR2": that signal
per interval; "none": nothing (the program gathers on its own --interval). At stop, stdin is
closed, then SIGTERM after 5 s, then SIGKILL after 5 more. stdout is read as a stream of
lines; stderr is kept.

    with Execd(['--url', url]) as ex:
        batch = ex.tick()          # lines printed for one gather
        rc = ex.close_stdin()      # exit code, waits at most 5 s before SIGTERM
    with Execd(['--url', url], signal='SIGUSR1', fmt='json') as ex: ...
    with Execd(['--url', url, '--interval', '200ms'], signal='none') as ex:
        batch = ex.next_gather()   # waits for the program's own schedule
"""
import fcntl
import glob
import os
import signal
import struct
import termios
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# MTPM_TELEGRAF: another build of the binary (make test runs some modules again with the ASan one)
BINARY = os.environ.get('MTPM_TELEGRAF') or os.path.join(ROOT, 'build', 'mtproxy-telegraf')


SIGNALS = {'SIGHUP': signal.SIGHUP, 'SIGUSR1': signal.SIGUSR1, 'SIGUSR2': signal.SIGUSR2}


def caught_signals(pid):
    """Signal numbers the process is ready for: a handler (SigCgt of /proc/PID/status) or blocked
    (SigBlk: mtproxy-telegraf blocks them and reads them from a signalfd)."""
    ready = set()
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(('SigCgt:', 'SigBlk:')):
                    mask = int(line.split()[1], 16)
                    ready |= {n for n in range(1, 65) if mask & (1 << (n - 1))}
    except OSError:
        pass
    return ready


def children_of(pid):
    """(PID, state) of pid's children (zombies included), from /proc/PID/task/*/children, or (kernels
    without CONFIG_PROC_CHILDREN) the processes whose parent is pid: whatever else runs on the host
    cannot match."""
    tasks = glob.glob('/proc/%d/task/*/children' % pid)
    if not tasks and os.path.isdir('/proc/%d' % pid):
        return _children_by_ppid(pid)
    out = []
    for task in tasks:
        try:
            with open(task) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            try:
                with open('/proc/%d/stat' % kid) as f:
                    stat = f.read()
                out.append((kid, stat[stat.rindex(')') + 2:].split()[0]))
            except OSError:
                pass
    return out


def _children_by_ppid(pid):
    out = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


class Execd:
    def __init__(self, args, binary=BINARY, signal='STDIN', fmt='influx', prefix=(), env=None):
        # prefix: a wrapper that execs the binary in place (e.g. setpriv to run as another user)
        self.argv = list(prefix) + [binary] + list(args)
        if fmt != 'influx':
            self.argv += ['--format', fmt]
        self.signal = signal
        self.fmt = fmt
        self.env = env
        self.proc = None
        self.lines = []
        self.stderr_lines = []
        self.cond = threading.Condition()
        self._waiting = {}

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=ROOT, env=self.env)
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines),
                                          daemon=True)]
        for t in self._readers:
            t.start()
        if self.signal in SIGNALS:
            self.wait_handlers()
        return self

    def _pump(self, stream, into):
        """Reads the raw descriptor (no hidden buffer): when the pipe is empty, the pump waits in
        os.read and holds no partial line, every byte written so far is in `into`."""
        fd = stream.fileno()
        partial = b''
        while True:
            with self.cond:
                self._waiting[fd] = not partial
                self.cond.notify_all()
            chunk = os.read(fd, 65536)
            with self.cond:
                self._waiting[fd] = False
                if not chunk:
                    if partial:
                        into.append(partial.decode('utf-8', 'replace'))
                    self._waiting[fd] = True
                    self.cond.notify_all()
                    return
                *done, partial = (partial + chunk).split(b'\n')
                into.extend(l.decode('utf-8', 'replace') for l in done)
                self.cond.notify_all()

    def _drained(self):
        """stdout's pipe is empty and every line in it has been taken (call with cond held)."""
        fd = self.proc.stdout.fileno()
        try:
            unread = struct.unpack('i', fcntl.ioctl(fd, termios.FIONREAD, b'\0\0\0\0'))[0]
        except OSError:
            unread = 0
        return unread == 0 and self._waiting.get(fd, False)

    def _gathers(self):
        if self.fmt == 'json':  # one document per line
            return sum(1 for l in self.lines if l.startswith('{'))
        if self.fmt == 'text':  # a summary starts with "mtproxy  <instance>"
            return sum(1 for l in self.lines if l.startswith('mtproxy '))
        # every gather prints exactly one "mtproxy" line carrying the up field
        return sum(1 for l in self.lines if l.startswith('mtproxy,') and ('up=' in l))

    def wait_handlers(self, timeout=5.0):
        """Waits until the program has installed its SIGHUP/SIGUSR1/SIGUSR2 handlers (Telegraf does
        not wait: the program must install them before anything else)."""
        want = set(SIGNALS.values())
        deadline = time.monotonic() + timeout
        while not want <= caught_signals(self.proc.pid):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError('signal handlers not installed: %s' % caught_signals(self.proc.pid))
            time.sleep(0.002)

    def trigger(self):
        """What Telegraf does every interval in this signal mode."""
        if self.signal == 'STDIN':
            self.proc.stdin.write(b'\n')
            self.proc.stdin.flush()
        elif self.signal in SIGNALS:
            self.proc.send_signal(SIGNALS[self.signal])

    def gathers(self):
        with self.cond:
            return self._gathers()

    def next_gather(self, timeout=10.0):
        """Lines of the next gather, without triggering one ("none" mode)."""
        return self.tick(timeout, trigger=False)

    def tick(self, timeout=10.0, trigger=True):
        """Triggers one gather as Telegraf would and returns the lines it caused."""
        with self.cond:
            before_lines, before = len(self.lines), self._gathers()
        if trigger:
            self.trigger()
        deadline = time.monotonic() + timeout
        with self.cond:
            while self._gathers() == before:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError('no gather output within %.1fs; stderr: %s'
                                         % (timeout, '\n'.join(self.stderr_lines[-10:])))
                self.cond.wait(left)
        # The batch is written with one write(): once the pipe is empty and the pump idle, it is all here.
        with self.cond:
            self.cond.wait_for(self._drained, max(0.1, deadline - time.monotonic()))
            return list(self.lines[before_lines:])

    def close_stdin(self, grace=5.0):
        """Telegraf's stop: close stdin, wait, SIGTERM, wait, SIGKILL. Returns (rc, seconds, how)."""
        started = time.monotonic()
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(grace)
            return rc, time.monotonic() - started, 'eof'
        except subprocess.TimeoutExpired:
            pass
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(grace)
            return rc, time.monotonic() - started, 'sigterm'
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(), time.monotonic() - started, 'sigkill'

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for t in getattr(self, '_readers', []):
            t.join(2)
        if self.proc:
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                try:
                    f.close()
                except (OSError, ValueError):
                    pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_once(args, timeout=30, binary=BINARY):
    """--once run: (exit code, stdout lines, stderr lines)."""
    r = subprocess.run([binary, '--once'] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, cwd=ROOT)
    return (r.returncode, r.stdout.decode('utf-8', 'replace').splitlines(),
            r.stderr.decode('utf-8', 'replace').splitlines())


def parse_fixture(path):
    """{key: value string} of a /stats capture."""
    values = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip('\n').partition('\t')
            if not key.startswith(('>>>', '<<<')):
                values[key] = value
    return values
