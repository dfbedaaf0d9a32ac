// <immintrin.h> for kernels written with intrinsics. GCC 12 reports the deliberately undefined
// operand of many AVX-512 intrinsics (`__Y = __Y` in _mm512_undefined_*) as uninitialized
// wherever they are inlined (GCC bug 105593, fixed in GCC 13); the warnings point into the
// header, so they are silenced for the header alone.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
