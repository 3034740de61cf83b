// SPDX-License-Identifier: MIT
#include "tessera/dataset/views.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/dataset/memory_dataset.h"

namespace tessera::dataset {
namespace {

// The views are checked against brute-force transforms of small arrays ("materialised copies"):
// every read of a view, for random frame ranges, signal bands and output dtypes, must equal the
// same read of the copy byte for byte. Floating test data are multiples of 1/8 below 2^14, so
// sums of them are exact in float64 and the reference may add in any order.

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

/// A materialised dataset: the array and how many trailing axes are signal axes.
struct Array {
  NdArray data;
  int sig_dims = 2;
  Shape shape() const {
    const auto& dims = data.shape();
    const auto split = dims.end() - sig_dims;
    return Shape({dims.begin(), split}, {split, dims.end()});
  }
  Array Clone() const { return {data.Clone(), sig_dims}; }
};

std::vector<int64_t> Unravel(int64_t flat, const std::vector<int64_t>& dims) {
  std::vector<int64_t> index(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    index[d] = flat % dims[d];
    flat /= dims[d];
  }
  return index;
}

int64_t Ravel(const std::vector<int64_t>& index, const std::vector<int64_t>& dims) {
  int64_t flat = 0;
  for (size_t d = 0; d < dims.size(); ++d) flat = flat * dims[d] + index[d];
  return flat;
}

/// Store `value` (complex; its real part for real dtypes) at element `i`.
void SetValue(NdArray& array, int64_t i, std::complex<double> value) {
  auto* dst = static_cast<std::byte*>(array.raw()) + i * SizeOf(array.dtype());
  ConvertElements(&value, DType::kComplex128, false, dst, array.dtype(), 1);
}

std::complex<double> GetValue(const NdArray& array, int64_t i) {
  std::complex<double> value;
  const auto* src = static_cast<const std::byte*>(array.raw()) + i * SizeOf(array.dtype());
  ConvertElements(src, array.dtype(), false, &value, DType::kComplex128, 1);
  return value;
}

/// Random values that fit the dtype: integers over most of its range, floats in steps of 1/8.
Array RandomArray(DType dtype, std::vector<int64_t> dims, int sig_dims, uint64_t seed) {
  Array array{NdArray(dtype, std::move(dims)), sig_dims};
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return static_cast<double>(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
  };
  for (int64_t i = 0; i < array.data.size(); ++i) {
    std::complex<double> value;
    switch (dtype) {
      case DType::kBool: value = uniform(0, 1); break;
      case DType::kInt8: value = uniform(-128, 127); break;
      case DType::kUint8: value = uniform(0, 255); break;
      case DType::kInt16: value = uniform(-32768, 32767); break;
      case DType::kUint16: value = uniform(0, 65535); break;
      case DType::kInt32: value = uniform(-1000000000, 1000000000); break;
      case DType::kUint32: value = uniform(0, 4000000000); break;
      case DType::kInt64:
      case DType::kUint64: value = uniform(0, int64_t{1} << 40); break;
      default: value = {uniform(-80000, 80000) / 8, uniform(-80000, 80000) / 8}; break;
    }
    SetValue(array.data, i, value);
  }
  return array;
}

/// Build an array of `dims` whose element at each index is `source(index)` (a flat element
/// index into `from`), copying bytes.
Array Gather(const Array& from, std::vector<int64_t> dims, int sig_dims,
             const std::function<int64_t(const std::vector<int64_t>&)>& source) {
  Array out{NdArray(from.data.dtype(), dims), sig_dims};
  const int64_t elem = SizeOf(from.data.dtype());
  for (int64_t i = 0; i < out.data.size(); ++i) {
    std::memcpy(static_cast<std::byte*>(out.data.raw()) + i * elem,
                static_cast<const std::byte*>(from.data.raw()) + source(Unravel(i, dims)) * elem,
                static_cast<size_t>(elem));
  }
  return out;
}

Array RefCrop(const Array& a, const Ranges& nav, const Ranges& sig) {
  Ranges ranges = nav;
  ranges.insert(ranges.end(), sig.begin(), sig.end());
  std::vector<int64_t> dims;
  for (const auto& [b, e] : ranges) dims.push_back(e - b);
  return Gather(a, dims, a.sig_dims, [&](std::vector<int64_t> index) {
    for (size_t d = 0; d < index.size(); ++d) index[d] += ranges[d].first;
    return Ravel(index, a.data.shape());
  });
}

/// np.flipud / np.fliplr, then np.rot90 applied one quarter turn at a time.
Array RefFlipRotate(const Array& a, bool flip_y, bool flip_x, int rot90) {
  const auto& in = a.data.shape();
  const size_t y = in.size() - 2, x = in.size() - 1;
  Array out = Gather(a, in, 2, [&](std::vector<int64_t> index) {
    if (flip_y) index[y] = in[y] - 1 - index[y];
    if (flip_x) index[x] = in[x] - 1 - index[x];
    return Ravel(index, in);
  });
  for (int turn = 0; turn < ((rot90 % 4) + 4) % 4; ++turn) {
    const Array m = std::move(out);
    std::vector<int64_t> dims = m.data.shape();
    std::swap(dims[y], dims[x]);
    const int64_t width = m.data.shape()[x];
    out = Gather(m, dims, 2, [&](std::vector<int64_t> index) {  // out[i][j] = m[j][W-1-i]
      const int64_t i = index[y], j = index[x];
      index[y] = j;
      index[x] = width - 1 - i;
      return Ravel(index, m.data.shape());
    });
  }
  return out;
}

Array RefTranspose(const Array& a) {
  const auto& in = a.data.shape();  // (N, R, C) -> (R, N, C)
  return Gather(a, {in[1], in[0], in[2]}, 2, [&](const std::vector<int64_t>& index) {
    return Ravel({index[1], index[0], index[2]}, in);
  });
}

Array RefBin(const Array& a, std::vector<int64_t> factors, BinReduce reduce, DType dtype) {
  const auto& in = a.data.shape();
  std::vector<int64_t> dims;
  for (size_t d = 0; d < in.size(); ++d) dims.push_back(in[d] / factors[d]);
  Array out{NdArray(dtype, dims), a.sig_dims};
  const int64_t members = Product(factors);
  for (int64_t i = 0; i < out.data.size(); ++i) {
    const auto index = Unravel(i, dims);
    std::complex<double> sum = 0;
    for (int64_t m = 0; m < members; ++m) {
      auto member = Unravel(m, factors);
      for (size_t d = 0; d < member.size(); ++d) member[d] += index[d] * factors[d];
      sum += GetValue(a.data, Ravel(member, in));
    }
    SetValue(out.data, i, reduce == BinReduce::kMean ? sum / static_cast<double>(members) : sum);
  }
  return out;
}

/// Round to nearest even and clamp for integers, clamp finite values for float32.
double RefSaturate(double v, DType dtype) {
  auto clamp = [&](double lo, double hi) {
    return std::isnan(v) ? 0.0 : std::clamp(std::nearbyint(v), lo, hi);
  };
  switch (dtype) {
    case DType::kBool: return v != 0 ? 1 : 0;
    case DType::kInt8: return clamp(-128, 127);
    case DType::kUint8: return clamp(0, 255);
    case DType::kInt16: return clamp(-32768, 32767);
    case DType::kUint16: return clamp(0, 65535);
    case DType::kInt32: return clamp(-2147483648.0, 2147483647.0);
    case DType::kUint32: return clamp(0, 4294967295.0);
    case DType::kFloat32: {
      const double max = std::numeric_limits<float>::max();
      return std::isfinite(v) ? std::clamp(v, -max, max) : v;
    }
    default: return v;
  }
}

Array RefDType(const Array& a, DType dtype) {
  Array out{NdArray(dtype, a.data.shape()), a.sig_dims};
  for (int64_t i = 0; i < out.data.size(); ++i) {
    SetValue(out.data, i, RefSaturate(GetValue(a.data, i).real(), dtype));
  }
  return out;
}

Array RefCorrected(const Array& a, const CorrectionSet& set) {
  Array out{NdArray(DType::kFloat32, a.data.shape()), a.sig_dims};
  ConvertElements(a.data.raw(), a.data.dtype(), false, out.data.raw(), DType::kFloat32,
                  a.data.size());
  const int64_t sig_size = a.shape().sig_size();
  set.Apply(static_cast<float*>(out.data.raw()), a.shape().nav_size(), sig_size, {0, sig_size});
  return out;
}

DatasetPtr Memory(const Array& a) { return MakeMemoryDataset(a.data.Clone(), a.sig_dims); }

std::vector<std::byte> Read(const Dataset& ds, int64_t f0, int64_t f1, SigRange sig, DType dtype) {
  std::vector<std::byte> out(static_cast<size_t>((f1 - f0) * sig.size() * SizeOf(dtype)));
  ds.ReadFrames(f0, f1, sig, out.data(), dtype);
  return out;
}

/// Output dtypes a reader of `dtype` data may ask for.
std::vector<DType> ReadDTypes(DType dtype) {
  if (IsComplex(dtype)) return {dtype, DType::kComplex64, DType::kComplex128};
  // Floats out of an integer's range convert with undefined behaviour: no integer reads of them.
  if (IsFloating(dtype)) return {dtype, DType::kFloat32, DType::kFloat64};
  return {dtype, DType::kFloat32, DType::kFloat64, DType::kInt64};
}

/// Expect reads of `view` to equal reads of the materialised `expected`, byte for byte: the whole
/// dataset, then random frame ranges x random bands of whole rows (as the runner asks), and a
/// few ranges that cut rows.
void ExpectSameReads(const Dataset& view, const Array& expected, uint64_t seed = 1) {
  const Shape shape = expected.shape();
  ASSERT_EQ(view.meta().shape, shape);
  ASSERT_EQ(view.meta().dtype, expected.data.dtype());
  auto reference = Memory(expected);
  const int64_t frames = shape.nav_size(), sig_size = shape.sig_size();
  const int64_t rows = shape.sig()[0], row = sig_size / rows;
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const auto dtypes = ReadDTypes(expected.data.dtype());
  for (int trial = 0; trial < 40; ++trial) {
    int64_t f0 = 0, f1 = frames;
    SigRange sig{0, sig_size};
    if (trial > 0) {
      f0 = pick(0, frames - 1), f1 = pick(f0 + 1, frames);
      const int64_t r0 = pick(0, rows - 1), r1 = pick(r0 + 1, rows);
      sig = trial % 5 == 4 ? SigRange{pick(0, sig_size - 1), 0} : SigRange{r0 * row, r1 * row};
      if (sig.end == 0) sig.end = pick(sig.begin + 1, sig_size);
    }
    const DType dtype = dtypes[static_cast<size_t>(trial) % dtypes.size()];
    const auto got = Read(view, f0, f1, sig, dtype);
    const auto want = Read(*reference, f0, f1, sig, dtype);
    if (got != want) {
      const int64_t elem = SizeOf(dtype);
      int64_t first = 0;
      while (std::memcmp(got.data() + first * elem, want.data() + first * elem,
                         static_cast<size_t>(elem)) == 0) {
        ++first;
      }
      ADD_FAILURE() << "frames [" << f0 << ", " << f1 << "), sig [" << sig.begin << ", "
                    << sig.end << ") as " << Name(dtype) << ": element " << first << " differs";
      return;
    }
  }
}

/// A dataset over another with calibrated axes, a native depth, and a log of WillNeed calls.
class Calibrated final : public Dataset {
 public:
  Calibrated(DatasetPtr inner, int64_t native_depth)
      : inner_(std::move(inner)), meta_(inner_->meta()), native_depth_(native_depth) {
    meta_.format = "test";
    meta_.path = "/data/scan.raw";
    meta_.files = {{"/data/scan.raw", 1234}};
    for (size_t i = 0; i < meta_.axes.size(); ++i) {
      meta_.axes[i].name = "axis" + std::to_string(i);
      meta_.axes[i].scale = 0.5 + static_cast<double>(i);
      meta_.axes[i].offset = -10.0 * static_cast<double>(i + 1);
      meta_.axes[i].units = i < static_cast<size_t>(meta_.shape.nav_dims()) ? "nm" : "mrad";
    }
  }
  const DatasetMeta& meta() const override { return meta_; }
  int64_t native_depth() const override { return native_depth_; }
  const std::byte* DirectFrames(int64_t b, int64_t e) const override {
    return inner_->DirectFrames(b, e);
  }
  void ReadFrames(int64_t b, int64_t e, SigRange sig, void* dst, DType dtype) const override {
    inner_->ReadFrames(b, e, sig, dst, dtype);
  }
  void WillNeed(int64_t b, int64_t e) const override { will_need.emplace_back(b, e); }

