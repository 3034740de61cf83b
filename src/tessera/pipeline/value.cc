// SPDX-License-Identifier: MIT
#include "tessera/pipeline/value.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "tessera/core/error.h"

namespace tessera::pipeline {

namespace {
constexpr std::array<std::pair<PortType, std::string_view>, 6> kNames{{
    {PortType::kDataset, "dataset"},
    {PortType::kArray, "array"},
    {PortType::kImage, "image"},
    {PortType::kSpectrum, "spectrum"},
    {PortType::kTable, "table"},
    {PortType::kScalar, "scalar"},
}};

bool IsArrayLike(PortType type) {
  return type == PortType::kArray || type == PortType::kImage || type == PortType::kSpectrum;
}
}  // namespace

std::string_view Name(PortType type) {
  for (const auto& [t, name] : kNames) {
    if (t == type) return name;
  }
  return "?";
}

PortType ParsePortType(std::string_view text, const std::string& field) {
  for (const auto& [t, name] : kNames) {
    if (name == text) return t;
  }
  throw Error::InvalidArgument(fmt::format("unknown port type '{}'", text), field);
}

bool CanConnect(PortType from, PortType to) {
  if (from == to) return true;
  return IsArrayLike(from) && IsArrayLike(to);
}

PortType ArrayTypeOfRank(size_t rank) {
  return rank == 1 ? PortType::kSpectrum : rank == 2 ? PortType::kImage : PortType::kArray;
}

std::vector<dataset::Axis> DefaultArrayAxes(const std::vector<int64_t>& shape) {
  std::vector<dataset::Axis> axes;
  for (size_t i = 0; i < shape.size(); ++i) {
    axes.push_back(dataset::Axis{.name = fmt::format("dim{}", i), .size = shape[i], .units = "px"});
  }
  return axes;
}

Value Value::Dataset(std::shared_ptr<const dataset::Dataset> ds) {
  Value v;
  v.type = PortType::kDataset;
  v.dataset = std::move(ds);
  return v;
}

Value Value::Array(PortType type, NdArray data, std::vector<dataset::Axis> axes, std::string units) {
  TESSERA_DCHECK(IsArrayLike(type), "Value::Array of a non-array type");
  if (axes.size() != data.shape().size()) axes = DefaultArrayAxes(data.shape());
  for (size_t i = 0; i < axes.size(); ++i) axes[i].size = data.shape()[i];
  Value v;
  v.type = type;
  v.array = std::make_shared<const ArrayData>(
      ArrayData{.data = std::move(data), .axes = std::move(axes), .units = std::move(units)});
  return v;
}

Value Value::Table(std::shared_ptr<const arrayops::Table> table) {
  Value v;
  v.type = PortType::kTable;
  v.table = std::move(table);
  return v;
}

Value Value::Scalar(double value) {
  Value v;
  v.type = PortType::kScalar;
  v.scalar = value;
  return v;
}

}  // namespace tessera::pipeline
