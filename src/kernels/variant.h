/* The kernel sources built once per instruction set (KERNEL_ISA_SRC in the
 * Makefile: AVX2 + FMA, and again for AVX-512 with VK_ISA_AVX512 defined)
 * define their public functions as VK_FN(name): name_avx2 or name_avx512.
 * dispatch.c defines the public names, which call the build this CPU runs. */
#ifndef VT_KERNELS_VARIANT_H
#define VT_KERNELS_VARIANT_H

#ifdef VK_ISA_AVX512
#define VK_FN(name) name##_avx512
#else
#define VK_FN(name) name##_avx2
#endif

#endif
