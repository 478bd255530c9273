#!/usr/bin/env python3
"""make_template.py - writes the Zabbix 6.0 template of mtproxy-monitor next to itself.

    python3 packaging/zabbix/make_template.py

mtproxy-zabbix-template.yaml: "MTProxy by Zabbix agent". One master item runs
`mtproxy-telegraf --once --format json` through the agent (UserParameter mtproxy.json[URL,INSTANCE] of
packaging/zabbix/mtproxy.conf); every other item is a dependent item picking one metric out of that
document with JSONPath; low-level discovery finds the countries (measurement mtproxy_country) and the
secrets/users (measurement mtproxy_summary, label secret, where the implementation has them).
The triggers are the conditions of packaging/prometheus/mtproxy-rules.yml and docs/alerting.md.
tests/integration/test_zabbix.py checks the YAML against this script, every JSONPath against a real
--format json document, and the UserParameter file in Debian's real zabbix_agentd.
"""
import os
import re
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'mtproxy-zabbix-template.yaml')
TEMPLATE = 'MTProxy by Zabbix agent'
GROUP = 'Templates/Applications'
MASTER_KEY = 'mtproxy.json[{$MTPROXY.URL},{$MTPROXY.INSTANCE}]'
CHECK_KEY = 'mtproxy.check[{$MTPROXY.URL},{$MTPROXY.INSTANCE}]'


def uid(*parts):
    """Zabbix 6.0 wants a UUIDv4-shaped hex id per entity; derived from the name so it stays stable."""
    u = uuid.uuid5(uuid.NAMESPACE_URL, 'mtproxy-monitor/zabbix/' + '/'.join(parts))
    return (u.hex[:12] + '4' + u.hex[13:16] + '8' + u.hex[17:])


def jsonpath(measurement, name, labels=None):
    cond = ["@.measurement=='%s'" % measurement, "@.name=='%s'" % name]
    for k, v in (labels or {}).items():
        cond.append("@.labels.%s=='%s'" % (k, v))
    return '$.metrics[?(%s)].value.first()' % ' && '.join(cond)


