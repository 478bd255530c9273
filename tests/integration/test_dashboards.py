"""The Grafana dashboards of packaging/grafana/ query only what the fronts really produce.

One real run feeds both checks: a fake proxy process tree (tests/tools/fake_mtproxy, for the process
panels), client connections from many 127.x addresses (tests/tools/conn_holder) and a test GeoIP
database (for the country panels), and the stats server.
- InfluxDB dashboard: two gathers of mtproxy-telegraf (driven as Telegraf's execd does) are written to
  a real influxd with the host tag Telegraf adds; every InfluxQL query of the dashboard, with Grafana's
  macros filled in, must be accepted by influxd and return values, and every field it names must be a
  field of the measurement it reads.
- Prometheus dashboard: the real collectd with write_prometheus; every collectd_mtproxy_* selector of
  every PromQL expression must match a series of the scrape (name and label matchers).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT_DIR, Collectd, Influxd, StatsServer, wait_until  # noqa: E402
from execd import Execd  # noqa: E402
from lineproto import parse_line  # noqa: E402
from test_process_fronts import FakeProxy  # noqa: E402
from test_socket_fronts import GROUPS, MAPPING, MMDB, Holder  # noqa: E402
from redis_server import Redis  # noqa: E402

GRAFANA = os.path.join(ROOT_DIR, 'packaging', 'grafana')
INFLUX_DASH = os.path.join(GRAFANA, 'mtproxy-influxdb.json')
ALERTING = os.path.join(ROOT_DIR, 'docs', 'alerting.md')
PROM_RULES = os.path.join(ROOT_DIR, 'packaging', 'prometheus', 'mtproxy-rules.yml')
# another implementation's page (a real mtprotoproxy capture): the summary family with per-secret rows
PEERS_PAGE = os.path.join(ROOT_DIR, 'tests', 'fixtures', 'peers', 'mtprotoproxy', 'metrics-loaded.txt')
PROM_DASH = os.path.join(GRAFANA, 'mtproxy-prometheus.json')
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)')
SELECTOR = re.compile(r'(collectd_[a-z0-9_]+)\{([^}]*)\}')
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
FIELD_CALL = re.compile(r'\b(?:last|mean|max|min|sum|first)\("([^"]+)"\)')


def load(path):
    with open(path) as f:
        return json.load(f)


def doc_blocks(lang):
    """The fenced ```lang blocks of docs/alerting.md."""
    with open(ALERTING) as f:
        return re.findall(r'^```%s\n(.*?)^```' % lang, f.read(), re.M | re.S)


def alert_targets():
    for i, q in enumerate(doc_blocks('sql')):
        yield {'title': 'docs/alerting.md sql block %d' % (i + 1)}, {'refId': 'A', 'query': q.strip()}
    for name, expr in rule_exprs():
        if 'collectd_' in expr:     # (MTProxyExporterDown reads Prometheus' own up)
            yield {'title': 'mtproxy-rules.yml ' + name}, {'refId': 'A', 'expr': expr}


def rule_exprs():
    """[(alert, expr)] of packaging/prometheus/mtproxy-rules.yml (one-line and `expr: |` forms)."""
    with open(PROM_RULES) as f:
        text = f.read()
    out = []
    for m in re.finditer(r'^\s*- alert: (\w+)\n(.*?)(?=^\s*- alert: |\Z)', text, re.M | re.S):
        body = m.group(2)
        one = re.search(r'^(\s*)expr: (?!\|)(.*)$', body, re.M)
        if one:
            out.append((m.group(1), one.group(2).strip()))
            continue
        block = re.search(r'^(\s*)expr: \|\n((?:\1\s+.*\n)+)', body, re.M)
        out.append((m.group(1), ' '.join(l.strip() for l in block.group(2).splitlines())))
    return out


def targets(dash):
    for p in dash['panels']:
        for t in p.get('targets', []):
            yield p, t


def fill_influx_macros(q):
    return (q.replace('$timeFilter', 'time > now() - 5m')
             .replace('$__interval', '1s')
             .replace('/^$instance$/', '/^.*$/')
             .replace('/^$host$/', '/^.*$/'))


class DashboardJson(unittest.TestCase):
    def test_json_parses_and_is_complete(self):
        for path, ds in ((INFLUX_DASH, 'influxdb'), (PROM_DASH, 'prometheus')):
            dash = load(path)
            self.assertTrue(dash['title'] and dash['uid'], path)
            self.assertEqual(dash['__inputs'][0]['pluginId'], ds)
            ids = [p['id'] for p in dash['panels']]
            self.assertEqual(len(ids), len(set(ids)), path)
            self.assertGreater(len(dash['panels']), 8, path)
            # a host variable, and every series named by host and proxy instance (two hosts' "main"
            # must not look alike)
            self.assertEqual([v['name'] for v in dash['templating']['list']], ['host', 'instance'], path)
            for p in dash['panels']:
                self.assertTrue(p.get('targets'), p['title'])
                for t in p['targets']:
                    if ds == 'prometheus' and 'country' not in t['legendFormat']:
                        self.assertIn('{{exported_instance}} {{mtproxy}}', t['legendFormat'], p['title'])
                        self.assertIn('exported_instance=~"$host"', t['expr'], p['title'])
                    if ds == 'influxdb' and t.get('resultFormat') == 'time_series':
                        self.assertIn('$tag_host $tag_instance', t['alias'], p['title'])
                        self.assertIn('"host" =~ /^$host$/', t['query'], p['title'])
                self.assertEqual(p['datasource']['type'], ds)
            geo = [p for p in dash['panels'] if p['type'] == 'geomap']
            self.assertEqual(len(geo), 1, path)
            layer = geo[0]['options']['layers'][0]
            self.assertEqual(layer['location']['mode'], 'lookup')
            self.assertEqual(layer['location']['lookup'], 'country')
            self.assertEqual(layer['config']['style']['size']['field'], 'connections')

    def test_generator_matches_the_committed_json(self):
        tmp = tempfile.mkdtemp(prefix='mtpm-dash-')
        gen = os.path.join(GRAFANA, 'make_dashboards.py')
        with open(gen) as f:
            src = f.read()
        copy = os.path.join(tmp, 'make_dashboards.py')
        with open(copy, 'w') as f:
            f.write(src)
        subprocess.run(['/usr/bin/python3', copy], check=True)
        for name in ('mtproxy-influxdb.json', 'mtproxy-prometheus.json'):
            self.assertEqual(load(os.path.join(tmp, name)), load(os.path.join(GRAFANA, name)),
                             name + ': run packaging/grafana/make_dashboards.py')


class RestartsPanelCountsWithinTheRange(unittest.TestCase):
    """`restarts` counts since the agent started (and starts again at 0 with the agent): the Restarts
    panel must count the increments inside the time range, in a real influxd."""

    def test_restarts_query(self):
        dash = load(INFLUX_DASH)
        q = [t['query'] for p, t in targets(dash) if p['title'] == 'Restarts'][0]
        now = int(time.time())
        # 10 minutes ago: 5 restarts seen before the range; in the range 0 -> 1, the agent restarts
        # (0 again), then 1, 2: three restarts in the range
        points = [(now - 600, 5), (now - 120, 0), (now - 100, 1), (now - 80, 1), (now - 60, 0),
                  (now - 40, 1), (now - 20, 2)]
        lines = ''.join('mtproxy_process,host=h1,instance=main,role=master restarts=%di %d\n' % (v, t)
                        for t, v in points)
        with Influxd() as influx:
            influx.create_db('telegraf')
            status, body = influx.write('telegraf', lines, precision='s')
            self.assertEqual(status, 204, body)
            res = influx.query('telegraf', q.replace('$timeFilter', 'time > now() - 150s')
                                            .replace('$__interval', '10s')
                                            .replace('/^$instance$/', '/^.*$/').replace('/^$host$/', '/^.*$/'))
        values = [row[1] for r in res['results'] for s in r.get('series', []) for row in s['values']]
        self.assertEqual(values, [3], res)


class DashboardsAgainstRealRuns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-dash-')
        cls.mmdb = os.path.join(cls.tmp, 'test.mmdb')
        subprocess.run(['/usr/bin/python3', MMDB, cls.mmdb] + MAPPING, check=True)

    def fleet_args(self, redis):
        salt = os.path.join(self.tmp, 'salt')
        with open(salt, 'w') as f:
            f.write('dashboards-salt-0123456789\n')
        return ['--fleet-name', 'dash', '--fleet-redis', 'redis+unix://' + redis.sock, '--fleet-salt-file', salt]

    def test_influxdb_dashboard_queries(self):
        dash = load(INFLUX_DASH)
        with Redis(tempfile.mkdtemp(prefix='redis-', dir=self.tmp)) as redis, FakeProxy() as fake, Holder(GROUPS) as h, StatsServer() as srv, Influxd() as influx, \
                StatsServer(static=True, fixture=PEERS_PAGE, path='*') as psrv:
            args = ['--url', srv.url, '--client-port', str(h.port)] + fake.execd_args() + [
                    '--geoip', self.mmdb, '--include-local'] + self.fleet_args(redis)
            # a second proxy of another implementation, with per-secret series
            pargs = ['--url', psrv.base_url + '/metrics', '--instance', 'peers', '--collect-process=false',
                     '--collect-sockets=false']
            lines = []
            with Execd(args) as ex, Execd(pargs) as pex:
                lines += ex.tick() + pex.tick()
                # a rate needs points in two 1 s buckets ($__interval): gather again once the clock
                # has left the first gather's second
                first = max(parse_line(l)[3] for l in lines) // 10**9
                wait_until(lambda: time.time_ns() // 10**9 > first, 5, 0.02,
                           what="the clock to leave the first gather's second")
                lines += ex.tick() + pex.tick()
            fields, tags = {}, {}
            tagged = []
            for line in lines:
                m, t, f, _ = parse_line(line)
                fields.setdefault(m, set()).update(f)
                tags.setdefault(m, set()).update(t)
                # Telegraf adds its host tag to every metric
                tagged.append(line.replace(m + ',', m + ',host=testhost,', 1))
            for m in ('mtproxy', 'mtproxy_stats', 'mtproxy_process', 'mtproxy_connections', 'mtproxy_country'):
                self.assertIn(m, fields, 'no %s lines in %r' % (m, lines[:3]))
            influx.create_db('telegraf')
            status, body = influx.write('telegraf', '\n'.join(tagged) + '\n')
            self.assertEqual(status, 204, body)
            checked = 0
            alerts = [(p, t) for p, t in alert_targets() if 'query' in t]
            self.assertEqual(len(alerts), 6)
            for p, t in list(targets(dash)) + alerts:
                q = t['query']
                where = '%s / %s' % (p['title'], t['refId'])
                meas = re.findall(r'FROM "([a-z_]+)"', q)
                self.assertTrue(meas, where)
                for m in meas:
                    self.assertIn(m, fields, where)
                    for f in FIELD_CALL.findall(q):
                        self.assertIn(f, fields[m], '%s: no field %r in %s' % (where, f, m))
                    names = re.findall(r'"(\w+)" (?:=~|=) ', q)
                    for clause in re.findall(r'GROUP BY ([^)]*)', q):
                        names += re.findall(r'"(\w+)"', clause)
                    for name in names:
                        self.assertIn(name, tags[m] | fields[m] | {'host'}, '%s: no tag %r in %s' % (where, name, m))
                res = influx.query('telegraf', fill_influx_macros(q))
                for r in res.get('results', []):
                    self.assertNotIn('error', r, '%s: %s\n%s' % (where, r.get('error'), q))
                values = [v for r in res.get('results', []) for s in r.get('series', [])
                          for row in s.get('values', []) for v in row[1:] if v is not None]
                self.assertTrue(values, '%s: no values from\n%s\n%r' % (where, q, res))
                checked += 1
            self.assertGreater(checked, 20)

    def test_prometheus_dashboard_selectors(self):
        dash = load(PROM_DASH)
        with Redis(tempfile.mkdtemp(prefix='redis-', dir=self.tmp)) as redis, FakeProxy() as fake, \
                Holder(GROUPS) as h, StatsServer() as srv, \
                StatsServer(static=True, fixture=PEERS_PAGE, path='*') as psrv:
            fleet = self.fleet_args(redis)
            conf = ('<Instance "main">\n  URL "%s"\n%s  ClientPort %d\n  IncludeLocal true\n'
                    '  GeoIPDatabase "%s"\n  FleetName "dash"\n  FleetRedis "%s"\n  FleetSaltFile "%s"\n'
                    '</Instance>\n' % (srv.url, fake.conf(), h.port, self.mmdb, fleet[3], fleet[5]))
            conf += ('<Instance "peers">\n  URL "%s/metrics"\n  CollectProcess false\n  CollectSockets false\n'
                     '</Instance>\n' % psrv.base_url)
            with Collectd(conf, prometheus=True) as cd:
                port = cd.prometheus_port
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1.0)
                cd.wait_for('mtproxy-main/derive-stats-tot_forwarded_queries', timeout=10,
                            pred=lambda v: v['value'] == v['value'])  # a second read: rates are there
                got = {}

                def ready():
                    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5) as r:
                        got['text'] = r.read().decode()
                    return ('type="country-BR"' in got['text'] and 'master_restarts' in got['text'] and
                            'type="summary-clients-alice"' in got['text'] and
                            'type="fleet-dash-distinct_ips_7d"' in got['text'])
                self.assertTrue(wait_until(ready, 10, 0.2), got.get('text', '')[-3000:])
        series = []
        for line in got['text'].splitlines():
            m = SAMPLE.match(line)
            if m:
                series.append((m.group(1), dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))))
        checked = 0
        alerts = [(p, t) for p, t in alert_targets() if 'expr' in t]
        self.assertEqual(len(alerts), 8)
        for p, t in list(targets(dash)) + alerts:
            expr = t['expr']
            sels = SELECTOR.findall(expr)
            self.assertTrue(sels, '%s: no collectd_mtproxy selector in %s' % (p['title'], expr))
            for name, matchers in sels:
                wanted = []
                for label, op, value in MATCHER.findall(matchers):
                    value = value.replace('$instance', '.*').replace('$host', '.*')
                    wanted.append((label, op, value))

                def matches(s):
                    if s[0] != name:
                        return False
                    for label, op, value in wanted:
                        have = s[1].get(label, '')
                        if op == '=' and have != value:
                            return False
                        if op == '=~' and not re.fullmatch(value, have):
                            return False
                    return True
                self.assertTrue(any(matches(s) for s in series),
                                '%s: %s{%s} matches no series of write_prometheus' % (p['title'], name, matchers))
                checked += 1
        self.assertGreater(checked, 20)


class CollectdThresholds(unittest.TestCase):
    def test_threshold_block_of_the_docs_starts_and_fires(self):
        blocks = doc_blocks('collectd')
        self.assertEqual(len(blocks), 1)
        with StatsServer(mode='refuse') as srv:
            conf = '<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n</Instance>\n' % srv.url
            with Collectd(conf, extra_conf=blocks[0]) as cd:
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 0.0)
                found = wait_until(lambda: 'below the failure threshold' in cd.log_text(), 10, 0.1)
                log = cd.log_text()
        self.assertTrue(found, log[-3000:])
        self.assertRegex(log, r'mtproxy.*main.*gauge.*up.*below the failure threshold')
        self.assertNotRegex(log, r'(?i)threshold.*(unknown|invalid|error)')


if __name__ == '__main__':
    unittest.main()
