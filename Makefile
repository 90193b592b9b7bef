# One non-recursive Makefile for the quiz backend.
#   make          release binaries in build/ (quiz-gateway, quiz-worker, quizctl)
#   make run      install what is missing, start PostgreSQL under var/, run the stack
#   make test     unit + integration tests, built with ASan/UBSan in build-asan/, and a short
#                 pass of every libFuzzer target (build-fuzz/)
#   make fuzz     each libFuzzer target for FUZZ_SECONDS (600)
#   make bench    optimised stack under wrk (see bench/README.md); bench-tenants, bench-curve,
#                 bench-move, bench-fleet, bench-neighbour, bench-pooler; make soak (memory)

CC      ?= cc
GW_LIBS := libzmq msgpack libsystemd jansson libsodium
WK_LIBS := libzmq msgpack libpq libsystemd jansson libsodium
LIBS    := libzmq msgpack libpq libsystemd jansson libsodium
TLIBS   := $(LIBS) criterion libcurl
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wundef -Wno-unused-parameter
CFLAGS  := -std=c17 -D_GNU_SOURCE -g -O2 $(WARN) -I. $(shell pkg-config --cflags $(TLIBS) 2>/dev/null)
GW_LDLIBS := $(shell pkg-config --libs $(GW_LIBS) 2>/dev/null) -lcivetweb -lpthread
WK_LDLIBS := $(shell pkg-config --libs $(WK_LIBS) 2>/dev/null) -lcivetweb -lpthread
TLDLIBS := $(shell pkg-config --libs $(TLIBS) 2>/dev/null) -lcivetweb -lpthread
CTL_LDLIBS := $(shell pkg-config --libs $(WK_LIBS) libcurl zlib 2>/dev/null) -lcivetweb -lpthread
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

