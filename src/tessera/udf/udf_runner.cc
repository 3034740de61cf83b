// SPDX-License-Identifier: MIT
#include "tessera/udf/udf_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "tessera/core/convert.h"

namespace tessera::udf {
namespace {

/// A per-thread decode buffer, grown on demand and reused across tiles and partitions.
std::byte* ScratchBuffer(int slot, int64_t bytes) {
  thread_local std::vector<std::unique_ptr<double[]>> buffers(4);
  thread_local std::vector<int64_t> capacity(4, 0);
  if (bytes > capacity[static_cast<size_t>(slot)]) {
    const int64_t doubles = (bytes + 7) / 8;
    buffers[static_cast<size_t>(slot)].reset(new double[static_cast<size_t>(doubles)]);
    capacity[static_cast<size_t>(slot)] = doubles * 8;
  }
  return reinterpret_cast<std::byte*>(buffers[static_cast<size_t>(slot)].get());
}

template <class T>
void FillNanRows(NdArray& array, const std::vector<uint8_t>& keep) {
  auto flat = array.flat<T>();
  const int64_t rows = static_cast<int64_t>(keep.size());
  const int64_t per_row = rows > 0 ? static_cast<int64_t>(flat.size()) / rows : 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (keep[static_cast<size_t>(r)]) continue;
    std::fill_n(flat.begin() + r * per_row, per_row, std::numeric_limits<T>::quiet_NaN());
  }
}

void ApplyCorrections(const dataset::CorrectionSet* corrections, std::byte* data, DType dtype,
                      int64_t depth, int64_t frame_stride, dataset::SigRange sig) {
  if (corrections == nullptr || corrections->empty()) return;
  if (dtype == DType::kFloat32) {
    corrections->Apply(reinterpret_cast<float*>(data), depth, frame_stride, sig);
  } else if (dtype == DType::kFloat64) {
    corrections->Apply(reinterpret_cast<double*>(data), depth, frame_stride, sig);
  }
}

}  // namespace

UdfRunner::UdfRunner(const dataset::Dataset& dataset, std::vector<Udf*> udfs, RunOptions options)
    : dataset_(dataset), udfs_(std::move(udfs)), options_(options) {}

std::unique_ptr<UdfRunner> UdfRunner::Create(const dataset::Dataset& dataset,
                                             std::vector<Udf*> udfs, RunOptions options) {
  if (udfs.empty()) throw Error::InvalidArgument("no analysis given", "analysis");
  const auto& meta = dataset.meta();
  if (options.roi != nullptr && options.roi->nav_size() != meta.shape.nav_size()) {
    throw Error::InvalidArgument(
        fmt::format("ROI covers {} positions, the dataset has {}", options.roi->nav_size(),
                    meta.shape.nav_size()),
        "roi");
  }
  std::unique_ptr<UdfRunner> runner(new UdfRunner(dataset, std::move(udfs), options));
  const bool corrected = options.corrections != nullptr && !options.corrections->empty();
  for (Udf* udf : runner->udfs_) {
    UdfMeta udf_meta;
    udf_meta.dataset = &meta;
    udf_meta.roi = options.roi;
    udf_meta.input_dtype = udf->InputDType(meta.dtype);
    // Corrected data is fractional: integer processing types would truncate it.
    if (corrected && !IsFloating(udf_meta.input_dtype) && !IsComplex(udf_meta.input_dtype)) {
      udf_meta.input_dtype = DType::kFloat32;
    }
    if (!CanConvert(meta.dtype, udf_meta.input_dtype)) {
      throw Error::Unsupported(fmt::format("analysis '{}' cannot read {} data as {}", udf->name(),
                                           Name(meta.dtype), Name(udf_meta.input_dtype)),
                               meta.path);
    }
    udf->PrepareRun(udf_meta);
    runner->specs_.push_back(udf->GetResultBuffers(udf_meta));
    runner->metas_.push_back(udf_meta);
  }
  runner->partitions_ =
      dataset::MakePartitions(meta.shape, dataset.native_depth(), options.partition_bytes);
  runner->Negotiate();
  for (size_t u = 0; u < runner->udfs_.size(); ++u) {
    runner->global_.emplace_back(runner->specs_[u], meta.shape, 0, meta.shape.nav_size());
    runner->udfs_[u]->Preprocess(runner->global_.back());
  }
  runner->merged_.assign(static_cast<size_t>(meta.shape.nav_size()), 0);
  runner->progress_.partitions_total = static_cast<int64_t>(runner->partitions_.size());
  runner->progress_.frames_total =
      options.roi != nullptr ? options.roi->count() : meta.shape.nav_size();
  return runner;
}

