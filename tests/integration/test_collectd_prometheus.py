"""mtproxy.so -> collectd's write_prometheus -> GET /metrics: what Prometheus and Grafana users see."""
import os
import re
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from harness import FIXTURES_DIR, HOSTNAME, Collectd, StatsServer, wait_until  # noqa: E402
from execd import parse_fixture  # noqa: E402

FIXTURE = 'stats-upstream-with-clients-M1.txt'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)(?: (\d+))?$')


def scrape(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=5) as r:
        return r.headers.get('Content-Type', ''), r.read().decode('utf-8')


def samples(text):
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            out[(m.group(1), tuple(sorted(labels.items())))] = float(m.group(3))
    return out


class CollectdPrometheus(unittest.TestCase):
    def test_write_prometheus_exports_mtproxy_metrics(self):
        fx = parse_fixture(os.path.join(FIXTURES_DIR, FIXTURE))
        with StatsServer(static=True, fixture=FIXTURE) as srv:
            conf = '<Instance "main">\n  URL "%s"\n  Timeout "500ms"\n</Instance>\n' % srv.url
            with Collectd(conf, prometheus=True) as cd:
                port = cd.prometheus_port
                cd.wait_for('mtproxy-main/gauge-up', pred=lambda v: v['value'] == 1.0)
                got = {}

                def ready():        # DERIVE values come with the second read
                    got['ct'], got['text'] = scrape(port)
                    return 'collectd_mtproxy_derive_total{' in got['text']
                self.assertTrue(wait_until(ready, 15, 0.2), got.get('text', '')[-2000:])
                log = cd.log_text()
        text = got['text']
        self.assertIn('text/plain', got['ct'])
        s = samples(text)

        def label(type_):
            return (('instance', HOSTNAME), ('mtproxy', 'main'), ('type', type_))
        # gauges: collectd_<plugin>_<type> with the plugin instance as label "mtproxy", the type instance
        # as "type", and collectd's host as "instance"
        self.assertEqual(s[('collectd_mtproxy_gauge', label('up'))], 1.0, text[-2000:])
        self.assertEqual(s[('collectd_mtproxy_gauge', label('stats-total_special_connections'))],
                         float(fx['total_special_connections']))
        self.assertEqual(s[('collectd_mtproxy_gauge', label('stats-workers'))], float(fx['workers']))
        # counters (DERIVE) become Prometheus counters with the _total suffix
        self.assertEqual(s[('collectd_mtproxy_derive_total', label('stats-tot_forwarded_queries'))],
                         float(fx['tot_forwarded_queries']))
        self.assertIn('# TYPE collectd_mtproxy_gauge gauge', text)
        self.assertIn('# TYPE collectd_mtproxy_derive_total counter', text)
        # every name Prometheus would accept, no NaN for a healthy proxy
        names = {k[0] for k in s if k[0].startswith('collectd_mtproxy')}
        self.assertTrue(all(re.match(r'^collectd_mtproxy_[a-z0-9_]+$', n) for n in names), names)
        for key in s:
            if key[0].startswith('collectd_mtproxy'):
                self.assertEqual(dict(key[1]).get('mtproxy'), 'main', key)
        # (the /stats keys; process metrics of a proxy not running here may be NaN)
        mtproxy_values = [v for k, v in s.items() if k[0] in ('collectd_mtproxy_gauge',
                                                             'collectd_mtproxy_derive_total')]
        self.assertGreater(len(mtproxy_values), 50)
        self.assertFalse(any(v != v for v in mtproxy_values), 'NaN exported')
        self.assertNotIn('mtproxy plugin: instance "main": cannot', log)


if __name__ == '__main__':
    unittest.main()
