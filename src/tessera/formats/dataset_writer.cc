// SPDX-License-Identifier: MIT
#include "tessera/formats/dataset_writer.h"

#include <algorithm>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/error.h"
#include "tessera/formats/hdf5/hdf5_internal.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/mrc/mrc_format.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/output_file_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/atomic_file.h"

namespace tessera::formats {
namespace {

constexpr int64_t kBlockBytes = int64_t{16} << 20;

/// Where blocks of consecutive frames go.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  /// Frames per write that keep the sink's native blocks whole (1 if it does not care).
  virtual int64_t block_multiple() const { return 1; }
  virtual void Write(int64_t frame_begin, int64_t frame_end, const std::byte* frames) = 0;
  virtual void Finish() = 0;
};

/// Raw and NPY: a header (possibly empty) then the frames, in order.
class StreamSink final : public FrameSink {
 public:
  StreamSink(const std::string& temp_path, const std::string& path, const std::string& header,
             int64_t frame_bytes)
      : out_(temp_path, path), frame_bytes_(frame_bytes) {
    out_.Write(header);
  }
  void Write(int64_t frame_begin, int64_t frame_end, const std::byte* frames) override {
    out_.Write({frames, static_cast<size_t>((frame_end - frame_begin) * frame_bytes_)});
  }
  void Finish() override { out_.Close(); }

 private:
  internal::OutputFile out_;
  int64_t frame_bytes_;
};

/// HDF5: dataset /data chunked by runs of whole frames along the last navigation axis.
class Hdf5Sink final : public FrameSink {
 public:
  Hdf5Sink(const std::string& temp_path, const std::string& path, const dataset::DatasetMeta& meta)
      : path_(path), meta_(meta) {
    try {
      internal::NameFileInErrors(path_, [&] { Create(temp_path); });
    } catch (...) {
      // The destructor does not run for a failed constructor: close under the lock here.
      internal::Hdf5Lock lock;
      dset_.Close();
      mem_type_.Close();
      file_.Close();
      throw;
    }
  }
  ~Hdf5Sink() override {
    internal::Hdf5Lock lock;
    dset_.Close();
    mem_type_.Close();
    file_.Close();
  }

  int64_t block_multiple() const override { return chunk_frames_; }

  void Write(int64_t frame_begin, int64_t frame_end, const std::byte* frames) override {
    internal::Hdf5Lock lock;
    const auto sig = meta_.shape.sig();
    const int64_t frame_bytes = meta_.shape.sig_size() * SizeOf(meta_.dtype);
    for (const auto& box : internal::CoverFrames(meta_.shape.nav(), frame_begin, frame_end)) {
      std::vector<hsize_t> start = box.start, count = box.count;
      for (const int64_t dim : sig) {
        start.push_back(0);
        count.push_back(static_cast<hsize_t>(dim));
      }
      internal::Hid file_space(H5Dget_space(dset_.get()));
      if (!start.empty()) {
        internal::Check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(),
                                            nullptr, count.data(), nullptr),
                        path_, "/data", "cannot select frames");
      }
      const hsize_t elements = static_cast<hsize_t>(box.frames * meta_.shape.sig_size());
      internal::Hid mem_space(H5Screate_simple(1, &elements, nullptr));
      internal::Check(H5Dwrite(dset_.get(), mem_type_.get(), mem_space.get(), file_space.get(),
                               H5P_DEFAULT, frames),
                      path_, "/data", "cannot write frames (disk full?)");
      frames += box.frames * frame_bytes;
    }
  }

  void Finish() override {
    internal::Hdf5Lock lock;
    dset_.Close();
    mem_type_.Close();
    if (H5Fclose(file_.get()) < 0) {
      internal::ThrowHdf5(ErrorCode::kIo, path_, "", "cannot finish the HDF5 file");
    }
    (void)file_.Release();
  }

 private:
  void Create(const std::string& temp_path) {
    internal::Hdf5Lock lock;
    const auto& dims = meta_.shape.dims();
    file_ = internal::Check(H5Fcreate(temp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                            path_, "", "cannot create HDF5 file");
    std::vector<hsize_t> h5dims(dims.begin(), dims.end());
    internal::Hid space(dims.empty() ? H5Screate(H5S_SCALAR)
                                     : H5Screate_simple(static_cast<int>(dims.size()),
                                                        h5dims.data(), nullptr));
    internal::Hid dcpl(H5Pcreate(H5P_DATASET_CREATE));
    // Contiguous and uncompressed: readers (ours included) map it and read frames zero copy,
    // and h5py, HyperSpy and LiberTEM read it without filter plugins. Allocated early so the
    // layout is fixed before the first write.
    H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY);
    internal::Hid file_type = internal::FileTypeOf(meta_.dtype);
    mem_type_ = internal::MemoryTypeOf(meta_.dtype);
    dset_ = internal::Check(H5Dcreate2(file_.get(), "data", file_type.get(), space.get(),
                                       H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                            path_, "/data", "cannot create dataset");
    internal::WriteAxisAttrs(dset_.get(), meta_.axes);
    internal::WriteInt64Attr(dset_.get(), "sig_dims", meta_.shape.sig_dims());
    internal::WriteStringAttr(dset_.get(), "metadata", meta_.metadata_json);
    internal::WriteStringAttr(dset_.get(), "source_format", meta_.format);
  }

  std::string path_;
  const dataset::DatasetMeta& meta_;
  internal::Hid file_;
  internal::Hid dset_;
  internal::Hid mem_type_;
  int64_t chunk_frames_ = 1;
};

}  // namespace

