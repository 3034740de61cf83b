// SPDX-License-Identifier: MIT
#include "tessera/formats/hdf5/hdf5_format.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/nd_array.h"
#include "tessera/core/strings.h"
#include "tessera/formats/hdf5/hdf5_internal.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/formats/frame_table_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

using internal::Hdf5Lock;
using internal::Hid;

constexpr std::string_view kSignature = "\x89HDF\r\n\x1a\n";

/// What a dataset holds, for choosing one and for error messages.
struct DatasetInfo {
  std::string path;
  std::vector<int64_t> dims;
  std::optional<DType> dtype;
  bool big_endian = false;
  std::string type_text;
};

herr_t CollectDatasetNames(hid_t /*object*/, const char* name, const H5O_info_t* info,
                           void* client_data) {
  if (info->type == H5O_TYPE_DATASET) {
    static_cast<std::vector<std::string>*>(client_data)->push_back(std::string("/") + name);
  }
  return 0;
}

DatasetInfo Describe(hid_t dset, const std::string& h5path) {
  DatasetInfo info;
  info.path = h5path;
  Hid space(H5Dget_space(dset));
  Hid type(H5Dget_type(dset));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank > 0) {
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    for (const hsize_t dim : dims) info.dims.push_back(static_cast<int64_t>(dim));
  }
  if (type.valid()) info.dtype = internal::DTypeOfHdf5(type.get(), &info.big_endian);
  if (info.dtype) {
    info.type_text = std::string(Name(*info.dtype));
  } else if (type.valid()) {
    switch (H5Tget_class(type.get())) {
      case H5T_STRING: info.type_text = "string"; break;
      case H5T_COMPOUND: info.type_text = "compound"; break;
      case H5T_VLEN: info.type_text = "variable-length"; break;
      case H5T_REFERENCE: info.type_text = "reference"; break;
      default: info.type_text = "unsupported type"; break;
    }
  }
  return info;
}

std::string DescribeList(const std::vector<DatasetInfo>& infos) {
  std::string out;
  const size_t shown = std::min<size_t>(infos.size(), 20);
  for (size_t i = 0; i < shown; ++i) {
    out += fmt::format("{}{} ({}) {}", i == 0 ? "" : ", ", infos[i].path,
                       fmt::join(infos[i].dims, ", "), infos[i].type_text);
  }
  if (infos.size() > shown) out += fmt::format(", ... ({} more)", infos.size() - shown);
  return out.empty() ? "no datasets at all" : out;
}

std::string FindDefaultDataset(hid_t file, const std::string& file_path) {
  std::vector<std::string> names;
  if (H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, CollectDatasetNames, &names, H5O_INFO_BASIC) <
      0) {
    internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, "/", "cannot list the file's objects");
  }
  std::vector<DatasetInfo> infos;
  const DatasetInfo* best = nullptr;
  int64_t best_size = -1;
  for (const auto& name : names) {
    Hid dset(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
    if (!dset.valid()) continue;
    infos.push_back(Describe(dset.get(), name));
  }
  for (const auto& info : infos) {
    if (info.dims.size() < 3 || !info.dtype) continue;
    const int64_t size = Product(info.dims);
    if (size > best_size) {
      best = &info;
      best_size = size;
    }
  }
  if (best == nullptr) {
    // No stack: a single image or spectrum. HyperSpy's signal (/Experiments/<title>/data) first,
    // else the numeric dataset with the most elements (Berkeley EMD's data beside its dim vectors).
    const auto hyperspy = [](const std::string& path) {
      return path.starts_with("/Experiments/") && path.ends_with("/data");
    };
    bool best_hyperspy = false;
    for (const auto& info : infos) {
      if (info.dims.empty() || !info.dtype) continue;
      const int64_t size = Product(info.dims);
      const bool is_hyperspy = hyperspy(info.path);
      if ((is_hyperspy && !best_hyperspy) || (is_hyperspy == best_hyperspy && size > best_size)) {
        best = &info;
        best_size = size;
        best_hyperspy = is_hyperspy;
      }
    }
  }
  H5Eclear2(H5E_DEFAULT);
  if (best == nullptr) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kNotFound,
        .message = fmt::format("no numeric dataset (found: {}); give the dataset as "
                               "{}:/path/to/dataset",
                               DescribeList(infos), file_path),
        .file = file_path,
        .field = "dataset"});
  }
  return best->path;
}

/// Throw kNotFound naming the first missing component of `h5path`.
void CheckDatasetPath(hid_t file, const std::string& file_path, const std::string& h5path) {
  std::string prefix;
  size_t pos = 1;
  while (pos <= h5path.size()) {
    const size_t slash = std::min(h5path.find('/', pos), h5path.size());
    if (slash > pos) {
      // Two appends, not "/" + substr: GCC 12 warns (-Wrestrict) about the temporary at -O3.
      prefix += '/';
      prefix.append(h5path, pos, slash - pos);
      if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0 ||
          H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        const std::string missing =
            prefix == h5path ? "" : fmt::format(" ('{}' does not exist)", prefix);
        throw Error(ErrorInfo{
            .code = ErrorCode::kNotFound,
            .message = fmt::format("no dataset '{}' in the file{}", h5path, missing),
            .file = file_path,
            .field = h5path});
      }
    }
    pos = slash + 1;
  }
  H5O_info_t info{};
  if (H5Oget_info_by_name2(file, h5path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    internal::ThrowHdf5(ErrorCode::kIo, file_path, h5path, "cannot inspect");
  }
  if (info.type != H5O_TYPE_DATASET) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("'{}' is a group, not a dataset", h5path),
                          .file = file_path,
                          .field = h5path});
  }
}

