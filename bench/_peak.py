"""This machine's float32 FMA peak, measured: the ceiling any matmul (ours, OpenBLAS's) runs under.

A small C program (built with the machine's gcc, ``-O2 -march=native``) runs 12
independent chains of vector FMAs per thread, one thread per core, on the widest
vectors the compiler targets (AVX-512 when present, else AVX2).  Returns GFLOP/s,
or None when gcc is missing.  Timed by the process's CPU time (divided by the thread
count), so other jobs on a shared machine do not lower the figure: it is what the
threads reach on cores of their own.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

_SRC = r"""
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 V; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define FIRST(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 V; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define FIRST(v) ((v)[0])
#endif
static long ITERS = 20000000;
static void *run(void *out) {
    V a[12], b = SET1(1.0000001f), c = SET1(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = SET1((float)i);
    for (long n = 0; n < ITERS; n++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = FMA(a[i], b, c);
    }
    float s = 0;
    for (int i = 0; i < 12; i++) s += FIRST(a[i]);
    *(float *)out = s;
    return 0;
}
int main(int argc, char **argv) {
    int th = atoi(argv[1]);
    pthread_t t[256]; float r[256]; struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (int i = 0; i < th; i++) pthread_create(&t[i], 0, run, &r[i]);
    for (int i = 0; i < th; i++) pthread_join(t[i], 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double dt = ((t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec)) / th;
    printf("%f %d %f\n", th * (double)ITERS * 12 * LANES * 2 / dt / 1e9, LANES, r[0]);
    return 0;
}
"""


def fma_peak_gflops(threads=None, runs=3, cpu_time=False):
    """(best GFLOP/s over ``runs``, vector lanes) of float32 FMAs on ``threads`` threads
    (``cpu_time``: per CPU second the process got, not per wall second: a loaded machine)."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None, None
    threads = threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "peak.c"), os.path.join(d, "peak")
        with open(src, "w") as fh:
            fh.write(_SRC.replace("CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID") if cpu_time else _SRC)
        subprocess.run([gcc, "-O2", "-march=native", src, "-o", exe, "-lpthread"], check=True,
                       capture_output=True)
        best, lanes = 0.0, None
        for _ in range(runs):
            out = subprocess.run([exe, str(threads)], check=True, capture_output=True, text=True).stdout
            g, lanes, _ = out.split()
            best = max(best, float(g))
        return best, int(lanes)


if __name__ == "__main__":
    g, lanes = fma_peak_gflops()
    print(f"float32 FMA peak: {g:.1f} GFLOP/s ({lanes} lanes, {os.cpu_count()} threads)")
