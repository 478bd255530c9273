"""packaging/prometheus/mtproxy-rules.yml in Debian's promtool and a real Prometheus server.

- `promtool check rules` accepts the file.
- `promtool test rules` on series captured from real write_prometheus scrapes: two real collectd
  daemons (Hostname proxy-a and proxy-b) load build/mtproxy.so against the stats server; A's proxy is
  healthy, B's loses its upstream and then goes down. The captured samples, labelled as Prometheus
  labels them (job, instance = the scrape target, exported_instance = collectd's host), become the
  test's input series in two layouts: one central collectd for both hosts (one target) and one
  target per host whose collectd B dies. promtool, like Prometheus with write_prometheus' explicit
  timestamps, keeps a series' last sample for the 5-minute lookback when no new one comes.
  The same test with the old `and on(instance, mtproxy)` join must fail: it fired for the wrong host.
- A real Prometheus server (Debian's) on loopback scrapes both collectd daemons with the rules
  loaded; its API shows MTProxyDown pending for B only, then MTProxyExporterDown for B only after
  B's collectd is stopped, and every rule evaluating without error.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import ROOT_DIR, Collectd, PortInUse, StatsServer, retry_on_port_clash, wait_until  # noqa: E402

RULES = os.path.join(ROOT_DIR, 'packaging', 'prometheus', 'mtproxy-rules.yml')
PROM_DASH = os.path.join(ROOT_DIR, 'packaging', 'grafana', 'mtproxy-prometheus.json')
PROMTOOL = shutil.which('promtool') or '/usr/bin/promtool'
PROMETHEUS = shutil.which('prometheus') or '/usr/bin/prometheus'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)(?: (\d+))?$')
HEALTHY = 'stats-upstream-with-clients-M1.txt'
LOST = 'stats-upstream-lost-M1.txt'
# the types the rules read (the input series are the captured samples of these)
RULE_TYPES = ('up', 'summary-upstream_ready', 'summary-clients', 'stats-total_max_special_connections',
              'client-ips_over_limit', 'all_fd_usage', 'master_restarts')


def parse_exposition(text):
    """{(name, ((label, value), ...)): value} of a write_prometheus page."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2))))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def scrape(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5) as r:
        return r.read().decode('utf-8')


def mtproxy_conf(url):
    return '<Instance "main">\n  URL "%s"\n  Timeout "300ms"\n</Instance>\n' % url


def wait_scrape(port, pred, timeout=15):
    got = {}

    def ok():
        try:
            got['s'] = parse_exposition(scrape(port))
        except OSError:
            return False
        return pred(got['s'])
    return got.get('s') if wait_until(ok, timeout, 0.2) else None


def up_is(value):
    return lambda s: any(n == 'collectd_mtproxy_gauge' and dict(l).get('type') == 'up' and v == value
                         for (n, l), v in s.items())


def relabel(samples, job, target):
    """Labels as Prometheus stores a scrape of target: job and instance added, the exposition's own
    instance (collectd's host) kept as exported_instance (honor_labels: false, the default)."""
    out = {}
    for (name, labels), v in samples.items():
        d = dict(labels)
        if d.get('type') not in RULE_TYPES:
            continue
        if 'instance' in d:
            d['exported_instance'] = d.pop('instance')
        d['job'], d['instance'] = job, target
        out[(name, tuple(sorted(d.items())))] = v
    return out


def series_text(key):
    name, labels = key
    return '%s{%s}' % (name, ','.join('%s="%s"' % kv for kv in labels))


def values_text(points):
    """points: a list (one per minute) of float or None (no sample) -> promtool's values string."""
    return ' '.join('_' if p is None or p != p else repr(p) for p in points)


CAPTURE = {}


