// SPDX-License-Identifier: MIT
#include "tessera/formats/hdf5/hdf5_internal.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tessera::formats::internal {
namespace {

std::recursive_mutex& GlobalHdf5Mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

herr_t CollectError(unsigned n, const H5E_error2_t* error, void* client_data) {
  auto* out = static_cast<std::string*>(client_data);
  // Walking downward, entry 0 is the API call and the last one the root cause.
  if (error->desc != nullptr && error->desc[0] != '\0') *out = error->desc;
  (void)n;
  return 0;
}

nlohmann::json AttributeValue(hid_t attr) {
  Hid type(H5Aget_type(attr));
  Hid space(H5Aget_space(attr));
  if (!type.valid() || !space.valid()) return nullptr;
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0 || count > 4096) return nullptr;
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_STRING) {
    if (count != 1) return nullptr;
    if (H5Tis_variable_str(type.get()) > 0) {
      Hid mem(H5Tcopy(H5T_C_S1));
      H5Tset_size(mem.get(), H5T_VARIABLE);
      H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
      char* text = nullptr;
      if (H5Aread(attr, mem.get(), &text) < 0) return nullptr;
      nlohmann::json out = text != nullptr ? std::string(text) : std::string();
      H5free_memory(text);
      return out;
    }
    const size_t size = H5Tget_size(type.get()) + 1;  // room for the terminator
    std::string text(size, '\0');
    Hid mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), size);
    if (H5Aread(attr, mem.get(), text.data()) < 0) return std::string();
    text.resize(std::strlen(text.c_str()));
    return text;
  }
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) return nullptr;
  std::vector<double> values(static_cast<size_t>(count));
  if (count > 0 && H5Aread(attr, H5T_NATIVE_DOUBLE, values.data()) < 0) return nullptr;
  const bool integer = cls == H5T_INTEGER;
  const auto as_json = [&](double v) -> nlohmann::json {
    if (integer) return static_cast<int64_t>(v);
    return v;
  };
  if (H5Sget_simple_extent_ndims(space.get()) == 0 && count == 1) return as_json(values[0]);
  nlohmann::json array = nlohmann::json::array();
  for (const double v : values) array.push_back(as_json(v));
  return array;
}

herr_t CollectAttribute(hid_t object, const char* name, const H5A_info_t* /*info*/,
                        void* client_data) {
  auto* out = static_cast<nlohmann::json*>(client_data);
  Hid attr(H5Aopen(object, name, H5P_DEFAULT));
  if (attr.valid()) (*out)[name] = AttributeValue(attr.get());
  return 0;
}

}  // namespace

Hdf5Lock::Hdf5Lock() : lock_(GlobalHdf5Mutex()) {
  // The error stack is per thread in thread-safe builds: silence it for this one.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  static const bool plugins = [] {
    AddSystemPluginPaths();
    return true;
  }();
  (void)plugins;
}

std::string PluginSearchPath() {
  unsigned count = 0;
  if (H5PLsize(&count) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  std::string out;
  for (unsigned i = 0; i < count; ++i) {
    char buffer[4096] = {};
    if (H5PLget(i, buffer, sizeof(buffer)) < 0) continue;
    if (!out.empty()) out += ':';
    out += buffer;
  }
  H5Eclear2(H5E_DEFAULT);
  return out;
}

void AddSystemPluginPaths() {
  // HDF5_PLUGIN_PATH replaces the library default: respect a user's choice.
  if (std::getenv("HDF5_PLUGIN_PATH") != nullptr) return;
  std::vector<std::string> candidates;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib", ec)) {
    for (const char* sub : {"hdf5/serial/plugins", "hdf5/plugins"}) {
      const auto dir = entry.path() / sub;
      if (std::filesystem::is_directory(dir, ec)) candidates.push_back(dir.string());
    }
  }
  for (const char* dir : {"/usr/lib64/hdf5/plugin", "/usr/lib/hdf5/plugin",
                          "/usr/local/hdf5/lib/plugin"}) {
    if (std::filesystem::is_directory(dir, ec)) candidates.emplace_back(dir);
  }
  const std::string known = ":" + PluginSearchPath() + ":";
  for (const auto& dir : candidates) {
    if (known.find(":" + dir + ":") == std::string::npos) H5PLappend(dir.c_str());
  }
  H5Eclear2(H5E_DEFAULT);
}

