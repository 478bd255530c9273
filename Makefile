# mtproxy-monitor — build, test, demo, bench.
#   make         build/mtproxy.so (collectd) and build/mtproxy-telegraf (Telegraf execd)
#   make test    installs missing Debian packages, builds, runs every test
#   make demo    the stats server, the real collectd and mtproxy-telegraf, live for a few intervals
#   make bench   socket-gather benchmarks against ss, /proc and a minimal netlink dump
CC       ?= gcc
BUILD    ?= build
CSTD      = -std=c11 -D_GNU_SOURCE
WARN      = -Wall -Wextra -Werror
OPT      ?= -O2 -g
PKGS      = libcurl yajl libmaxminddb hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(CSTD) $(WARN) $(OPT) -fPIC $(PKG_CFLAGS) -Icommon
LDLIBS   += $(PKG_LIBS) -lm
COLLECTD_CFLAGS = -DHAVE_CONFIG_H -I/usr/include/collectd

CORE_SRC  := $(shell find common -name '*.c' | sort)
CORE_HDR  := $(shell find common -name '*.h')
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB  := $(BUILD)/libmmcore.a
PLUGIN_SRC := $(wildcard collectd-plugin/*.c)
EXECD_SRC  := $(wildcard telegraf-execd/*.c)
EXECD_OBJ  := $(EXECD_SRC:%.c=$(BUILD)/%.o)
EXECD_LIB_OBJ := $(filter-out $(BUILD)/telegraf-execd/main.o,$(EXECD_OBJ))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all test unit tools deps demo bench clean fuzz
all: $(BUILD)/mtproxy.so $(BUILD)/mtproxy-telegraf $(BUILD)/man/mtproxy-telegraf.1.gz $(BUILD)/man/collectd-mtproxy.5.gz

$(BUILD)/%.o: %.c $(CORE_HDR) $(wildcard telegraf-execd/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mtproxy.so: $(PLUGIN_SRC) $(CORE_LIB) $(wildcard collectd-plugin/*.h) $(CORE_HDR)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(COLLECTD_CFLAGS) -shared -o $@ $(PLUGIN_SRC) $(CORE_LIB) $(LDLIBS)

$(BUILD)/mtproxy-telegraf: $(EXECD_OBJ) $(CORE_LIB)
	$(CC) $(CFLAGS) -o $@ $(EXECD_OBJ) $(CORE_LIB) $(LDLIBS)

# Unit tests link the core library (outputs included) and the execd flag parser.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itelegraf-execd -o $@ $< $(EXECD_LIB_OBJ) $(CORE_LIB) $(LDLIBS)

# The collectd front's dispatch.c against stubs of the daemon (collectd's curl_json_test pattern).
$(BUILD)/tests/test_collectd_dispatch: tests/unit/test_collectd_dispatch.c collectd-plugin/dispatch.c \
		$(wildcard collectd-plugin/*.h) tests/unit/check.h $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(COLLECTD_CFLAGS) -Icollectd-plugin -o $@ $< collectd-plugin/dispatch.c $(CORE_LIB) $(LDLIBS)

# The line-protocol property test's tool uses the real writer.
$(BUILD)/tools/lp_writer_tool: tests/tools/lp_writer_tool.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_LIB) $(LDLIBS)

$(BUILD)/tools/%: tests/tools/%.c $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(CORE_LIB) $(LDLIBS) -lpthread

# Man pages: written by hand in roff; tests/integration/test_telegraf_man.py
# and test_collectd_man.py check that man renders them without warnings.
$(BUILD)/man/%.gz: packaging/man/%
	@mkdir -p $(dir $@)
	gzip -9 -n -c $< > $@

unit: $(UNIT_BIN)
tools: $(TOOL_BIN)

deps:
	@tests/install-deps.sh

test: deps
	$(MAKE) all unit tools
	$(MAKE) CC=clang BUILD=$(BUILD)/clang all   # clang must build it warning-free too
	$(MAKE) asan fuzz-replay   # issue 8: unit tests under ASan+UBSan below, fuzz corpora replayed
	EXTRA_UNIT_BUILDS=$(BUILD)/asan \
	SANITIZED_INTEGRATION=$(BUILD)/asan:test_telegraf_influx,test_telegraf_modes,test_process_fronts,test_socket_fronts,test_security,test_implementations \
	/usr/bin/python3 tests/run_tests.py

demo: deps
	$(MAKE) all
	/usr/bin/python3 tests/demo.py

bench: deps
	$(MAKE) all tools
	/usr/bin/python3 tests/bench/run_bench.py

clean:
	rm -rf $(BUILD)

# ---- hardening (issue 8): make fuzz, make asan; `make test` replays the fuzz corpora and runs ----
# the C unit tests built with ASan+UBSan (clang). tests/fuzz/run_fuzz.py explains the corpora.
SAN_FLAGS    = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 30
FUZZ_OUT     ?= $(BUILD)/fuzz
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: asan fuzz fuzz-build fuzz-bins fuzz-replay fuzz-keep
asan:
	$(MAKE) CC=clang BUILD=$(BUILD)/asan OPT="$(SAN_FLAGS)" all unit tools

fuzz-build:
	$(MAKE) CC=clang BUILD=$(BUILD)/fuzz/lib FUZZ_OUT=$(FUZZ_OUT) OPT="$(SAN_FLAGS) -fsanitize=fuzzer-no-link" fuzz-bins

fuzz-bins: $(FUZZ_BIN)

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Itelegraf-execd -o $@ $< $(EXECD_LIB_OBJ) $(CORE_LIB) $(LDLIBS)

fuzz: deps fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) BUILD=$(BUILD) /usr/bin/python3 tests/fuzz/run_fuzz.py run

fuzz-replay: fuzz-build
	BUILD=$(BUILD) /usr/bin/python3 tests/fuzz/run_fuzz.py replay

# after `make fuzz`: what it found that adds coverage, into tests/fuzz/corpus/ (to commit);
# FUZZ_KEEP="prometheus_text sources state_file" limits it to those targets
fuzz-keep: fuzz-build
	BUILD=$(BUILD) /usr/bin/python3 tests/fuzz/run_fuzz.py keep $(FUZZ_KEEP)
# ---- end of hardening ----------------------------------------------------------------------------

# ---- packages (issue 7): make deb / make rpm -> build/packages/ ----------------------------------
# dpkg-buildpackage wants debian/ at the top of the source tree, and the top level of this project
# is fixed: the sources are copied to build/deb/mtproxy-monitor-$(PKG_VERSION)/ with
# packaging/debian as debian/.
PKG_VERSION = 0.1.0
PKG_SOURCES = Makefile README.md LICENSE common collectd-plugin telegraf-execd packaging docs tests/unit tests/tools tests/fixtures
.PHONY: deb rpm
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/mtproxy-monitor-$(PKG_VERSION) $(BUILD)/packages
	tar cf - $(PKG_SOURCES) | tar xf - -C $(BUILD)/deb/mtproxy-monitor-$(PKG_VERSION)
	cp -r packaging/debian $(BUILD)/deb/mtproxy-monitor-$(PKG_VERSION)/debian
	cd $(BUILD)/deb/mtproxy-monitor-$(PKG_VERSION) && dpkg-buildpackage -us -uc -b
	cp $(BUILD)/deb/*mtproxy_$(PKG_VERSION)_*.deb $(BUILD)/packages/
	if command -v lintian >/dev/null; then lintian --fail-on error,warning --pedantic -I \
	    $(BUILD)/deb/mtproxy-monitor_$(PKG_VERSION)_*.changes; fi
	@ls -l $(BUILD)/packages/*.deb

# rpmbuild from a source tarball of the same files. --nodeps: on Debian the BuildRequires are
# Debian packages that rpm's own database does not know. debug_package is off because Debian's
# rpm has no find-debuginfo, and its brp scripts (man page compression, strip) need bash but run
# under dash there. On Fedora/EL build with plain `rpmbuild -ba` instead.
rpm:
	rm -rf $(BUILD)/rpm && mkdir -p $(BUILD)/rpm/SOURCES $(BUILD)/packages
	tar czf $(BUILD)/rpm/SOURCES/mtproxy-monitor-$(PKG_VERSION).tar.gz \
	    --transform 's,^,mtproxy-monitor-$(PKG_VERSION)/,' $(PKG_SOURCES)
	rpmbuild -bb --nodeps --define '_topdir $(abspath $(BUILD)/rpm)' \
	    --define 'debug_package %{nil}' \
	    --define '__os_install_post bash /usr/lib/rpm/brp-compress; bash /usr/lib/rpm/brp-strip /usr/bin/strip' \
	    packaging/rpm/mtproxy-monitor.spec
	cp $(BUILD)/rpm/RPMS/*/*.rpm $(BUILD)/packages/
	if command -v rpmlint >/dev/null; then rpmlint -r packaging/rpm/mtproxy-monitor.rpmlintrc \
	    $(BUILD)/rpm/RPMS/*/*.rpm packaging/rpm/mtproxy-monitor.spec; fi
	@ls -l $(BUILD)/packages/*.rpm
# ---- end of packages -----------------------------------------------------------------------------

# ---- the quick loop (issue 21): make check -------------------------------------------------------
# The C unit tests and every fuzz corpus replayed once through the targets linked to a plain main()
# (tests/fuzz/replay_main.c), built by $(CC) like the rest: no clang, no daemons, about a minute
# from a built tree. Ends "N passed, N failed"; `make test` is still the whole suite.
CHECK_FUZZ_OUT := $(BUILD)/check-fuzz
CHECK_FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(CHECK_FUZZ_OUT)/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: check
check: unit $(CHECK_FUZZ_BIN)
	BUILD=$(BUILD) /usr/bin/python3 tests/run_check.py

$(CHECK_FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itelegraf-execd -o $@ $< tests/fuzz/replay_main.c $(EXECD_LIB_OBJ) $(CORE_LIB) $(LDLIBS)
# ---- end of the quick loop -----------------------------------------------------------------------

# ---- torture (issue 25): make torture -------------------------------------------------------------
# Every gather path with its Nth allocation failing, N = 1, 2 ... until a run completes, then the same
# with its Nth I/O call failing (tests/torture/torture.c explains the verdicts), under ASan+LSan+UBSan
# (clang). The failing calls are the core's own, wrapped at link time (tests/torture/fail_inject.c).
TORTURE_WRAP    = malloc calloc realloc strdup strndup open_memstream open openat read write writev \
                  recvmsg sendmsg sendto socket opendir fopen curl_easy_init curl_multi_init \
                  curl_multi_add_handle curl_multi_perform curl_multi_poll
TORTURE_BIN     = $(BUILD)/torture/torture
TORTURE_PAGES   = $(sort $(wildcard tests/fixtures/*.txt) $(wildcard tests/fixtures/peers/*/*.txt))
.PHONY: torture torture-bin
torture:
	$(MAKE) CC=clang BUILD=$(BUILD)/asan OPT="$(SAN_FLAGS)" torture-bin
	@rm -rf $(BUILD)/asan/torture/run && mkdir -p $(BUILD)/asan/torture/run
	/usr/bin/python3 tests/tools/write_test_mmdb.py $(BUILD)/asan/torture/run/test.mmdb 127.0.0.0/8=DE
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=exitcode=23 \
	    $(BUILD)/asan/torture/torture $(BUILD)/asan/torture/run $(BUILD)/asan/torture/run/test.mmdb $(TORTURE_PAGES)

torture-bin: $(TORTURE_BIN)

$(TORTURE_BIN): tests/torture/torture.c tests/torture/fail_inject.c tests/torture/fail_inject.h $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itelegraf-execd -Itests/torture -o $@ tests/torture/torture.c tests/torture/fail_inject.c \
	    $(EXECD_LIB_OBJ) $(CORE_LIB) $(foreach f,$(TORTURE_WRAP),-Wl,--wrap=$(f)) $(LDLIBS)
# ---- end of torture -------------------------------------------------------------------------------
