// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// A zarr v2 array's metadata (.zarray), validated.
struct ZarrArrayMeta {
  std::vector<int64_t> shape;
  std::vector<int64_t> chunks;
  DType dtype = DType::kFloat64;
  bool big_endian = false;         // elements stored big-endian ('>' typestr)
  bool fortran_order = false;      // "order": "F" (within each chunk)
  std::string compressor;          // "" (none), "blosc", "zlib", "gzip", "zstd"
  std::string dimension_separator = ".";
  std::vector<std::byte> fill;     // one element in stored byte order (zeros for null)
  int64_t chunk_elements = 0;      // product of `chunks`
  int64_t chunk_bytes = 0;         // chunk_elements * item size
};

/// Parse and validate the JSON text of a .zarray document. Errors are kCorruptFile naming `path`
/// and the field (bad JSON, wrong types, absurd shapes or chunks) or kUnsupported naming the
/// dtype, compressor or filter Tessera does not decode.
ZarrArrayMeta ParseZarrArray(std::string_view json_text, const std::string& path);

/// Decode one stored chunk (`stored`, as read from the store) of an array described by `meta`
/// into `out` (meta.chunk_bytes bytes, stored byte order, chunk memory order). Errors name
/// `path` (the chunk's file or zip entry): decompression failures and chunks whose size differs
/// from the declared chunk shape are kCorruptFile.
void DecodeZarrChunk(const ZarrArrayMeta& meta, std::span<const std::byte> stored,
                     std::span<std::byte> out, const std::string& path);

/// Open a HyperSpy .zspy store (a directory, or a zip file) or any zarr v2 store as a dataset.
/// `path` may carry ":/group/array" to choose the array; otherwise the store's root array, or
/// HyperSpy's /Experiments/<title>/data (the first title, or `signal`). Axes and navigation
/// come from HyperSpy's axis-<i> attributes; metadata and original_metadata become JSON.
std::unique_ptr<dataset::Dataset> OpenZspy(const std::string& path, const OpenParams& params);

/// Return the zspy entry of `registry` when `path` is a directory holding a zarr v2 store
/// (.zgroup or .zarray at its root), else nullptr. Lets FormatRegistry::Detect accept
/// DirectoryStore paths, which are not regular files.
const FormatEntry* ZarrDirectoryEntry(const FormatRegistry& registry, const std::string& path);

/// Return the registry entry of the zspy / zarr format.
FormatEntry ZspyFormatEntry();

}  // namespace tessera::formats