  mutable std::vector<std::pair<int64_t, int64_t>> will_need;

 private:
  DatasetPtr inner_;
  DatasetMeta meta_;
  int64_t native_depth_;
};

// ---------------------------------------------------------------------------------------------

/// Return `ranges`, or the whole of `dims` when empty.
Ranges Whole(Ranges ranges, std::span<const int64_t> dims) {
  if (ranges.empty()) {
    for (int64_t d : dims) ranges.emplace_back(0, d);
  }
  return ranges;
}

TEST(CropView, ReadsEqualACroppedCopy) {
  struct Case {
    DType dtype;
    std::vector<int64_t> dims;
    int sig_dims;
    Ranges nav, sig;
  };
  const Case cases[] = {
      {DType::kUint16, {5, 6, 7, 8}, 2, {{1, 4}, {2, 5}}, {{1, 6}, {2, 7}}},
      {DType::kFloat64, {5, 6, 7, 8}, 2, {{1, 4}, {0, 6}}, {}},  // whole scan rows
      {DType::kInt8, {5, 6, 7, 8}, 2, {}, {{3, 7}, {0, 8}}},     // a band of frame rows
      {DType::kComplex64, {5, 6, 7, 8}, 2, {{4, 5}, {5, 6}}, {{0, 7}, {7, 8}}},
      {DType::kUint8, {9, 3, 4, 5}, 3, {{2, 8}}, {{0, 3}, {1, 3}, {2, 5}}},
      {DType::kInt32, {4, 5, 40}, 1, {{0, 4}, {1, 4}}, {{5, 33}}},
      {DType::kBool, {3, 4, 6, 6}, 2, {}, {}},
  };
  uint64_t seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE(Name(c.dtype));
    const Array base = RandomArray(c.dtype, c.dims, c.sig_dims, ++seed);
    const Shape shape = base.shape();
    const auto view = CropView(Memory(base), c.nav, c.sig);
    ExpectSameReads(*view, RefCrop(base, Whole(c.nav, shape.nav()), Whole(c.sig, shape.sig())),
                    seed);
  }
}

TEST(CropView, KeepsRankAndMovesOffsets) {
  const Array base = RandomArray(DType::kUint16, {5, 6, 7, 8}, 2, 1);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 1);
  const auto view = CropView(calibrated, {{2, 3}, {1, 5}}, {{0, 7}, {3, 8}});
  const DatasetMeta& meta = view->meta();
  EXPECT_EQ(meta.shape, Shape({1, 4}, {7, 5}));
  EXPECT_EQ(meta.format, "view");
  EXPECT_EQ(meta.path, "/data/scan.raw");
  ASSERT_EQ(meta.files.size(), 1u);
  EXPECT_EQ(meta.files[0].size, 1234);
  ASSERT_EQ(meta.axes.size(), 4u);
  const auto& base_axes = calibrated->meta().axes;
  const int64_t begins[4] = {2, 1, 0, 3};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(meta.axes[i].name, base_axes[i].name);
    EXPECT_EQ(meta.axes[i].size, meta.shape.dims()[i]);
    EXPECT_DOUBLE_EQ(meta.axes[i].scale, base_axes[i].scale);
    EXPECT_DOUBLE_EQ(meta.axes[i].offset, base_axes[i].offset + begins[i] * base_axes[i].scale);
  }
}