void UdfRunner::Negotiate() {
  const auto& shape = dataset_.meta().shape;
  const int64_t sig_size = shape.sig_size();
  bool full_frames = options_.corrections != nullptr && options_.corrections->needs_full_frames();
  int64_t budget = std::numeric_limits<int64_t>::max();
  int64_t depth_pref = std::numeric_limits<int64_t>::max();
  int64_t elem = 1;
  for (size_t u = 0; u < udfs_.size(); ++u) {
    full_frames = full_frames || udfs_[u]->needs_full_frames();
    const auto prefs = udfs_[u]->tiling_preferences();
    budget = std::min(budget, std::max<int64_t>(prefs.total_bytes, 1));
    depth_pref = std::min(depth_pref, std::max<int64_t>(prefs.depth, 1));
    elem = std::max(elem, SizeOf(metas_[u].input_dtype));
  }
  const int64_t frame_bytes = std::max<int64_t>(sig_size * elem, 1);
  const int64_t rows = shape.sig_dims() > 0 ? shape.sig()[0] : 1;
  const int64_t row_pixels = rows > 0 ? sig_size / rows : 0;
  scheme_ = {};
  // Deep tiles first (the UDFs' preferred depth, 32 by default), then as many rows of the frame
  // as fit the byte budget: per-tile work such as a moment merge or a GEMM call is amortised over
  // many frames, and the tile still fits the core's cache share (LiberTEM's negotiation).
  const int64_t band_rows = std::clamp<int64_t>(
      budget / std::max<int64_t>(depth_pref * row_pixels * elem, 1), 1, std::max<int64_t>(rows, 1));
  if (full_frames || rows <= 1 || band_rows >= rows) {
    scheme_.depth = full_frames ? std::clamp<int64_t>(budget / frame_bytes, 1, depth_pref) : depth_pref;
    scheme_.sig_ranges.push_back({0, sig_size});
  } else {
    scheme_.depth = depth_pref;
    for (int64_t r = 0; r < rows; r += band_rows) {
      scheme_.sig_ranges.push_back({r * row_pixels, std::min(rows, r + band_rows) * row_pixels});
    }
  }
  // Follow the format's native blocks (HDF5 chunks of k frames): whole blocks per tile, so a
  // chunk is decoded once rather than once per tile that cuts it.
  const int64_t native = std::max<int64_t>(dataset_.native_depth(), 1);
  if (native > 1 && scheme_.sig_ranges.size() == 1) {
    scheme_.depth = scheme_.depth >= native ? scheme_.depth / native * native
                    : native * frame_bytes <= std::max<int64_t>(4 * budget, int64_t{16} << 20) ? native
                                                          : scheme_.depth;
  }
  scheme_.tile_bytes = scheme_.depth * scheme_.sig_ranges.front().size() * elem;
}

void UdfRunner::CheckCancelled() const {
  if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed)) {
    throw Error::Cancelled();
  }
}

