// Qualifiers for functions shared by host and CUDA device code. Headers that use
// them must stay host-safe: no CUDA includes, no std:: calls that nvcc cannot
// compile for the device (use the C math functions: sqrtf, powf, fabsf).
#pragma once

#if defined(__CUDACC__)
#define METAPS_HOST_DEVICE __host__ __device__
#define METAPS_INLINE __forceinline__
#else
#define METAPS_HOST_DEVICE
#define METAPS_INLINE inline __attribute__((always_inline))
#endif