TEST(CropView, DirectOnlyWhereContiguous) {
  const Array base = RandomArray(DType::kUint16, {5, 6, 7, 8}, 2, 2);
  const DatasetPtr memory = Memory(base);
  const int64_t frame_bytes = 7 * 8 * 2;
  const auto* origin = memory->DirectFrames(0, 1);
  // Whole scan rows: any range of frames is contiguous.
  const auto rows = CropView(memory, {{1, 4}, {0, 6}}, {});
  EXPECT_EQ(rows->DirectFrames(2, 17), origin + 8 * frame_bytes);
  // Part of each scan row: only ranges inside one row.
  const auto part = CropView(memory, {{1, 4}, {2, 5}}, {});
  EXPECT_EQ(part->DirectFrames(3, 6), origin + (2 * 6 + 2) * frame_bytes);
  EXPECT_EQ(part->DirectFrames(2, 4), nullptr);
  // Cropped frames are never contiguous; views that compute never are.
  EXPECT_EQ(CropView(memory, {}, {{1, 7}, {0, 8}})->DirectFrames(0, 1), nullptr);
  EXPECT_EQ(BinView(memory, {}, {2, 2}, BinReduce::kSum)->DirectFrames(0, 1), nullptr);
  EXPECT_EQ(CorrectedView(memory, {})->DirectFrames(0, 1), nullptr);
  EXPECT_EQ(FlipRotateView(memory, false, false, 4)->DirectFrames(3, 9), origin + 3 * frame_bytes);
  EXPECT_EQ(FlipRotateView(memory, false, true, 0)->DirectFrames(3, 9), nullptr);
  EXPECT_EQ(DTypeView(memory, DType::kUint16)->DirectFrames(3, 9), origin + 3 * frame_bytes);
  EXPECT_EQ(DTypeView(memory, DType::kFloat32)->DirectFrames(3, 9), nullptr);
}

TEST(BinView, ReadsEqualABinnedCopy) {
  struct Case {
    DType dtype;
    std::vector<int64_t> dims;
    int sig_dims;
    std::vector<int64_t> nav, sig;
    BinReduce reduce;
    DType binned;
  };
  const auto kSum = BinReduce::kSum, kMean = BinReduce::kMean;
  const Case cases[] = {
      {DType::kUint16, {5, 7, 9, 10}, 2, {2, 3}, {2, 3}, kSum, DType::kInt64},
      {DType::kUint16, {5, 7, 9, 10}, 2, {2, 3}, {2, 3}, kMean, DType::kFloat32},
      {DType::kInt16, {4, 4, 8, 8}, 2, {}, {2, 2}, kMean, DType::kFloat32},
      {DType::kFloat32, {4, 6, 8, 8}, 2, {2, 2}, {}, kSum, DType::kFloat32},
      {DType::kFloat64, {5, 7, 9, 10}, 2, {1, 2}, {3, 1}, kMean, DType::kFloat64},
      {DType::kInt32, {6, 5, 6}, 2, {3}, {2, 5}, kMean, DType::kFloat64},
      {DType::kUint64, {6, 4, 6}, 2, {2}, {2, 2}, kSum, DType::kUint64},
      {DType::kBool, {4, 4, 6, 6}, 2, {2, 2}, {2, 2}, kSum, DType::kInt64},
      {DType::kComplex64, {4, 6, 6, 4}, 2, {2, 3}, {3, 2}, kMean, DType::kComplex64},
      {DType::kUint8, {6, 4, 50}, 1, {2, 2}, {4}, kSum, DType::kInt64},
      {DType::kFloat32, {5, 4, 5, 7}, 3, {2}, {2, 2, 3}, kMean, DType::kFloat32},
      {DType::kUint16, {8, 9}, 1, {8}, {9}, kSum, DType::kInt64},
      // Narrow integers sum in float32 up to 256 elements per bin, beyond that in int64.
      {DType::kUint16, {17, 18, 3}, 1, {17, 18}, {1}, kSum, DType::kInt64},
      {DType::kInt16, {17, 18, 3}, 1, {17, 18}, {1}, kMean, DType::kFloat32},
  };
  uint64_t seed = 20;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(Name(c.dtype)) + (c.reduce == kSum ? " sum" : " mean"));
    const Array base = RandomArray(c.dtype, c.dims, c.sig_dims, ++seed);
    const auto view = BinView(Memory(base), c.nav, c.sig, c.reduce);
    const size_t nav_dims = c.dims.size() - static_cast<size_t>(c.sig_dims);
    std::vector<int64_t> factors = c.nav.empty() ? std::vector<int64_t>(nav_dims, 1) : c.nav;
    const std::vector<int64_t> sig =
        c.sig.empty() ? std::vector<int64_t>(static_cast<size_t>(c.sig_dims), 1) : c.sig;
    factors.insert(factors.end(), sig.begin(), sig.end());
    ExpectSameReads(*view, RefBin(base, factors, c.reduce, c.binned), seed);
  }
}

