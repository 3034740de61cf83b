// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>

#include "tessera/core/dtype.h"

namespace tessera {

/// Convert `count` elements of `src_dtype` at `src` to `dst_dtype` at `dst`.
/// Complex to real keeps the real part; `byteswap` swaps each source element first (big-endian
/// files). Dispatches on the dtypes once per call: call it per tile, not per pixel.
void ConvertElements(const void* src, DType src_dtype, bool byteswap, void* dst, DType dst_dtype,
                     int64_t count) noexcept;

/// Return whether ConvertElements supports this pair.
bool CanConvert(DType src_dtype, DType dst_dtype);

}  // namespace tessera
