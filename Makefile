# curate: build, test, demo, bench, fuzz. `make help` lists the targets.
# Three flavours share the sources, each in its own object folder:
#   release (bin/curate), dev (-Werror, used by `make test`), asan (ASan+UBSan tests).

PKGS     := mpich jansson libzstd yaml-0.1 libcrypto zlib tree-sitter libpcre2-8 libutf8proc libgit2 libarchive libxml-2.0 libcurl sqlite3
CC       ?= gcc
MODE     ?= release
BUILD    ?= build/$(MODE)

CFLAGS_release := -O2 -g
CFLAGS_dev     := -O2 -g -Werror
CFLAGS_asan    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_asan   := -fsanitize=address,undefined
CFLAGS_fuzz    := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
LDFLAGS_fuzz   := -fsanitize=address,undefined

# Tree-sitter grammars (grammars/): fetched and compiled once per manifest into the cache
GRAMMARS_HASH := $(shell cat grammars/manifest.tsv grammars/build.sh 2>/dev/null | sha256sum | cut -c1-16)
GRAMMARS_LIB  := $(HOME)/.cache/curate/grammars-build-$(GRAMMARS_HASH)/libcurate-grammars.a

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            $(CFLAGS_$(MODE)) $(PKG_CFLAGS) -Ipipeline -Istages -Igrammars -MMD -MP
LDFLAGS  := $(LDFLAGS_$(MODE))
LDLIBS   = $(GRAMMARS_LIB) $(PKG_LIBS) -lm -lpthread