COMMON_SRC  := $(wildcard common/*.c)
PROTO_SRC   := $(wildcard proto/*.c)
GW_SRC      := $(wildcard gateway/*.c)
WK_SRC      := $(wildcard worker/*.c)
CTL_SRC     := $(wildcard ctl/*.c)
SQL_FILES   := $(sort $(wildcard sql/shared/*.sql)) $(sort $(wildcard sql/tenant/*.sql))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
INTEG_SRC   := $(wildcard tests/integration/test_*.c)
HELPER_SRC  := $(wildcard tests/helpers/*.c)

# Objects for build dir $(1)
objs = $(patsubst %.c,$(1)/%.o,$(2))

GW_OBJ  = $(call objs,$(1),$(GW_SRC) $(PROTO_SRC) $(COMMON_SRC)) $(1)/openapi_embedded.o \
          $(1)/assets_embedded.o
WK_OBJ  = $(call objs,$(1),$(WK_SRC) $(PROTO_SRC) $(COMMON_SRC)) $(1)/sql_embedded.o
# quizctl runs the workers' own code where they share a job (fleet migrations): one code path.
CTL_OBJ = $(call objs,$(1),$(CTL_SRC) $(filter-out worker/wk_main.c,$(WK_SRC)) $(PROTO_SRC) \
          $(COMMON_SRC)) $(1)/sql_embedded.o

.PHONY: all run test fuzz unit integration bench bench-tenants bench-curve bench-move bench-fleet bench-neighbour bench-pooler soak deps clean format
all: build/quiz-gateway build/quiz-worker build/quizctl

build/quiz-gateway: $(call GW_OBJ,build)
	@echo "LD $@"; $(CC) -o $@ $^ $(GW_LDLIBS)
build/quiz-worker: $(call WK_OBJ,build)
	@echo "LD $@"; $(CC) -o $@ $^ $(WK_LDLIBS)
build/quizctl: $(call CTL_OBJ,build)
	@echo "LD $@"; $(CC) -o $@ $^ $(CTL_LDLIBS)
build-asan/quizctl: $(call CTL_OBJ,build-asan)
	@echo "LD $@"; $(CC) $(SAN) -o $@ $^ $(CTL_LDLIBS)
build-asan/quiz-gateway: $(call GW_OBJ,build-asan)
	@echo "LD $@"; $(CC) $(SAN) -o $@ $^ $(GW_LDLIBS)
build-asan/quiz-worker: $(call WK_OBJ,build-asan)
	@echo "LD $@"; $(CC) $(SAN) -o $@ $^ $(WK_LDLIBS)

build/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -MMD -MP -c -o $@ $<
build-asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $< (asan)"; $(CC) $(CFLAGS) $(SAN) -MMD -MP -c -o $@ $<

# Migrations are compiled into the worker so a deployed binary carries the schema it expects.
%/sql_embedded.c: $(SQL_FILES) sql/embed.sh
	@mkdir -p $(dir $@)
	@sh sql/embed.sh $(SQL_FILES) > $@
%/sql_embedded.o: %/sql_embedded.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# The OpenAPI document is served by the gateway from its own binary.
%/openapi_embedded.c: proto/openapi.json proto/embed_text.sh
	@mkdir -p $(dir $@)
	@sh proto/embed_text.sh gw_openapi_json proto/openapi.json gateway/gw_openapi.h > $@
%/openapi_embedded.o: %/openapi_embedded.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# The dashboard and the API reference, served from the gateway's binary (gateway/assets.txt).
# Swagger UI is fetched once from the npm registry, pinned and checked, into build/vendor/.
SWAGGER_UI  := build/vendor/swagger-ui
ASSET_FILES := $(shell grep -v '^\#' gateway/assets.txt | awk '{print $$2}')
$(SWAGGER_UI)/.version: gateway/docs/fetch_swagger_ui.sh
	@sh gateway/docs/fetch_swagger_ui.sh $(SWAGGER_UI)
$(filter $(SWAGGER_UI)/%,$(ASSET_FILES)): $(SWAGGER_UI)/.version ;
%/assets_embedded.c: gateway/assets.txt gateway/embed_assets.sh $(ASSET_FILES)
	@mkdir -p $(dir $@)
	@sh gateway/embed_assets.sh gateway/assets.txt > $@
%/assets_embedded.o: %/assets_embedded.c
	@$(CC) $(CFLAGS) -c -o $@ $<

# Each unit test links common/ and proto/ (the libraries both daemons build on) and, from
# gateway/ and worker/, only the modules under test and what they need, listed per test.
UNIT_BASE         := $(call objs,build-asan,$(PROTO_SRC) $(COMMON_SRC))
UNIT_test_route   := gateway/gw_route.c
UNIT_test_openapi := gateway/gw_route.c
UNIT_test_proxy   := gateway/gw_proxy.c
UNIT_test_limit   := gateway/gw_limit.c
UNIT_test_auth    := gateway/gw_auth.c
UNIT_test_pace    := worker/wk_pace.c
UNIT_test_cache   := worker/wk_cache.c
UNIT_test_kind    := worker/wk_kind.c worker/wk_json.c worker/wk_reply.c
UNIT_test_question_body := worker/wk_question_body.c $(UNIT_test_kind)
UNIT_test_json    := worker/wk_json.c worker/wk_reply.c
UNIT_test_page    := worker/wk_page.c worker/wk_reply.c
UNIT_test_metrics := gateway/gw_metrics.c gateway/gw_route.c
.SECONDEXPANSION:
build-asan/tests/unit/%: build-asan/tests/unit/%.o $(UNIT_BASE) $$(call objs,build-asan,$$(UNIT_$$*)) $$(if $$(filter test_openapi,$$*),build-asan/openapi_embedded.o)
	@echo "LD $@"; $(CC) $(SAN) -o $@ $^ $(TLDLIBS)
INTEG_DEPS := $(call objs,build-asan,$(HELPER_SRC) $(COMMON_SRC) $(PROTO_SRC))
build-asan/tests/integration/%: build-asan/tests/integration/%.o $(INTEG_DEPS)
	@echo "LD $@"; $(CC) $(SAN) -o $@ $^ $(TLDLIBS)

# libFuzzer targets (Debian's clang), each linked with the sources it exercises; tests/fuzz/run.sh.
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_fuzz_body      := worker/wk_json.c worker/wk_reply.c worker/wk_kind.c worker/wk_question_body.c
FUZZ_fuzz_cursor    := worker/wk_page.c worker/wk_reply.c
FUZZ_fuzz_route     := gateway/gw_route.c
FUZZ_fuzz_forwarded := gateway/gw_proxy.c
build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $< (fuzz)"; clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
build-fuzz/fuzz_%: build-fuzz/tests/fuzz/fuzz_%.o $(call objs,build-fuzz,$(PROTO_SRC) $(COMMON_SRC)) $$(call objs,build-fuzz,$$(FUZZ_fuzz_$$*))
	@echo "LD $@"; clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(WK_LDLIBS)

UNIT_BIN  := $(patsubst %.c,build-asan/%,$(UNIT_SRC))
INTEG_BIN := $(patsubst %.c,build-asan/%,$(INTEG_SRC))

deps:
	@sh deploy/dev/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@exec bash deploy/dev/run.sh

test: deps
	@$(MAKE) --no-print-directory $(UNIT_BIN) $(INTEG_BIN) $(FUZZ_BIN) build-asan/quiz-gateway build-asan/quiz-worker build-asan/quizctl
	@QUIZ_FUZZ_BINS="$(FUZZ_BIN)" sh tests/run.sh $(UNIT_BIN) -- $(INTEG_BIN)

# Each fuzz target for FUZZ_SECONDS (600), growing its corpus in build-fuzz/corpus/.
FUZZ_SECONDS ?= 600
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: deps
	@bash bench/run.sh

bench-curve: deps
	@bash bench/curve.sh

bench-move: deps
	@bash bench/move.sh

bench-fleet: deps
	@bash bench/fleet.sh

bench-neighbour: deps
	@bash bench/neighbour.sh

soak: deps
	@bash bench/soak.sh

bench-pooler: deps
	@bash bench/pooler.sh

bench-tenants: deps
	@$(MAKE) --no-print-directory all build/bench-argon2
	@bash bench/tenants.sh

build/bench-argon2: build/bench/argon2.o build/worker/wk_password.o
	@echo "LD $@"; $(CC) -o $@ $^ $(shell pkg-config --libs libsodium 2>/dev/null)

clean:
	rm -rf build build-asan build-bench build-fuzz

format:
	clang-format -i $(GW_SRC) $(WK_SRC) $(CTL_SRC) $(COMMON_SRC) $(PROTO_SRC) $(UNIT_SRC) $(INTEG_SRC) $(HELPER_SRC) $(FUZZ_SRC) */*.h tests/*/*.h

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)
.SECONDARY:
