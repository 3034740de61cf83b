// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tessera::dataset {

/// A boolean mask over the flattened navigation axis; frames outside it are never read.
class Roi {
 public:
  /// Build from a mask of nav_size bytes (non-zero = selected).
  static Roi FromMask(std::span<const int64_t> nav_shape, std::vector<uint8_t> mask);
  /// Parse per-axis slices such as "10:20,0:64" or a single position "3,7"; bounds are checked
  /// against `nav_shape`, and any error names the field "roi".
  static Roi Parse(std::span<const int64_t> nav_shape, const std::string& text);

  bool selected(int64_t frame) const { return mask_[static_cast<size_t>(frame)] != 0; }
  int64_t count() const { return count_; }
  int64_t nav_size() const { return static_cast<int64_t>(mask_.size()); }
  std::span<const uint8_t> mask() const { return mask_; }
  /// Return the selected frames in [begin, end) as runs of consecutive frames.
  std::vector<std::pair<int64_t, int64_t>> Runs(int64_t begin, int64_t end) const;

 private:
  std::vector<uint8_t> mask_;
  int64_t count_ = 0;
};

}  // namespace tessera::dataset