bool LinkExists(hid_t location, const std::string& name) {
  const bool exists = H5Lexists(location, name.c_str(), H5P_DEFAULT) > 0 &&
                      H5Oexists_by_name(location, name.c_str(), H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  return exists;
}

/// Read axis calibrations: our own axis_<i>_* attributes, else HyperSpy's axis-<i> groups, else
/// Berkeley EMD's dim<i> datasets next to the data.
std::vector<dataset::Axis> ReadAxes(hid_t file, hid_t dset, const std::string& h5path,
                                    const Shape& shape) {
  std::vector<dataset::Axis> axes = dataset::DefaultAxes(shape);
  const int rank = shape.rank();
  bool found = false;
  for (int i = 0; i < rank; ++i) {
    auto& axis = axes[static_cast<size_t>(i)];
    if (auto v = internal::ReadStringAttr(dset, fmt::format("axis_{}_name", i))) {
      axis.name = *v;
      found = true;
    }
    if (auto v = internal::ReadDoubleAttr(dset, fmt::format("axis_{}_scale", i))) {
      axis.scale = *v;
      found = true;
    }
    if (auto v = internal::ReadDoubleAttr(dset, fmt::format("axis_{}_offset", i))) {
      axis.offset = *v;
      found = true;
    }
    if (auto v = internal::ReadStringAttr(dset, fmt::format("axis_{}_units", i))) {
      axis.units = *v;
      found = true;
    }
  }
  if (found) return axes;
  const auto slash = h5path.rfind('/');
  const std::string parent = slash == 0 ? "" : h5path.substr(0, slash);
  if (LinkExists(file, parent + "/axis-0")) {
    for (int i = 0; i < rank; ++i) {
      const std::string name = fmt::format("{}/axis-{}", parent, i);
      if (!LinkExists(file, name)) break;
      Hid group(H5Oopen(file, name.c_str(), H5P_DEFAULT));
      if (!group.valid()) break;
      auto& axis = axes[static_cast<size_t>(i)];
      if (auto v = internal::ReadStringAttr(group.get(), "name")) axis.name = *v;
      if (auto v = internal::ReadDoubleAttr(group.get(), "scale")) axis.scale = *v;
      if (auto v = internal::ReadDoubleAttr(group.get(), "offset")) axis.offset = *v;
      if (auto v = internal::ReadStringAttr(group.get(), "units")) axis.units = *v;
    }
    return axes;
  }
  for (int i = 0; i < rank; ++i) {
    const std::string name = fmt::format("{}/dim{}", parent, i + 1);
    if (!LinkExists(file, name)) break;
    Hid dim(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
    if (!dim.valid()) break;
    Hid space(H5Dget_space(dim.get()));
    Hid type(H5Dget_type(dim.get()));
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    const H5T_class_t cls = H5Tget_class(type.get());
    auto& axis = axes[static_cast<size_t>(i)];
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && count == axis.size && count >= 1) {
      std::vector<double> values(static_cast<size_t>(count));
      if (H5Dread(dim.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >=
          0) {
        axis.offset = values[0];
        if (count >= 2) axis.scale = values[1] - values[0];
      }
    }
    if (auto v = internal::ReadStringAttr(dim.get(), "name")) axis.name = *v;
    if (auto v = internal::ReadStringAttr(dim.get(), "units")) axis.units = *v;
  }
  H5Eclear2(H5E_DEFAULT);
  return axes;
}

/// Frames per chunk along the flattened navigation axis, when chunks are whole runs of it.
int64_t ChunkDepth(std::span<const int64_t> nav, std::span<const hsize_t> chunk) {
  const int nav_dims = static_cast<int>(nav.size());
  if (nav_dims == 0) return 1;
  int partial = -1;
  for (int i = nav_dims - 1; i >= 0; --i) {
    if (static_cast<int64_t>(chunk[i]) < nav[i]) {
      partial = i;
      break;
    }
  }
  if (partial < 0) return Product(nav);
  for (int i = 0; i < partial; ++i) {
    if (chunk[i] != 1) return 1;
  }
  return static_cast<int64_t>(chunk[partial]) * Product(nav.subspan(partial + 1));
}

/// Return the file that holds `dset`'s data (another file behind an external link).
std::string DataFileOf(hid_t dset, const std::string& file_path) {
  const ssize_t name_len = H5Fget_name(dset, nullptr, 0);
  std::string data_file(static_cast<size_t>(std::max<ssize_t>(name_len, 0)), '\0');
  if (name_len > 0) H5Fget_name(dset, data_file.data(), data_file.size() + 1);
  return data_file.empty() ? file_path : data_file;
}

/// Where each frame of an unfiltered chunked dataset lies in `file`, when every chunk holds whole
/// frames (its signal extent is the whole frame): a chunk is a C-order block of frames, so frame
/// f sits at its chunk's address plus its place inside the chunk. Nothing when a chunk is not
/// allocated (fill values), is not where the file could hold it, or HDF5 cannot say where it is.
std::optional<std::vector<internal::FrameSource>> ChunkedFrameSources(
    hid_t dset, std::span<const hsize_t> chunk, const Shape& shape, DType dtype,
    int64_t file_size) {
  const auto nav = shape.nav();
  const auto sig = shape.sig();
  const int nav_dims = shape.nav_dims();
  if (nav_dims == 0 || static_cast<int>(chunk.size()) != nav_dims + shape.sig_dims()) return {};
  for (int i = 0; i < shape.sig_dims(); ++i) {
    if (static_cast<int64_t>(chunk[static_cast<size_t>(nav_dims + i)]) != sig[i]) return {};
  }
  const int64_t frame_bytes = shape.sig_size() * SizeOf(dtype);
  int64_t chunk_frames = 1;
  for (int i = 0; i < nav_dims; ++i) chunk_frames *= static_cast<int64_t>(chunk[static_cast<size_t>(i)]);
  const int64_t chunk_bytes = chunk_frames * frame_bytes;
  std::vector<internal::FrameSource> frames(static_cast<size_t>(shape.nav_size()));
  std::vector<hsize_t> origin(chunk.size(), 0), last_origin;
  std::vector<int64_t> coord(static_cast<size_t>(nav_dims), 0);
  haddr_t address = HADDR_UNDEF;
  for (int64_t f = 0; f < shape.nav_size(); ++f) {
    int64_t local = 0;
    for (int i = 0; i < nav_dims; ++i) {
      const auto c = static_cast<int64_t>(chunk[static_cast<size_t>(i)]);
      origin[static_cast<size_t>(i)] = static_cast<hsize_t>(coord[static_cast<size_t>(i)] / c * c);
      local = local * c + coord[static_cast<size_t>(i)] % c;
    }
    if (origin != last_origin) {
      unsigned filter_mask = 0;
      hsize_t size = 0;
      address = HADDR_UNDEF;
      if (H5Dget_chunk_info_by_coord(dset, origin.data(), &filter_mask, &address, &size) < 0 ||
          address == HADDR_UNDEF || static_cast<int64_t>(size) != chunk_bytes ||
          address > static_cast<haddr_t>(file_size) ||
          static_cast<haddr_t>(file_size) - address < static_cast<haddr_t>(chunk_bytes)) {
        H5Eclear2(H5E_DEFAULT);
        return {};
      }
      last_origin = origin;
    }
    frames[static_cast<size_t>(f)] = {.file = 0, .offset = static_cast<int64_t>(address) + local * frame_bytes};
    for (int i = nav_dims - 1; i >= 0; --i) {  // next frame in C order
      if (++coord[static_cast<size_t>(i)] < nav[i]) break;
      coord[static_cast<size_t>(i)] = 0;
    }
  }
  return frames;
}

/// A dataset read through H5Dread: chunked, compressed, big-endian or otherwise not mappable.
class Hdf5Dataset final : public dataset::Dataset {
 public:
  Hdf5Dataset(dataset::DatasetMeta meta, std::string file_path, std::string h5path, Hid file,
              Hid dset, int64_t native_depth)
      : meta_(std::move(meta)),
        file_path_(std::move(file_path)),
        h5path_(std::move(h5path)),
        file_(std::move(file)),
        dset_(std::move(dset)),
        native_depth_(native_depth) {}

  ~Hdf5Dataset() override {
    Hdf5Lock lock;
    dset_.Close();
    file_.Close();
  }

  const dataset::DatasetMeta& meta() const override { return meta_; }
  int64_t native_depth() const override { return native_depth_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    if (!internal::BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
    const auto sig_shape = meta_.shape.sig();
    const int sig_dims = meta_.shape.sig_dims();
    const int64_t sig_size = meta_.shape.sig_size();
    // Select whole rows of the first signal axis covering `sig`.
    const int64_t row = sig_dims > 0 && sig_shape[0] > 0 ? sig_size / sig_shape[0] : 1;
    const int64_t row_begin = sig.begin / row;
    const int64_t row_end = (sig.end + row - 1) / row;
    const int64_t selected = sig_dims > 0 ? (row_end - row_begin) * row : 1;
    const bool exact = row_begin * row == sig.begin && selected == sig.size();

    Hdf5Lock lock;
    if (exact && dst_dtype == meta_.dtype) {
      // Straight into the destination. Conversions are ours: HDF5's own type conversion runs
      // one to two orders of magnitude slower than ConvertElements.
      Hid mem_type = internal::MemoryTypeOf(dst_dtype);
      ReadRows(frame_begin, frame_end, row_begin, row_end, mem_type.get(), SizeOf(dst_dtype),
               dst);
      return;
    }
    const int64_t item = SizeOf(meta_.dtype);
    std::vector<std::byte> buffer(
        static_cast<size_t>((frame_end - frame_begin) * selected * item));
    Hid mem_type = internal::MemoryTypeOf(meta_.dtype);
    ReadRows(frame_begin, frame_end, row_begin, row_end, mem_type.get(), item, buffer.data());
    auto* out = static_cast<std::byte*>(dst);
    const int64_t skip = sig.begin - row_begin * row;
    for (int64_t f = 0; f < frame_end - frame_begin; ++f) {
      ConvertElements(buffer.data() + (f * selected + skip) * item, meta_.dtype, false,
                      out + f * sig.size() * SizeOf(dst_dtype), dst_dtype, sig.size());
    }
  }

 private:
  /// Read frames [frame_begin, frame_end) x signal rows [row_begin, row_end) densely into `out`.
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                hid_t mem_type, int64_t item, void* out) const {
    const auto nav = meta_.shape.nav();
    const auto sig_shape = meta_.shape.sig();
    const int sig_dims = meta_.shape.sig_dims();
    int64_t frame_elements = 1;
    std::vector<hsize_t> sig_start, sig_count;
    for (int i = 0; i < sig_dims; ++i) {
      sig_start.push_back(i == 0 ? static_cast<hsize_t>(row_begin) : 0);
      sig_count.push_back(static_cast<hsize_t>(i == 0 ? row_end - row_begin : sig_shape[i]));
      frame_elements *= static_cast<int64_t>(sig_count.back());
    }
    auto* dst = static_cast<std::byte*>(out);
    for (const auto& box : internal::CoverFrames(nav, frame_begin, frame_end)) {
      std::vector<hsize_t> start = box.start;
      std::vector<hsize_t> count = box.count;
      start.insert(start.end(), sig_start.begin(), sig_start.end());
      count.insert(count.end(), sig_count.begin(), sig_count.end());
      Hid file_space(H5Dget_space(dset_.get()));
      if (!start.empty() &&
          H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                              count.data(), nullptr) < 0) {
        internal::ThrowHdf5(ErrorCode::kIo, file_path_, h5path_, "cannot select frames");
      }
      const hsize_t elements = static_cast<hsize_t>(box.frames * frame_elements);
      // The memory space has the selection's own shape: with a flat 1-D memory space HDF5 maps
      // chunks element by element, about 100x slower.
      Hid mem_space(count.empty() ? H5Screate_simple(1, &elements, nullptr)
                                  : H5Screate_simple(static_cast<int>(count.size()), count.data(),
                                                     nullptr));
      if (H5Dread(dset_.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, dst) <
          0) {
        internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path_, h5path_,
                            fmt::format("cannot read frames [{}, {})", frame_begin, frame_end));
      }
      dst += static_cast<int64_t>(elements) * item;
    }
  }

  dataset::DatasetMeta meta_;
  std::string file_path_;
  std::string h5path_;
  Hid file_;
  Hid dset_;
  int64_t native_depth_ = 1;
};