# (key, name, measurement, metric name, labels, value type, units, per-second, optional, description)
# optional: the value may be missing (no process found, a page without the key): discard, not an error
ITEMS = [
    ('mtproxy.up', 'Up', 'mtproxy', 'up', None, 'UNSIGNED', '', False, False,
     '1 when the stats page was read, 0 when the proxy is down'),
    ('mtproxy.scrape_duration', 'Stats page response time', 'mtproxy', 'scrape_duration_seconds', None, 'FLOAT',
     's', False, False, 'time to read the stats page'),
    # summary family: the whole proxy's row comes before the per-secret rows (docs/json-format.md)
    ('mtproxy.clients', 'Client connections', 'mtproxy_summary', 'clients', None, 'UNSIGNED', '',
     False, True, 'clients (summary family): open client connections, for every implementation'),
    ('mtproxy.clients.max', 'Client connection limit', 'mtproxy_stats', 'total_max_special_connections', None,
     'UNSIGNED', '', False, True, 'total_max_special_connections: the workers\' limits summed'),
    ('mtproxy.ready_targets', 'Ready upstream targets', 'mtproxy_summary', 'upstream_ready', None, 'UNSIGNED', '',
     False, True, 'upstream_ready (summary family): Telegram middle proxies ready; 0 = clients cannot be served'),
    ('mtproxy.bytes_from_clients.rate', 'Bytes from clients per second', 'mtproxy_summary', 'bytes_from_clients',
     None, 'FLOAT', 'Bps', True, True, 'summary family, where the implementation counts them'),
    ('mtproxy.bytes_to_clients.rate', 'Bytes to clients per second', 'mtproxy_summary', 'bytes_to_clients',
     None, 'FLOAT', 'Bps', True, True, 'summary family, where the implementation counts them'),
    ('mtproxy.handshake_failures.rate', 'Handshake failures per second', 'mtproxy_summary', 'handshake_failures',
     None, 'FLOAT', '', True, True, 'connections that never completed a valid MTProto handshake'),
    ('mtproxy.forwarded_queries.rate', 'Forwarded queries per second', 'mtproxy_stats', 'tot_forwarded_queries', None,
     'FLOAT', 'qps', True, True, 'client packets relayed upstream'),
    ('mtproxy.dropped_queries.rate', 'Dropped queries per second', 'mtproxy_stats', 'dropped_queries', None, 'FLOAT',
     'qps', True, True, 'packets dropped for lack of a ready upstream'),
    ('mtproxy.read_bytes.rate', 'Bytes read per second', 'mtproxy_stats', 'tcp_readv_bytes', None, 'FLOAT', 'Bps',
     True, True, 'bytes the proxy read from its sockets'),
    ('mtproxy.written_bytes.rate', 'Bytes written per second', 'mtproxy_stats', 'tcp_writev_bytes', None, 'FLOAT',
     'Bps', True, True, 'bytes the proxy wrote to its sockets'),
    ('mtproxy.version', 'Version', 'mtproxy_stats', 'version', None, 'CHAR', '', False, True,
     'the proxy\'s version string'),
    ('mtproxy.client.unique_ips', 'Distinct client IPs', 'mtproxy_connections', 'unique_ips', {'side': 'client'},
     'UNSIGNED', '', False, True, 'distinct remote IPs with a live client connection (kernel socket table)'),
    ('mtproxy.client.ips_over_limit', 'Client IPs over the per-IP limit', 'mtproxy_connections', 'ips_over_limit',
     {'side': 'client'}, 'UNSIGNED', '', False, True, 'IPs holding more than IPsOver connections'),
    ('mtproxy.client.established', 'Client sockets established', 'mtproxy_connections', 'established',
     {'side': 'client'}, 'UNSIGNED', '', False, True, 'ESTABLISHED client sockets'),
    ('mtproxy.fd_usage', 'Descriptors used (fullest process)', 'mtproxy_process', 'fd_usage_percent',
     {'role': 'all'}, 'FLOAT', '%', False, True, 'open descriptors against RLIMIT_NOFILE'),
    ('mtproxy.fds', 'Open descriptors', 'mtproxy_process', 'num_fds', {'role': 'all'}, 'UNSIGNED', '', False,
     True, 'descriptors of all the proxy\'s processes'),
    ('mtproxy.memory_rss', 'Resident memory', 'mtproxy_process', 'memory_rss', {'role': 'all'}, 'UNSIGNED', 'B',
     False, True, 'RSS of all the proxy\'s processes'),
    ('mtproxy.restarts', 'Restarts seen', 'mtproxy_process', 'restarts', {'role': 'master'}, 'UNSIGNED', '',
     False, True, 'restarts of the master seen since the agent started'),
]

T = '/' + TEMPLATE + '/'
# (name, expression, priority, description, single item key or None, depends on)
TRIGGERS = [
    ('MTProxy {$MTPROXY.INSTANCE}: no data from mtproxy-telegraf',
     'nodata(%smtproxy.up,5m)=1' % T, 'AVERAGE',
     'The agent has returned nothing for 5 minutes: the agent, mtproxy-telegraf or the UserParameter file.',
     'mtproxy.up', None),
    ('MTProxy {$MTPROXY.INSTANCE} is down',
     'max(%smtproxy.up,2m)=0' % T, 'HIGH',
     'The stats page has not been readable for 2 minutes (mtproxy.check says why).', 'mtproxy.up', None),
    ('MTProxy {$MTPROXY.INSTANCE}: no ready upstream target',
     'max(%smtproxy.ready_targets,3m)=0 and last(%smtproxy.up)=1' % (T, T), 'HIGH',
     'Up, but no Telegram middle proxy ready for 3 minutes: nothing is relayed to Telegram.', None,
     'MTProxy {$MTPROXY.INSTANCE} is down'),
    ('MTProxy {$MTPROXY.INSTANCE}: client connections near the limit',
     'min(%smtproxy.clients,5m)>last(%smtproxy.clients.max)*{$MTPROXY.CLIENTS.WARN}/100' % (T, T), 'WARNING',
     'Client connections above {$MTPROXY.CLIENTS.WARN}% of total_max_special_connections for 5 minutes.', None,
     None),
    ('MTProxy {$MTPROXY.INSTANCE}: descriptors near the limit',
     'min(%smtproxy.fd_usage,5m)>{$MTPROXY.FD.WARN}' % T, 'WARNING',
     'The fullest process holds more than {$MTPROXY.FD.WARN}% of its open-files limit for 5 minutes.',
     'mtproxy.fd_usage', 'MTProxy {$MTPROXY.INSTANCE}: descriptors at the limit'),
    ('MTProxy {$MTPROXY.INSTANCE}: descriptors at the limit',
     'min(%smtproxy.fd_usage,5m)>{$MTPROXY.FD.CRIT}' % T, 'HIGH',
     'The fullest process holds more than {$MTPROXY.FD.CRIT}% of its open-files limit for 5 minutes; '
     'accept() fails at 100%.', 'mtproxy.fd_usage', None),
    ('MTProxy {$MTPROXY.INSTANCE} restarted',
     'change(%smtproxy.restarts)>0' % T, 'WARNING',
     'The master process was replaced.', 'mtproxy.restarts', None),
    ('MTProxy {$MTPROXY.INSTANCE}: an IP holds too many connections',
     'min(%smtproxy.client.ips_over_limit,10m)>0' % T, 'WARNING',
     'Client IPs with more than IPsOver connections for 10 minutes: a shared secret or abuse.',
     'mtproxy.client.ips_over_limit', None),
]