std::string FilterName(H5Z_filter_t id) {
  switch (id) {
    case H5Z_FILTER_DEFLATE: return "deflate (gzip)";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    case 307: return "bzip2";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32008: return "bitshuffle";
    case 32013: return "zfp";
    case 32015: return "zstd";
    case 32026: return "blosc2";
    default: return "unknown filter";
  }
}

void CheckFiltersAvailable(hid_t dcpl, const std::string& file, const std::string& dataset) {
  const int count = H5Pget_nfilters(dcpl);
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0;
    size_t cd_count = 0;
    unsigned config = 0;
    char name[256] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &cd_count,
                                           nullptr, sizeof(name), name, &config);
    if (id < 0) continue;
    // Loads the plugin when HDF5 can find it.
    if (H5Zfilter_avail(id) > 0) continue;
    H5Eclear2(H5E_DEFAULT);
    const std::string stored = name[0] != '\0' ? fmt::format(", stored name '{}'", name) : "";
    throw Error(ErrorInfo{
        .code = ErrorCode::kUnsupported,
        .message = fmt::format(
            "dataset '{}' is compressed with HDF5 filter {} ({}{}), which is not available: "
            "install its plugin (Debian: hdf5-filter-plugin, hdf5-filter-plugin-blosc-serial, "
            "...) or set HDF5_PLUGIN_PATH to its folder (searched: {})",
            dataset, id, FilterName(id), stored, PluginSearchPath()),
        .file = file,
        .field = dataset});
  }
  H5Eclear2(H5E_DEFAULT);
}

std::vector<std::string> ReadStringArrayAttr(hid_t object, const std::string& name) {
  std::vector<std::string> out;
  if (H5Aexists(object, name.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return out;
  }
  Hid attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return out;
  Hid type(H5Aget_type(attr.get()));
  Hid space(H5Aget_space(attr.get()));
  if (!type.valid() || !space.valid() || H5Tget_class(type.get()) != H5T_STRING) return out;
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count <= 0 || count > 4096) return out;
  const auto n = static_cast<size_t>(count);
  if (H5Tis_variable_str(type.get()) > 0) {
    std::vector<char*> texts(n, nullptr);
    Hid mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), H5T_VARIABLE);
    if (H5Aread(attr.get(), mem.get(), texts.data()) < 0) return out;
    for (char* text : texts) {
      out.emplace_back(text != nullptr ? text : "");
      H5free_memory(text);
    }
    return out;
  }
  const size_t size = H5Tget_size(type.get());
  if (size == 0 || size > 65536) return out;
  std::vector<char> buffer(n * size, '\0');
  Hid mem(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem.get(), size);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
  if (H5Aread(attr.get(), mem.get(), buffer.data()) < 0) return out;
  for (size_t i = 0; i < n; ++i) {
    std::string text(buffer.data() + i * size, size);
    text.resize(std::strlen(text.c_str()));
    out.push_back(std::move(text));
  }
  return out;
}

Hid& Hid::operator=(Hid&& other) noexcept {
  if (this != &other) {
    Close();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Hid::Close() noexcept {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: H5Idec_ref(id_); break;
  }
  id_ = H5I_INVALID_HID;
}

std::string Hdf5ErrorDetail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectError, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

void ThrowHdf5(ErrorCode code, const std::string& file, const std::string& object,
               const std::string& what) {
  const std::string detail = Hdf5ErrorDetail();
  std::string message = object.empty() ? what : fmt::format("{}: {}", object, what);
  if (!detail.empty()) message += fmt::format(" (HDF5: {})", detail);
  throw Error(ErrorInfo{.code = code, .message = std::move(message), .file = file, .field = object});
}

Hid Check(hid_t id, const std::string& file, const std::string& object, const std::string& what) {
  if (id < 0) ThrowHdf5(ErrorCode::kIo, file, object, what);
  return Hid(id);
}

void Check(herr_t status, const std::string& file, const std::string& object,
           const std::string& what) {
  if (status < 0) ThrowHdf5(ErrorCode::kIo, file, object, what);
}

std::optional<DType> DTypeOfHdf5(hid_t type, bool* big_endian) {
  *big_endian = false;
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
    *big_endian = H5Tget_order(type) == H5T_ORDER_BE;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1: return is_signed ? DType::kInt8 : DType::kUint8;
      case 2: return is_signed ? DType::kInt16 : DType::kUint16;
      case 4: return is_signed ? DType::kInt32 : DType::kUint32;
      case 8: return is_signed ? DType::kInt64 : DType::kUint64;
      default: return std::nullopt;
    }
  }
  if (cls == H5T_FLOAT) {
    if (size == 4) return DType::kFloat32;
    if (size == 8) return DType::kFloat64;
    return std::nullopt;
  }
  if (cls == H5T_ENUM && size == 1) return DType::kBool;  // h5py's bool
  if (cls == H5T_COMPOUND && H5Tget_nmembers(type) == 2 && (size == 8 || size == 16)) {
    // h5py's complex: {r, i} of two floats of half the size, in that order, no padding.
    Hid real(H5Tget_member_type(type, 0));
    Hid imag(H5Tget_member_type(type, 1));
    if (H5Tget_class(real.get()) != H5T_FLOAT || H5Tget_class(imag.get()) != H5T_FLOAT ||
        H5Tget_size(real.get()) != size / 2 || H5Tget_size(imag.get()) != size / 2 ||
        H5Tget_member_offset(type, 0) != 0 || H5Tget_member_offset(type, 1) != size / 2) {
      return std::nullopt;
    }
    *big_endian = H5Tget_order(real.get()) == H5T_ORDER_BE;
    return size == 8 ? DType::kComplex64 : DType::kComplex128;
  }
  return std::nullopt;
}