// ---- NeXus tomography (NXtomo, and DLS NXdata + image_key scans) ----

/// Where the frames of a tomography scan, their image keys and rotation angles are.
struct TomoInfo {
  std::string kind;  // "NXtomo" or "NXdata + image_key"
  std::string entry;
  std::string data_path;
  std::string image_key_path;
  std::string angles_path;  // "" when none matched
  std::string angle_units;
  std::vector<int64_t> image_key;
  std::vector<double> angles;
};

std::optional<std::string> NxClass(hid_t file, const std::string& path) {
  if (!LinkExists(file, path)) return std::nullopt;
  Hid object(H5Oopen(file, path.c_str(), H5P_DEFAULT));
  if (!object.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return internal::ReadStringAttr(object.get(), "NX_class");
}

herr_t CollectLinkNames(hid_t /*group*/, const char* name, const H5L_info_t* /*info*/,
                        void* client_data) {
  static_cast<std::vector<std::string>*>(client_data)->push_back(name);
  return 0;
}

std::vector<std::string> Children(hid_t file, const std::string& group) {
  std::vector<std::string> names;
  Hid g(H5Gopen2(file, group.c_str(), H5P_DEFAULT));
  if (g.valid()) {
    H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, CollectLinkNames, &names);
  }
  H5Eclear2(H5E_DEFAULT);
  return names;
}

