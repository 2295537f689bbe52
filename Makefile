# Makefile — builds the f1tel extension (PGXS), its two programs and its tests.
#
#   make                   the extension, f1tel-broker, f1tel-feed and f1tel-dash
#   make install           installs them (programs into $(TOOLS_BINDIR), on the PATH)
#   make unit              plain-C unit tests of the decoders and the sink (no server)
#   make unit-mqtt         the MQTT client's test against a Mosquitto it starts
#   make installcheck      pg_regress tests, then TAP tests (needs make install)
#   test/run-tests.sh      all of the above from nothing: the README's test command

EXTENSION = f1tel
# the one place the version is written: f1tel.control's default_version
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = f1tel
OBJS = \
	src/shared/f1tel.o \
	src/shared/backoff.o \
	src/shared/guc.o \
	src/shared/kafka_conf.o \
	src/shared/launcher.o \
	src/shared/cutil.o \
	src/shared/endpoints.o \
	src/shared/extension.o \
	src/shared/kafka_client.o \
	src/shared/session.o \
	src/shared/spi.o \
	src/shared/xact.o \
	src/ingest/decode.o \
	src/ingest/decode_batch.o \
	src/ingest/json_scan.o \
	src/ingest/timestamp.o \
	src/ingest/gap.o \
	src/ingest/consumer.o \
	src/ingest/offsets.o \
	src/ingest/sqlapi.o \
	src/ingest/store.o \
	src/ingest/append.o \
	src/ingest/partitions.o \
	src/ingest/batch.o \
	src/ingest/worker.o \
	src/sink/auth.o \
	src/sink/bigquery.o \
	src/sink/bq_answer.o \
	src/sink/bq_body.o \
	src/sink/bq_schema.o \
	src/sink/http.o \
	src/sink/json_text.o \
	src/sink/jwt.o \
	src/sink/oauth.o \
	src/sink/standbys.o \
	src/sink/topic.o src/sink/topic_check.o \
	src/sink/worker.o

# The install script is put together from the pipeline's stages.
# the enrichment's files in the order their objects depend on each other
ENRICH_SQL = src/enrich/driver_laps.sql src/enrich/changes.sql src/enrich/triggers.sql \
	src/enrich/views.sql src/enrich/race_views.sql src/enrich/notify.sql
SQL_PARTS = \
	src/shared/header.sql \
	src/ingest/schema.sql \
	$(ENRICH_SQL) \
	src/sink/schema.sql \
	src/shared/footer.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# one upgrade script per version step (sql/upgrade/README.md): ALTER EXTENSION
# f1tel UPDATE from every released version
DATA = $(wildcard sql/upgrade/$(EXTENSION)--*--*.sql)