namespace {

/// h5py's bool: an int8 enum {FALSE = 0, TRUE = 1}.
Hid BoolType() {
  Hid type(H5Tenum_create(H5T_NATIVE_INT8));
  int8_t value = 0;
  H5Tenum_insert(type.get(), "FALSE", &value);
  value = 1;
  H5Tenum_insert(type.get(), "TRUE", &value);
  return type;
}

Hid ComplexType(hid_t part, size_t part_size) {
  Hid type(H5Tcreate(H5T_COMPOUND, 2 * part_size));
  H5Tinsert(type.get(), "r", 0, part);
  H5Tinsert(type.get(), "i", part_size, part);
  return type;
}

}  // namespace

Hid MemoryTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kBool: return BoolType();
    case DType::kInt8: return Hid(H5Tcopy(H5T_NATIVE_INT8));
    case DType::kUint8: return Hid(H5Tcopy(H5T_NATIVE_UINT8));
    case DType::kInt16: return Hid(H5Tcopy(H5T_NATIVE_INT16));
    case DType::kUint16: return Hid(H5Tcopy(H5T_NATIVE_UINT16));
    case DType::kInt32: return Hid(H5Tcopy(H5T_NATIVE_INT32));
    case DType::kUint32: return Hid(H5Tcopy(H5T_NATIVE_UINT32));
    case DType::kInt64: return Hid(H5Tcopy(H5T_NATIVE_INT64));
    case DType::kUint64: return Hid(H5Tcopy(H5T_NATIVE_UINT64));
    case DType::kFloat32: return Hid(H5Tcopy(H5T_NATIVE_FLOAT));
    case DType::kFloat64: return Hid(H5Tcopy(H5T_NATIVE_DOUBLE));
    case DType::kComplex64: return ComplexType(H5T_NATIVE_FLOAT, 4);
    case DType::kComplex128: return ComplexType(H5T_NATIVE_DOUBLE, 8);
  }
  return Hid();
}

Hid FileTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kBool: return BoolType();
    case DType::kInt8: return Hid(H5Tcopy(H5T_STD_I8LE));
    case DType::kUint8: return Hid(H5Tcopy(H5T_STD_U8LE));
    case DType::kInt16: return Hid(H5Tcopy(H5T_STD_I16LE));
    case DType::kUint16: return Hid(H5Tcopy(H5T_STD_U16LE));
    case DType::kInt32: return Hid(H5Tcopy(H5T_STD_I32LE));
    case DType::kUint32: return Hid(H5Tcopy(H5T_STD_U32LE));
    case DType::kInt64: return Hid(H5Tcopy(H5T_STD_I64LE));
    case DType::kUint64: return Hid(H5Tcopy(H5T_STD_U64LE));
    case DType::kFloat32: return Hid(H5Tcopy(H5T_IEEE_F32LE));
    case DType::kFloat64: return Hid(H5Tcopy(H5T_IEEE_F64LE));
    case DType::kComplex64: return ComplexType(H5T_IEEE_F32LE, 4);
    case DType::kComplex128: return ComplexType(H5T_IEEE_F64LE, 8);
  }
  return Hid();
}

namespace {

void WriteScalarAttr(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type,
                     const void* value) {
  Hid space(H5Screate(H5S_SCALAR));
  if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
  Hid attr(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), mem_type, value) < 0) {
    ThrowHdf5(ErrorCode::kIo, "", name, "cannot write attribute");
  }
}

}  // namespace

