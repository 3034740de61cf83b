// SPDX-License-Identifier: MIT
#include "tessera/formats/image_writers.h"

#include <png.h>
#include <tiffio.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/io/atomic_file.h"

namespace tessera::formats {
namespace {

void CheckImage(const std::string& path, const NdArray& image, int min_rank, int max_rank,
                const char* what) {
  if (image.rank() < min_rank || image.rank() > max_rank) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("{} needs a {} array, got rank {} (shape {})", what,
                               min_rank == max_rank ? "2-D" : "2-D or 3-D", image.rank(),
                               FormatDims(image.shape())),
        .file = path,
        .field = "image"});
  }
  if (IsComplex(image.dtype())) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("{} cannot show complex data; take the magnitude or phase first",
                               what),
        .file = path,
        .field = "image"});
  }
  for (const int64_t dim : image.shape()) {
    if (dim <= 0 || dim > (int64_t{1} << 31)) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("{} cannot hold shape {}", what,
                                                   FormatDims(image.shape())),
                            .file = path,
                            .field = "image"});
    }
  }
}

double Percentile(std::vector<double>& sorted_in_place, double percent) {
  const double clamped = std::clamp(percent, 0.0, 100.0);
  const auto rank = static_cast<size_t>(
      std::llround(clamped / 100.0 * static_cast<double>(sorted_in_place.size() - 1)));
  std::nth_element(sorted_in_place.begin(), sorted_in_place.begin() + static_cast<ptrdiff_t>(rank),
                   sorted_in_place.end());
  return sorted_in_place[rank];
}

}  // namespace

std::vector<uint8_t> AutoscaleToGrey(const NdArray& image, const PngOptions& options) {
  std::vector<double> values(static_cast<size_t>(image.size()));
  ConvertElements(image.raw(), image.dtype(), false, values.data(), DType::kFloat64, image.size());
  std::vector<double> finite;
  finite.reserve(values.size());
  for (const double v : values) {
    if (std::isfinite(v)) finite.push_back(v);
  }
  std::vector<uint8_t> grey(values.size(), 0);
  double low = 0, high = 0;
  if (!finite.empty()) {
    low = Percentile(finite, options.low_percentile);
    high = Percentile(finite, options.high_percentile);
  }
  const double scale = high > low ? 255.0 / (high - low) : 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (std::isnan(v) || v == -INFINITY) continue;
    if (v == INFINITY) {
      grey[i] = 255;
      continue;
    }
    grey[i] = static_cast<uint8_t>(std::lround(std::clamp((v - low) * scale, 0.0, 255.0)));
  }
  return grey;
}

void WritePng(const std::string& path, const NdArray& image, const PngOptions& options) {
  CheckImage(path, image, 2, 2, "PNG");
  const std::vector<uint8_t> grey = AutoscaleToGrey(image, options);
  io::AtomicFile atomic = io::AtomicFile::Create(path);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.shape()[1]);
  png.height = static_cast<png_uint_32>(image.shape()[0]);
  png.format = PNG_FORMAT_GRAY;
  if (png_image_write_to_file(&png, atomic.temp_path().c_str(), 0, grey.data(), 0, nullptr) ==
      0) {
    const std::string message = png.message;
    png_image_free(&png);
    throw Error::Io(fmt::format("cannot write PNG: {}", message), path);
  }
  atomic.Commit();
}

void WriteTiff(const std::string& path, const NdArray& image) {
  CheckImage(path, image, 2, 3, "TIFF");
  const int64_t pages = image.rank() == 3 ? image.shape()[0] : 1;
  const int64_t height = image.shape()[image.rank() - 2];
  const int64_t width = image.shape()[image.rank() - 1];
  io::AtomicFile atomic = io::AtomicFile::Create(path);
  const bool big = image.size() * 4 > (int64_t{1} << 31);
  TIFF* tiff = TIFFOpen(atomic.temp_path().c_str(), big ? "w8" : "w");
  if (tiff == nullptr) throw Error::Io("cannot create TIFF file", path);
  std::vector<float> row(static_cast<size_t>(width));
  const int64_t item = SizeOf(image.dtype());
  bool ok = true;
  for (int64_t page = 0; page < pages && ok; ++page) {
    ok = TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width)) == 1 &&
         TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height)) == 1 &&
         TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, 1) == 1 &&
         TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, 32) == 1 &&
         TIFFSetField(tiff, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP) == 1 &&
         TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK) == 1 &&
         TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) == 1 &&
         TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tiff, 0)) == 1;
    if (pages > 1) {
      ok = ok && TIFFSetField(tiff, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE) == 1 &&
           TIFFSetField(tiff, TIFFTAG_PAGENUMBER, static_cast<uint16_t>(page),
                        static_cast<uint16_t>(pages)) == 1;
    }
    for (int64_t y = 0; y < height && ok; ++y) {
      const auto* src = static_cast<const std::byte*>(image.raw()) +
                        ((page * height + y) * width) * item;
      ConvertElements(src, image.dtype(), false, row.data(), DType::kFloat32, width);
      ok = TIFFWriteScanline(tiff, row.data(), static_cast<uint32_t>(y), 0) == 1;
    }
    ok = ok && TIFFWriteDirectory(tiff) == 1;
  }
  TIFFClose(tiff);
  if (!ok) throw Error::Io("cannot write TIFF (disk full?)", path);
  atomic.Commit();
}

}  // namespace tessera::formats
