#!/bin/sh
# install-deps.sh — installs the Debian packages that building and testing need,
# only those missing, so `make test` and `make demo` work on a fresh Debian 12.
set -e
PACKAGES="build-essential pkg-config clang curl python3 procps iproute2
collectd collectd-core collectd-dev collectd-utils libyajl2 libmicrohttpd12 libprotobuf-c1
libcurl4-openssl-dev libyajl-dev libmaxminddb-dev libhiredis-dev redis-server mmdb-bin
influxdb influxdb-client prometheus zabbix-agent zabbix-proxy-sqlite3 python3-yaml valgrind man-db groff-base debhelper dpkg-dev fakeroot lintian rpm rpmlint"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
