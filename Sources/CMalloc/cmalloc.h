// glibc's allocator tuning (mallopt(3)), which Swift's Glibc module does not export: one function
// per option, returning mallopt's 1 on success and 0 on failure (0 where there is no glibc).
#ifndef CMALLOC_H
#define CMALLOC_H
#if defined(__linux__)
#include <malloc.h>
#endif
#if defined(__GLIBC__)
static inline int cmalloc_set_mmap_max(int count) { return mallopt(M_MMAP_MAX, count); }
static inline int cmalloc_set_trim_threshold(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
#else
static inline int cmalloc_set_mmap_max(int count) { (void)count; return 0; }
static inline int cmalloc_set_trim_threshold(int bytes) { (void)bytes; return 0; }
#endif
#endif
