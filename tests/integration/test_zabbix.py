"""The Zabbix template and UserParameter file of packaging/zabbix/.

- The committed YAML is what make_template.py writes, parses as YAML (when python3-yaml is there) to
  the same structure, and is a consistent Zabbix 6.0 export: unique UUIDs, every dependent item's master
  exists, every trigger names the template and an item of it, every {$MACRO} used is defined.
- Every JSONPath of the template (items, discovery rules and their prototypes, with the discovered
  macros filled in) resolves against a real `mtproxy-telegraf --once --format json` document of a run
  with a real process tree (fake_mtproxy), real loopback client connections and a GeoIP database.
  JSONPath is evaluated here for the subset the template uses (filters of == joined by &&, .first()):
  a path outside that subset fails the test.
- Debian's real zabbix_agentd, on a loopback port, includes the packaged UserParameter file (pointed at
  build/mtproxy-telegraf) and is read with zabbix_get: mtproxy.json gives the document with up 1, then
  0 when the proxy is down; mtproxy.check gives the status line.
"""
import importlib.util
import json
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT_DIR, StatsServer, wait_until  # noqa: E402
from test_process_fronts import FakeProxy  # noqa: E402
from test_socket_fronts import GROUPS, MAPPING, MMDB, Holder  # noqa: E402

ZBX = os.path.join(ROOT_DIR, 'packaging', 'zabbix')
TEMPLATE_YAML = os.path.join(ZBX, 'mtproxy-zabbix-template.yaml')
USERPARAM = os.path.join(ZBX, 'mtproxy.conf')
BIN = os.path.join(ROOT_DIR, os.environ.get('BUILD', 'build'), 'mtproxy-telegraf')
AGENTD = shutil.which('zabbix_agentd') or '/usr/sbin/zabbix_agentd'
ZGET = shutil.which('zabbix_get') or '/usr/bin/zabbix_get'
HEALTHY = 'stats-upstream-with-clients-M1.txt'
PEERS_PAGE = os.path.join(ROOT_DIR, 'tests', 'fixtures', 'peers', 'mtprotoproxy', 'metrics-loaded.txt')