def capture():
    """Real scrapes, taken once: A healthy; B healthy, B with its upstream lost, B down."""
    if CAPTURE:
        return CAPTURE
    with StatsServer(static=True, fixture=HEALTHY) as sa, StatsServer(static=True, fixture=LOST) as sb_lost, \
            StatsServer(static=True, fixture=HEALTHY) as sb_ok:
        with Collectd(mtproxy_conf(sa.url), prometheus=True, hostname='proxy-a') as a:
            pa = a.prometheus_port
            CAPTURE['a'] = wait_scrape(pa, up_is(1.0))
            assert CAPTURE['a'], a.log_text()[-2000:]
        with Collectd(mtproxy_conf(sb_ok.url), prometheus=True, hostname='proxy-b') as b:
            pb = b.prometheus_port
            CAPTURE['b_ok'] = wait_scrape(pb, up_is(1.0))
            assert CAPTURE['b_ok'], b.log_text()[-2000:]
        with Collectd(mtproxy_conf(sb_lost.url), prometheus=True, hostname='proxy-b') as b:
            pb = b.prometheus_port
            CAPTURE['b_lost'] = wait_scrape(pb, lambda s: up_is(1.0)(s) and any(
                dict(l).get('type') == 'summary-upstream_ready' and v == 0 for (n, l), v in s.items()))
            assert CAPTURE['b_lost'], b.log_text()[-2000:]
            sb_lost.set_mode('refuse')
            # down: up 0, and the stats keys gone from the page (write_prometheus drops missing values)
            CAPTURE['b_down'] = wait_scrape(pb, lambda s: up_is(0.0)(s) and not any(
                dict(l).get('type') == 'summary-upstream_ready' for (n, l), v in s.items()))
            assert CAPTURE['b_down'], b.log_text()[-2000:]
    return CAPTURE


def expand(template, labels):
    """The two template forms the rules use: {{ $labels.x }} and {{ or $labels.x $labels.y }}."""
    def sub(m):
        names = re.findall(r'\$labels\.(\w+)', m.group(1))
        for n in names:
            if labels.get(n):
                return labels[n]
        return ''
    return re.sub(r'\{\{\s*((?:or\s+)?\$labels\.\w+(?:\s+\$labels\.\w+)*)\s*\}\}', sub, template)


def rule_annotations():
    """{alertname: {'summary': template, 'description': template}} read from the rules file."""
    out, name = {}, None
    with open(RULES) as f:
        for line in f:
            m = re.match(r'\s*- alert: (\w+)', line)
            if m:
                name = m.group(1)
                out[name] = {}
            m = re.match(r'\s*(summary|description): "(.*)"\s*$', line)
            if m and name:
                out[name][m.group(1)] = m.group(2).replace('\\"', '"')
    return out


def expected_alert(alertname, severity, labels):
    ann = rule_annotations()[alertname]
    lab = dict(labels, severity=severity)
    return {'exp_labels': lab, 'exp_annotations': {k: expand(v, lab) for k, v in ann.items()}}