PartitionResult UdfRunner::RunPartition(int64_t index) const {
  const auto& partition = partitions_.at(static_cast<size_t>(index));
  const auto& meta = dataset_.meta();
  const DType native = meta.dtype;
  const int64_t sig_size = meta.shape.sig_size();
  PartitionResult result;
  result.index = index;
  for (size_t u = 0; u < udfs_.size(); ++u) {
    result.buffers.emplace_back(specs_[u], meta.shape, partition.frame_begin, partition.num_frames());
    udfs_[u]->Preprocess(result.buffers.back());
  }
  CheckCancelled();

  std::vector<std::pair<int64_t, int64_t>> runs;
  if (options_.roi != nullptr) {
    runs = options_.roi->Runs(partition.frame_begin, partition.frame_end);
  } else {
    runs.emplace_back(partition.frame_begin, partition.frame_end);
  }
  if (runs.empty()) return result;
  dataset_.WillNeed(runs.front().first, runs.back().second);
  const bool corrected = options_.corrections != nullptr && !options_.corrections->empty();

  // Distinct input dtypes, each decoded once per tile and shared by the UDFs that want it.
  std::vector<DType> dtypes;
  for (const auto& m : metas_) {
    if (std::find(dtypes.begin(), dtypes.end(), m.input_dtype) == dtypes.end()) {
      dtypes.push_back(m.input_dtype);
    }
  }

  auto make_tile = [&](int64_t begin, int64_t end, dataset::SigRange sig, DType dtype,
                       int slot) {
    dataset::Tile tile;
    tile.dtype = dtype;
    tile.depth = end - begin;
    tile.frame_begin = begin;
    tile.sig = sig;
    const std::byte* direct =
        (dtype == native && !corrected) ? dataset_.DirectFrames(begin, end) : nullptr;
    if (direct != nullptr) {
      tile.data = direct + sig.begin * SizeOf(dtype);
      tile.frame_stride = sig_size;
    } else {
      std::byte* buffer = ScratchBuffer(slot, tile.depth * sig.size() * SizeOf(dtype));
      dataset_.ReadFrames(begin, end, sig, buffer, dtype);
      ApplyCorrections(options_.corrections, buffer, dtype, tile.depth, sig.size(), sig);
      tile.data = buffer;
      tile.frame_stride = sig.size();
    }
    return tile;
  };

  bool any_streaming = false;
  bool any_partition = false;
  for (Udf* udf : udfs_) {
    (udf->method() == Method::kPartition ? any_partition : any_streaming) = true;
  }

  if (any_streaming) {
    for (const auto& [run_begin, run_end] : runs) {
      for (int64_t begin = run_begin; begin < run_end; begin += scheme_.depth) {
        const int64_t end = std::min(run_end, begin + scheme_.depth);
        for (const auto& sig : scheme_.sig_ranges) {
          CheckCancelled();
          for (size_t d = 0; d < dtypes.size(); ++d) {
            const dataset::Tile tile = make_tile(begin, end, sig, dtypes[d], static_cast<int>(d));
            for (size_t u = 0; u < udfs_.size(); ++u) {
              if (metas_[u].input_dtype != dtypes[d]) continue;
              Udf& udf = *udfs_[u];
              BufferSet& buffers = result.buffers[u];
              if (udf.method() == Method::kTile) {
                buffers.SetScope(tile);
                udf.ProcessTile(tile, buffers);
              } else if (udf.method() == Method::kFrame) {
                for (int64_t f = 0; f < tile.depth; ++f) {
                  dataset::Tile frame = tile;
                  frame.depth = 1;
                  frame.frame_begin = tile.frame_begin + f;
                  frame.data = static_cast<const std::byte*>(tile.data) +
                               f * tile.frame_stride * SizeOf(tile.dtype);
                  buffers.SetScope(frame);
                  udf.ProcessFrame(frame, buffers);
                }
              }
            }
          }
        }
      }
    }
  }

  if (any_partition) {
    CheckCancelled();
    std::vector<int64_t> indices;
    for (const auto& [b, e] : runs) {
      for (int64_t f = b; f < e; ++f) indices.push_back(f);
    }
    const bool contiguous = runs.size() == 1;
    for (size_t d = 0; d < dtypes.size(); ++d) {
      dataset::Tile tile;
      std::vector<std::byte> packed;
      if (contiguous) {
        tile = make_tile(runs[0].first, runs[0].second, {0, sig_size}, dtypes[d], 3);
      } else {
        const int64_t frame_bytes = sig_size * SizeOf(dtypes[d]);
        packed.resize(static_cast<size_t>(frame_bytes * static_cast<int64_t>(indices.size())));
        int64_t row = 0;
        for (const auto& [b, e] : runs) {
          std::byte* dst = packed.data() + row * frame_bytes;
          dataset_.ReadFrames(b, e, {0, sig_size}, dst, dtypes[d]);
          ApplyCorrections(options_.corrections, dst, dtypes[d], e - b, sig_size, {0, sig_size});
          row += e - b;
        }
        tile.data = packed.data();
        tile.dtype = dtypes[d];
        tile.depth = static_cast<int64_t>(indices.size());
        tile.frame_begin = indices.front();
        tile.frame_stride = sig_size;
        tile.sig = {0, sig_size};
        tile.frame_indices = indices;
      }
      for (size_t u = 0; u < udfs_.size(); ++u) {
        if (udfs_[u]->method() != Method::kPartition || metas_[u].input_dtype != dtypes[d]) continue;
        dataset::Tile scope;
        scope.frame_begin = partition.frame_begin;
        scope.depth = partition.num_frames();
        scope.sig = {0, sig_size};
        result.buffers[u].SetScope(scope);
        udfs_[u]->ProcessPartition(tile, result.buffers[u]);
      }
    }
  }

  for (size_t u = 0; u < udfs_.size(); ++u) udfs_[u]->Postprocess(result.buffers[u]);
  return result;
}