REGRESS = $(basename $(notdir $(wildcard sql/[0-9]*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf --temp-instance=./tmp_check \
	--load-extension=$(EXTENSION)

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
# The TAP tests of the streams, which test/run-tests.sh runs a second time on
# Apache Kafka (F1TEL_TEST_KAFKA=kafka); the 1xx_kafka_* tests need it (they
# skip on the embedded broker).  The others exercise PostgreSQL's or
# BigQuery's side and run on the embedded broker only: upgrade, dump,
# failover, security, memory; two workers (groups on Kafka are
# 111_kafka_rebalance's), BigQuery's faults (041) and its schema upgrade (045).
KAFKA_TAP_TESTS = test/t/001_replay.pl test/t/002_faults.pl test/t/003_bad_messages.pl \
	test/t/005_lifecycle.pl test/t/022_enrich_e2e.pl \
	test/t/040_sink.pl test/t/043_sink_safety.pl test/t/044_sink_shutdown.pl \
	$(wildcard test/t/1[0-9][0-9]_kafka_*.pl)
# test/run-tests.sh runs two TAP files at a time (prove -j); the longest go
# first so that the two lanes end together (seconds measured in CI's runs)
TAP_SLOW_FIRST = test/t/110_kafka_cluster.pl test/t/041_sink_faults.pl \
	test/t/020_enrich_order.pl test/t/080_dump_restore.pl test/t/111_kafka_rebalance.pl \
	test/t/043_sink_safety.pl test/t/131_openf1_live.pl test/t/132_openf1_mqtt.pl \
	test/t/120_kafka_sasl.pl test/t/130_openf1_history.pl test/t/140_dash_browser.pl
slow_first = $(filter $(1),$(TAP_SLOW_FIRST)) $(filter-out $(TAP_SLOW_FIRST),$(1))
ALL_TAP_ORDERED = $(call slow_first,$(sort $(wildcard test/t/*.pl)))
KAFKA_TAP_ORDERED = $(call slow_first,$(KAFKA_TAP_TESTS))

PKG_LIBS = json-c rdkafka libcurl openssl zlib
PG_CPPFLAGS = $(shell pkg-config --cflags $(PKG_LIBS)) -I$(srcdir)/src -DF1TEL_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
SHLIB_LINK = $(shell pkg-config --libs $(PKG_LIBS))

TOOLS = src/tools/f1tel-broker src/tools/f1tel-feed src/tools/f1tel-dash
TOOLS_BINDIR ?= /usr/local/bin
TOOL_CFLAGS = -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-I$(srcdir)/src $(shell pkg-config --cflags json-c rdkafka zlib)

EXTRA_CLEAN = tmp_fuzz tmp_fuzz_diff $(TOOLS) src/tools/dash_assets.c $(UNIT_TESTS) $(MQTT_UNITS) test/unit/fuzz_decode \
	test/unit/fuzz_decode_diff test/unit/bench_decode results tmp_check log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
# after PGXS, whose Makefile.global empties it: each TAP test's time in the
# output (where CI's minutes go); the tests find test/lib with `use lib`
PROVE_FLAGS = --timer

all: $(TOOLS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# ---- programs (plain C, no server headers) ---------------------------------

FEED_SRCS = src/tools/f1tel_feed.c src/shared/endpoints.c src/tools/feed_load.c \
	src/tools/feed_scan.c src/tools/feed_rewrite.c src/tools/feed_order.c \
	src/tools/feed_send.c src/tools/feed_topics.c src/tools/feed_progress.c src/ingest/timestamp.c
# the OpenF1 source of f1tel-feed (--openf1): REST over libcurl, MQTT over
# libmosquitto (no pkg-config file on Debian 12: -lmosquitto)
FEED_SRCS += src/tools/openf1_http.c src/tools/openf1_history.c src/tools/openf1_live.c \
	src/tools/openf1_seen.c src/tools/openf1_push.c src/tools/openf1_mqtt.c
FEED_LIBS = json-c rdkafka zlib libcurl
src/tools/f1tel-feed: $(FEED_SRCS) src/tools/feed.h src/shared/endpoints.h src/ingest/decode.h \
		src/tools/openf1.h src/tools/openf1_http.h src/tools/openf1_live.h \
		src/tools/openf1_seen.h src/tools/openf1_mqtt.h
	$(CC) $(TOOL_CFLAGS) -o $@ $(FEED_SRCS) $(shell pkg-config --libs $(FEED_LIBS)) \
		-lmosquitto -lpthread -lm

# -rdynamic: the broker defines its own bind() to give the mock cluster a fixed port.
BROKER_SRCS = src/tools/f1tel_broker.c src/tools/broker_bind.c
src/tools/f1tel-broker: $(BROKER_SRCS) src/tools/broker.h
	$(CC) $(TOOL_CFLAGS) -rdynamic -o $@ $(BROKER_SRCS) $(shell pkg-config --libs rdkafka) -ldl

# the dashboard: libmicrohttpd + libpq, its page embedded at build time.  The
# chart library (uPlot) comes from npm, pinned by package-lock.json, fetched
# once into src/tools/dash/web/node_modules (npm ci; no install scripts run).
DASH_WEB = src/tools/dash/web
UPLOT = $(DASH_WEB)/node_modules/uplot/dist
DASH_FILES = $(DASH_WEB)/index.html $(DASH_WEB)/app.js $(DASH_WEB)/app.css \
	$(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css
DASH_SRCS = src/tools/f1tel_dash.c src/tools/dash_db.c src/tools/dash_http.c \
	src/tools/dash_json.c src/tools/dash_queries.c src/tools/dash_store.c
$(UPLOT)/uPlot.iife.min.js: $(DASH_WEB)/package-lock.json
	cd $(DASH_WEB) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css
$(UPLOT)/uPlot.min.css: $(UPLOT)/uPlot.iife.min.js
src/tools/dash_assets.c: $(DASH_FILES) src/tools/dash/embed.sh
	sh src/tools/dash/embed.sh $(DASH_FILES) > $@.tmp && mv $@.tmp $@
src/tools/f1tel-dash: $(DASH_SRCS) src/tools/dash_assets.c src/tools/dash.h
	$(CC) $(TOOL_CFLAGS) -I$(shell $(PG_CONFIG) --includedir) -o $@ $(DASH_SRCS) \
		src/tools/dash_assets.c -L$(shell $(PG_CONFIG) --libdir) -lpq -lmicrohttpd -lpthread

install: install-tools
install-tools: $(TOOLS)
	$(MKDIR_P) '$(DESTDIR)$(TOOLS_BINDIR)'
	$(INSTALL_PROGRAM) $(TOOLS) '$(DESTDIR)$(TOOLS_BINDIR)'

uninstall: uninstall-tools
uninstall-tools:
	rm -f $(addprefix '$(DESTDIR)$(TOOLS_BINDIR)'/,$(notdir $(TOOLS)))

# ---- unit tests and fuzzing of the plain-C code -----------------------------

# the OpenF1 decoder (the fuzzer's too): fields, messages, recorded sessions, timestamps,
# gap fields, the race endpoints
UNIT_SRCS = src/ingest/decode.c src/ingest/decode_batch.c src/ingest/json_scan.c \
	src/shared/endpoints.c src/ingest/timestamp.c \
	src/ingest/gap.c
# the decoder as it was with json-c: the reference of the differential tests
JSONC_REF = test/unit/decode_jsonc.c
DECODE_UNITS = test/unit/test_decode_fields test/unit/test_decode_messages \
	test/unit/test_decode_recorded test/unit/test_timestamp test/unit/test_decode_gaps \
	test/unit/test_decode_race test/unit/test_json_scan test/unit/test_decode_diff
$(DECODE_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h $(UNIT_SRCS) $(JSONC_REF) \
		src/ingest/decode.h src/ingest/decode_int.h src/ingest/json_scan.h \
		test/unit/decode_jsonc.h src/shared/endpoints.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -o $@ $< $(UNIT_SRCS) $(JSONC_REF) \
		$(shell pkg-config --libs json-c) $(shell pkg-config --libs zlib)
test/unit/test_decode_fields: test/unit/decode_check.h test/unit/openf1_records.h test/unit/read_file.h
test/unit/test_decode_messages test/unit/test_decode_gaps test/unit/test_decode_race: \
	test/unit/decode_check.h test/unit/openf1_records.h test/unit/handwritten_records.h
test/unit/test_decode_recorded: test/unit/decode_check.h test/unit/read_file.h
test/unit/test_decode_diff: test/unit/decode_check.h test/unit/read_file.h test/unit/decode_diff.h

# old (json-c) and new decoder's ns per message on 9189's car_data, location
# and laps: not part of `make unit` (no sanitizers, -O2): `make bench-decode`
test/unit/bench_decode: test/unit/bench_decode.c test/unit/read_file.h $(UNIT_SRCS) $(JSONC_REF) \
		src/ingest/decode.h src/ingest/json_scan.h
	$(CC) $(TOOL_CFLAGS) -o $@ $< $(UNIT_SRCS) $(JSONC_REF) \
		$(shell pkg-config --libs json-c) $(shell pkg-config --libs zlib)
bench-decode: test/unit/bench_decode
	test/unit/bench_decode
.PHONY: bench-decode

# the BigQuery sink's plain-C pieces (JWT auth, REST bodies and answers, schema upgrade) and back-off
SINK_UNIT_SRCS = src/sink/jwt.c src/sink/oauth.c src/sink/bq_body.c src/sink/bq_answer.c \
	src/sink/bq_schema.c src/sink/json_text.c src/shared/backoff.c src/shared/cutil.c
SINK_UNITS = test/unit/test_key_file test/unit/test_jwt test/unit/test_oauth \
	test/unit/test_bq_body test/unit/test_bq_answer test/unit/test_bq_schema test/unit/test_backoff \
	test/unit/test_errclass
$(SINK_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h $(SINK_UNIT_SRCS) src/sink/jwt.h \
		src/sink/oauth.h src/sink/bq_json.h src/sink/json_text.h src/shared/backoff.h src/shared/cutil.h
	$(CC) $(TOOL_CFLAGS) $(shell pkg-config --cflags openssl) -fsanitize=address,undefined \
		-o $@ $< $(SINK_UNIT_SRCS) \
		$(shell pkg-config --libs json-c openssl zlib)
test/unit/test_key_file test/unit/test_jwt: test/unit/json_check.h test/unit/test_keys.h
test/unit/test_oauth test/unit/test_bq_answer test/unit/test_bq_schema: test/unit/json_check.h
test/unit/test_bq_body: test/unit/json_check.h test/unit/read_file.h
test/unit/test_errclass: src/ingest/errclass.h

# the sink's auth code wipes secrets before free(): free() is wrapped to look
# into each block (so no ASan, which replaces malloc)
WIPE_UNITS = test/unit/test_wipe
$(WIPE_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h test/unit/test_keys.h \
		test/unit/json_check.h $(SINK_UNIT_SRCS) src/sink/jwt.h src/sink/oauth.h
	$(CC) $(TOOL_CFLAGS) $(shell pkg-config --cflags openssl) -fsanitize=undefined \
		-Wl,--wrap=free -o $@ $< $(SINK_UNIT_SRCS) $(shell pkg-config --libs json-c openssl zlib)

# the parser of f1tel.kafka_config and its file, against the real librdkafka
KAFKA_CONF_UNITS = test/unit/test_kafka_conf
$(KAFKA_CONF_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h src/shared/kafka_conf.c \
		src/shared/kafka_conf.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -o $@ $< src/shared/kafka_conf.c \
		$(shell pkg-config --libs rdkafka)

# every program runs, even after one of them fails; then the run fails if any did
# f1tel-feed's OpenF1 source: what a live follower published, query pieces
OPENF1_UNIT_SRCS = src/tools/openf1_seen.c src/tools/openf1_history.c src/tools/openf1_http.c \
	src/tools/feed_scan.c src/tools/feed_progress.c src/shared/endpoints.c src/ingest/timestamp.c
OPENF1_UNITS = test/unit/test_openf1_seen
$(OPENF1_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h $(OPENF1_UNIT_SRCS) \
		src/tools/openf1.h src/tools/openf1_seen.h src/tools/openf1_http.h src/tools/feed.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -o $@ $< $(OPENF1_UNIT_SRCS) \
		$(shell pkg-config --libs json-c rdkafka zlib libcurl)

# f1tel-dash's plain-C pieces: JSON strings, the request's parameters, parts of tables
DASH_UNITS = test/unit/test_dash
$(DASH_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h src/tools/dash_json.c \
		src/tools/dash_store.c src/tools/dash.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -o $@ $< src/tools/dash_json.c \
		src/tools/dash_store.c -lpthread

UNIT_TESTS = $(DECODE_UNITS) $(SINK_UNITS) $(WIPE_UNITS) $(KAFKA_CONF_UNITS) $(OPENF1_UNITS) \
	$(DASH_UNITS)
unit: $(UNIT_TESTS)
	@failed=0; for t in $(UNIT_TESTS); do echo $$t; $$t || failed=$$((failed + 1)); done; \
	if [ $$failed -ne 0 ]; then echo "unit: $$failed of $(words $(UNIT_TESTS)) programs failed"; exit 1; fi

# f1tel-feed's MQTT client (src/tools/openf1_mqtt.c) against a real Mosquitto
# (TLS, passwords) that the program starts itself on a free port: not in
# `make unit` (no server there); test/run-tests.sh runs `make unit-mqtt`.
# No ASan, so that it runs under valgrind too: `make unit-mqtt-valgrind`
# (any leak, even a possible one, fails it; none needs a suppression).
MQTT_UNITS = test/unit/test_openf1_mqtt
$(MQTT_UNITS): test/unit/%: test/unit/%.c test/unit/harness.h src/tools/openf1_mqtt.c \
		src/tools/openf1_mqtt.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=undefined -o $@ $< src/tools/openf1_mqtt.c -lmosquitto -lpthread
unit-mqtt: $(MQTT_UNITS)
	test/unit/test_openf1_mqtt
unit-mqtt-valgrind: $(MQTT_UNITS)
	valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
		test/unit/test_openf1_mqtt
.PHONY: unit-mqtt unit-mqtt-valgrind

test/unit/fuzz_decode: test/unit/fuzz_decode.c $(UNIT_SRCS) src/ingest/decode.h src/shared/endpoints.h
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I$(srcdir)/src \
		$(shell pkg-config --cflags json-c) -o $@ test/unit/fuzz_decode.c $(UNIT_SRCS) \
		$(shell pkg-config --libs json-c)
# the differential one: the scanner decoder against the json-c one
test/unit/fuzz_decode_diff: test/unit/fuzz_decode_diff.c test/unit/decode_diff.h $(UNIT_SRCS) \
		$(JSONC_REF) src/ingest/decode.h src/ingest/json_scan.h src/shared/endpoints.h
	clang -g -O1 -fsanitize=fuzzer,address,undefined -I$(srcdir)/src -I$(srcdir)/test/unit \
		$(shell pkg-config --cflags json-c) -o $@ test/unit/fuzz_decode_diff.c $(UNIT_SRCS) \
		$(JSONC_REF) $(shell pkg-config --libs json-c)

# new inputs go to a scratch folder; test/unit/corpus holds the seeds only.
# FUZZ_TIME bounds the run in seconds (test/run-tests.sh runs a short one).
FUZZ_TIME ?= 60
fuzz: test/unit/fuzz_decode test/unit/fuzz_decode_diff
	mkdir -p tmp_fuzz tmp_fuzz_diff
	test/unit/fuzz_decode -max_total_time=$(FUZZ_TIME) tmp_fuzz test/unit/corpus
	test/unit/fuzz_decode_diff -max_total_time=$(FUZZ_TIME) -dict=test/unit/fuzz_json.dict \
		tmp_fuzz_diff test/unit/corpus

.PHONY: install-tools uninstall-tools unit fuzz

# the benchmark (test/bench/README.md): about 10 minutes, not part of the tests
bench:
	test/bench/run.sh
.PHONY: bench

# the library's version is compiled in: rebuild it when the version changes
src/shared/extension.o: $(EXTENSION).control

# every object depends on every header of the tree (PGXS tracks no header
# dependencies): a changed struct never links against stale objects
$(OBJS): $(wildcard src/*/*.h)