class PromtoolCheck(unittest.TestCase):
    def test_check_rules(self):
        r = subprocess.run([PROMTOOL, 'check', 'rules', RULES], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertRegex(out, r'SUCCESS: 9 rules found')
        with open(RULES) as f:
            text = f.read()
        # every rule has a severity and both annotations
        self.assertEqual(len(re.findall(r'^\s*- alert: ', text, re.M)), 9)
        self.assertEqual(len(re.findall(r'^\s*severity: (critical|warning)$', text, re.M)), 9)
        self.assertEqual(len(re.findall(r'^\s*summary: ', text, re.M)), 9)
        self.assertEqual(len(re.findall(r'^\s*description: ', text, re.M)), 9)
        self.assertNotRegex(text, r'\bon\s*\(', 'a join on a subset of the identity labels')


class PromtoolTestOnRealScrapes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cap = capture()
        cls.tmp = tempfile.mkdtemp(prefix='mtpm-promtool-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    MINUTES = 16

    def _central_case(self):
        """One central collectd (target central:9103) holds both hosts. A healthy throughout; B has
        no upstream at 0-1m, then its proxy is down (up 0; the stats keys are gone from the page)."""
        target = 'central:9103'
        a = relabel(self.cap['a'], 'collectd', target)
        lost = relabel(self.cap['b_lost'], 'collectd', target)
        down = relabel(self.cap['b_down'], 'collectd', target)
        series = {k: [v] * self.MINUTES for k, v in a.items()}
        for k in set(lost) | set(down):
            series[k] = [lost.get(k)] * 2 + [down.get(k)] * (self.MINUTES - 2)
        series[('up', (('instance', target), ('job', 'collectd')))] = [1.0] * self.MINUTES
        b_up = dict(job='collectd', instance=target, exported_instance='proxy-b', mtproxy='main', type='up')
        tests = [{
            'interval': '1m',
            'input_series': [{'series': series_text(k), 'values': values_text(v)} for k, v in sorted(series.items())],
            'alert_rule_test': [
                {'eval_time': '5m', 'alertname': 'MTProxyDown',
                 'exp_alerts': [expected_alert('MTProxyDown', 'critical', b_up)]},
                # B's last upstream_ready (0) is still within the lookback, A's up is 1: not B's alert
                {'eval_time': '5m', 'alertname': 'MTProxyNoUpstreamReady', 'exp_alerts': []},
                {'eval_time': '5m', 'alertname': 'MTProxyExporterDown', 'exp_alerts': []},
                {'eval_time': '5m', 'alertname': 'MTProxyMetricsStale', 'exp_alerts': []},
                {'eval_time': '5m', 'alertname': 'MTProxyConnectionsNearLimit', 'exp_alerts': []},
                {'eval_time': '5m', 'alertname': 'MTProxyIPOverLimit', 'exp_alerts': []},
            ]}]
        return tests

    def _per_host_case(self):
        """One target per host; both healthy, B's collectd dies after 1m (scrape up 0, no samples)."""
        a = relabel(self.cap['a'], 'collectd', 'proxy-a:9103')
        b = relabel(self.cap['b_ok'], 'collectd', 'proxy-b:9103')
        series = {k: [v] * self.MINUTES for k, v in a.items()}
        for k, v in b.items():
            series[k] = [v] * 2 + [None] * (self.MINUTES - 2)
        series[('up', (('instance', 'proxy-a:9103'), ('job', 'collectd')))] = [1.0] * self.MINUTES
        series[('up', (('instance', 'proxy-b:9103'), ('job', 'collectd')))] = [1.0] * 2 + [0.0] * (self.MINUTES - 2)
        exporter_b = dict(job='collectd', instance='proxy-b:9103')
        stale_b = dict(job='collectd', instance='proxy-b:9103', exported_instance='proxy-b', mtproxy='main', type='up')
        alerts = []
        for t in ('5m', '10m'):     # 5m: last sample 4 minutes old; 10m: gone from the lookback
            alerts += [
                {'eval_time': t, 'alertname': 'MTProxyExporterDown',
                 'exp_alerts': [expected_alert('MTProxyExporterDown', 'critical', exporter_b)]},
                {'eval_time': t, 'alertname': 'MTProxyMetricsStale',
                 'exp_alerts': [expected_alert('MTProxyMetricsStale', 'warning', stale_b)]},
                {'eval_time': t, 'alertname': 'MTProxyDown', 'exp_alerts': []},
                {'eval_time': t, 'alertname': 'MTProxyNoUpstreamReady', 'exp_alerts': []},
            ]
        alerts.append({'eval_time': '1m', 'alertname': 'MTProxyMetricsStale', 'exp_alerts': []})
        return [{'interval': '1m',
                 'input_series': [{'series': series_text(k), 'values': values_text(v)}
                                  for k, v in sorted(series.items())],
                 'alert_rule_test': alerts}]

    def _promtool_test(self, rules_path, tests, name):
        path = os.path.join(self.tmp, name + '.json')     # JSON is YAML: no YAML library needed
        with open(path, 'w') as f:
            json.dump({'rule_files': [rules_path], 'evaluation_interval': '1m', 'tests': tests}, f, indent=1)
        r = subprocess.run([PROMTOOL, 'test', 'rules', path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        return r.returncode, r.stdout.decode()

    def test_captures_are_what_the_cases_say(self):
        def val(s, t):
            return [v for (n, l), v in s.items() if dict(l).get('type') == t]
        self.assertEqual(val(self.cap['a'], 'up'), [1.0])
        self.assertEqual(val(self.cap['a'], 'summary-upstream_ready'), [5.0])
        self.assertEqual(val(self.cap['b_lost'], 'summary-upstream_ready'), [0.0])
        self.assertEqual(val(self.cap['b_down'], 'up'), [0.0])
        self.assertEqual(val(self.cap['b_down'], 'summary-upstream_ready'), [])
        hosts = {dict(l).get('instance') for s in ('a', 'b_ok') for (n, l) in self.cap[s]}
        self.assertEqual(hosts, {'proxy-a', 'proxy-b'})

    def test_central_collectd_two_hosts(self):
        rc, out = self._promtool_test(RULES, self._central_case(), 'central')
        self.assertEqual(rc, 0, out[-6000:])
        self.assertIn('SUCCESS', out)

    def test_one_target_per_host_one_exporter_down(self):
        rc, out = self._promtool_test(RULES, self._per_host_case(), 'per-host')
        self.assertEqual(rc, 0, out[-6000:])
        self.assertIn('SUCCESS', out)

    def test_the_old_partial_join_fails_this_test(self):
        """The expression docs/alerting.md had before: joined on (instance, mtproxy) only, B's stale
        upstream_ready met A's up == 1 behind the central collectd."""
        with open(RULES) as f:
            text = f.read()
        old = text.replace('and ignoring(type) collectd_mtproxy_gauge{type="up"} == 1',
                           'and on(instance, mtproxy) collectd_mtproxy_gauge{type="up"} == 1')
        self.assertNotEqual(old, text)
        path = os.path.join(self.tmp, 'old-rules.yml')
        with open(path, 'w') as f:
            f.write(old)
        rc, out = self._promtool_test(path, self._central_case(), 'central-old')
        self.assertNotEqual(rc, 0, out[-3000:])
        self.assertIn('MTProxyNoUpstreamReady', out)
        self.assertIn('proxy-b', out)


class PrometheusServer:
    """Debian's prometheus on loopback, its config and TSDB in a temp dir."""

    def __init__(self, targets, rules):
        self.targets, self.rules = targets, rules

    def __enter__(self):
        return retry_on_port_clash(self._start_on)

    def _start_on(self, port):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-prometheus-')
        self.port = port
        conf = os.path.join(self.tmp, 'prometheus.yml')
        with open(conf, 'w') as f:
            json.dump({'global': {'scrape_interval': '1s', 'evaluation_interval': '1s'},
                       'rule_files': [self.rules],
                       'scrape_configs': [{'job_name': 'collectd',
                                           'static_configs': [{'targets': self.targets}]}]}, f)
        self.log = open(os.path.join(self.tmp, 'log'), 'wb')
        self.proc = subprocess.Popen([PROMETHEUS, '--config.file=' + conf,
                                      '--storage.tsdb.path=' + os.path.join(self.tmp, 'data'),
                                      '--web.listen-address=127.0.0.1:%d' % self.port],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: self.proc.poll() is not None or self._ready(), 60, 0.3) or self.proc.poll() is not None:
            log = self.log_text()
            self.__exit__(None, None, None)
            if 'address already in use' in log:
                raise PortInUse(log)
            raise RuntimeError('prometheus did not start')
        return self

    def _ready(self):
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d/-/ready' % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path):
        with urllib.request.urlopen('http://127.0.0.1:%d/api/v1/%s' % (self.port, path), timeout=5) as r:
            return json.loads(r.read().decode())['data']

    def alerts(self):
        return self.api('alerts')['alerts']

    def wait_evaluation(self, timeout=30):
        """Returns once every rule group has been evaluated again since the call."""
        def last():
            return [g.get('lastEvaluation') for g in self.api('rules')['groups']]
        before = last()
        wait_until(lambda: all(a != b for a, b in zip(last(), before)), timeout, 0.2,
                   what='another evaluation of the rule groups')

    def log_text(self):
        with open(os.path.join(self.tmp, 'log'), errors='replace') as f:
            return f.read()[-3000:]

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@unittest.skipUnless(os.path.exists(PROMETHEUS), 'prometheus not installed (Debian package prometheus)')
class RealPrometheus(unittest.TestCase):
    def test_rules_in_a_real_prometheus_two_hosts_one_down(self):
        with StatsServer(static=True, fixture=HEALTHY) as sa, StatsServer(static=True, fixture=HEALTHY) as sb:
            with Collectd(mtproxy_conf(sa.url), prometheus=True, hostname='proxy-a') as a, \
                    Collectd(mtproxy_conf(sb.url), prometheus=True, hostname='proxy-b') as b:
                pa, pb = a.prometheus_port, b.prometheus_port
                ta, tb = '127.0.0.1:%d' % pa, '127.0.0.1:%d' % pb
                with PrometheusServer([ta, tb], RULES) as prom:
                    def both_up():
                        r = prom.api('query?query=collectd_mtproxy_gauge%7Btype%3D%22up%22%7D')['result']
                        return len([x for x in r if x['value'][1] == '1']) == 2
                    self.assertTrue(wait_until(both_up, 30, 0.5), prom.log_text())
                    self.assertEqual(prom.alerts(), [])
                    self.dashboard_queries(prom)
                    sb.set_mode('refuse')           # B's proxy goes down

                    def down_b():
                        return [x for x in prom.alerts() if x['labels']['alertname'] == 'MTProxyDown']
                    got = wait_until(down_b, 30, 0.5)
                    self.assertTrue(got, prom.alerts())
                    self.assertEqual([(x['labels']['exported_instance'], x['labels']['instance'], x['state'],
                                       x['labels']['severity']) for x in got],
                                     [('proxy-b', tb, 'pending', 'critical')])
                    self.assertEqual(got[0]['annotations']['summary'], 'MTProxy main on proxy-b is down')
                    b.stop()                         # B's collectd goes away

                    def exporter_b():
                        return [x for x in prom.alerts() if x['labels']['alertname'] == 'MTProxyExporterDown']
                    got = wait_until(exporter_b, 30, 0.5)
                    self.assertTrue(got, prom.alerts())
                    self.assertEqual([x['labels']['instance'] for x in got], [tb])
                    # nothing for A, and every rule evaluates cleanly
                    for x in prom.alerts():
                        self.assertNotEqual(x['labels'].get('instance'), ta, x)
                    groups = prom.api('rules')['groups']
                    rules = [r for g in groups for r in g['rules']]
                    self.assertEqual(len(rules), 9)
                    for r in rules:
                        self.assertEqual(r['health'], 'ok', r)
                    self.assertTrue(a.alive())

    def dashboard_queries(self, prom):
        """Every PromQL expression of the Prometheus dashboard, with Grafana's variables filled in as
        Grafana would for "All", is accepted by the real Prometheus; the plain selectors of the page and the
        summary family return both hosts (process, socket, country and per-secret panels need data this
        run does not have; test_dashboards matches their selectors against a run that has it)."""
        with open(PROM_DASH) as f:
            dash = json.load(f)
        checked = 0
        for p in dash['panels']:
            for t in p['targets']:
                expr = (t['expr'].replace('$host', '.*').replace('$instance', '.*')
                        .replace('$__rate_interval', '1m').replace('$__range', '5m'))
                res = prom.api('query?query=' + urllib.parse.quote(expr))
                self.assertEqual(res['resultType'], 'vector', (p['title'], expr))
                # the page's and the summary's series (no process or sockets in this run)
                if expr.startswith('collectd_') and re.search(r'type="(up|summary-[a-z_]+|stats-[a-z_]+)"', expr):
                    hosts = {x['metric'].get('exported_instance') for x in res['result']}
                    self.assertEqual(hosts, {'proxy-a', 'proxy-b'}, (p['title'], expr, res))
                checked += 1
        self.assertGreater(checked, 15)

    def test_central_collectd_two_hosts_in_a_real_prometheus(self):
        """proxy-a and proxy-b send with collectd's network plugin to one central collectd that exports
        both with write_prometheus; Prometheus scrapes only the central one. Neither has an upstream
        ready; then B's proxy goes down. B's last upstream_ready (0) stays visible (explicit
        timestamps), A's up is 1: B's "no upstream" alert must end, and each alert name its own host."""
        # the central collectd's UDP port: its own (another one and a restart when taken or shared)
        with StatsServer(static=True, fixture=LOST) as sa, StatsServer(static=True, fixture=LOST) as sb, \
                Collectd(None, load_plugin=False, hostname='central', prometheus=True,
                         network_listen=True) as central:
            prom_port = central.prometheus_port
            send = ('LoadPlugin network\n<Plugin network>\n  <Server "127.0.0.1" "%d">\n  </Server>\n</Plugin>\n'
                    % central.network_port)
            with Collectd(mtproxy_conf(sa.url), extra_conf=send, hostname='proxy-a'), \
                    Collectd(mtproxy_conf(sb.url), extra_conf=send, hostname='proxy-b'):
                target = '127.0.0.1:%d' % prom_port
                with PrometheusServer([target], RULES) as prom:
                    def hosts_up():
                        r = prom.api('query?query=collectd_mtproxy_gauge%7Btype%3D%22up%22%7D%3D%3D1')['result']
                        return sorted(x['metric'].get('exported_instance') for x in r) == ['proxy-a', 'proxy-b']
                    self.assertTrue(wait_until(hosts_up, 30, 0.5), prom.log_text())

                    def alerts(name):
                        return sorted((x['labels'].get('exported_instance'), x['labels']['instance'])
                                      for x in prom.alerts() if x['labels']['alertname'] == name)
                    both = [('proxy-a', target), ('proxy-b', target)]
                    self.assertTrue(wait_until(lambda: alerts('MTProxyNoUpstreamReady') == both, 30, 0.5),
                                    prom.alerts())
                    sb.set_mode('refuse')           # B's proxy goes down
                    self.assertTrue(wait_until(lambda: alerts('MTProxyDown'), 30, 0.5), prom.alerts())
                    self.assertTrue(wait_until(lambda: alerts('MTProxyNoUpstreamReady') == [('proxy-a', target)],
                                               30, 0.5), prom.alerts())
                    # B's last upstream_ready is still what Prometheus returns for it
                    r = prom.api('query?query=collectd_mtproxy_count%7Btype%3D%22summary-upstream_ready%22%7D')['result']
                    self.assertIn('proxy-b', [x['metric'].get('exported_instance') for x in r], r)
                    # three more evaluations of every rule group: nothing for the wrong host
                    for _ in range(3):
                        prom.wait_evaluation()
                        self.assertEqual(alerts('MTProxyDown'), [('proxy-b', target)])
                        self.assertEqual(alerts('MTProxyNoUpstreamReady'), [('proxy-a', target)])
                        self.assertEqual(alerts('MTProxyExporterDown'), [])


if __name__ == '__main__':
    unittest.main()
