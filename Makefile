# verto — build, test and demo. See README.md.
#
#   make            library (static + shared), the verto tool and examples
#   make test       every test (installs missing packages first); on an AVX-512 CPU
#                   every test again with the ISA capped at AVX2 (make test-avx2)
#   make test-asan  the C test suite under AddressSanitizer + UBSan
#   make demo       the main job on the data shipped in the repository
#   make demo-lm    the generative path (GPT-2, LoRA, subject lines) on the same data
#   make fuzz       short libFuzzer runs of every parser of outside input
#   make bench      verto against PyTorch, ONNX Runtime and tokenizers (BENCHMARKS.md; not part of test)
#   make MPI=0      build without MPI (one process); the default uses Open MPI when installed
#   make NATIVE=1   build for this machine's CPU only (-march=native); the default runs on any
#                   x86-64 CPU with AVX2 + FMA and picks AVX2 or AVX-512 kernels at run time

CC      ?= gcc
BUILD   ?= build
PYTHON  ?= python3
WARN     = -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers
OPT     ?= -O3
# The baseline every object is built for; the kernels in KERNEL_ISA_SRC are
# built a second time for AVX-512 (src/kernels/dispatch.c picks one at run time).
ifeq ($(NATIVE),1)
  ARCH  ?= -march=native
else
  ARCH  ?= -mavx2 -mfma
endif
ARCH_AVX512 = -march=x86-64-v4 -mprefer-vector-width=512
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) $(ISA_CFLAGS) -fopenmp -fPIC -fvisibility=hidden $(WARN) -Iinclude -Isrc $(EXTRA_CFLAGS)
# The kernels' loops clamp and test (vk_expf, masks, NaN checks); under gcc's
# default -ftrapping-math it will not if-convert a comparison and leaves such a
# loop scalar, GELU, softmax and cross-entropy included. The flag allows no
# reassociation or contraction, only vectorising (docs/performance.md).
KERNEL_ISA_CFLAGS = -fno-trapping-math
# BLIS and OpenBLAS (Debian's OpenMP builds) are vt_matmul's other backends;
# both export cblas_sgemm, and OpenBLAS comes first so that name binds to it.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
LDLIBS   = -ldnnl -lopenblas -lblis -lcjson -lutf8proc -lpcre2-8 -lm -lpthread
LDFLAGS_ALL = -fopenmp $(EXTRA_LDFLAGS)

# Data parallelism over MPI (src/train/dist.c): MPI=auto uses Open MPI when its
# mpicc is installed (Debian: libopenmpi-dev), MPI=1 insists, MPI=0 builds the
# one-process stub. Switching rebuilds dist.o through the $(BUILD)/.mpi-* stamp.
MPI     ?= auto
ifeq ($(MPI),auto)
  MPI_ON := $(if $(shell command -v mpicc 2>/dev/null),1,0)
else
  MPI_ON := $(MPI)
endif
ifeq ($(MPI_ON),1)
  MPI_CFLAGS := -DVT_WITH_MPI $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c)
  MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c)
  LDLIBS     += $(MPI_LIBS)
