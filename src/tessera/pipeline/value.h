// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"

namespace tessera::arrayops {
struct Table;
}

namespace tessera::pipeline {

/// What travels along an edge. The connection rules live in CanConnect().
enum class PortType : uint8_t {
  kDataset,   // a lazy N-D stream with nav/sig axes, read by reduce operators
  kArray,     // an in-memory N-D array with axes
  kImage,     // a 2-D array (or an RGB figure, height x width x 3 uint8, from display operators)
  kSpectrum,  // a 1-D array whose axis is energy (or any physical coordinate)
  kTable,     // named columns of numbers (peak lists, fit results)
  kScalar,    // one number
};

std::string_view Name(PortType type);
/// Parse "dataset", "array", ...; throws kInvalidArgument naming `field`.
PortType ParsePortType(std::string_view text, const std::string& field);

/// Return whether an output of type `from` may feed an input of type `to`. Arrays, images and
/// spectra connect to each other (the rank is checked when the operator runs); datasets, tables
/// and scalars connect only to their own kind.
bool CanConnect(PortType from, PortType to);

/// An in-memory array with its calibration.
struct ArrayData {
  NdArray data;
  std::vector<dataset::Axis> axes;  // one per dimension
  std::string units;                // of the values
};

/// One value on a port. Immutable once made, shared between the cache and every consumer.
struct Value {
  PortType type = PortType::kScalar;
  std::shared_ptr<const dataset::Dataset> dataset;
  std::shared_ptr<const ArrayData> array;
  std::shared_ptr<const arrayops::Table> table;
  double scalar = 0.0;

  static Value Dataset(std::shared_ptr<const dataset::Dataset> ds);
  /// `type` is kArray, kImage or kSpectrum; axes default to "dim0".. in pixels.
  static Value Array(PortType type, NdArray data, std::vector<dataset::Axis> axes = {},
                     std::string units = {});
  static Value Table(std::shared_ptr<const arrayops::Table> table);
  static Value Scalar(double value);

  bool is_array_like() const {
    return type == PortType::kArray || type == PortType::kImage || type == PortType::kSpectrum;
  }
};

/// Return the port type of an in-memory array of `rank`: spectrum (1), image (2), else array.
PortType ArrayTypeOfRank(size_t rank);

/// Return default axes for an array: "dim0".. with unit scale.
std::vector<dataset::Axis> DefaultArrayAxes(const std::vector<int64_t>& shape);

}  // namespace tessera::pipeline