std::string Join(const std::string& group, const std::string& name) {
  return group == "/" ? "/" + name : group + "/" + name;
}

/// The dims of the dataset at `path` (it must resolve), or empty.
std::vector<int64_t> DatasetDims(hid_t file, const std::string& path) {
  if (!LinkExists(file, path)) return {};
  Hid dset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
  if (!dset.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return {};
  }
  return Describe(dset.get(), path).dims;
}

/// Read a 1-D numeric dataset of `expected` elements as doubles; nullopt otherwise.
std::optional<std::vector<double>> ReadVector(hid_t file, const std::string& path,
                                              int64_t expected, std::string* units) {
  const std::vector<int64_t> dims = DatasetDims(file, path);
  if (dims.size() != 1 || dims[0] != expected) return std::nullopt;
  Hid dset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
  Hid type(H5Dget_type(dset.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) return std::nullopt;
  std::vector<double> values(static_cast<size_t>(expected));
  if (H5Dread(dset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  if (units != nullptr) *units = internal::ReadStringAttr(dset.get(), "units").value_or("");
  return values;
}

std::optional<std::string> ReadStringDataset(hid_t file, const std::string& path) {
  if (!LinkExists(file, path)) return std::nullopt;
  Hid dset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
  Hid type(H5Dget_type(dset.get()));
  Hid space(H5Dget_space(dset.get()));
  std::optional<std::string> out;
  if (dset.valid() && H5Tget_class(type.get()) == H5T_STRING &&
      H5Sget_simple_extent_npoints(space.get()) == 1) {
    if (H5Tis_variable_str(type.get()) > 0) {
      Hid mem(H5Tcopy(H5T_C_S1));
      H5Tset_size(mem.get(), H5T_VARIABLE);
      char* text = nullptr;
      if (H5Dread(dset.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0 &&
          text != nullptr) {
        out = std::string(text);
        H5free_memory(text);
      }
    } else {
      const size_t size = H5Tget_size(type.get());
      if (size > 0 && size <= 65536) {
        std::string text(size + 1, '\0');
        Hid mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem.get(), size + 1);
        if (H5Dread(dset.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, text.data()) >= 0) {
          text.resize(std::strlen(text.c_str()));
          out = text;
        }
      }
    }
  }
  H5Eclear2(H5E_DEFAULT);
  return out;
}

/// Fill image keys and angles of `info` from the first candidates that fit; false when no image
/// key fits the data.
bool ReadTomoVectors(hid_t file, TomoInfo& info, const std::vector<std::string>& key_paths,
                     const std::vector<std::string>& angle_paths) {
  const std::vector<int64_t> dims = DatasetDims(file, info.data_path);
  if (dims.size() < 3) return false;
  const int64_t frames = dims[0];
  for (const auto& path : key_paths) {
    if (auto values = ReadVector(file, path, frames, nullptr)) {
      info.image_key_path = path;
      for (const double v : *values) info.image_key.push_back(static_cast<int64_t>(v));
      break;
    }
  }
  if (info.image_key_path.empty()) return false;
  for (const auto& path : angle_paths) {
    std::string units;
    if (auto values = ReadVector(file, path, frames, &units)) {
      info.angles_path = path;
      info.angles = std::move(*values);
      info.angle_units = units;
      break;
    }
  }
  return true;
}

/// Find a tomography scan: an NXentry (or an NXsubentry / NXentry inside one, as Savu's
/// entry1/tomo_entry) with definition NXtomo, or with an NXdata group whose signal has an image
/// key in the NXdetector of the same name (DLS DIAD: /entry/imaging/data and
/// /entry/instrument/imaging/image_key). `want` restricts the data path when not empty.
std::optional<TomoInfo> FindTomo(hid_t file, const std::string& want) {
  std::vector<std::string> entries;
  for (const auto& name : Children(file, "/")) {
    const std::string path = Join("/", name);
    const auto cls = NxClass(file, path);
    if (!cls || *cls != "NXentry") continue;
    entries.push_back(path);
    for (const auto& sub : Children(file, path)) {
      const auto sub_cls = NxClass(file, Join(path, sub));
      if (sub_cls && (*sub_cls == "NXsubentry" || *sub_cls == "NXentry")) {
        entries.push_back(Join(path, sub));
      }
    }
  }
  for (const auto& entry : entries) {
    const auto definition = ReadStringDataset(file, entry + "/definition");
    if (definition && Trim(*definition) == "NXtomo") {
      TomoInfo info;
      info.kind = "NXtomo";
      info.entry = entry;
      for (const std::string& data :
           {entry + "/data/data", entry + "/instrument/detector/data"}) {
        if (DatasetDims(file, data).size() >= 3) {
          info.data_path = data;
          break;
        }
      }
      if (info.data_path.empty() || (!want.empty() && want != info.data_path)) continue;
      if (ReadTomoVectors(file, info,
                          {entry + "/instrument/detector/image_key", entry + "/data/image_key"},
                          {entry + "/sample/rotation_angle", entry + "/data/rotation_angle"})) {
        return info;
      }
      continue;
    }
    for (const auto& name : Children(file, entry)) {
      const std::string group = Join(entry, name);
      const auto cls = NxClass(file, group);
      if (!cls || *cls != "NXdata") continue;
      Hid g(H5Oopen(file, group.c_str(), H5P_DEFAULT));
      const std::string signal = internal::ReadStringAttr(g.get(), "signal").value_or("data");
      TomoInfo info;
      info.kind = "NXdata + image_key";
      info.entry = entry;
      info.data_path = Join(group, signal);
      if (!want.empty() && want != info.data_path) continue;
      // Angles: the first axis of the NXdata, else a field indexing axis 0 whose name says
      // angle, else NXtomo's places.
      std::vector<std::string> angle_paths;
      const auto axes = internal::ReadStringArrayAttr(g.get(), "axes");
      if (!axes.empty() && axes[0] != ".") angle_paths.push_back(Join(group, axes[0]));
      for (const auto& field : Children(file, group)) {
        const auto indices = internal::ReadDoubleAttr(g.get(), field + "_indices");
        std::string lower = field;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (indices && *indices == 0 &&
            (lower.find("theta") != std::string::npos ||
             lower.find("angle") != std::string::npos || lower.find("rot") != std::string::npos)) {
          angle_paths.push_back(Join(group, field));
        }
      }
      angle_paths.push_back(entry + "/sample/rotation_angle");
      H5Eclear2(H5E_DEFAULT);
      if (ReadTomoVectors(file, info,
                          {entry + "/instrument/" + name + "/image_key", group + "/image_key",
                           entry + "/instrument/detector/image_key"},
                          angle_paths)) {
        return info;
      }
    }
  }
  return std::nullopt;
}

/// A dataset showing selected frames of another, in order. Runs of consecutive frames are read
/// with one call to the underlying dataset.
class FrameSelectionDataset final : public dataset::Dataset {
 public:
  FrameSelectionDataset(dataset::DatasetMeta meta, std::unique_ptr<dataset::Dataset> base,
                        std::vector<int64_t> frames)
      : meta_(std::move(meta)), base_(std::move(base)), frames_(std::move(frames)) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    if (frame_begin < 0 || frame_end <= frame_begin || frame_end > Count()) return nullptr;
    if (RunEnd(frame_begin, frame_end) != frame_end) return nullptr;
    const int64_t first = frames_[static_cast<size_t>(frame_begin)];
    return base_->DirectFrames(first, first + (frame_end - frame_begin));
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    const int64_t frame_bytes = sig.size() * SizeOf(dst_dtype);
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t i = frame_begin; i < frame_end;) {
      const int64_t end = RunEnd(i, frame_end);
      const int64_t first = frames_[static_cast<size_t>(i)];
      base_->ReadFrames(first, first + (end - i), sig, out + (i - frame_begin) * frame_bytes,
                        dst_dtype);
      i = end;
    }
  }

  void WillNeed(int64_t frame_begin, int64_t frame_end) const override {
    frame_begin = std::max<int64_t>(frame_begin, 0);
    frame_end = std::min(frame_end, Count());
    for (int64_t i = frame_begin; i < frame_end;) {
      const int64_t end = RunEnd(i, frame_end);
      const int64_t first = frames_[static_cast<size_t>(i)];
      base_->WillNeed(first, first + (end - i));
      i = end;
    }
  }

 private:
  int64_t Count() const { return static_cast<int64_t>(frames_.size()); }
  /// The end of the run of consecutive underlying frames that starts at `begin`, before `limit`.
  int64_t RunEnd(int64_t begin, int64_t limit) const {
    int64_t end = begin + 1;
    while (end < limit && frames_[static_cast<size_t>(end)] ==
                              frames_[static_cast<size_t>(end - 1)] + 1) {
      ++end;
    }
    return end;
  }

  dataset::DatasetMeta meta_;
  std::unique_ptr<dataset::Dataset> base_;
  std::vector<int64_t> frames_;
};

/// Run-length form [[first, count], ...] of a sorted frame list, for the metadata.
nlohmann::json Runs(const std::vector<int64_t>& frames) {
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < frames.size();) {
    size_t j = i + 1;
    while (j < frames.size() && frames[j] == frames[j - 1] + 1) ++j;
    runs.push_back({frames[i], static_cast<int64_t>(j - i)});
    i = j;
  }
  return runs;
}

}  // namespace

