# Foresight — `make help` lists the targets.

CC      ?= cc
PKGS    := json-c yaml-0.1 libwebsockets
VERSION := $(shell cat VERSION)$(shell git rev-parse --short HEAD >/dev/null 2>&1 && echo "+$$(git rev-parse --short HEAD)")

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-Wwrite-strings -Wformat=2 -fno-common -Wpointer-arith -Wundef -Wold-style-definition \
	-Wredundant-decls -Wnested-externs -Wimplicit-fallthrough -Wcast-align -Wnull-dereference \
	-Wmissing-declarations -Wjump-misses-init -Wlogical-op -Wduplicated-cond -Wduplicated-branches

# SANITIZE=address,undefined builds everything with those sanitizers, in its own tree.
comma := ,
SANITIZE ?=
ifeq ($(SANITIZE),)
VARIANT  := release
OPT      := -O2 -D_FORTIFY_SOURCE=2
BINDIR   := bin
else
VARIANT  := san-$(subst $(comma),-,$(SANITIZE))
OPT      := -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
BINDIR   := build/$(VARIANT)/bin
endif

BUILD    := build/$(VARIANT)
# libcurl for HTTP and HTTPS only, built once by hack/libcurl.sh (which says why).
CACHE    ?= $(or $(FORESIGHT_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/foresight)
CURL_LIB := $(CACHE)/libcurl-http/lib/libcurl.a
# Its Debian version is in the flags below: a rebuilt libcurl rebuilds and relinks everything.
CURL_VERSION := $(file <$(CACHE)/libcurl-http/debian-version)
LIB_CFLAGS := -I$(CACHE)/libcurl-http/include $(shell pkg-config --cflags $(PKGS))
# Every library but glibc is linked statically, in dependency order: loading
# Debian's shared ones and relocating their symbols took 1 MiB of the idle
# RSS (BENCHMARKS.md), and the binary needs nothing but glibc at run time.
LDLIBS   += $(CURL_LIB) -Wl,-Bstatic -lwebsockets -lnghttp2 -lssl -lcrypto -ljson-c -lyaml -lz -lcap \
	-Wl,-Bdynamic -lpthread -lm
CFLAGS   += -std=c11 -g $(OPT) $(WARN) -D_GNU_SOURCE -DFORESIGHT_VERSION='"$(VERSION)"' \
	-Ioperator -MMD -MP $(LIB_CFLAGS)
# Relative relocations packed (DT_RELR): the statically linked libraries'
# pointers made the table 470 KB, read whole at every start.
LDFLAGS  += -Wl,-z,pack-relative-relocs $(if $(SANITIZE),-fsanitize=$(SANITIZE))

LIB_SRC  := $(filter-out operator/main.c,$(wildcard operator/*/*.c))
# Files the binary carries (it runs in a container without the repo), as C arrays.
GEN_SRC  := $(BUILD)/gen/alerts_template.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:.c=.o)
# Files under operator/*/assets/ are compiled in, as C arrays (the embed rule below).
EMBED    := $(wildcard operator/*/assets/*)
LIB_OBJ  += $(EMBED:%=$(BUILD)/gen/embed/%.o)
LIB      := $(BUILD)/libforesight.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOLS    := $(TOOL_SRC:tests/tools/%.c=$(BINDIR)/%)
FORMAT_FILES := $(wildcard operator/*.c operator/*/*.[ch] tests/*/*.[ch])

.SECONDARY:
.PHONY: all test test-unit test-fuzz test-e2e run-tests unit-bins demo image deps bench lint format clean help
.DEFAULT_GOAL := all

all: $(BINDIR)/foresight $(TOOLS) ## build bin/foresight and the test tools

# Any change of flags (the version and libcurl's included) rebuilds everything: the flags
# file is rewritten, at parse time, only when its content differs.
FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS) curl=$(CURL_VERSION)
ifneq ($(FLAGS_NOW),$(file <$(BUILD)/flags))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/flags,$(FLAGS_NOW))
endif

$(BUILD)/%.o: %.c $(BUILD)/flags | $(CURL_LIB)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# metrics/scaler-rules.yaml, the alert rule template, as alerts_template (alerts/alerts.h).
$(BUILD)/gen/alerts_template.c: metrics/scaler-rules.yaml
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	@{ echo "/* Generated from $< by the Makefile: do not edit. */"; \
	   echo "#include \"alerts/alerts.h\""; \
	   echo "const char alerts_template[] = {"; \
	   od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo "0x00};"; \
	   echo "const size_t alerts_template_len = sizeof(alerts_template) - 1;"; } >$@.tmp
	@mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/flags
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Embeds a file as C: $(BUILD)/gen/embed/PATH.c defines `const char embed_P[]`
# (NUL-terminated) and `const size_t embed_P_len`, P being PATH with every
# character but letters and digits made '_'
# (operator/dashboard/assets/index.html: embed_operator_dashboard_assets_index_html).
# Compiled by the $(BUILD)/gen/%.o rule above.
$(BUILD)/gen/embed/%.c: %
	@mkdir -p $(@D)
	@echo "  EMBED   $<"
	@sym=embed_$$(printf '%s' '$<' | tr -c 'A-Za-z0-9' '_'); \
	{ echo "/* Generated from $< by the Makefile: do not edit. */"; \
	  echo "#include <stddef.h>"; \
	  echo "extern const char $${sym}[];"; \
	  echo "extern const size_t $${sym}_len;"; \
	  echo "const char $${sym}[] = {"; \
	  od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo "0x00};"; \
	  echo "const size_t $${sym}_len = sizeof($${sym}) - 1;"; } >$@.tmp
	@mv $@.tmp $@

$(CURL_LIB):
	@hack/libcurl.sh

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BINDIR)/foresight: $(BUILD)/operator/main.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each tests/tools/NAME.c is a test program: $(BINDIR)/NAME.
$(BINDIR)/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# The test targets install what is missing first, then build in a second make
# (whose pkg-config flags see the freshly installed libraries).
test: deps ## install what is missing, then run every test (unit, valgrind, sanitizers, fuzz, e2e)
	@$(MAKE) --no-print-directory run-tests SUITES=all

test-unit: deps ## the cmocka unit tests only
	@$(MAKE) --no-print-directory run-tests SUITES=unit

test-fuzz: deps ## the libFuzzer harnesses only (clang; FUZZ_SECONDS each, default 10)
	@$(MAKE) --no-print-directory run-tests SUITES=fuzz

test-e2e: deps ## the end-to-end tests only (against a local control plane)
	@$(MAKE) --no-print-directory run-tests SUITES=e2e

# The unit test binaries of this variant, built, their paths printed (hack/test.sh
# builds the sanitizer variant's with it).
unit-bins: $(UNIT_BIN)
	@echo $(UNIT_BIN)

run-tests: all $(UNIT_BIN)
	@BINDIR=$(BINDIR) SANITIZE=$(SANITIZE) UNIT_BINS="$(UNIT_BIN)" hack/test.sh $(SUITES)

demo: deps ## a local control plane, Prometheus, a trace replay, the operator scaling live
	@$(MAKE) --no-print-directory all
	@BINDIR=$(BINDIR) hack/demo.sh

image: ## an OCI image of the operator (no container engine: umoci, skopeo)
	@hack/deps.sh
	@$(MAKE) --no-print-directory all
	@BINDIR=$(BINDIR) hack/image.sh

deps: ## install build and test dependencies (apt, npm) — idempotent
	@hack/deps.sh

bench: ## benchmarks: the forecaster against statsmodels, the operator at scale; writes BENCHMARKS.md
	@hack/deps.sh --bench
	@$(MAKE) --no-print-directory all
	@BINDIR=$(BINDIR) hack/bench
	@BINDIR=$(BINDIR) hack/bench-dashboard

lint: ## check formatting with clang-format (.clang-format)
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "lint: $(words $(FORMAT_FILES)) files formatted"

format: ## reformat the C sources in place
	clang-format -i $(FORMAT_FILES)

clean: ## remove build outputs
	rm -rf build bin

# The flags scripts build with (`make -s print-LDLIBS`): hack/fuzz.sh, hack/bench-scale.
print-%:
	@echo '$($*)'

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14
	@echo "Variables: SANITIZE=address,undefined builds with sanitizers (into build/san-*/)."

-include $(LIB_OBJ:.o=.d) $(BUILD)/operator/main.d $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%.d) \
	$(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%.d)