void WriteDataset(const dataset::Dataset& source, const std::string& path,
                  const WriteProgress& progress, const std::atomic<bool>* cancel) {
  const dataset::DatasetMeta& meta = source.meta();
  const std::string ext = internal::LowerExtension(path);
  if (ext == ".mrc" || ext == ".mrcs" || ext == ".map") return WriteMrc(source, path, progress, cancel);
  if (ext != ".raw" && ext != ".bin" && ext != ".npy" && ext != ".h5" && ext != ".hdf5") {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("cannot tell the output format from '{}'; use "
                                                 ".raw, .npy, .h5 or .hdf5",
                                                 ext.empty() ? "no extension" : ext),
                          .file = path,
                          .field = "output"});
  }
  if (!internal::kHostLittleEndian) {
    throw Error::Unsupported("writing datasets needs a little-endian host", path);
  }
  const int64_t total = meta.shape.nav_size();
  const int64_t sig_size = meta.shape.sig_size();
  const int64_t frame_bytes = sig_size * SizeOf(meta.dtype);

  io::AtomicFile atomic = io::AtomicFile::Create(path);
  std::unique_ptr<FrameSink> sink;
  if (ext == ".h5" || ext == ".hdf5") {
    sink = std::make_unique<Hdf5Sink>(atomic.temp_path(), path, meta);
  } else {
    const std::string header = ext == ".npy" ? MakeNpyHeader(meta.dtype, meta.shape.dims()) : "";
    sink = std::make_unique<StreamSink>(atomic.temp_path(), path, header, frame_bytes);
  }

  int64_t block = std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(frame_bytes, 1));
  const int64_t multiple = sink->block_multiple();
  if (block >= multiple) block = block / multiple * multiple;
  std::vector<std::byte> buffer;
  for (int64_t begin = 0; begin < total; begin += block) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Error::Cancelled();
    const int64_t end = std::min(begin + block, total);
    source.WillNeed(begin, end);
    const std::byte* frames = source.DirectFrames(begin, end);
    if (frames == nullptr) {
      buffer.resize(static_cast<size_t>(block * frame_bytes));
      source.ReadFrames(begin, end, {0, sig_size}, buffer.data(), meta.dtype);
      frames = buffer.data();
    }
    sink->Write(begin, end, frames);
    if (progress) progress(end, total);
  }
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Error::Cancelled();
  sink->Finish();
  sink.reset();
  atomic.Commit();
}

}  // namespace tessera::formats