std::unique_ptr<dataset::Dataset> OpenHdf5(const std::string& path, int sig_dims,
                                           const std::string& images) {
  auto [file_path, h5path] = SplitDatasetPath(path);
  const int64_t file_size = io::FileSize(file_path);  // kNotFound naming the file
  Hdf5Lock lock;
  if (H5Fis_hdf5(file_path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error::CorruptFile(file_path, 0, "signature",
                             "not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)");
  }
  Hid file = internal::Check(H5Fopen(file_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), file_path,
                             "", "cannot open HDF5 file");
  if (!images.empty() && images != "all" && images != "projections" && images != "flats" &&
      images != "darks") {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("images '{}' is not one of projections, flats, "
                                                 "darks, all",
                                                 images),
                          .file = file_path,
                          .field = "images"});
  }
  std::optional<TomoInfo> tomo;
  if (h5path.empty()) {
    tomo = FindTomo(file.get(), "");
    h5path = tomo ? tomo->data_path : FindDefaultDataset(file.get(), file_path);
  } else {
    CheckDatasetPath(file.get(), file_path, h5path);
    tomo = FindTomo(file.get(), h5path);
  }
  if (!images.empty() && !tomo) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("images={} selects frames of a NeXus tomography scan, but '{}' "
                               "has no image_key (no NXtomo entry, no NXdata with an image key)",
                               images, h5path),
        .file = file_path,
        .field = "images"});
  }
  Hid dset = internal::Check(H5Dopen2(file.get(), h5path.c_str(), H5P_DEFAULT), file_path, h5path,
                             "cannot open dataset");
  const DatasetInfo info = Describe(dset.get(), h5path);
  if (!info.dtype) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("'{}' holds {} elements, not numbers", h5path,
                                                 info.type_text),
                          .file = file_path,
                          .field = h5path});
  }
  const int rank = static_cast<int>(info.dims.size());
  if (rank > kMaxRank) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("'{}' has rank {}, above {}", h5path, rank,
                                                 kMaxRank),
                          .file = file_path,
                          .field = h5path});
  }
  if (sig_dims < 0) {
    // Files written by WriteDataset record their navigation/signal split.
    const auto stored = internal::ReadDoubleAttr(dset.get(), "sig_dims");
    sig_dims = stored && *stored >= 0 && *stored <= rank ? static_cast<int>(*stored)
                                                         : std::min(2, rank);
  }
  if (sig_dims > rank) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("sig_dims {} for '{}' of rank {}", sig_dims, h5path, rank),
        .file = file_path,
        .field = "sig_dims"});
  }

  dataset::DatasetMeta meta;
  meta.format = "hdf5";
  meta.path = path;
  const auto split = info.dims.end() - sig_dims;
  meta.shape = Shape({info.dims.begin(), split}, {split, info.dims.end()});
  meta.dtype = *info.dtype;
  meta.axes = ReadAxes(file.get(), dset.get(), h5path, meta.shape);
  meta.metadata_json = internal::AttributesAsJson(dset.get());
  meta.files = {dataset::InputFile{.path = file_path, .size = file_size}};

  // A tomography scan: the image key selects projections, flats or darks; the rotation angles
  // of the selected frames calibrate the navigation axis.
  std::optional<std::vector<int64_t>> selection;
  dataset::DatasetMeta selected_meta;
  if (tomo && !images.empty() && meta.shape.nav().size() != 1) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("images={} needs one navigation axis (the frames of '{}'), not "
                               "{} with sig_dims {}",
                               images, h5path, meta.shape.nav().size(), sig_dims),
        .file = file_path,
        .field = "images"});
  }
  if (tomo && meta.shape.nav().size() == 1) {
    const std::string which = images.empty() ? "all" : images;
    const int64_t want_key = which == "projections" ? 0 : which == "flats" ? 1 : 2;
    std::vector<int64_t> frames;
    int64_t counts[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < tomo->image_key.size(); ++i) {
      const int64_t key = tomo->image_key[i];
      ++counts[key >= 0 && key <= 2 ? key : 3];
      if (which == "all" || key == want_key) frames.push_back(static_cast<int64_t>(i));
    }
    if (frames.empty()) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kNotFound,
          .message = fmt::format("no {} (image_key {}) among the {} frames of '{}' ({})", which,
                                 want_key, tomo->image_key.size(), h5path,
                                 tomo->image_key_path),
          .file = file_path,
          .field = "images"});
    }
    nlohmann::json nx = {{"kind", tomo->kind},
                         {"entry", tomo->entry},
                         {"data", tomo->data_path},
                         {"image_key_path", tomo->image_key_path},
                         {"counts",
                          {{"projections", counts[0]},
                           {"flats", counts[1]},
                           {"darks", counts[2]},
                           {"other", counts[3]}}},
                         {"images", which},
                         {"frames", Runs(frames)}};
    std::vector<int64_t> keys;
    std::vector<double> angles;
    for (const int64_t f : frames) {
      keys.push_back(tomo->image_key[static_cast<size_t>(f)]);
      if (!tomo->angles.empty()) angles.push_back(tomo->angles[static_cast<size_t>(f)]);
    }
    nx["image_key"] = keys;
    dataset::Axis& axis = meta.axes[0];
    if (!angles.empty()) {
      // NXtomo angles are NX_ANGLE; DLS scans write degrees without a units attribute.
      const std::string units = tomo->angle_units.empty() ? "deg" : tomo->angle_units;
      nx["rotation_angle_path"] = tomo->angles_path;
      nx["rotation_angle_units"] = units;
      nx["rotation_angle"] = angles;
      axis.name = "rotation_angle";
      axis.units = units;
      axis.offset = angles.front();
      axis.scale = angles.size() > 1
                       ? (angles.back() - angles.front()) / static_cast<double>(angles.size() - 1)
                       : 1.0;
    } else {
      axis.name = "frame";
    }
    nlohmann::json attrs = nlohmann::json::parse(meta.metadata_json, nullptr, false);
    if (!attrs.is_object()) attrs = nlohmann::json::object();
    attrs["nxtomo"] = std::move(nx);
    meta.metadata_json = attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (static_cast<int64_t>(frames.size()) != meta.shape.nav_size()) {
      selected_meta = meta;
      axis.offset = 0.0;  // the full dataset keeps plain frame numbers
      axis.scale = 1.0;
      axis.name = "frame";
      axis.units = "";
      const auto sig_dims_span = meta.shape.sig();
      selected_meta.shape = Shape({static_cast<int64_t>(frames.size())},
                                  {sig_dims_span.begin(), sig_dims_span.end()});
      selected_meta.axes[0].size = static_cast<int64_t>(frames.size());
      selection = std::move(frames);
    }
  }

  Hid dcpl(H5Dget_create_plist(dset.get()));
  internal::CheckFiltersAvailable(dcpl.get(), file_path, h5path);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  int64_t native_depth = 1;
  if (layout == H5D_CHUNKED && rank > 0) {
    std::vector<hsize_t> chunk(static_cast<size_t>(rank));
    if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) == rank) {
      native_depth = ChunkDepth(meta.shape.nav(), chunk);
    }
  }
  const haddr_t offset = H5Dget_offset(dset.get());
  H5Eclear2(H5E_DEFAULT);
  if (layout == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl.get()) == 0 &&
      H5Pget_external_count(dcpl.get()) == 0 && offset != HADDR_UNDEF) {
    // The data lies as one C-order block in the file that holds the dataset (which differs
    // from `file_path` behind an external link): map it.
    const std::string data_file = DataFileOf(dset.get(), file_path);
    auto mapped = io::MappedFile::Open(data_file);
    const int64_t needed = meta.shape.size() * SizeOf(meta.dtype);
    const auto start = static_cast<int64_t>(offset);
    if (start > mapped->size() || mapped->size() - start < needed) {
      throw Error::CorruptFile(
          data_file, start, h5path,
          fmt::format("contiguous data of {} bytes runs past the end of the file ({} bytes)",
                      needed, mapped->size()));
    }
    if (data_file != file_path) {
      meta.files.push_back(dataset::InputFile{.path = data_file, .size = mapped->size()});
    }
    const bool byteswap = info.big_endian == internal::kHostLittleEndian;
    auto mapped_ds = std::make_unique<internal::MappedArrayDataset>(
        std::move(meta), std::move(mapped), start, byteswap, native_depth);
    if (!selection) return mapped_ds;
    return std::make_unique<FrameSelectionDataset>(std::move(selected_meta), std::move(mapped_ds),
                                                   std::move(*selection));
  }
  if (layout == H5D_CHUNKED && H5Pget_nfilters(dcpl.get()) == 0 &&
      H5Pget_external_count(dcpl.get()) == 0 && rank > 0) {
    // Uncompressed chunks of whole frames: serve the frames from the mapping (zero copy for
    // runs of frames that lie back to back, as chunks written in order do), not via H5Dread.
    std::vector<hsize_t> chunk(static_cast<size_t>(rank));
    const std::string data_file = DataFileOf(dset.get(), file_path);
    if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) == rank) {
      if (auto frames = ChunkedFrameSources(dset.get(), chunk, meta.shape, meta.dtype,
                                            io::FileSize(data_file))) {
        auto mapped = io::MappedFile::Open(data_file);
        if (data_file != file_path) {
          meta.files.push_back(dataset::InputFile{.path = data_file, .size = mapped->size()});
        }
        const bool byteswap = info.big_endian == internal::kHostLittleEndian;
        auto table_ds = std::make_unique<internal::FrameTableDataset>(
            std::move(meta), std::vector<std::shared_ptr<const io::MappedFile>>{mapped},
            std::move(*frames), byteswap, native_depth);
        if (!selection) return table_ds;
        return std::make_unique<FrameSelectionDataset>(std::move(selected_meta),
                                                       std::move(table_ds), std::move(*selection));
      }
    }
  }
  auto read_ds = std::make_unique<Hdf5Dataset>(std::move(meta), file_path, h5path,
                                               std::move(file), std::move(dset), native_depth);
  if (!selection) return read_ds;
  return std::make_unique<FrameSelectionDataset>(std::move(selected_meta), std::move(read_ds),
                                                 std::move(*selection));
}