TEST(BinView, AxesDescribeBinCentres) {
  const Array base = RandomArray(DType::kUint16, {5, 7, 9, 10}, 2, 3);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 1);
  const auto view = BinView(calibrated, {2, 3}, {4, 1}, BinReduce::kMean);
  EXPECT_EQ(view->meta().shape, Shape({2, 2}, {2, 10}));
  const int64_t factors[4] = {2, 3, 4, 1};
  for (size_t i = 0; i < 4; ++i) {
    const Axis& in = calibrated->meta().axes[i];
    const Axis& out = view->meta().axes[i];
    EXPECT_EQ(out.size, view->meta().shape.dims()[i]);
    EXPECT_DOUBLE_EQ(out.scale, in.scale * factors[i]);
    // The bin's first centre is the mean of its members' coordinates.
    double mean = 0;
    for (int64_t k = 0; k < factors[i]; ++k) mean += in.offset + k * in.scale;
    EXPECT_DOUBLE_EQ(out.offset, mean / factors[i]);
    EXPECT_EQ(out.units, in.units);
  }
}

TEST(Views, ExplicitAxisValuesFollowTheData) {
  // A sweep axis with listed coordinates: cropped, binned (centres) and reversed with the data.
  const Array base = RandomArray(DType::kUint8, {6, 4, 5}, 2, 28);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 1);
  struct Swept final : public Dataset {
    DatasetPtr inner;
    DatasetMeta swept;
    const DatasetMeta& meta() const override { return swept; }
    void ReadFrames(int64_t b, int64_t e, SigRange sig, void* dst, DType dtype) const override {
      inner->ReadFrames(b, e, sig, dst, dtype);
    }
  };
  auto swept = std::make_shared<Swept>();
  swept->inner = calibrated;
  swept->swept = calibrated->meta();
  swept->swept.axes[0].values = {1, 2, 4, 8, 16, 32};
  swept->swept.axes[2].values = {0.5, 1.5, 2.5, 3.5, 4.5};
  EXPECT_EQ(CropView(swept, {{1, 4}}, {})->meta().axes[0].values, (std::vector<double>{2, 4, 8}));
  EXPECT_EQ(BinView(swept, {3}, {}, BinReduce::kSum)->meta().axes[0].values,
            (std::vector<double>{7.0 / 3, 56.0 / 3}));
  EXPECT_EQ(BinView(swept, {}, {1, 2}, BinReduce::kSum)->meta().axes[2].values,
            (std::vector<double>{1, 3}));
  const auto turned = FlipRotateView(swept, false, false, 1);
  EXPECT_EQ(turned->meta().axes[1].values, (std::vector<double>{4.5, 3.5, 2.5, 1.5, 0.5}));
  EXPECT_EQ(TransposeNavSigView(swept)->meta().axes[1].values, swept->swept.axes[0].values);
}

TEST(FlipRotateView, ReadsEqualNumpyFlipsAndRot90) {
  const Array base = RandomArray(DType::kUint16, {3, 4, 5, 7}, 2, 4);
  for (int flips = 0; flips < 4; ++flips) {
    for (int rot90 : {-1, 0, 1, 2, 3, 6}) {
      const bool flip_y = (flips & 1) != 0, flip_x = (flips & 2) != 0;
      SCOPED_TRACE(::testing::Message() << "flip_y " << flip_y << " flip_x " << flip_x
                                        << " rot90 " << rot90);
      const auto view = FlipRotateView(Memory(base), flip_y, flip_x, rot90);
      ExpectSameReads(*view, RefFlipRotate(base, flip_y, flip_x, rot90), 40 + rot90);
    }
  }
  const Array complex = RandomArray(DType::kComplex128, {6, 4, 3}, 2, 5);
  ExpectSameReads(*FlipRotateView(Memory(complex), true, false, 1),
                  RefFlipRotate(complex, true, false, 1));
}

TEST(FlipRotateView, AxesTravelWithTheirData) {
  const Array base = RandomArray(DType::kUint8, {2, 5, 7}, 2, 6);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 1);
  const Axis& y = calibrated->meta().axes[1];
  const Axis& x = calibrated->meta().axes[2];
  const auto turned = FlipRotateView(calibrated, false, false, 1);  // out[i][j] = m[j][W-1-i]
  EXPECT_EQ(turned->meta().shape, Shape({2}, {7, 5}));
  const Axis& rows = turned->meta().axes[1];
  EXPECT_EQ(rows.name, x.name);
  EXPECT_DOUBLE_EQ(rows.scale, -x.scale);
  EXPECT_DOUBLE_EQ(rows.offset, x.offset + 6 * x.scale);
  EXPECT_EQ(turned->meta().axes[2], y);
  const auto flipped = FlipRotateView(calibrated, true, false, 0);
  EXPECT_DOUBLE_EQ(flipped->meta().axes[1].offset, y.offset + 4 * y.scale);
  EXPECT_EQ(flipped->meta().axes[2], x);
}

TEST(TransposeNavSigView, SwapsProjectionsAndSinograms) {
  const Array base = RandomArray(DType::kFloat32, {6, 5, 7}, 2, 7);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 3);
  const auto sinograms = TransposeNavSigView(calibrated);
  ExpectSameReads(*sinograms, RefTranspose(base), 7);
  const auto& axes = calibrated->meta().axes;
  EXPECT_EQ(sinograms->meta().axes, (std::vector<Axis>{axes[1], axes[0], axes[2]}));
  EXPECT_EQ(sinograms->native_depth(), 1);
  // Twice is the identity: the same meta and the same reads as the base.
  const auto back = TransposeNavSigView(sinograms);
  EXPECT_EQ(back->meta().shape, calibrated->meta().shape);
  EXPECT_EQ(back->meta().axes, axes);
  ExpectSameReads(*back, base, 8);
}

