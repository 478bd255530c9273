"""execd.py - drives build/mtproxy-telegraf exactly as Telegraf's execd input does.

signal = "STDIN": a "\\n" on stdin per interval; at stop, stdin is closed, then SIGTERM
after 5 s, then SIGKILL after 5 more. stdout is read as a stream of lines; stderr is kept.

    with Execd(['--url', url]) as ex:
        batch = ex.tick()          # lines printed for one gather
        rc = ex.close_stdin()      # exit code, waits at most 5 s before SIGTERM
"""
import os
import signal
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, 'build', 'mtproxy-telegraf')


class Execd:
    def __init__(self, args, binary=BINARY):
        self.argv = [binary] + list(args)
        self.proc = None
        self.lines = []
        self.stderr_lines = []
        self.cond = threading.Condition()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=ROOT)
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines),
                                          daemon=True)]
        for t in self._readers:
            t.start()
        return self

    def _pump(self, stream, into):
        for raw in iter(stream.readline, b''):
            with self.cond:
                into.append(raw.decode('utf-8', 'replace').rstrip('\n'))
                self.cond.notify_all()

    def _gathers(self):
        # every gather prints exactly one "mtproxy" line carrying the up field
        return sum(1 for l in self.lines if l.startswith('mtproxy,') and ('up=' in l))

    def tick(self, timeout=10.0):
        """Writes one newline and returns the lines of the gather it caused."""
        with self.cond:
            before_lines, before = len(self.lines), self._gathers()
        self.proc.stdin.write(b'\n')
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        with self.cond:
            while self._gathers() == before:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError('no gather output within %.1fs; stderr: %s'
                                         % (timeout, '\n'.join(self.stderr_lines[-10:])))
                self.cond.wait(left)
        time.sleep(0.05)  # the other measurements of the batch follow at once
        with self.cond:
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
