#!/usr/bin/env bash
# Does this C++ compiler keep the stores that fill an AMX tile configuration?
#
# ggml's AMX kernels (ggml-cpu/amx/mmq.cpp, ggml_tile_config_init) fill a local
# tile_config_t and pass it to _tile_loadconfig. GCC 12's amxtileintrin.h implements that
# intrinsic as an asm statement with the pointer as a register operand and no memory
# operand, so the optimiser removes the stores of rows[]/colsb[] as dead: ldtilecfg then
# loads a configuration with palette 1 and garbage or zero tiles, and the process dies
# with SIGSEGV (#GP) at the first prompt. Clang's builtin keeps them.
#
#   bash benchmarks/amx_tilecfg.sh [COMPILER]     (default: c++)
#
# Prints "keeps" or "drops" and exits 0 or 1. Needs a CPU with AMX and Linux >= 5.16 to
# run the check; without AMX it only compiles and prints "no AMX on this CPU".
set -euo pipefail
cxx="${1:-c++}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cat > "$dir/t.cpp" <<'CPP'
#include <immintrin.h>
#include <cstdint>
#include <cstdio>
#include <unistd.h>
#include <sys/syscall.h>
struct tile_config_t {
    uint8_t palette_id = 0; uint8_t start_row = 0; uint8_t reserved_0[14] = {0};
    uint16_t colsb[16] = {0}; uint8_t rows[16] = {0};
};
__attribute__((noinline)) static void init() {
    alignas(64) tile_config_t tc = {};
    tc.palette_id = 1;
    for (int i = 0; i < 8; i++) { tc.rows[i] = 16; tc.colsb[i] = 64; }
    _tile_loadconfig(&tc);
}
int main() {
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */)) {
        std::puts("no AMX on this CPU"); return 0;
    }
    init();
    alignas(64) tile_config_t out;
    _tile_storeconfig(&out);
    bool kept = out.rows[0] == 16 && out.colsb[0] == 64;
    std::puts(kept ? "keeps" : "drops");
    return kept ? 0 : 1;
}
CPP
"$cxx" -O2 -mamx-tile -mamx-int8 "$dir/t.cpp" -o "$dir/t"
"$dir/t"
