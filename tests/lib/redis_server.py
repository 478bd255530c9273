"""redis_server.py - a real redis-server of a test's own: a temp dir, no TCP port (--port 0), a unix
socket; started, killed, restarted (empty: no persistence)."""
import os
import shutil
import signal
import subprocess

from harness import wait_until

REDIS = shutil.which('redis-server') or '/usr/bin/redis-server'
REDIS_CLI = shutil.which('redis-cli') or '/usr/bin/redis-cli'


class Redis:
    """A redis-server on a unix socket in tmp; extra: more server arguments (--requirepass ...)."""

    def __init__(self, tmp, extra=()):
        self.tmp = tmp
        self.sock = os.path.join(tmp, 'redis.sock')
        self.extra = list(extra)
        self.proc = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = subprocess.Popen([REDIS, '--port', '0', '--unixsocket', self.sock, '--unixsocketperm', '700',
                                      '--dir', self.tmp, '--save', '', '--appendonly', 'no',
                                      '--daemonize', 'no', '--logfile', os.path.join(self.tmp, 'redis.log')]
                                     + self.extra, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        wait_until(lambda: self.cli('PING', check=False).strip() in ('PONG', 'NOAUTH Authentication required.'),
                   10, 0.02, 'redis-server to answer')
        return self

    def cli(self, *args, check=True):
        if not os.path.exists(self.sock):
            return ''
        r = subprocess.run([REDIS_CLI, '-s', self.sock] + list(args), capture_output=True, text=True, timeout=10)
        if check and r.returncode != 0:
            raise AssertionError('redis-cli %s: %s' % (args, r.stderr))
        return r.stdout

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