void UdfRunner::Merge(PartitionResult&& result) {
  if (result.index != next_merge_) {
    throw Error::Internal(
        fmt::format("partition {} merged out of order (expected {})", result.index, next_merge_));
  }
  const auto& partition = partitions_[static_cast<size_t>(result.index)];
  // Nav buffers: each partition owns its own rows, placed directly.
  for (size_t u = 0; u < udfs_.size(); ++u) {
    BufferSet& dest = global_[u];
    const BufferSet& src = result.buffers[u];
    for (int b = 0; b < dest.size(); ++b) {
      if (dest.spec(b).kind != BufferKind::kNav) continue;
      NdArray& whole = dest.array(b);
      const int64_t row_bytes = whole.shape()[0] > 0 ? whole.nbytes() / whole.shape()[0] : 0;
      std::memcpy(static_cast<std::byte*>(whole.raw()) + partition.frame_begin * row_bytes,
                  src.array(b).raw(), static_cast<size_t>(src.array(b).nbytes()));
    }
  }
  // Other buffers: into the merge tree.
  PushBlock(MergedBlock{.first = result.index, .height = 0, .buffers = std::move(result.buffers)});
  MarkMerged(result.index, result.index + 1);
}

void UdfRunner::PushBlock(MergedBlock&& block) {
  stack_.push_back(std::move(block));
  while (stack_.size() >= 2) {
    MergedBlock& left = stack_[stack_.size() - 2];
    const MergedBlock& right = stack_.back();
    // Join equal neighbours only where the tree over all partitions joins them: the left one
    // starts at a multiple of their joint size. From partition 0 that always holds; a range
    // that starts elsewhere (an MPI rank's share) leaves its first subtrees for its neighbour.
    if (left.height != right.height || left.first % (int64_t{2} << left.height) != 0) break;
    for (size_t u = 0; u < udfs_.size(); ++u) {
      udfs_[u]->Merge(left.buffers[u], right.buffers[u]);
      left.buffers[u].ExtendFrames(left.buffers[u].num_frames() + right.buffers[u].num_frames());
    }
    ++left.height;
    stack_.pop_back();
  }
}

void UdfRunner::MarkMerged(int64_t partition_begin, int64_t partition_end) {
  int64_t processed = 0;
  for (int64_t p = partition_begin; p < partition_end; ++p) {
    const auto& partition = partitions_[static_cast<size_t>(p)];
    for (int64_t f = partition.frame_begin; f < partition.frame_end; ++f) {
      const bool selected = options_.roi == nullptr || options_.roi->selected(f);
      merged_[static_cast<size_t>(f)] = selected ? 1 : 0;
      processed += selected;
    }
  }
  next_merge_ = partition_end;
  progress_.partitions_done += partition_end - partition_begin;
  progress_.frames_done += processed;
}

void UdfRunner::StartMergeAt(int64_t first) {
  if (next_merge_ != 0 || !stack_.empty() || first < 0 ||
      first > static_cast<int64_t>(partitions_.size())) {
    throw Error::Internal(fmt::format("cannot start merging at partition {}", first));
  }
  next_merge_ = first;
}

std::vector<MergedBlock> UdfRunner::TakeBlocks() {
  std::vector<MergedBlock> blocks = std::move(stack_);
  stack_.clear();
  return blocks;
}

