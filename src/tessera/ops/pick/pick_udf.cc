// SPDX-License-Identifier: MIT
#include "tessera/ops/pick/pick_udf.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/kernels_internal.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/param_parse_internal.h"

namespace tessera::ops {

PickUdf::PickUdf(std::vector<std::vector<int64_t>> positions) : positions_(std::move(positions)) {
  if (positions_.empty()) throw Error::InvalidArgument("positions: none given", "positions");
}

DType PickUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> PickUdf::GetResultBuffers(const udf::UdfMeta& meta) const {
  std::vector<int64_t> extra{static_cast<int64_t>(positions_.size())};
  const auto sig = meta.dataset->shape.sig();
  extra.insert(extra.end(), sig.begin(), sig.end());
  return {{.name = "frames", .kind = udf::BufferKind::kSingle, .dtype = meta.input_dtype,
           .extra_shape = extra}};
}

void PickUdf::PrepareRun(const udf::UdfMeta& meta) {
  const auto nav = meta.dataset->shape.nav();
  sig_size_ = meta.dataset->shape.sig_size();
  by_frame_.clear();
  for (size_t i = 0; i < positions_.size(); ++i) {
    const auto& position = positions_[i];
    if (position.size() != nav.size()) {
      throw Error::InvalidArgument(
          fmt::format("positions: ({}) has {} coordinates, the scan {} axes",
                      fmt::join(position, ","), position.size(), nav.size()),
          "positions");
    }
    int64_t frame = 0;
    for (size_t a = 0; a < nav.size(); ++a) {
      if (position[a] < 0 || position[a] >= nav[a]) {
        throw Error::InvalidArgument(
            fmt::format("positions: ({}) lies outside the {} scan", fmt::join(position, ","),
                        FormatDims(nav)),
            "positions");
      }
      frame = frame * nav[a] + position[a];
    }
    if (meta.roi != nullptr && !meta.roi->selected(frame)) {
      throw Error::InvalidArgument(
          fmt::format("positions: ({}) lies outside the ROI", fmt::join(position, ",")),
          "positions");
    }
    by_frame_.emplace_back(frame, static_cast<int64_t>(i));
  }
  std::sort(by_frame_.begin(), by_frame_.end());
}

void PickUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  const int64_t elem = SizeOf(tile.dtype);
  auto* out = static_cast<std::byte*>(buffers.array(0).raw());
  const auto* data = static_cast<const std::byte*>(tile.data);
  auto it = std::lower_bound(by_frame_.begin(), by_frame_.end(),
                             std::pair<int64_t, int64_t>{tile.frame_begin, -1});
  for (; it != by_frame_.end() && it->first < tile.frame_begin + tile.depth; ++it) {
    const int64_t f = it->first - tile.frame_begin;
    std::memcpy(out + (it->second * sig_size_ + tile.sig.begin) * elem,
                data + f * tile.frame_stride * elem, static_cast<size_t>(tile.sig.size() * elem));
  }
}

void PickUdf::Merge(udf::BufferSet& dest, const udf::BufferSet& src) const {
  // Each position belongs to one partition: copy the frames this partition owns.
  const int64_t elem = SizeOf(dest.array(0).dtype());
  auto* out = static_cast<std::byte*>(dest.array(0).raw());
  const auto* in = static_cast<const std::byte*>(src.array(0).raw());
  for (const auto& [frame, slot] : by_frame_) {
    if (frame < src.frame_begin() || frame >= src.frame_begin() + src.num_frames()) continue;
    std::memcpy(out + slot * sig_size_ * elem, in + slot * sig_size_ * elem,
                static_cast<size_t>(sig_size_ * elem));
  }
}

std::vector<udf::Result> PickUdf::GetResults(const udf::BufferSet& merged,
                                             const udf::UdfMeta& meta) const {
  auto results = Udf::GetResults(merged, meta);
  const auto& ds = *meta.dataset;
  auto& result = results.front();
  result.axes.clear();
  result.axes.push_back({.name = "position", .size = static_cast<int64_t>(positions_.size())});
  result.axes.insert(result.axes.end(), ds.axes.begin() + ds.shape.nav_dims(), ds.axes.end());
  std::vector<std::string> names;
  for (const auto& position : positions_) names.push_back(fmt::format("({})", fmt::join(position, ",")));
  result.description = fmt::format("frames at {}", fmt::join(names, " "));
  return results;
}

std::vector<std::vector<int64_t>> ParsePositions(const std::string& text) {
  std::vector<std::vector<int64_t>> positions;
  for (std::string_view item : internal::Split(text, ';')) {
    if (item.empty()) continue;
    positions.push_back(internal::ParseIntList(item, "positions"));
  }
  if (positions.empty()) throw Error::InvalidArgument("positions: none given", "positions");
  return positions;
}

std::unique_ptr<udf::Udf> MakePick(const Params& params) {
  return std::make_unique<PickUdf>(ParsePositions(params.GetString("positions")));
}

void RegisterPickOps(OperatorRegistry& registry) {
  registry.Add({
      .name = "pick",
      .version = "1",
      .summary = "The frames at given scan positions.",
      .description =
          "Copies the frames at the given scan positions, in the dataset's native dtype (uint8, "
          "(u)int16, (u)int32, float32, float64; other dtypes as float32). positions lists one "
          "position per frame as scan coordinates separated by ';', e.g. \"0,0;12,40\" for a "
          "2-D scan (row, column). The result 'frames' has the shape (positions, sig...). A "
          "position outside the scan or the ROI is an error.",
      .params = {{.name = "positions", .type = ParamType::kString,
                  .description = "scan positions \"y,x;y,x;...\" (scan steps, from 0)"}},
      .outputs = {"frames"},
      .make = [](const Params& params) { return MakePick(params); },
  });
}

}  // namespace tessera::ops