def load_generator():
    spec = importlib.util.spec_from_file_location('make_template', os.path.join(ZBX, 'make_template.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---- the JSONPath subset of the template ------------------------------------------------------------
FILTER = re.compile(r"^\$\.metrics\[\?\((.*)\)\](\.value\.first\(\))?$")
COND = re.compile(r"^@\.((?:labels\.)?[a-z_]+)=='([^']*)'$")


def jsonpath(path, doc):
    """A list of rows, or a value (for .value.first()), or raises ValueError (as Zabbix would fail)."""
    m = FILTER.match(path)
    if not m:
        raise AssertionError('JSONPath outside the subset this test evaluates: ' + path)
    conds = []
    for c in m.group(1).split(' && '):
        cm = COND.match(c)
        if not cm:
            raise AssertionError('filter term outside the subset: %r in %s' % (c, path))
        conds.append((cm.group(1).split('.'), cm.group(2)))

    def get(row, keys):
        for k in keys:
            row = row.get(k) if isinstance(row, dict) else None
        return row
    rows = [r for r in doc['metrics'] if all(get(r, k) == v for k, v in conds)]
    if not m.group(2):
        return rows
    if not rows:
        raise ValueError('no data matches ' + path)
    return rows[0]['value']


def walk_items(tpl):
    for it in tpl['items']:
        yield it
    for rule in tpl.get('discovery_rules', []):
        yield rule
        for p in rule.get('item_prototypes', []):
            yield p


class TemplateStructure(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gen = load_generator()
        cls.doc = cls.gen.build()
        cls.tpl = cls.doc['zabbix_export']['templates'][0]

    def test_committed_yaml_is_the_generators(self):
        with open(TEMPLATE_YAML) as f:
            text = f.read()
        self.assertEqual(text.split('\n', 1)[1], self.gen.to_yaml(self.doc),
                         'run packaging/zabbix/make_template.py')
        try:
            import yaml
        except ImportError:
            self.skipTest('python3-yaml not installed')
        self.assertEqual(yaml.safe_load(text), self.doc)

    def test_consistent_zabbix_6_export(self):
        exp = self.doc['zabbix_export']
        self.assertEqual(exp['version'], '6.0')
        uuids = []

        def collect(v):
            if isinstance(v, dict):
                if 'uuid' in v:
                    uuids.append(v['uuid'])
                for x in v.values():
                    collect(x)
            elif isinstance(v, list):
                for x in v:
                    collect(x)
        collect(exp)
        self.assertTrue(all(re.fullmatch(r'[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}', u) for u in uuids))
        self.assertEqual(len(uuids), len(set(uuids)))
        keys = [it['key'] for it in walk_items(self.tpl)]
        self.assertEqual(len(keys), len(set(keys)))
        masters = {it['key'] for it in self.tpl['items'] if it.get('type', 'ZABBIX_PASSIVE') == 'ZABBIX_PASSIVE'}
        self.assertEqual(masters, {self.gen.MASTER_KEY, self.gen.CHECK_KEY})
        for it in walk_items(self.tpl):
            if it.get('type') == 'DEPENDENT':
                self.assertEqual(it['master_item']['key'], self.gen.MASTER_KEY, it['key'])
                self.assertEqual(it['preprocessing'][0]['type'], 'JSONPATH', it['key'])
        item_keys = {it['key'] for it in self.tpl['items']}
        macros = {m['macro'] for m in self.tpl['macros']}
        triggers = list(exp['triggers']) + [t for it in self.tpl['items'] for t in it.get('triggers', [])]
        self.assertEqual(len(triggers), len(self.gen.TRIGGERS))
        names = {t['name'] for t in triggers}
        for t in triggers:
            refs = re.findall(r'/([^/]+)/([^,)]+)', t['expression'])
            self.assertTrue(refs, t)
            for host, key in refs:
                self.assertEqual(host, self.gen.TEMPLATE)
                self.assertIn(key, item_keys, t['name'])
            for m in re.findall(r'\{\$[A-Z.]+\}', t['expression'] + t['name'] + t['description']):
                self.assertIn(m, macros, t['name'])
            self.assertIn(t['priority'], ('INFO', 'WARNING', 'AVERAGE', 'HIGH', 'DISASTER'))
            for d in t.get('dependencies', []):
                self.assertIn(d['name'], names)
        for m in re.findall(r'\{\$[A-Z.]+\}', json.dumps(self.tpl['items'])):
            self.assertIn(m, macros)

    def test_triggers_cover_the_alert_rules(self):
        """The conditions of packaging/prometheus/mtproxy-rules.yml, in Zabbix's words."""
        text = ' '.join(t[1] for t in self.gen.TRIGGERS)
        for needle in ('nodata(', 'mtproxy.up,2m)=0', 'mtproxy.ready_targets', 'mtproxy.clients.max',
                       'mtproxy.fd_usage,5m)>{$MTPROXY.FD.WARN}', 'mtproxy.fd_usage,5m)>{$MTPROXY.FD.CRIT}',
                       'change(/MTProxy by Zabbix agent/mtproxy.restarts)', 'mtproxy.client.ips_over_limit'):
            self.assertIn(needle, text)


class TemplateAgainstRealJson(unittest.TestCase):
    def test_every_jsonpath_resolves(self):
        gen = load_generator()
        tpl = gen.build()['zabbix_export']['templates'][0]
        tmp = tempfile.mkdtemp(prefix='mtpm-zbx-json-')
        self.addCleanup(shutil.rmtree, tmp, True)
        mmdb = os.path.join(tmp, 'test.mmdb')
        subprocess.run(['/usr/bin/python3', MMDB, mmdb] + MAPPING, check=True)
        with FakeProxy() as fake, Holder(GROUPS) as h, StatsServer() as srv:
            args = ['--once', '--format', 'json', '--url', srv.url, '--client-port', str(h.port),
                    '--geoip', mmdb, '--include-local'] + fake.execd_args()
            r = subprocess.run([BIN] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        # another implementation's page (a real mtprotoproxy capture): summary family with secrets
        with StatsServer(static=True, fixture=PEERS_PAGE, path='*') as psrv:
            r = subprocess.run([BIN, '--once', '--format', 'json', '--url', psrv.base_url + '/metrics',
                                '--collect-process=false', '--collect-sockets=false'],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        peers = json.loads(r.stdout)
        checked = 0
        for it in tpl['items']:
            if it.get('type') != 'DEPENDENT':
                continue
            path = it['preprocessing'][0]['parameters'][0]
            optional = it['preprocessing'][0].get('error_handler') == 'DISCARD_VALUE'
            values = []
            for d in (doc, peers):
                try:
                    values.append(jsonpath(path, d))
                except ValueError:
                    # only an item that discards a missing value may miss in a document
                    self.assertTrue(optional or d is peers, it['key'])
            # every item resolves in the official MTProxy's run or in the other implementation's
            self.assertTrue(values, it['key'])
            for v in values:
                self.assertIsNotNone(v, it['key'])
                if it['value_type'] in ('UNSIGNED', 'FLOAT'):
                    self.assertIsInstance(v, (int, float), it['key'])
                if it['value_type'] == 'UNSIGNED' and not any(s['type'] == 'CHANGE_PER_SECOND'
                                                              for s in it['preprocessing']):
                    self.assertGreaterEqual(v, 0, it['key'])
                    self.assertEqual(v, int(v), it['key'])
            checked += 1
        up = "$.metrics[?(@.measurement=='mtproxy' && @.name=='up')].value.first()"
        self.assertEqual(jsonpath(up, doc), 1)
        self.assertEqual(jsonpath(up, peers), 1)
        self.assertGreaterEqual(checked, 15)
        # .first() of the summary family is the whole proxy's row, not a secret's: 5 clients, not alice's 3
        clients = [it for it in tpl['items'] if it['key'] == 'mtproxy.clients'][0]
        self.assertEqual(jsonpath(clients['preprocessing'][0]['parameters'][0], peers), 5)
        found = {}
        for rule in tpl['discovery_rules']:
            (mp,) = rule['lld_macro_paths']
            label = mp['path'].split('.')[-1]
            self.assertEqual(mp['path'], '$.labels.' + label)
            # the rule's filter on its macro drops rows without the label, as Zabbix does
            self.assertEqual(rule['filter']['conditions'][0]['macro'], mp['lld_macro'])
            for d in (doc, peers):
                rows = jsonpath(rule['preprocessing'][0]['parameters'][0], d)
                self.assertIsInstance(rows, list)
                values = [row['labels'][label] for row in rows if label in row['labels']]
                found.setdefault(rule['key'], []).extend(values)
                for value in values:
                    for p in rule['item_prototypes']:
                        path = p['preprocessing'][0]['parameters'][0].replace(mp['lld_macro'], value)
                        self.assertIsNotNone(jsonpath(path, d), (p['key'], value))
                        checked += 1
        # the test GeoIP database maps the holder's addresses to countries; the capture has two users
        self.assertGreaterEqual(len(found['mtproxy.country.discovery']), 2, found)
        self.assertEqual(sorted(found['mtproxy.secret.discovery']), ['alice', 'bob'])


@unittest.skipUnless(os.path.exists(AGENTD) and os.path.exists(ZGET),
                     'needs zabbix_agentd (zabbix-agent) and zabbix_get (zabbix-proxy-sqlite3)')
class RealZabbixAgent(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='mtpm-zbx-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.proc = None
        self.addCleanup(self._stop)
        # zabbix_agentd takes ListenPort 1024..32767 only, below the kernel's ephemeral range, so no
        # free_port(): a port of that range that binds now, and a retry if the agent loses the race
        for attempt in range(10):
            self.port = self._port_below_ephemeral()
            if self._start_agent():
                return
        self.fail('zabbix_agentd did not start:\n' + self._log())

    @staticmethod
    def _port_below_ephemeral():
        rnd = random.Random()
        while True:
            port = rnd.randrange(20000, 32768)
            s = socket.socket()
            try:
                s.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue
            finally:
                s.close()

    def _start_agent(self):
        self._stop()
        with open(USERPARAM) as f:
            up = f.read()
        self.assertIn('/usr/bin/mtproxy-telegraf ', up)
        include = os.path.join(self.tmp, 'mtproxy.conf')
        with open(include, 'w') as f:
            f.write(up.replace('/usr/bin/mtproxy-telegraf ', BIN + ' '))    # the packaged file, this build
        conf = os.path.join(self.tmp, 'zabbix_agentd.conf')
        with open(conf, 'w') as f:
            f.write('LogType=file\nLogFile=%s/agentd.log\nPidFile=%s/agentd.pid\nListenIP=127.0.0.1\n'
                    'ListenPort=%d\nServer=127.0.0.1\nStartAgents=2\nTimeout=10\nInclude=%s\n'
                    % (self.tmp, self.tmp, self.port, include))
        os.chmod(self.tmp, 0o755)
        if os.geteuid() == 0:       # zabbix_agentd drops root for its User (zabbix), who writes log and pid
            try:
                pw = pwd.getpwnam('zabbix')
                os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
            except KeyError:
                with open(conf, 'a') as f:
                    f.write('AllowRoot=1\n')
        self.out = open(os.path.join(self.tmp, 'stdout'), 'wb')
        self.proc = subprocess.Popen([AGENTD, '-f', '-c', conf], stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

        def listening():
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return True
            except OSError:
                return self.proc.poll() is not None
        wait_until(listening, 20, 0.1)
        # still running (a lost bind ends it), and answering as an agent
        return wait_until(lambda: self.proc.poll() is None and self.zget('agent.ping')[1].strip() == '1', 5, 0.2)

    def _stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        self.out.close()
        self.proc = None

    def _log(self):
        text = ''
        for name in ('stdout', 'agentd.log'):
            p = os.path.join(self.tmp, name)
            if os.path.exists(p):
                text += open(p, errors='replace').read()[-2000:]
        return text

    def zget(self, key):
        r = subprocess.run([ZGET, '-s', '127.0.0.1', '-p', str(self.port), '-k', key], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return r.returncode, r.stdout.decode('utf-8', 'replace')

    def test_userparameters_through_the_real_agent(self):
        rc, out = self.zget('agent.ping')
        self.assertEqual((rc, out.strip()), (0, '1'), self._log())
        with StatsServer(static=True, fixture=HEALTHY) as srv:
            rc, out = self.zget('mtproxy.json[%s,edge]' % srv.url)
            self.assertEqual(rc, 0, out)
            self.assertNotIn('ZBX_NOTSUPPORTED', out, self._log())
            doc = json.loads(out)
            self.assertEqual(doc['instance'], 'edge')
            up = "$.metrics[?(@.measurement=='mtproxy' && @.name=='up')].value.first()"
            self.assertEqual(jsonpath(up, doc), 1)
            clients = "$.metrics[?(@.measurement=='mtproxy_stats' && @.name=='total_special_connections')].value.first()"
            self.assertEqual(jsonpath(clients, doc), 35)
            rc, out = self.zget('mtproxy.check[%s,edge]' % srv.url)
            self.assertEqual(rc, 0, out)
            self.assertRegex(out.strip(), r'^MTPROXY OK - edge: up, 5 upstream targets ready')
            srv.set_mode('refuse')
            rc, out = self.zget('mtproxy.json[%s,edge]' % srv.url)
            self.assertEqual(jsonpath(up, json.loads(out)), 0)
            rc, out = self.zget('mtproxy.check[%s,edge]' % srv.url)
            self.assertRegex(out.strip(), r'^MTPROXY CRITICAL - edge: down \(stats page not readable')


if __name__ == '__main__':
    unittest.main()