void UdfRunner::MergeBlocks(std::vector<MergedBlock>&& blocks) {
  for (auto& block : blocks) {
    const int64_t size = int64_t{1} << block.height;
    if (block.first != next_merge_ || block.first % size != 0 ||
        block.first + size > static_cast<int64_t>(partitions_.size()) ||
        block.buffers.size() != udfs_.size()) {
      throw Error::Internal(fmt::format(
          "merge block of partitions [{}, {}) does not continue at partition {}", block.first,
          block.first + size, next_merge_));
    }
    const int64_t first = block.first;
    PushBlock(std::move(block));
    MarkMerged(first, first + size);
  }
}

namespace {

template <class T>
void AppendPod(std::vector<std::byte>& out, const T& value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

/// Reads what AppendPod wrote, checking every length against the bytes left.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}
  template <class T>
  T Pod() {
    T value;
    std::memcpy(&value, Take(sizeof(T)), sizeof(T));
    return value;
  }
  const std::byte* Take(size_t n) {
    if (n > bytes_.size() - pos_) {
      throw Error::Internal(fmt::format("merge message truncated: {} bytes needed at offset {} of {}",
                                        n, pos_, bytes_.size()));
    }
    const std::byte* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::span<const std::byte> bytes_;
  size_t pos_ = 0;
};

constexpr uint64_t kBlocksMagic = 0x5453424c4f434b31;  // "TSBLOCK1"
constexpr uint64_t kNavMagic = 0x54534e4156524f57;     // "TSNAVROW"

}  // namespace

void UdfRunner::SerializeBlocks(const std::vector<MergedBlock>& blocks,
                                std::vector<std::byte>& out) const {
  AppendPod(out, kBlocksMagic);
  AppendPod(out, static_cast<int64_t>(blocks.size()));
  for (const auto& block : blocks) {
    AppendPod(out, block.first);
    AppendPod(out, static_cast<int64_t>(block.height));
    for (const auto& set : block.buffers) {
      AppendPod(out, set.frame_begin());
      AppendPod(out, set.num_frames());
      for (int b = 0; b < set.size(); ++b) {
        if (set.spec(b).kind == BufferKind::kNav) continue;
        const auto* p = static_cast<const std::byte*>(set.array(b).raw());
        out.insert(out.end(), p, p + set.array(b).nbytes());
      }
    }
  }
}

std::vector<MergedBlock> UdfRunner::DeserializeBlocks(std::span<const std::byte> bytes) const {
  ByteReader in(bytes);
  if (in.Pod<uint64_t>() != kBlocksMagic) throw Error::Internal("not a merge-block message");
  const auto count = in.Pod<int64_t>();
  if (count < 0 || count > 64) throw Error::Internal(fmt::format("{} merge blocks in one message", count));
  const Shape& shape = dataset_.meta().shape;
  std::vector<MergedBlock> blocks;
  for (int64_t i = 0; i < count; ++i) {
    MergedBlock block;
    block.first = in.Pod<int64_t>();
    block.height = static_cast<int>(in.Pod<int64_t>());
    if (block.height < 0 || block.height > 62) throw Error::Internal("bad merge-block height");
    for (size_t u = 0; u < udfs_.size(); ++u) {
      const auto frame_begin = in.Pod<int64_t>();
      const auto num_frames = in.Pod<int64_t>();
      if (frame_begin < 0 || num_frames < 0 || frame_begin + num_frames > shape.nav_size()) {
        throw Error::Internal("merge block covers frames outside the dataset");
      }
      // Nav buffers travel separately (SerializeNavRows): allocate them empty.
      BufferSet set(specs_[u], shape, frame_begin, 0);
      set.ExtendFrames(num_frames);
      for (int b = 0; b < set.size(); ++b) {
        if (set.spec(b).kind == BufferKind::kNav) continue;
        const size_t n = static_cast<size_t>(set.array(b).nbytes());
        std::memcpy(set.array(b).raw(), in.Take(n), n);
      }
      block.buffers.push_back(std::move(set));
    }
    blocks.push_back(std::move(block));
  }
  if (!in.done()) throw Error::Internal("trailing bytes after the merge blocks");
  return blocks;
}

void UdfRunner::SerializeNavRows(int64_t frame_begin, int64_t frame_end,
                                 std::vector<std::byte>& out) const {
  AppendPod(out, kNavMagic);
  AppendPod(out, frame_begin);
  AppendPod(out, frame_end);
  out.insert(out.end(), reinterpret_cast<const std::byte*>(merged_.data() + frame_begin),
             reinterpret_cast<const std::byte*>(merged_.data() + frame_end));
  for (const auto& set : global_) {
    for (int b = 0; b < set.size(); ++b) {
      if (set.spec(b).kind != BufferKind::kNav) continue;
      const NdArray& whole = set.array(b);
      const int64_t row_bytes = whole.shape()[0] > 0 ? whole.nbytes() / whole.shape()[0] : 0;
      const auto* p = static_cast<const std::byte*>(whole.raw());
      out.insert(out.end(), p + frame_begin * row_bytes, p + frame_end * row_bytes);
    }
  }
}

void UdfRunner::DeserializeNavRows(int64_t frame_begin, int64_t frame_end,
                                   std::span<const std::byte> bytes) {
  ByteReader in(bytes);
  if (in.Pod<uint64_t>() != kNavMagic || in.Pod<int64_t>() != frame_begin ||
      in.Pod<int64_t>() != frame_end || frame_begin < 0 || frame_end < frame_begin ||
      frame_end > static_cast<int64_t>(merged_.size())) {
    throw Error::Internal(fmt::format("nav-row message is not for frames [{}, {})", frame_begin,
                                      frame_end));
  }
  const size_t frames = static_cast<size_t>(frame_end - frame_begin);
  std::memcpy(merged_.data() + frame_begin, in.Take(frames), frames);
  for (auto& set : global_) {
    for (int b = 0; b < set.size(); ++b) {
      if (set.spec(b).kind != BufferKind::kNav) continue;
      NdArray& whole = set.array(b);
      const int64_t row_bytes = whole.shape()[0] > 0 ? whole.nbytes() / whole.shape()[0] : 0;
      const size_t n = static_cast<size_t>((frame_end - frame_begin) * row_bytes);
      std::memcpy(static_cast<std::byte*>(whole.raw()) + frame_begin * row_bytes, in.Take(n), n);
    }
  }
  if (!in.done()) throw Error::Internal("trailing bytes after the nav rows");
}

void UdfRunner::FoldStack(std::vector<BufferSet>& into) const {
  if (stack_.empty()) return;
  // Join the remaining subtrees right to left, then fold the root into `into` (the global
  // buffers, which hold neutral elements and the nav rows).
  std::vector<BufferSet> root;
  for (const auto& b : stack_.back().buffers) root.push_back(b.Clone());
  for (size_t i = stack_.size() - 1; i-- > 0;) {
    std::vector<BufferSet> left;
    for (const auto& b : stack_[i].buffers) left.push_back(b.Clone());
    for (size_t u = 0; u < udfs_.size(); ++u) {
      udfs_[u]->Merge(left[u], root[u]);
      left[u].ExtendFrames(left[u].num_frames() + root[u].num_frames());
    }
    root = std::move(left);
  }
  for (size_t u = 0; u < udfs_.size(); ++u) udfs_[u]->Merge(into[u], root[u]);
}

std::vector<std::vector<Result>> UdfRunner::Results(const std::vector<BufferSet>& merged) const {
  std::vector<std::vector<Result>> all;
  for (size_t u = 0; u < udfs_.size(); ++u) {
    auto results = udfs_[u]->GetResults(merged[u], metas_[u]);
    // Nav entries never processed (outside the ROI, or not merged yet) read as NaN, so a partial
    // or ROI result is never mistaken for a measured zero.
    for (auto& r : results) {
      if (r.kind != BufferKind::kNav) continue;
      if (r.data.dtype() == DType::kFloat32) FillNanRows<float>(r.data, merged_);
      if (r.data.dtype() == DType::kFloat64) FillNanRows<double>(r.data, merged_);
    }
    all.push_back(std::move(results));
  }
  return all;
}

std::vector<std::vector<Result>> UdfRunner::Snapshot() const {
  std::vector<BufferSet> copy;
  for (const auto& b : global_) copy.push_back(b.Clone());
  FoldStack(copy);
  return Results(copy);
}

std::vector<std::vector<Result>> UdfRunner::Finish() {
  if (next_merge_ != static_cast<int64_t>(partitions_.size())) {
    throw Error::Internal("Finish() before every partition was merged");
  }
  FoldStack(global_);
  stack_.clear();
  return Results(global_);
}

}  // namespace tessera::udf
