// Lane-wise square roots for Swift's SIMD types. Swift's `squareRoot()` goes through C's sqrt,
// whose errno contract (EDOM for a negative argument) keeps each lane a scalar instruction with a
// branch to the library; these are LLVM's sqrt intrinsic on the whole vector (sqrtpd on x86-64),
// which sets no errno and returns the same correctly rounded IEEE 754 value in every lane (NaN
// for a negative one). Clang imports the vector types as SIMD2<Double> and SIMD4<Double>.
#ifndef CVECTORMATH_H
#define CVECTORMATH_H

typedef double cvm_double2 __attribute__((ext_vector_type(2)));
typedef double cvm_double4 __attribute__((ext_vector_type(4)));

#if defined(__has_builtin) && __has_builtin(__builtin_elementwise_sqrt)
static inline cvm_double2 cvm_sqrt2(cvm_double2 x) { return __builtin_elementwise_sqrt(x); }
static inline cvm_double4 cvm_sqrt4(cvm_double4 x) { return __builtin_elementwise_sqrt(x); }
#else
static inline cvm_double2 cvm_sqrt2(cvm_double2 x) {
    return (cvm_double2){__builtin_sqrt(x[0]), __builtin_sqrt(x[1])};
}
static inline cvm_double4 cvm_sqrt4(cvm_double4 x) {
    return (cvm_double4){__builtin_sqrt(x[0]), __builtin_sqrt(x[1]), __builtin_sqrt(x[2]), __builtin_sqrt(x[3])};
}
#endif
#endif