TEST(DTypeView, RoundsAndSaturates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double specials[] = {2.5,  3.5,   -0.5, -1.5,    0.49, 255.5, 256, -129, 70000,
                             -7e4, 1e40,  -1e40, 65535.5, nan, inf,   -3e9, 3e9,  0};
  const int64_t n = std::size(specials);
  Array base{NdArray(DType::kFloat64, {n, 1}), 1};
  std::copy(std::begin(specials), std::end(specials), base.data.flat<double>().begin());
  for (DType dtype : {DType::kUint8, DType::kInt8, DType::kInt16, DType::kUint16, DType::kInt32,
                      DType::kUint32, DType::kFloat32, DType::kBool}) {
    SCOPED_TRACE(Name(dtype));
    ExpectSameReads(*DTypeView(Memory(base), dtype), RefDType(base, dtype));
  }
  // Hand-checked: ties to even, clamped, NaN -> 0, and a float read returns the stored integers.
  const auto u8 = DTypeView(Memory(base), DType::kUint8);
  const auto values = Read(*u8, 0, n, {0, 1}, DType::kFloat32);
  const float* got = reinterpret_cast<const float*>(values.data());
  const float want[] = {2, 4, 0, 0, 0, 255, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0};
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(got[i], want[i]) << "element " << i;
  const auto f32 = DTypeView(Memory(base), DType::kFloat32);
  const auto floats = Read(*f32, 10, 11, {0, 1}, DType::kFloat64);
  EXPECT_EQ(*reinterpret_cast<const double*>(floats.data()),
            static_cast<double>(std::numeric_limits<float>::max()));
}

TEST(DTypeView, IntegersClampBetweenTypes) {
  for (DType from : {DType::kInt32, DType::kUint16, DType::kInt64, DType::kFloat32}) {
    const Array base = RandomArray(from, {4, 3, 5, 6}, 2, 30 + static_cast<int>(from));
    for (DType to : {DType::kInt8, DType::kUint8, DType::kInt16, DType::kFloat64}) {
      SCOPED_TRACE(std::string(Name(from)) + " -> " + std::string(Name(to)));
      ExpectSameReads(*DTypeView(Memory(base), to), RefDType(base, to));
    }
  }
  const Array complex = RandomArray(DType::kComplex128, {3, 4, 4}, 2, 9);
  const auto narrowed = DTypeView(Memory(complex), DType::kComplex64);
  Array expected{NdArray(DType::kComplex64, complex.data.shape()), 2};
  ConvertElements(complex.data.raw(), DType::kComplex128, false, expected.data.raw(),
                  DType::kComplex64, complex.data.size());
  ExpectSameReads(*narrowed, expected);
}

CorrectionSet MakeCorrections(const Shape& shape, std::vector<int64_t> excluded, uint64_t seed) {
  const auto sig = shape.sig();
  std::vector<int64_t> dims(sig.begin(), sig.end());
  Array dark = RandomArray(DType::kFloat32, dims, 1, seed);
  Array gain = RandomArray(DType::kFloat32, dims, 1, seed + 1);
  for (float& g : gain.data.flat<float>()) g = 1.0f + g / 20000.0f;
  return CorrectionSet::Make(shape, dark.data, gain.data, std::move(excluded));
}

TEST(CorrectedView, BandsEqualCorrectedWholeFrames) {
  const Array base = RandomArray(DType::kUint16, {4, 5, 6, 7}, 2, 11);
  const Shape shape = base.shape();
  // Excluded pixels at a corner, an edge, inside, and next to each other.
  for (std::vector<int64_t> excluded :
       {std::vector<int64_t>{}, std::vector<int64_t>{0, 8, 9, 20, 41}}) {
    SCOPED_TRACE(excluded.size());
    const CorrectionSet set = MakeCorrections(shape, excluded, 12);
    const auto view = CorrectedView(Memory(base), set);
    EXPECT_EQ(view->meta().dtype, DType::kFloat32);
    ExpectSameReads(*view, RefCorrected(base, set), 13);
  }
  ExpectSameReads(*CorrectedView(Memory(base), {}), RefCorrected(base, {}), 14);
  // One band of rows read alone equals the same rows of the whole corrected frame.
  const CorrectionSet set = MakeCorrections(shape, {15, 16}, 15);
  const auto view = CorrectedView(Memory(base), set);
  const auto whole = Read(*view, 3, 9, {0, 42}, DType::kFloat32);
  const auto band = Read(*view, 3, 9, {14, 21}, DType::kFloat32);
  for (int64_t f = 0; f < 6; ++f) {
    EXPECT_EQ(0, std::memcmp(band.data() + f * 7 * 4, whole.data() + (f * 42 + 14) * 4, 7 * 4));
  }
}

