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
PKGS      = libcurl yajl libmaxminddb libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   += $(CSTD) $(WARN) $(OPT) -fPIC $(PKG_CFLAGS) -Icommon
LDLIBS   += $(PKG_LIBS) -lm
COLLECTD_CFLAGS = -DHAVE_CONFIG_H -I/usr/include/collectd

CORE_SRC  := $(wildcard common/*.c)
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

$(BUILD)/%.o: %.c $(wildcard common/*.h) $(wildcard telegraf-execd/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/mtproxy.so: $(PLUGIN_SRC) $(CORE_LIB) $(wildcard collectd-plugin/*.h) $(wildcard common/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(COLLECTD_CFLAGS) -shared -o $@ $(PLUGIN_SRC) $(CORE_LIB) $(LDLIBS)

$(BUILD)/mtproxy-telegraf: $(EXECD_OBJ) $(CORE_LIB)
	$(CC) $(CFLAGS) -o $@ $(EXECD_OBJ) $(CORE_LIB) $(LDLIBS)

# Unit tests link the core and the execd writers (everything but main.o).
$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itelegraf-execd -o $@ $< $(EXECD_LIB_OBJ) $(CORE_LIB) $(LDLIBS)

# The line-protocol property test's tool uses the real writer.
$(BUILD)/tools/lp_writer_tool: tests/tools/lp_writer_tool.c $(CORE_LIB) $(EXECD_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itelegraf-execd -o $@ $< $(EXECD_LIB_OBJ) $(CORE_LIB) $(LDLIBS)

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
	EXTRA_UNIT_BUILDS=$(BUILD)/asan /usr/bin/python3 tests/run_tests.py

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
.PHONY: asan fuzz fuzz-build fuzz-bins fuzz-replay
asan:
	$(MAKE) CC=clang BUILD=$(BUILD)/asan OPT="$(SAN_FLAGS)" unit tools

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
# ---- end of hardening ----------------------------------------------------------------------------
