// SPDX-License-Identifier: MIT
#include "tessera/formats/raw/raw_format.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

void CheckDims(const std::vector<int64_t>& dims, const std::string& path,
               const std::string& field) {
  for (const int64_t dim : dims) {
    if (dim <= 0) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("{} must be positive", FormatDims(dims)),
                            .file = path,
                            .field = field});
    }
  }
}

}  // namespace

RawLayout ParseRawParams(const std::string& path, const OpenParams& params) {
  RawLayout layout;
  layout.nav_shape = ParseDims(internal::RequireParam(params, "nav_shape", path), "nav_shape");
  layout.sig_shape = ParseDims(internal::RequireParam(params, "sig_shape", path), "sig_shape");
  bool typestr_big_endian = false;
  layout.dtype = internal::ParseDTypeParam(internal::RequireParam(params, "dtype", path), "dtype",
                                           &typestr_big_endian);
  layout.big_endian = typestr_big_endian;
  if (auto offset = internal::FindParam(params, "offset")) {
    layout.offset = internal::ParseIntParam(*offset, "offset");
  }
  if (auto endian = internal::FindParam(params, "endian")) {
    if (*endian == "big" || *endian == ">") {
      layout.big_endian = true;
    } else if (*endian == "little" || *endian == "<") {
      layout.big_endian = false;
    } else {
      throw Error(ErrorInfo{
          .code = ErrorCode::kInvalidArgument,
          .message = fmt::format("endian must be 'little' or 'big', not '{}'", *endian),
          .file = path,
          .field = "endian"});
    }
  }
  if (auto allow = internal::FindParam(params, "allow_trailing")) {
    layout.allow_trailing = internal::ParseBoolParam(*allow, "allow_trailing");
  }
  return layout;
}

std::unique_ptr<dataset::Dataset> OpenRaw(const std::string& path, const RawLayout& layout) {
  if (layout.nav_shape.empty()) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = "empty nav_shape",
                          .file = path,
                          .field = "nav_shape"});
  }
  if (layout.sig_shape.empty()) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = "empty sig_shape",
                          .file = path,
                          .field = "sig_shape"});
  }
  CheckDims(layout.nav_shape, path, "nav_shape");
  CheckDims(layout.sig_shape, path, "sig_shape");
  if (layout.offset < 0) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("offset {} is negative", layout.offset),
                          .file = path,
                          .field = "offset"});
  }
  if (static_cast<int>(layout.nav_shape.size() + layout.sig_shape.size()) > kMaxRank) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("rank above {}", kMaxRank),
                          .file = path,
                          .field = "nav_shape"});
  }

  auto file = io::MappedFile::Open(path);
  dataset::DatasetMeta meta;
  meta.format = "raw";
  meta.path = path;
  meta.shape = Shape(layout.nav_shape, layout.sig_shape);
  meta.dtype = layout.dtype;
  meta.axes = dataset::DefaultAxes(meta.shape);
  meta.files = {dataset::InputFile{.path = path, .size = file->size()}};

  const int64_t needed = meta.shape.size() * SizeOf(layout.dtype);
  const std::string shape_text = fmt::format("shape ({}) of {}",
                                             fmt::join(meta.shape.dims(), ", "),
                                             Name(layout.dtype));
  if (file->size() < layout.offset || file->size() - layout.offset < needed) {
    throw Error::CorruptFile(
        path, layout.offset, "",
        fmt::format("file is {} bytes, {} needs {} bytes from offset {}", file->size(),
                    shape_text, needed, layout.offset));
  }
  const int64_t trailing = file->size() - layout.offset - needed;
  if (trailing > 0 && !layout.allow_trailing) {
    throw Error::CorruptFile(
        path, layout.offset + needed, "",
        fmt::format("file is {} bytes, {} needs {} bytes from offset {}: {} bytes left over "
                    "(check the shape, or pass allow_trailing=true)",
                    file->size(), shape_text, needed, layout.offset, trailing));
  }
  const bool byteswap = layout.big_endian == internal::kHostLittleEndian;
  return std::make_unique<internal::MappedArrayDataset>(std::move(meta), std::move(file),
                                                        layout.offset, byteswap);
}

FormatEntry RawFormatEntry() {
  FormatEntry entry;
  entry.name = "raw";
  entry.extensions = {".raw", ".bin"};
  entry.summary = "headerless binary: a dense C-order array of one dtype at a byte offset";
  entry.params = {
      {.name = "nav_shape", .type = "dims", .help = "navigation shape, e.g. 128x128",
       .required = true},
      {.name = "sig_shape", .type = "dims", .help = "signal (frame) shape, e.g. 256x256",
       .required = true},
      {.name = "dtype", .type = "dtype", .help = "element type: uint8, uint16, float32, ... or '>u2'",
       .required = true},
      {.name = "offset", .type = "int", .help = "bytes to skip before the first frame",
       .default_value = "0"},
      {.name = "endian", .type = "string", .help = "byte order of the elements: little or big",
       .default_value = "little"},
      {.name = "allow_trailing", .type = "bool",
       .help = "accept extra bytes after the last frame", .default_value = "false"},
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenRaw(path, ParseRawParams(path, params));
  };
  return entry;
}

}  // namespace tessera::formats