/// A dataset whose reads fail, as a broken file's would.
class FailingDataset final : public Dataset {
 public:
  explicit FailingDataset(DatasetPtr inner) : inner_(std::move(inner)) {}
  const DatasetMeta& meta() const override { return inner_->meta(); }
  void ReadFrames(int64_t, int64_t, SigRange, void*, DType) const override {
    throw Error::Io("read failed", "/data/broken.raw");
  }

 private:
  DatasetPtr inner_;
};

TEST(CorrectedView, BandsOfOneTileShareTheCorrectedFrames) {
  // Two views over the same frames, read band by band in turn on one thread (as the runner
  // does), a nested pair, and a failed read in between: each band must still be its own.
  const Array base = RandomArray(DType::kUint16, {4, 5, 6, 7}, 2, 31);
  const Array other = RandomArray(DType::kUint16, {4, 5, 6, 7}, 2, 32);
  const CorrectionSet set_a = MakeCorrections(base.shape(), {3, 17}, 33);
  const CorrectionSet set_b = MakeCorrections(base.shape(), {17, 40}, 34);
  const auto a = CorrectedView(Memory(base), set_a);
  const auto b = CorrectedView(Memory(other), set_b);
  // The inner view is asked for a band of rows while the outer one corrects whole frames.
  const Ranges rows{{1, 5}, {0, 7}};
  const auto cropped = CropView(CorrectedView(Memory(base), set_a), {}, rows);
  const CorrectionSet set_c = MakeCorrections(cropped->meta().shape, {0, 27}, 35);
  const auto nested = CorrectedView(cropped, set_c);
  const auto failing = CorrectedView(std::make_shared<FailingDataset>(Memory(base)), set_a);
  const auto ref_a = Memory(RefCorrected(base, set_a));
  const auto ref_b = Memory(RefCorrected(other, set_b));
  const auto ref_nested =
      Memory(RefCorrected(RefCrop(RefCorrected(base, set_a), {{0, 4}, {0, 5}}, rows), set_c));
  for (int64_t f = 0; f < 20; f += 3) {
    for (int64_t row = 0; row < 6; ++row) {
      const SigRange band{row * 7, (row + 1) * 7};
      const int64_t end = std::min<int64_t>(20, f + 3);
      EXPECT_EQ(Read(*a, f, end, band, DType::kFloat64),
                Read(*ref_a, f, end, band, DType::kFloat64));
      EXPECT_EQ(Read(*b, f, end, band, DType::kFloat32),
                Read(*ref_b, f, end, band, DType::kFloat32));
      if (row < 4) {
        EXPECT_EQ(Read(*nested, f, end, band, DType::kFloat32),
                  Read(*ref_nested, f, end, band, DType::kFloat32));
      }
      EXPECT_THROW(Read(*failing, f, end, band, DType::kFloat32), Error);
    }
  }
}

TEST(Views, Compose) {
  const Array base = RandomArray(DType::kUint16, {9, 10, 11}, 2, 16);  // 9 angles of 10 x 11
  {
    SCOPED_TRACE("crop of a bin of a transpose");
    const auto view = CropView(BinView(TransposeNavSigView(Memory(base)), {2}, {2, 3},
                                       BinReduce::kSum),
                               {{1, 5}}, {{1, 4}, {0, 3}});
    const Array binned = RefBin(RefTranspose(base), {2, 2, 3}, BinReduce::kSum, DType::kInt64);
    ExpectSameReads(*view, RefCrop(binned, {{1, 5}}, {{1, 4}, {0, 3}}), 17);
  }
  {
    SCOPED_TRACE("flip-rotate of a crop of a dtype change");
    const auto view = FlipRotateView(
        CropView(DTypeView(Memory(base), DType::kUint8), {{2, 8}}, {{1, 9}, {3, 11}}), true,
        false, 3);
    const Array converted = RefDType(base, DType::kUint8);
    ExpectSameReads(*view, RefFlipRotate(RefCrop(converted, {{2, 8}}, {{1, 9}, {3, 11}}), true,
                                         false, 3), 18);
  }
  {
    SCOPED_TRACE("transpose of a mean bin of corrections of a crop");
    const Ranges sig{{0, 10}, {1, 11}};
    const auto cropped = CropView(Memory(base), {{1, 9}}, sig);
    const CorrectionSet set = MakeCorrections(cropped->meta().shape, {0, 33, 55}, 19);
    const auto view = TransposeNavSigView(BinView(CorrectedView(cropped, set), {2}, {1, 2},
                                                  BinReduce::kMean));
    const Array corrected = RefCorrected(RefCrop(base, {{1, 9}}, sig), set);
    ExpectSameReads(*view, RefTranspose(RefBin(corrected, {2, 1, 2}, BinReduce::kMean,
                                               DType::kFloat32)), 20);
  }
}

