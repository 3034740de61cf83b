// SPDX-License-Identifier: MIT
#include "tessera/dataset/roi.h"

#include <fmt/format.h>

#include <charconv>

#include "tessera/core/error.h"
#include "tessera/core/shape.h"

namespace tessera::dataset {
namespace {

int64_t ParseInt(std::string_view text, const std::string& whole) {
  int64_t value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size()) {
    throw Error::InvalidArgument(
        fmt::format("expected integers like '10:20,0:64', got '{}'", whole), "roi");
  }
  return value;
}

}  // namespace

Roi Roi::FromMask(std::span<const int64_t> nav_shape, std::vector<uint8_t> mask) {
  const int64_t nav_size = Product(nav_shape);
  if (static_cast<int64_t>(mask.size()) != nav_size) {
    throw Error::InvalidArgument(
        fmt::format("mask has {} entries, navigation shape {} has {}", mask.size(),
                    FormatDims(nav_shape), nav_size),
        "roi");
  }
  Roi roi;
  roi.mask_ = std::move(mask);
  for (uint8_t m : roi.mask_) roi.count_ += m != 0;
  return roi;
}

Roi Roi::Parse(std::span<const int64_t> nav_shape, const std::string& text) {
  std::vector<std::string_view> parts;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    parts.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parts.size() != nav_shape.size()) {
    throw Error::InvalidArgument(
        fmt::format("'{}' has {} axes, the navigation shape {} has {}", text, parts.size(),
                    FormatDims(nav_shape), nav_shape.size()),
        "roi");
  }
  std::vector<int64_t> lo(parts.size()), hi(parts.size());
  for (size_t axis = 0; axis < parts.size(); ++axis) {
    const auto colon = parts[axis].find(':');
    const int64_t size = nav_shape[axis];
    if (colon == std::string_view::npos) {
      lo[axis] = ParseInt(parts[axis], text);
      hi[axis] = lo[axis] + 1;
    } else {
      const auto a = parts[axis].substr(0, colon);
      const auto b = parts[axis].substr(colon + 1);
      lo[axis] = a.empty() ? 0 : ParseInt(a, text);
      hi[axis] = b.empty() ? size : ParseInt(b, text);
    }
    if (lo[axis] < 0 || hi[axis] > size || lo[axis] >= hi[axis]) {
      throw Error::InvalidArgument(
          fmt::format("axis {} range [{}, {}) is empty or outside [0, {})", axis, lo[axis],
                      hi[axis], size),
          "roi");
    }
  }
  std::vector<uint8_t> mask(static_cast<size_t>(Product(nav_shape)), 0);
  std::vector<int64_t> index(nav_shape.size(), 0);
  for (size_t flat = 0; flat < mask.size(); ++flat) {
    bool inside = true;
    for (size_t axis = 0; axis < index.size(); ++axis) {
      inside = inside && index[axis] >= lo[axis] && index[axis] < hi[axis];
    }
    mask[flat] = inside ? 1 : 0;
    for (int axis = static_cast<int>(index.size()) - 1; axis >= 0; --axis) {
      if (++index[axis] < nav_shape[axis]) break;
      index[axis] = 0;
    }
  }
  return FromMask(nav_shape, std::move(mask));
}

std::vector<std::pair<int64_t, int64_t>> Roi::Runs(int64_t begin, int64_t end) const {
  std::vector<std::pair<int64_t, int64_t>> runs;
  int64_t frame = begin;
  while (frame < end) {
    while (frame < end && !selected(frame)) ++frame;
    const int64_t run_begin = frame;
    while (frame < end && selected(frame)) ++frame;
    if (frame > run_begin) runs.emplace_back(run_begin, frame);
  }
  return runs;
}

}  // namespace tessera::dataset