FormatEntry Hdf5FormatEntry() {
  FormatEntry entry;
  entry.name = "hdf5";
  entry.extensions = {".h5", ".hdf5", ".hdf", ".nxs", ".emd", ".hspy", ".cxi"};
  entry.summary =
      "HDF5 dataset (FILE or FILE:/group/dataset); contiguous data is mapped zero copy";
  entry.params = {
      {.name = "sig_dims", .type = "int",
       .help = "number of trailing axes that form the signal (frame)", .default_value = "2"},
      {.name = "dataset", .type = "string",
       .help = "HDF5 path of the dataset (same as FILE:/path); default: a NeXus tomography "
               "scan's data, else the largest >= 3-D one"},
      {.name = "images", .type = "string",
       .help = "NeXus tomography (NXtomo / image_key): projections, flats, darks or all frames",
       .default_value = "all"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& /*path*/) {
    return head.size() >= kSignature.size() &&
           std::memcmp(head.data(), kSignature.data(), kSignature.size()) == 0;
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    std::string full_path = path;
    if (auto dset = internal::FindParam(params, "dataset")) {
      if (!SplitDatasetPath(path).second.empty()) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = "dataset given both in the path and as a parameter",
                              .file = path,
                              .field = "dataset"});
      }
      full_path += ":" + (dset->starts_with('/') ? *dset : "/" + *dset);
    }
    int sig_dims = -1;
    if (auto text = internal::FindParam(params, "sig_dims")) {
      const int64_t value = internal::ParseIntParam(*text, "sig_dims");
      if (value < 0 || value > kMaxRank) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("sig_dims {} outside [0, {}]", value,
                                                     kMaxRank),
                              .file = path,
                              .field = "sig_dims"});
      }
      sig_dims = static_cast<int>(value);
    }
    return OpenHdf5(full_path, sig_dims, internal::FindParam(params, "images").value_or(""));
  };
  return entry;
}

}  // namespace tessera::formats
