// SPDX-License-Identifier: MIT
#include "tessera/dataset/dataset.h"

#include <fmt/format.h>

namespace tessera::dataset {

std::vector<Axis> DefaultAxes(const Shape& shape) {
  std::vector<Axis> axes;
  const int nav_dims = shape.nav_dims();
  const int sig_dims = shape.sig_dims();
  static const char* const kNav2[] = {"y", "x"};
  static const char* const kSig2[] = {"sy", "sx"};
  for (int i = 0; i < nav_dims; ++i) {
    std::string name;
    if (nav_dims == 1) name = "frame";
    else if (nav_dims == 2) name = kNav2[i];
    else name = fmt::format("nav{}", i);
    axes.push_back(Axis{.name = name, .size = shape.nav()[i], .units = "px"});
  }
  for (int i = 0; i < sig_dims; ++i) {
    std::string name;
    if (sig_dims == 1) name = "signal";
    else if (sig_dims == 2) name = kSig2[i];
    else name = fmt::format("sig{}", i);
    axes.push_back(Axis{.name = name, .size = shape.sig()[i], .units = "px"});
  }
  return axes;
}

const std::byte* Dataset::DirectFrames(int64_t /*frame_begin*/, int64_t /*frame_end*/) const {
  return nullptr;
}

void Dataset::WillNeed(int64_t /*frame_begin*/, int64_t /*frame_end*/) const {}

}  // namespace tessera::dataset