LIB_SRC  := $(sort $(filter-out pipeline/main.c,$(wildcard pipeline/*.c stages/*.c stages/*/*.c grammars/*.c scorer/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# ---- CUDA scorer (issue 9): scorer/*.cu -> $(BUILD)/libcurate-cuda.so when nvcc is found;
# curate dlopens it only to score on a GPU, so the binary never links the CUDA libraries ----
CFLAGS   += -Iscorer
LDLIBS   += -ldl
NVCC     := $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda*/bin/nvcc 2>/dev/null | head -1)
CU_SRC   := $(if $(NVCC),$(sort $(wildcard scorer/*.cu)))
ifneq ($(CU_SRC),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_SO  := $(BUILD)/libcurate-cuda.so
NVFLAGS  := -O3 -std=c++17 -Ipipeline -Iscorer -Xcompiler -fPIC,-Wall -shared \
            -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
$(CUDA_SO): $(CU_SRC) $(wildcard scorer/*.cuh) scorer/scorer_cuda.h scorer/scorer.h scorer/train.h scorer/cuda_check.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -o $@ $(CU_SRC) -L$(CUDA_HOME)/lib64 -Xlinker -rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart
$(BUILD)/curate: $(CUDA_SO)
print-nvflags: ; @echo $(NVFLAGS) # scripts/gpu/pack.sh: the same flags on a GPU machine
endif
# ---- end of the CUDA scorer block ----
# CUDA emulator (tests/cuda_emu/, docs/scorer.md): the same .cu built with g++ and run on the
# CPU, in every mode, nvcc or not; tests/e2e/scorer_cuda_emu.sh loads it as the CUDA library
# (every scorer/*.cu: the scorer's scorer_cuda.cu and the trainer's train_cuda.cu)
EMU_SO   := $(BUILD)/libcurate-cuda-emu.so
EMU_SRC  := $(wildcard tests/cuda_emu/*.cc)
EMU_CU   := $(patsubst scorer/%.cu,$(BUILD)/cuda_emu/%.cc,$(sort $(wildcard scorer/*.cu)))
$(BUILD)/cuda_emu/%.cc: scorer/%.cu tests/cuda_emu/launch.sed
	@mkdir -p $(dir $@)
	{ echo '#line 1 "$<"'; sed -z -E -f tests/cuda_emu/launch.sed $<; } >$@
$(EMU_SO): $(EMU_CU) $(EMU_SRC) $(wildcard tests/cuda_emu/*.h) $(wildcard scorer/*.cuh) scorer/scorer_cuda.h scorer/scorer.h scorer/train.h scorer/cuda_check.h
	$(CXX) -std=c++17 -Wall -Wno-unknown-pragmas -fno-strict-aliasing $(CFLAGS_$(MODE)) -fPIC -shared \
	  -Itests/cuda_emu -Ipipeline -Iscorer $(LDFLAGS) -o $@ $(EMU_CU) $(EMU_SRC)
$(BUILD)/curate: $(EMU_SO)
# tests/unit/test_train_cuda.c dlopens it from beside its build folder
$(BUILD)/tests/test_train_cuda: $(EMU_SO)
# data files pulled into objects with .incbin, which the compiler's dependency files miss
$(BUILD)/stages/github/lang.o: stages/github/langs.tsv
# the SPDX licence texts (npm spdx-license-list, pinned by scripts/spdx.sh), built in
$(BUILD)/spdx-full.json: scripts/spdx.sh
	@mkdir -p $(dir $@)
	cp "$$(bash scripts/spdx.sh)" $@
$(BUILD)/stages/github/spdx.o: $(BUILD)/spdx-full.json
$(BUILD)/stages/github/spdx.o: CFLAGS += -DSPDX_JSON='"$(BUILD)/spdx-full.json"'
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/fuzz_%)

# the sub-makes of test, all and demo build with one job a core
JOBS     ?= $(shell nproc 2>/dev/null || echo 1)

DEPS_STAMP := $(HOME)/.cache/curate/deps-$(shell cat scripts/deps.version 2>/dev/null || echo 0).stamp

.PHONY: all help deps test demo bench fuzz clean tests-bin fuzz-bin binary
.DEFAULT_GOAL := all

## all: build bin/curate (installs missing dependencies first)
all: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) MODE=release binary
	@mkdir -p bin && ln -sf ../build/release/curate bin/curate

binary: $(BUILD)/curate

$(BUILD)/curate: $(BUILD)/pipeline/main.o $(BUILD)/libcurate.a $(GRAMMARS_LIB)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/pipeline/main.o $(BUILD)/libcurate.a $(LDLIBS)

# every program links the grammars; building them is a one-time step (grammars/build.sh)
$(TEST_BIN) $(REPLAY_BIN) $(FUZZ_BIN): $(GRAMMARS_LIB)
$(GRAMMARS_LIB): grammars/manifest.tsv grammars/build.sh
	bash grammars/build.sh $(@D)

$(BUILD)/libcurate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcurate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcurate.a $(LDLIBS) -lcmocka

# replay drivers: a fuzz target fed the saved corpus, run by `make test`
$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(BUILD)/libcurate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/libcurate.a $(LDLIBS)

# libFuzzer binaries (MODE=fuzz, CC=clang)
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libcurate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libcurate.a $(LDLIBS)

tests-bin: $(BUILD)/curate $(TEST_BIN) $(REPLAY_BIN)

fuzz-bin: $(FUZZ_BIN)

## deps: install the Debian packages and npm artefacts curate needs (idempotent)
deps:
	@bash scripts/deps.sh

$(DEPS_STAMP): scripts/deps.sh scripts/deps.version
	@bash scripts/deps.sh

## test: build with -Werror and under ASan/UBSan, then run every test
test: $(DEPS_STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) MODE=dev tests-bin
	@$(MAKE) --no-print-directory -j$(JOBS) MODE=asan tests-bin
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh

## demo: build and run the pipeline on the embedded default input (configs/demo.yaml)
demo: all
	@bash scripts/demo.sh

## bench: measure speed and memory against reference tools; writes docs/benchmarks.md
bench: all
	@bash scripts/bench.sh

## fuzz: build the libFuzzer targets (clang) and fuzz each for FUZZ_SECONDS (default 60)
fuzz: $(DEPS_STAMP)
	@bash scripts/fuzz.sh

## clean: remove build outputs
clean:
	rm -rf build bin

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  make /'

-include $(LIB_OBJ:.o=.d) $(BUILD)/pipeline/main.d
