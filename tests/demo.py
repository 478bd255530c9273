#!/usr/bin/env python3
"""demo.py - `make demo`: MTProxy's numbers flowing through the real collectd and through line protocol.

Starts the test stats server (a stand-in for MTProxy's /stats, counters advancing), loads
build/mtproxy.so into the real collectd, drives build/mtproxy-telegraf the way Telegraf's execd
does, and prints a few intervals of live numbers from both. DEMO_SECONDS sets the length (default 6).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
from harness import Collectd, StatsServer  # noqa: E402
from execd import Execd  # noqa: E402
from lineproto import parse_line  # noqa: E402

# (field, collectd type, collectd type instance, label): page keys are stats-<key> in collectd
KEYS = [('total_special_connections', 'gauge', 'stats-total_special_connections', 'clients'),
        ('total_ready_targets', 'gauge', 'stats-total_ready_targets', 'targets'),
        ('http_queries', 'derive', 'stats-http_queries', 'scrapes'),
        ('tot_forwarded_queries', 'derive', 'stats-tot_forwarded_queries', 'fwd queries'),
        ('up', 'gauge', 'up', 'up')]


def main():
    seconds = int(os.environ.get('DEMO_SECONDS', '6'))
    with StatsServer() as srv:
        print('stats server (stand-in for MTProxy) at %s' % srv.url)
        conf = '<Instance "demo">\n  URL "%s"\n  Timeout "500ms"\n</Instance>\n' % srv.url
        with Collectd(conf) as cd, Execd(['--url', srv.url, '--instance', 'demo']) as ex:
            print('collectd %s loaded build/mtproxy.so; mtproxy-telegraf driven like execd (signal = "STDIN")\n'
                  % ('has' if cd.alive() else 'has NOT'))
            cd.wait_for('mtproxy-demo/gauge-up', timeout=10)
            for second in range(seconds):
                time.sleep(1)
                batch = ex.tick()
                cells = []
                for _, type_, type_instance, label in KEYS:
                    v = cd.getval('mtproxy-demo/%s-%s' % (type_, type_instance))
                    rows = cd.csv_rows('mtproxy-demo/%s-%s' % (type_, type_instance))
                    raw = rows[-1]['value'] if rows else (v or {}).get('value')
                    cells.append('%s=%s' % (label, 'n/a' if raw is None else '%g' % raw))
                print('[%ds] collectd   mtproxy-demo: %s' % (second + 1, '  '.join(cells)))
                fields = {}
                for line in batch:
                    if line.startswith(('mtproxy,', 'mtproxy_stats,')):
                        fields.update(parse_line(line)[2])
                main_line = [l for l in batch if l.startswith('mtproxy_stats,')][0]
                print('     telegraf   %s ...' % ' '.join('%s=%s' % (k, fields.get(k)) for k, _, _, _ in KEYS))
            print('\none line-protocol line, as Telegraf receives it:\n%s...' % main_line[:300])
            rc, _, _ = ex.close_stdin()
            print('\nmtproxy-telegraf exited %d on stdin EOF; collectd identifiers: %d values under mtproxy-demo/'
                  % (rc, sum(1 for i in cd.listval() if '/mtproxy-demo/' in i)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