void WriteStringAttr(hid_t object, const std::string& name, const std::string& value) {
  // Variable-length UTF-8 strings: what h5py reads back as str.
  Hid type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const char* text = value.c_str();
  WriteScalarAttr(object, name, type.get(), type.get(), &text);
}

void WriteDoubleAttr(hid_t object, const std::string& name, double value) {
  WriteScalarAttr(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void WriteInt64Attr(hid_t object, const std::string& name, int64_t value) {
  WriteScalarAttr(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void WriteAxisAttrs(hid_t object, std::span<const dataset::Axis> axes) {
  for (size_t i = 0; i < axes.size(); ++i) {
    WriteStringAttr(object, fmt::format("axis_{}_name", i), axes[i].name);
    WriteDoubleAttr(object, fmt::format("axis_{}_scale", i), axes[i].scale);
    WriteDoubleAttr(object, fmt::format("axis_{}_offset", i), axes[i].offset);
    WriteStringAttr(object, fmt::format("axis_{}_units", i), axes[i].units);
    if (!axes[i].values.empty()) {
      // Uneven coordinates (a sweep over a list): a 1-D float64 attribute.
      const std::string name = fmt::format("axis_{}_values", i);
      const hsize_t n = axes[i].values.size();
      Hid space(H5Screate_simple(1, &n, nullptr));
      if (H5Aexists(object, name.c_str()) > 0) H5Adelete(object, name.c_str());
      Hid attr(H5Acreate2(object, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
      if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, axes[i].values.data()) < 0) {
        ThrowHdf5(ErrorCode::kIo, "", name, "cannot write attribute");
      }
    }
  }
}

std::optional<std::string> ReadStringAttr(hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) return std::nullopt;
  Hid attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return std::nullopt;
  const nlohmann::json value = AttributeValue(attr.get());
  if (value.is_string()) return value.get<std::string>();
  // Some writers store a 1-element array of strings; accept a scalar-like one only.
  return std::nullopt;
}

std::optional<double> ReadDoubleAttr(hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) return std::nullopt;
  Hid attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
  if (!attr.valid()) return std::nullopt;
  const nlohmann::json value = AttributeValue(attr.get());
  if (value.is_number()) return value.get<double>();
  if (value.is_array() && value.size() == 1 && value[0].is_number()) return value[0].get<double>();
  return std::nullopt;
}

std::string AttributesAsJson(hid_t object) {
  nlohmann::json out = nlohmann::json::object();
  hsize_t index = 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, CollectAttribute, &out);
  H5Eclear2(H5E_DEFAULT);
  // Attributes may hold bytes that are not UTF-8: replace rather than fail.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<NavBox> CoverFrames(std::span<const int64_t> nav, int64_t begin, int64_t end) {
  std::vector<NavBox> boxes;
  const int rank = static_cast<int>(nav.size());
  if (begin >= end) return boxes;
  if (rank == 0) {
    boxes.push_back(NavBox{.frames = end - begin});
    return boxes;
  }
  std::vector<int64_t> strides(static_cast<size_t>(rank), 1);
  for (int i = rank - 2; i >= 0; --i) strides[i] = strides[i + 1] * nav[i + 1];
  int64_t pos = begin;
  while (pos < end) {
    std::vector<int64_t> coord(static_cast<size_t>(rank));
    for (int i = 0; i < rank; ++i) coord[i] = (pos / strides[i]) % nav[i];
    // The outermost axis whose whole sub-blocks start at `pos` and fit before `end`.
    int axis = rank - 1;
    for (int a = 0; a < rank; ++a) {
      bool aligned = true;
      for (int i = a + 1; i < rank; ++i) aligned = aligned && coord[i] == 0;
      if (aligned && pos + strides[a] <= end) {
        axis = a;
        break;
      }
    }
    const int64_t n = std::min((end - pos) / strides[axis], nav[axis] - coord[axis]);
    NavBox box;
    for (int i = 0; i < rank; ++i) {
      box.start.push_back(static_cast<hsize_t>(i > axis ? 0 : coord[i]));
      box.count.push_back(static_cast<hsize_t>(i < axis ? 1 : (i == axis ? n : nav[i])));
    }
    box.frames = n * strides[axis];
    boxes.push_back(std::move(box));
    pos += n * strides[axis];
  }
  return boxes;
}

}  // namespace tessera::formats::internal