MACROS = [
    ('{$MTPROXY.URL}', 'http://127.0.0.1:8888/stats', 'the proxy\'s stats page (127.0.0.1 only for MTProxy)'),
    ('{$MTPROXY.INSTANCE}', 'main', 'the instance name in the data (--instance)'),
    ('{$MTPROXY.CLIENTS.WARN}', '90', 'percent of the client limit'),
    ('{$MTPROXY.FD.WARN}', '80', 'percent of the open-files limit'),
    ('{$MTPROXY.FD.CRIT}', '90', 'percent of the open-files limit'),
]

# discovery: (key, name, JSONPath to the rows, macro, label, prototypes [(key, name, metric, value type, units)])
DISCOVERY = [
    ('mtproxy.country.discovery', 'Countries', 'mtproxy_country', 'connections', '{#COUNTRY}', 'country',
     [('mtproxy.country.connections[{#COUNTRY}]', 'Country {#COUNTRY}: connections', 'connections', 'UNSIGNED', ''),
      ('mtproxy.country.unique_ips[{#COUNTRY}]', 'Country {#COUNTRY}: distinct IPs', 'unique_ips', 'UNSIGNED', '')]),
    ('mtproxy.secret.discovery', 'Secrets and users', 'mtproxy_summary', 'clients', '{#SECRET}', 'secret',
     [('mtproxy.secret.clients[{#SECRET}]', 'Secret {#SECRET}: clients', 'clients', 'UNSIGNED', ''),
      ('mtproxy.secret.bytes_from_clients.rate[{#SECRET}]', 'Secret {#SECRET}: bytes from clients per second',
       'bytes_from_clients', 'FLOAT', 'Bps')]),
]


def master_items():
    return [
        {'uuid': uid('item', MASTER_KEY), 'name': 'MTProxy {$MTPROXY.INSTANCE}: stats document',
         'key': MASTER_KEY, 'history': '0', 'trends': '0', 'value_type': 'TEXT',
         'description': 'mtproxy-telegraf --once --format json (UserParameter mtproxy.json); every other item '
                        'is taken from it', 'tags': [{'tag': 'component', 'value': 'raw'}]},
        {'uuid': uid('item', CHECK_KEY), 'name': 'MTProxy {$MTPROXY.INSTANCE}: health check',
         'key': CHECK_KEY, 'delay': '5m', 'history': '7d', 'trends': '0', 'value_type': 'CHAR',
         'description': 'mtproxy-telegraf --check: the monitoring-plugins status line',
         'tags': [{'tag': 'component', 'value': 'health'}]},
    ]


def preprocessing(path, per_second, optional):
    step = {'type': 'JSONPATH', 'parameters': [path]}
    if optional:
        step['error_handler'] = 'DISCARD_VALUE'
    steps = [step]
    if per_second:
        steps.append({'type': 'CHANGE_PER_SECOND', 'parameters': ['']})
    return steps


