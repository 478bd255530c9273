#!/usr/bin/env python3
"""make_dashboards.py - writes the two Grafana dashboards of mtproxy-monitor next to itself.

    python3 packaging/grafana/make_dashboards.py

mtproxy-influxdb.json: InfluxDB (InfluxQL) fed by Telegraf + mtproxy-telegraf (measurements mtproxy,
mtproxy_stats, mtproxy_process, mtproxy_connections, mtproxy_country). mtproxy-prometheus.json: Prometheus scraping
collectd's write_prometheus (collectd_mtproxy_<type>{mtproxy="<instance>",type="<type_instance>"}).
Both are import-ready (Dashboards > New > Import asks for the data source). The panels are the same;
tests/integration/test_dashboards.py checks every field and metric they query against real runs.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# panel(title, unit, kind, width, height, influx targets, prometheus targets, description, thresholds)
# influx target: (measurement, select expression on "field", extra WHERE condition, alias)
# prometheus target: (PromQL expression, legend)
PANELS = []


def panel(title, unit, kind, w, h, influx, prom, description='', thresholds=None):
    PANELS.append(dict(title=title, unit=unit, kind=kind, w=w, h=h, influx=influx, prom=prom,
                       description=description, thresholds=thresholds))


# host: collectd's Hostname, which Prometheus stores as exported_instance (its own instance label is
# the scrape target; with honor_labels: true collectd's stays instance and $host does not apply)
P_SEL = 'exported_instance=~"$host",mtproxy=~"$instance"'
# the summary family's row of the whole proxy (per-secret rows carry a secret tag)
WHOLE = '"secret" = \'\''

panel('Proxy up', 'none', 'stat', 4, 4,
      [('mtproxy', 'last("up")', '', 'up')],
      [('collectd_mtproxy_gauge{%s,type="up"}' % P_SEL, '{{exported_instance}} {{mtproxy}}')],
      'up: 1 when the stats page was read this interval, 0 when the proxy is down',
      [(None, 'red'), (1, 'green')])
panel('Client connections', 'none', 'stat', 4, 4,
      [('mtproxy_summary', 'last("clients")', WHOLE, 'clients')],
      [('collectd_mtproxy_current_connections{%s,type="summary-clients"}' % P_SEL, '{{exported_instance}} {{mtproxy}}')],
      'clients (summary family): open client connections, for every implementation')
panel('Distinct client IPs', 'none', 'stat', 4, 4,
      [('mtproxy_connections', 'last("unique_ips")', '"side" = \'client\'', 'people')],
      [('collectd_mtproxy_gauge{%s,type="client-unique_ips"}' % P_SEL, '{{exported_instance}} {{mtproxy}}')],
      'unique_ips: distinct remote IPs with a live client connection')
panel('Ready upstream targets', 'none', 'stat', 4, 4,
      [('mtproxy_summary', 'last("upstream_ready")', WHOLE, 'ready')],
      [('collectd_mtproxy_count{%s,type="summary-upstream_ready"}' % P_SEL, '{{exported_instance}} {{mtproxy}}')],
      'upstream_ready (summary family): Telegram middle proxies ready; 0 = clients cannot be served',
      [(None, 'red'), (1, 'green')])
panel('Descriptors used', 'percent', 'gauge', 4, 4,
      [('mtproxy_process', 'max("fd_usage_percent")', '"role" = \'all\'', 'fd %')],
      [('collectd_mtproxy_percent{%s,type="all_fd_usage"}' % P_SEL, '{{exported_instance}} {{mtproxy}}')],
      'fd_usage_percent: descriptors against the soft limit (highest process)',
      [(None, 'green'), (80, 'orange'), (90, 'red')])
panel('Restarts', 'none', 'stat', 4, 4,
      # restarts counts since the agent started: the increments within the time range, summed
      [('mtproxy_process', 'last("restarts")', '"role" = \'master\'', 'restarts',
        'SELECT sum("restarts") FROM (SELECT non_negative_difference(last("restarts")) AS "restarts" '
        'FROM "mtproxy_process" WHERE {cond} AND $timeFilter GROUP BY time($__interval), "host", "instance") '
        'GROUP BY "host", "instance"')],
      [('increase(collectd_mtproxy_derive_total{%s,type="master_restarts"}[$__range])' % P_SEL,
        '{{exported_instance}} {{mtproxy}}')],
      'restarts of the master within the time range')
panel('Client connections and limit', 'none', 'timeseries', 12, 8,
      [('mtproxy_summary', 'mean("clients")', WHOLE, 'connections'),
       ('mtproxy_stats', 'mean("total_max_special_connections")', '', 'limit')],
      [('collectd_mtproxy_current_connections{%s,type="summary-clients"}' % P_SEL, '{{exported_instance}} {{mtproxy}} connections'),
       ('collectd_mtproxy_gauge{%s,type="stats-total_max_special_connections"}' % P_SEL, '{{exported_instance}} {{mtproxy}} limit')],
      'open client connections against the sum of the workers\' limits (the official MTProxy\'s page has the '
      'limit and logs CRITICAL above 90%)')
panel('Clients per secret', 'none', 'timeseries', 12, 8,
      [('mtproxy_summary', 'mean("clients")', '"secret" != \'\'', 'clients',
        'SELECT mean("clients") FROM "mtproxy_summary" WHERE {cond} AND $timeFilter GROUP BY time($__interval), '
        '"host", "instance", "secret" fill(null)', '$tag_host $tag_instance $tag_secret')],
      [('label_replace(collectd_mtproxy_current_connections{%s,type=~"summary-clients-.+"}, "secret", "$1", '
        '"type", "summary-clients-(.+)")' % P_SEL, '{{exported_instance}} {{mtproxy}} {{secret}}')],
      'clients per secret or user (summary family; implementations that count per secret: teleproxy, '
      'mtprotoproxy, mtg, telemt ...)')
panel('Client sockets by TCP state, distinct IPs', 'none', 'timeseries', 12, 8,
      [('mtproxy_connections', 'mean("established")', '"side" = \'client\'', 'established'),
       ('mtproxy_connections', 'mean("time_wait")', '"side" = \'client\'', 'time_wait'),
       ('mtproxy_connections', 'mean("unique_ips")', '"side" = \'client\'', 'distinct IPs'),
       ('mtproxy_connections', 'max("ips_over_limit")', '"side" = \'client\'', 'IPs over limit')],
      [('collectd_mtproxy_tcp_connections{%s,type="client-ESTABLISHED"}' % P_SEL, '{{exported_instance}} {{mtproxy}} established'),
       ('collectd_mtproxy_tcp_connections{%s,type="client-TIME_WAIT"}' % P_SEL, '{{exported_instance}} {{mtproxy}} time_wait'),
       ('collectd_mtproxy_gauge{%s,type="client-unique_ips"}' % P_SEL, '{{exported_instance}} {{mtproxy}} distinct IPs'),
       ('collectd_mtproxy_gauge{%s,type="client-ips_over_limit"}' % P_SEL, '{{exported_instance}} {{mtproxy}} IPs over limit')],
      'from the kernel\'s socket table')
panel('Traffic', 'Bps', 'timeseries', 12, 8,
      [('mtproxy_summary', 'non_negative_derivative(last("bytes_from_clients"), 1s)', WHOLE, 'from clients'),
       ('mtproxy_summary', 'non_negative_derivative(last("bytes_to_clients"), 1s)', WHOLE, 'to clients'),
       ('mtproxy_stats', 'non_negative_derivative(last("tcp_readv_bytes"), 1s)', '', 'read'),
       ('mtproxy_stats', 'non_negative_derivative(last("tcp_writev_bytes"), 1s)', '', 'written')],
      [('rate(collectd_mtproxy_total_bytes_total{%s,type="summary-bytes_from_clients"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} from clients'),
       ('rate(collectd_mtproxy_total_bytes_total{%s,type="summary-bytes_to_clients"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} to clients'),
       ('rate(collectd_mtproxy_derive_total{%s,type="stats-tcp_readv_bytes"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} read'),
       ('rate(collectd_mtproxy_derive_total{%s,type="stats-tcp_writev_bytes"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} written')],
      'bytes from and to clients (summary family, where the implementation counts them); read/written: the '
      'official MTProxy\'s socket totals (all processes)')
panel('Forwarded and dropped', 'ops', 'timeseries', 12, 8,
      [('mtproxy_stats', 'non_negative_derivative(last("tot_forwarded_queries"), 1s)', '', 'queries'),
       ('mtproxy_stats', 'non_negative_derivative(last("tot_forwarded_responses"), 1s)', '', 'responses'),
       ('mtproxy_stats', 'non_negative_derivative(last("dropped_queries"), 1s)', '', 'dropped queries')],
      [('rate(collectd_mtproxy_derive_total{%s,type="stats-tot_forwarded_queries"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} queries'),
       ('rate(collectd_mtproxy_derive_total{%s,type="stats-tot_forwarded_responses"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} responses'),
       ('rate(collectd_mtproxy_derive_total{%s,type="stats-dropped_queries"}[$__rate_interval])' % P_SEL,
        '{{exported_instance}} {{mtproxy}} dropped queries')],
      'client packets relayed upstream, answers relayed back, packets dropped for lack of a ready upstream')
panel('CPU', 'percentunit', 'timeseries', 12, 8,
      [('mtproxy_process', 'non_negative_derivative(last("cpu_time_user"), 1s)', '"role" = \'all\'', 'user'),
       ('mtproxy_process', 'non_negative_derivative(last("cpu_time_system"), 1s)', '"role" = \'all\'',
        'system')],
      [('rate(collectd_mtproxy_ps_cputime_user_total{%s,type="all"}[$__rate_interval]) / 1e6' % P_SEL,
        '{{exported_instance}} {{mtproxy}} user'),
       ('rate(collectd_mtproxy_ps_cputime_syst_total{%s,type="all"}[$__rate_interval]) / 1e6' % P_SEL,
        '{{exported_instance}} {{mtproxy}} system')],
      'CPU of all the proxy\'s processes (1 = one core)')
panel('Memory and descriptors', 'bytes', 'timeseries', 12, 8,
      [('mtproxy_process', 'mean("memory_rss")', '"role" = \'all\'', 'rss'),
       ('mtproxy_process', 'mean("num_fds")', '"role" = \'all\'', 'descriptors')],
      [('collectd_mtproxy_ps_rss{%s,type="all"}' % P_SEL, '{{exported_instance}} {{mtproxy}} rss'),
       ('collectd_mtproxy_file_handles{%s,type="all"}' % P_SEL, '{{exported_instance}} {{mtproxy}} descriptors')],
      'resident memory and open descriptors of all the proxy\'s processes')
panel('Connections by country', 'none', 'geomap', 16, 12,
      [('mtproxy_country', 'last("connections")', '', 'connections')],
      [('sum by (country) (label_replace(collectd_mtproxy_tcp_connections{%s,type=~"country-.+"}, '
        '"country", "$1", "type", "country-(.+)"))' % P_SEL, '{{country}}')],
      'client connections per country (ISO 3166 alpha-2, from the GeoIP database)')
panel('Countries', 'none', 'table', 8, 12,
      [('mtproxy_country', 'last("connections")', '', 'connections'),
       ('mtproxy_country', 'last("unique_ips")', '', 'distinct IPs')],
      [('sum by (country) (label_replace(collectd_mtproxy_tcp_connections{%s,type=~"country-.+"}, '
        '"country", "$1", "type", "country-(.+)"))' % P_SEL, '{{country}}'),
       ('sum by (country) (label_replace(collectd_mtproxy_gauge{%s,type=~"country-.+-unique_ips"}, '
        '"country", "$1", "type", "country-(.+)-unique_ips"))' % P_SEL, '{{country}}')],
      'connections and distinct IPs per country')
panel('Fleet: distinct people', 'none', 'timeseries', 12, 8,
      # every agent of a fleet reports the same figures (each proxy's line overlays the others)
      [('mtproxy_fleet', 'max("distinct_ips_%s")' % w, '"country" = \'\'', w,
        'SELECT max("distinct_ips_%s") FROM "mtproxy_fleet" WHERE {cond} AND $timeFilter '
        'GROUP BY time($__interval), "host", "instance", "fleet" fill(null)' % w,
        '$tag_host $tag_instance $tag_fleet %s' % w) for w in ('1h', '24h', '7d')],
      [('collectd_mtproxy_gauge{%s,type=~"fleet-.+-distinct_ips_%s"}' % (P_SEL, w),
        '{{exported_instance}} {{mtproxy}} {{type}}') for w in ('1h', '24h', '7d')],
      'distinct client IPs across every proxy of a fleet (FleetName), from the fleet\'s Redis: this UTC hour, '
      'the last 24 hours, the last 7 days (HyperLogLog, about 0.8% error)')


def thresholds_of(p):
    steps = p['thresholds'] or [(None, 'green')]
    return {'mode': 'absolute', 'steps': [{'color': c, 'value': v} for v, c in steps]}


def geomap_options():
    return {
        'view': {'id': 'zero', 'lat': 20, 'lon': 0, 'zoom': 1},
        'controls': {'showZoom': True, 'mouseWheelZoom': False},
        'basemap': {'type': 'default', 'name': 'Basemap'},
        'layers': [{
            'type': 'markers', 'name': 'Connections',
            'location': {'mode': 'lookup', 'lookup': 'country', 'gazetteer': 'public/gazetteer/countries.json'},
            'config': {'showLegend': True,
                       'style': {'size': {'field': 'connections', 'min': 4, 'max': 40, 'fixed': 5},
                                 'color': {'fixed': 'dark-green'}, 'opacity': 0.5,
                                 'text': {'mode': 'field', 'field': 'connections', 'fixed': ''},
                                 'textConfig': {'fontSize': 10, 'offsetY': -12}}},
        }],
    }


def build(flavour):
    if flavour == 'influxdb':
        ds = {'type': 'influxdb', 'uid': '${DS_INFLUXDB}'}
        inputs = [{'name': 'DS_INFLUXDB', 'label': 'InfluxDB', 'type': 'datasource', 'pluginId': 'influxdb',
                   'pluginName': 'InfluxDB', 'description': 'the database Telegraf writes to (InfluxQL)'}]
        var = {'name': 'instance', 'label': 'instance', 'type': 'query', 'datasource': ds,
               'query': 'SHOW TAG VALUES FROM "mtproxy" WITH KEY = "instance"',
               'definition': 'SHOW TAG VALUES FROM "mtproxy" WITH KEY = "instance"'}
        host = {'name': 'host', 'label': 'host', 'type': 'query', 'datasource': ds,
                'query': 'SHOW TAG VALUES FROM "mtproxy" WITH KEY = "host"',
                'definition': 'SHOW TAG VALUES FROM "mtproxy" WITH KEY = "host"'}
        title, uid = 'MTProxy (Telegraf, InfluxDB)', 'mtproxy-influxdb'
    else:
        ds = {'type': 'prometheus', 'uid': '${DS_PROMETHEUS}'}
        inputs = [{'name': 'DS_PROMETHEUS', 'label': 'Prometheus', 'type': 'datasource',
                   'pluginId': 'prometheus', 'pluginName': 'Prometheus',
                   'description': 'Prometheus scraping collectd\'s write_prometheus'}]
        var = {'name': 'instance', 'label': 'instance', 'type': 'query', 'datasource': ds,
               'query': {'query': 'label_values(collectd_mtproxy_gauge{type="up"}, mtproxy)', 'refId': 'v'},
               'definition': 'label_values(collectd_mtproxy_gauge{type="up"}, mtproxy)'}
        host = {'name': 'host', 'label': 'host', 'type': 'query', 'datasource': ds,
                'query': {'query': 'label_values(collectd_mtproxy_gauge{type="up"}, exported_instance)',
                          'refId': 'h'},
                'definition': 'label_values(collectd_mtproxy_gauge{type="up"}, exported_instance)'}
        var['query'] = {'query': 'label_values(collectd_mtproxy_gauge{exported_instance=~"$host",type="up"}, '
                                 'mtproxy)', 'refId': 'v'}
        var['definition'] = var['query']['query']
        title, uid = 'MTProxy (collectd, Prometheus)', 'mtproxy-prometheus'
    for v in (var, host):
        if v:
            v.update({'includeAll': True, 'multi': True, 'refresh': 2, 'sort': 1,
                      'current': {'selected': True, 'text': ['All'], 'value': ['$__all']}})
    panels, x, y, row_h = [], 0, 0, 0
    for i, p in enumerate(PANELS):
        if x + p['w'] > 24:
            x, y, row_h = 0, y + row_h, 0
        targets = []
        for j, t in enumerate(p['influx'] if flavour == 'influxdb' else p['prom']):
            ref = chr(ord('A') + j)
            if flavour == 'influxdb':
                meas, sel, where, alias = t[:4]
                cond = '"instance" =~ /^$instance$/ AND "host" =~ /^$host$/'
                if where:
                    cond += ' AND ' + where
                if len(t) > 4:      # a query of its own (range-correct counters, per-secret series)
                    targets.append({'refId': ref, 'datasource': ds, 'rawQuery': True,
                                    'query': t[4].replace('{cond}', cond), 'resultFormat': 'time_series',
                                    'alias': t[5] if len(t) > 5 else '$tag_host $tag_instance %s' % alias})
                elif p['kind'] in ('geomap', 'table'):
                    # per proxy the last value, summed over the proxies of the selection
                    field = sel.split('"')[1]
                    q = ('SELECT sum("%s") AS "%s" FROM (SELECT %s AS "%s" FROM "%s" WHERE %s AND $timeFilter '
                         'GROUP BY "country", "host", "instance") GROUP BY "country"'
                         % (field, alias.replace(' ', '_'), sel, field, meas, cond))
                    targets.append({'refId': ref, 'datasource': ds, 'rawQuery': True, 'query': q,
                                    'resultFormat': 'table'})
                else:
                    q = ('SELECT %s FROM "%s" WHERE %s AND $timeFilter GROUP BY time($__interval), '
                         '"host", "instance" fill(null)' % (sel, meas, cond))
                    targets.append({'refId': ref, 'datasource': ds, 'rawQuery': True, 'query': q,
                                    'resultFormat': 'time_series',
                                    'alias': '$tag_host $tag_instance %s' % alias})
            else:
                expr, legend = t
                tgt = {'refId': ref, 'datasource': ds, 'expr': expr, 'legendFormat': legend}
                if p['kind'] in ('geomap', 'table'):
                    tgt.update({'instant': True, 'format': 'table', 'range': False})
                targets.append(tgt)
        panel_json = {
            'id': i + 1, 'type': p['kind'], 'title': p['title'], 'description': p['description'],
            'datasource': ds, 'gridPos': {'x': x, 'y': y, 'w': p['w'], 'h': p['h']},
            'fieldConfig': {'defaults': {'unit': p['unit'], 'thresholds': thresholds_of(p),
                                         'color': {'mode': 'thresholds' if p['kind'] in ('stat', 'gauge')
                                                   else 'palette-classic'}},
                            'overrides': []},
            'targets': targets,
        }
        if p['kind'] == 'stat':
            panel_json['options'] = {'reduceOptions': {'calcs': ['lastNotNull'], 'fields': '', 'values': False},
                                     'colorMode': 'background', 'graphMode': 'area', 'textMode': 'auto'}
        elif p['kind'] == 'gauge':
            panel_json['fieldConfig']['defaults'].update({'min': 0, 'max': 100})
            panel_json['options'] = {'reduceOptions': {'calcs': ['lastNotNull'], 'fields': '', 'values': False}}
        elif p['kind'] == 'geomap':
            panel_json['options'] = geomap_options()
            if flavour != 'influxdb':
                panel_json['transformations'] = [{'id': 'organize', 'options': {
                    'renameByName': {'Value': 'connections'}, 'excludeByName': {'Time': True}}}]
        elif p['kind'] == 'table':
            if flavour == 'influxdb':
                panel_json['transformations'] = [
                    {'id': 'merge', 'options': {}},
                    {'id': 'organize', 'options': {'excludeByName': {'Time': True}}}]
            else:
                panel_json['transformations'] = [
                    {'id': 'merge', 'options': {}},
                    {'id': 'organize', 'options': {
                        'excludeByName': {'Time': True},
                        'renameByName': {'Value #A': 'connections', 'Value #B': 'distinct IPs'}}}]
            panel_json['options'] = {'showHeader': True,
                                     'sortBy': [{'displayName': 'connections', 'desc': True}]}
        panels.append(panel_json)
        x += p['w']
        row_h = max(row_h, p['h'])
    return {
        '__inputs': inputs,
        '__requires': [{'type': 'grafana', 'id': 'grafana', 'name': 'Grafana', 'version': '9.1.0'},
                       {'type': 'panel', 'id': 'geomap', 'name': 'Geomap', 'version': ''},
                       {'type': 'datasource', 'id': inputs[0]['pluginId'], 'name': inputs[0]['pluginName'],
                        'version': '1.0.0'}],
        'title': title, 'uid': uid, 'tags': ['mtproxy', 'telegram'], 'timezone': '',
        'schemaVersion': 37, 'version': 1, 'editable': True, 'refresh': '30s',
        'time': {'from': 'now-6h', 'to': 'now'},
        'templating': {'list': [v for v in (host, var) if v]},
        'annotations': {'list': []},
        'panels': panels,
    }


def main():
    for flavour, name in (('influxdb', 'mtproxy-influxdb.json'), ('prometheus', 'mtproxy-prometheus.json')):
        with open(os.path.join(HERE, name), 'w') as f:
            json.dump(build(flavour), f, indent=2, sort_keys=False)
            f.write('\n')


if __name__ == '__main__':
    main()