endif

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
KERNEL_ISA_SRC := $(addprefix src/kernels/,activations.c attention.c bf16.c dropout.c int8_rows.c layernorm.c \
                    losses.c matvec.c optim_rules.c sum_rows.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(KERNEL_ISA_SRC:%.c=$(BUILD)/obj/%.avx512.o)
$(KERNEL_ISA_SRC:%.c=$(BUILD)/obj/%.o) $(KERNEL_ISA_SRC:%.c=$(BUILD)/obj/%.avx512.o): ISA_CFLAGS = $(KERNEL_ISA_CFLAGS)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
TESTS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_SUPPORT := $(wildcard tests/support/*.c)
SCRIPT_TESTS := $(wildcard tests/scripts/test_*.sh)
HEADERS  := $(wildcard include/verto/*.h) $(shell find src -name '*.h')

.PHONY: all deps deps-python test test-avx2 test-c test-asan demo demo-lm fuzz bench clean
all: $(BUILD)/libverto.a $(BUILD)/libverto.so $(if $(CLI_SRC),$(BUILD)/verto) $(EXAMPLES)

# Objects depend on the flags they were built with: a change of OPT, ARCH,
# NATIVE or EXTRA_CFLAGS rebuilds them rather than mixing old and new.
FLAGS_STAMP := $(BUILD)/.cflags
$(shell mkdir -p $(BUILD) && echo '$(CFLAGS_ALL) $(ARCH_AVX512) $(KERNEL_ISA_CFLAGS)' | cmp -s - $(FLAGS_STAMP) || \
        echo '$(CFLAGS_ALL) $(ARCH_AVX512) $(KERNEL_ISA_CFLAGS)' > $(FLAGS_STAMP))

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.avx512.o: ARCH = $(ARCH_AVX512)
$(BUILD)/obj/%.avx512.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC  $< (AVX-512)"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -DVK_ISA_AVX512 -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(BUILD)/obj/src/kernels/gemm_blis.o: CFLAGS_ALL += -isystem /usr/include/$(MULTIARCH)/blis-openmp
$(BUILD)/obj/src/kernels/gemm_openblas.o: CFLAGS_ALL += -isystem /usr/include/$(MULTIARCH)/openblas-openmp
$(BUILD)/obj/src/train/dist.o: CFLAGS_ALL += $(MPI_CFLAGS)
$(BUILD)/obj/src/train/dist.o: $(BUILD)/.mpi-$(MPI_ON)
$(BUILD)/.mpi-%:
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.mpi-*
	@touch $@

$(BUILD)/libverto.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR  $@"
	@ar rcs $@ $^

$(BUILD)/libverto.so: $(LIB_OBJ)
	@echo "  LD  $@"
	@$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILD)/verto: $(CLI_OBJ) $(BUILD)/libverto.a
	@echo "  LD  $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libverto.a $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libverto.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libverto.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_SUPPORT) $(BUILD)/libverto.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_ALL) -Itests/support $(LDFLAGS_ALL) -o $@ $< $(TEST_SUPPORT) $(BUILD)/libverto.a $(LDLIBS) -lcmocka

deps:
	@scripts/ensure-deps.sh

deps-python:
	@scripts/ensure-deps.sh --python

# Reference data from PyTorch / transformers, regenerated when its scripts change.
$(BUILD)/ref/.stamp: $(wildcard tests/ref/*.py)
	@mkdir -p $(BUILD)/ref
	@for s in $(wildcard tests/ref/gen_*.py); do echo "ref: $$s"; $(PYTHON) $$s $(BUILD)/ref || exit 1; done
	@touch $@

test: deps deps-python
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(MAKE) --no-print-directory $(BUILD)/ref/.stamp
	@VT_REF_DIR=$(BUILD)/ref VT_BUILD=$(BUILD) tests/run-tests.sh $(TESTS) $(SCRIPT_TESTS)
	@$(MAKE) --no-print-directory test-avx2

# The suite again with verto's and oneDNN's instruction set capped at AVX2, so
# that an AVX-512 machine also runs what an AVX2-only one does (the AVX2
# kernels, bf16 products emulated in f32). On an AVX2-only CPU the run above
# was that run already.
test-avx2:
	@if $(BUILD)/verto --version | grep -q '^CPU: .*verto uses: avx2)$$'; then \
	  echo "tests capped at AVX2: not run again, this CPU has no AVX-512 (the run above used the AVX2 paths)"; \
	else \
	  echo "=== the tests again, capped at AVX2 (VERTO_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2)"; \
	  VERTO_MAX_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 VT_REF_DIR=$(BUILD)/ref VT_BUILD=$(BUILD) \
	    tests/run-tests.sh $(TESTS) $(SCRIPT_TESTS); \
	fi

# Everything the C tests need, built with sanitizers in their own folder.
test-asan: deps deps-python
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" all \
	  $(patsubst $(BUILD)/%,build-asan/%,$(TESTS))
	@$(MAKE) --no-print-directory $(BUILD)/ref/.stamp
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  VT_REF_DIR=$(BUILD)/ref VT_BUILD=build-asan VT_SANITIZED=1 \
	  tests/run-tests.sh $(patsubst $(BUILD)/%,build-asan/%,$(TESTS)) $(SCRIPT_TESTS)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

# The generative path (GPT-2 from scratch, LoRA, generation, ROUGE-L) on the same sample: $(BUILD)/demo-lm
demo-lm: deps deps-python
	@$(MAKE) --no-print-directory all
	@scripts/demo_lm.sh $(BUILD)

# The library is compiled once with coverage instrumentation (fuzzer-no-link)
# and every fuzzer links those objects: one compile of each source, not one per fuzzer.
FUZZERS := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_CC := clang -std=c11 -D_GNU_SOURCE -g -O1 $(ARCH) -DVK_SINGLE_ISA -Iinclude -Isrc -fopenmp
FUZZ_OBJ := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC))
.SECONDARY: $(FUZZ_OBJ) # kept between runs, not removed as intermediates
$(BUILD)/fuzz/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC (fuzz)  $<"
	@$(FUZZ_CC) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
$(BUILD)/fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD (fuzz)  $@"
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LDLIBS)
fuzz: deps $(FUZZERS)
	@scripts/fuzz.sh $(FUZZERS)

# Benchmarks (bench/, BENCHMARKS.md): BENCH_THREADS (default 2), BENCH_REPEATS,
# BENCH_QUICK=1 (a smoke test) are read by bench/run.py from the environment.
BENCH_BINS := $(patsubst %,$(BUILD)/bench/%,gemm_peak matmul_gflops int8_linear_bench pretrain_bench infer_bench tok_bench dp_bench sampling_bench clm_train_bench \
             decode_profile decode_bf16_accuracy)
$(BUILD)/bench/%: bench/%.c bench/bench_util.c bench/bench_util.h $(BUILD)/libverto.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< bench/bench_util.c $(BUILD)/libverto.a $(LDLIBS)
bench: deps
	@PYTHON=$(PYTHON) scripts/ensure-bench-deps.sh
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@$(PYTHON) bench/run.py --build $(BUILD)

clean:
	rm -rf build build-asan