def build():
    items = master_items()
    by_key = {}
    for key, name, meas, metric, labels, vtype, units, per_second, optional, desc in ITEMS:
        it = {'uuid': uid('item', key), 'name': 'MTProxy {$MTPROXY.INSTANCE}: ' + name, 'type': 'DEPENDENT',
              'key': key, 'delay': '0', 'history': '7d', 'value_type': vtype, 'description': desc,
              'preprocessing': preprocessing(jsonpath(meas, metric, labels), per_second, optional),
              'master_item': {'key': MASTER_KEY}, 'tags': [{'tag': 'component', 'value': meas}]}
        if vtype in ('CHAR', 'TEXT'):
            it['trends'] = '0'
        if units:
            it['units'] = units
        items.append(it)
        by_key[key] = it
    top_triggers = []
    for name, expr, prio, desc, key, dep in TRIGGERS:
        tr = {'uuid': uid('trigger', name), 'expression': expr, 'name': name, 'priority': prio,
              'description': desc}
        if dep:
            deps = [t for t in TRIGGERS if t[0] == dep][0]
            tr['dependencies'] = [{'name': dep, 'expression': deps[1]}]
        if key:
            by_key[key].setdefault('triggers', []).append(tr)
        else:
            top_triggers.append(tr)
    rules = []
    for key, name, meas, metric, macro, label, protos in DISCOVERY:
        rows = "$.metrics[?(@.measurement=='%s' && @.name=='%s')]" % (meas, metric)
        rule = {'uuid': uid('discovery', key), 'name': name + ' discovery', 'type': 'DEPENDENT', 'key': key,
                'delay': '0', 'preprocessing': [{'type': 'JSONPATH', 'parameters': [rows]}],
                'master_item': {'key': MASTER_KEY},
                'lld_macro_paths': [{'lld_macro': macro, 'path': '$.labels.' + label}],
                # a row without the label (the summary's instance row has no secret) is ignored:
                # Zabbix drops an entity whose filter macro is missing
                'filter': {'conditions': [{'macro': macro, 'value': '.+', 'formulaid': 'A'}]},
                'item_prototypes': []}
        for pkey, pname, pmetric, vtype, units in protos:
            proto = {'uuid': uid('prototype', pkey), 'name': 'MTProxy {$MTPROXY.INSTANCE}: ' + pname,
                     'type': 'DEPENDENT', 'key': pkey, 'delay': '0', 'history': '7d', 'value_type': vtype,
                     'preprocessing': preprocessing(jsonpath(meas, pmetric, {label: macro}),
                                                    vtype == 'FLOAT', True),
                     'master_item': {'key': MASTER_KEY}, 'tags': [{'tag': label, 'value': macro}]}
            if units:
                proto['units'] = units
            rule['item_prototypes'].append(proto)
        rules.append(rule)
    template = {
        'uuid': uid('template', TEMPLATE), 'template': TEMPLATE, 'name': TEMPLATE,
        'description': 'MTProxy (and its successors) through mtproxy-monitor\'s mtproxy-telegraf on the proxy\'s '
                       'host; needs the UserParameter file of the telegraf-mtproxy package '
                       '(/etc/zabbix/zabbix_agentd.conf.d/mtproxy.conf).',
        'groups': [{'name': GROUP}],
        'items': items,
        'discovery_rules': rules,
        'tags': [{'tag': 'class', 'value': 'application'}, {'tag': 'target', 'value': 'mtproxy'}],
        'macros': [{'macro': m, 'value': v, 'description': d} for m, v, d in MACROS],
    }
    return {'zabbix_export': {'version': '6.0', 'groups': [{'uuid': uid('group', GROUP), 'name': GROUP}],
                              'templates': [template], 'triggers': top_triggers}}


# ---- a small YAML writer: block mappings and sequences, every string single-quoted -----------------
def _scalar(v):
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def _emit(v, indent, out):
    pad = '  ' * indent
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append('%s%s:' % (pad, k))
                _emit(x, indent + 1, out)
            else:
                out.append('%s%s: %s' % (pad, k, '[]' if x == [] else '{}' if x == {} else _scalar(x)))
    else:
        for x in v:
            if isinstance(x, dict):
                sub = []
                _emit(x, indent + 1, sub)
                first = sub[0][len(pad) + 2:]
                out.append('%s- %s' % (pad, first))
                out.extend(sub[1:])
            else:
                out.append('%s- %s' % (pad, _scalar(x)))


def to_yaml(doc):
    out = []
    _emit(doc, 0, out)
    return '\n'.join(out) + '\n'


def main():
    with open(OUT, 'w') as f:
        f.write('# Zabbix 6.0 template of mtproxy-monitor, written by packaging/zabbix/make_template.py.\n')
        f.write(to_yaml(build()))


if __name__ == '__main__':
    assert re.match(r'^[0-9a-f]{32}$', uid('x'))
    main()