TEST(Views, ReadFromManyThreadsAtOnce) {
  const Array base = RandomArray(DType::kUint16, {6, 8, 12, 10}, 2, 21);
  const CorrectionSet set = MakeCorrections(base.shape(), {5, 60}, 22);
  const auto view = BinView(CorrectedView(CropView(Memory(base), {{1, 6}, {0, 8}}, {}), set),
                            {1, 2}, {2, 2}, BinReduce::kMean);
  const auto reference = Memory(RefBin(RefCorrected(RefCrop(base, {{1, 6}, {0, 8}},
                                                            {{0, 12}, {0, 10}}), set),
                                       {1, 2, 2, 2}, BinReduce::kMean, DType::kFloat32));
  const int64_t frames = 20, sig_size = 30;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        const int64_t f0 = (t * 7 + round) % frames, f1 = std::min(frames, f0 + 1 + round % 6);
        const SigRange sig{(round % 3) * 5, sig_size};
        const auto got = Read(*view, f0, f1, sig, DType::kFloat64);
        if (got != Read(*reference, f0, f1, sig, DType::kFloat64)) {
          ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(Views, NativeDepthAndWillNeedFollowTheBase) {
  const Array base = RandomArray(DType::kUint8, {4, 16, 3, 2}, 2, 23);
  auto calibrated = std::make_shared<Calibrated>(Memory(base), 8);
  EXPECT_EQ(CropView(calibrated, {{1, 3}, {0, 16}}, {})->native_depth(), 8);
  EXPECT_EQ(CropView(calibrated, {{0, 4}, {4, 12}}, {})->native_depth(), 4);
  EXPECT_EQ(CropView(calibrated, {{0, 4}, {1, 4}}, {})->native_depth(), 1);
  EXPECT_EQ(BinView(calibrated, {1, 2}, {}, BinReduce::kSum)->native_depth(), 4);
  EXPECT_EQ(BinView(calibrated, {2, 16}, {}, BinReduce::kSum)->native_depth(), 1);
  EXPECT_EQ(FlipRotateView(calibrated, true, true, 1)->native_depth(), 8);
  EXPECT_EQ(DTypeView(calibrated, DType::kFloat32)->native_depth(), 8);
  EXPECT_EQ(CorrectedView(calibrated, {})->native_depth(), 8);

  CropView(calibrated, {{1, 3}, {2, 6}}, {})->WillNeed(1, 6);  // (1, 3) .. (2, 4)
  BinView(calibrated, {2, 4}, {}, BinReduce::kSum)->WillNeed(1, 3);  // rows 0-1, cols 4..11
  FlipRotateView(calibrated, false, true, 2)->WillNeed(5, 9);
  const std::vector<std::pair<int64_t, int64_t>> want{{19, 36}, {4, 28}, {5, 9}};
  EXPECT_EQ(calibrated->will_need, want);
  // Every sinogram holds a row of every projection.
  auto projections =
      std::make_shared<Calibrated>(Memory(RandomArray(DType::kUint8, {10, 3, 2}, 2, 24)), 1);
  TransposeNavSigView(projections)->WillNeed(1, 2);
  EXPECT_EQ(projections->will_need, (std::vector<std::pair<int64_t, int64_t>>{{0, 10}}));
}

/// Expect kInvalidArgument naming `field`, its message holding every one of `parts`.
void ExpectInvalid(const std::function<void()>& make, const std::string& field,
                   const std::vector<std::string>& parts) {
  try {
    make();
    ADD_FAILURE() << "expected an error naming " << field;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_EQ(error.info().field, field) << error.what();
    for (const auto& part : parts) {
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
    }
  }
}

TEST(Views, BadArgumentsNameTheParameter) {
  const DatasetPtr ds = Memory(RandomArray(DType::kUint16, {5, 6, 7, 8}, 2, 24));
  const std::string shape = "(5, 6 | 7, 8)";
  ExpectInvalid([&] { CropView(ds, {{0, 5}}, {}); }, "nav", {"1 ranges", shape});
  ExpectInvalid([&] { CropView(ds, {{0, 5}, {2, 7}}, {}); }, "nav", {"[2, 7)", shape});
  ExpectInvalid([&] { CropView(ds, {{3, 3}, {0, 6}}, {}); }, "nav", {"[3, 3)", shape});
  ExpectInvalid([&] { CropView(ds, {}, {{-1, 3}, {0, 8}}); }, "sig", {"[-1, 3)", shape});
  const auto kSum = BinReduce::kSum;
  ExpectInvalid([&] { BinView(ds, {0, 1}, {}, kSum); }, "nav_factors", {"factor 0", shape});
  ExpectInvalid([&] { BinView(ds, {}, {1, 9}, kSum); }, "sig_factors", {"factor 9", shape});
  ExpectInvalid([&] { BinView(ds, {}, {2}, kSum); }, "sig_factors", {"1 factors", shape});
  ExpectInvalid([&] { BinView(ds, {}, {}, static_cast<BinReduce>(7)); }, "reduce", {"7", shape});
  const DatasetPtr spectra = Memory(RandomArray(DType::kUint16, {5, 6, 9}, 1, 25));
  ExpectInvalid([&] { FlipRotateView(spectra, true, false, 0); }, "base",
                {"1 signal axes", "(5, 6 | 9)"});
  ExpectInvalid([&] { TransposeNavSigView(ds); }, "base", {shape});
  const DatasetPtr complex = Memory(RandomArray(DType::kComplex64, {2, 3, 3}, 2, 26));
  ExpectInvalid([&] { DTypeView(complex, DType::kFloat32); }, "dtype", {"complex64", "float32"});
  const CorrectionSet other = MakeCorrections(Shape({1}, {8, 7}), {}, 27);
  ExpectInvalid([&] { CorrectedView(ds, other); }, "corrections", {"8x7", "7x8", shape});
  ExpectInvalid([&] { CropView(nullptr, {}, {}); }, "base", {});
}

}  // namespace
}  // namespace tessera::dataset
