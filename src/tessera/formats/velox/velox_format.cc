// SPDX-License-Identifier: MIT
// Thermo Fisher (FEI) Velox EMD reader. See docs/formats/velox.md for the layout.
#include "tessera/formats/velox/velox_format.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <numbers>
#include <limits>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/formats/hdf5/hdf5_internal.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

using internal::Hdf5Lock;
using internal::Hid;
using json = nlohmann::json;

constexpr std::string_view kSignature = "\x89HDF\r\n\x1a\n";
constexpr uint16_t kPixelMarker = 65535;
constexpr int64_t kMaxTextBytes = int64_t{64} << 20;  // metadata JSON columns, strings
constexpr int64_t kMaxScanPixels = int64_t{1} << 28;   // 16384 x 16384
constexpr int64_t kMaxElements = int64_t{1} << 50;

// ---- small helpers ----

bool LinkExists(hid_t location, const std::string& path) {
  // Component by component: H5Lexists fails when an intermediate group is missing.
  size_t pos = 1;
  while (pos <= path.size()) {
    const size_t slash = std::min(path.find('/', pos), path.size());
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(location, prefix.c_str(), H5P_DEFAULT) <= 0 ||
        H5Oexists_by_name(location, prefix.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    pos = slash + 1;
  }
  return true;
}

/// Return whether `path` names an object of `type` (false: missing, or unreadable).
bool IsObjectOfType(hid_t file, const std::string& path, H5O_type_t type) {
  if (!LinkExists(file, path)) return false;
  H5O_info_t info{};
  if (H5Oget_info_by_name2(file, path.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return info.type == type;
}

bool IsGroup(hid_t file, const std::string& path) {
  return IsObjectOfType(file, path, H5O_TYPE_GROUP);
}

bool IsDataset(hid_t file, const std::string& path) {
  return IsObjectOfType(file, path, H5O_TYPE_DATASET);
}

/// Names of the links in a group, in name order ("" group or missing: empty).
std::vector<std::string> ListGroup(hid_t file, const std::string& group) {
  std::vector<std::string> names;
  if (!IsGroup(file, group)) return names;
  H5G_info_t info{};
  if (H5Gget_info_by_name(file, group.c_str(), &info, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return names;
  }
  for (hsize_t i = 0; i < info.nlinks && i < 100000; ++i) {
    const ssize_t len = H5Lget_name_by_idx(file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, i,
                                           nullptr, 0, H5P_DEFAULT);
    if (len <= 0) continue;
    std::string name(static_cast<size_t>(len), '\0');
    H5Lget_name_by_idx(file, group.c_str(), H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                       name.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  H5Eclear2(H5E_DEFAULT);
  std::sort(names.begin(), names.end());
  return names;
}

std::string LastComponent(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// Decode %XX escapes (Velox URL-encodes display labels: "DCFI%28Ceta%29").
std::string UrlDecode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::strtol(text.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/// Parse JSON text from `object`; kCorruptFile naming the file, the object and the byte.
json ParseJson(const std::string& text, const std::string& file, const std::string& object) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kCorruptFile,
        .message = fmt::format("{}: invalid JSON at byte {} of {}: {}", object, e.byte,
                               text.size(), e.what()),
        .file = file,
        .field = object});
  }
}

/// Read the text of a dataset: the first element of a (variable- or fixed-length) string
/// dataset, or column `column` of a 2-D uint8 array (Velox per-frame Metadata), up to the first
/// NUL. Throws kCorruptFile naming the object when it cannot be read.
std::string ReadText(hid_t file, const std::string& file_path, const std::string& object,
                     int64_t column = 0) {
  Hid dset(H5Dopen2(file, object.c_str(), H5P_DEFAULT));
  if (!dset.valid()) internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, object, "cannot open");
  Hid type(H5Dget_type(dset.get()));
  Hid space(H5Dget_space(dset.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 2) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: text dataset of rank {}", object, rank),
                          .file = file_path,
                          .field = object});
  }
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 1)), 1);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_STRING) {
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (count < 1) return "";
    // Select the first element only.
    std::vector<hsize_t> start(dims.size(), 0), one(dims.size(), 1);
    if (rank > 0) {
      H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, one.data(),
                          nullptr);
    }
    hsize_t one_dim = 1;
    Hid mem_space(H5Screate_simple(1, &one_dim, nullptr));
    if (H5Tis_variable_str(type.get()) > 0) {
      Hid mem_type(H5Tcopy(H5T_C_S1));
      H5Tset_size(mem_type.get(), H5T_VARIABLE);
      char* value = nullptr;
      if (H5Dread(dset.get(), mem_type.get(), mem_space.get(), space.get(), H5P_DEFAULT,
                  &value) < 0) {
        internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, object, "cannot read string");
      }
      std::string out = value != nullptr ? std::string(value) : std::string();
      H5Dvlen_reclaim(mem_type.get(), mem_space.get(), H5P_DEFAULT, &value);
      if (static_cast<int64_t>(out.size()) > kMaxTextBytes) out.resize(kMaxTextBytes);
      return out;
    }
    const size_t size = H5Tget_size(type.get());
    if (size == 0 || static_cast<int64_t>(size) > kMaxTextBytes) {
      throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                            .message = fmt::format("{}: string of {} bytes", object, size),
                            .file = file_path,
                            .field = object});
    }
    std::string out(size, '\0');
    Hid mem_type(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem_type.get(), size);
    if (H5Dread(dset.get(), mem_type.get(), mem_space.get(), space.get(), H5P_DEFAULT,
                out.data()) < 0) {
      internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, object, "cannot read string");
    }
    out.resize(std::strlen(out.c_str()));
    return out;
  }
  if (cls == H5T_INTEGER && H5Tget_size(type.get()) == 1) {
    const auto rows = static_cast<int64_t>(dims[0]);
    const int64_t columns = rank == 2 ? static_cast<int64_t>(dims[1]) : 1;
    if (rows > kMaxTextBytes) {
      throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                            .message = fmt::format("{}: {} bytes of metadata text", object, rows),
                            .file = file_path,
                            .field = object});
    }
    if (column < 0 || column >= columns) {
      throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                            .message = fmt::format("{}: no column {} (it has {})", object, column,
                                                   columns),
                            .file = file_path,
                            .field = object});
    }
    std::string out(static_cast<size_t>(rows), '\0');
    if (rows == 0) return out;
    std::vector<hsize_t> start = {0, static_cast<hsize_t>(column)};
    std::vector<hsize_t> count = {static_cast<hsize_t>(rows), 1};
    start.resize(static_cast<size_t>(std::max(rank, 1)));
    count.resize(start.size());
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                        nullptr);
    const auto n = static_cast<hsize_t>(rows);
    Hid mem_space(H5Screate_simple(1, &n, nullptr));
    if (H5Dread(dset.get(), H5T_NATIVE_UCHAR, mem_space.get(), space.get(), H5P_DEFAULT,
                out.data()) < 0) {
      internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, object, "cannot read metadata");
    }
    out.resize(std::strlen(out.c_str()));
    return out;
  }
  throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                        .message = fmt::format("{}: expected text, found another type", object),
                        .file = file_path,
                        .field = object});
}

json ReadJson(hid_t file, const std::string& file_path, const std::string& object,
              int64_t column = 0) {
  return ParseJson(ReadText(file, file_path, object, column), file_path, object);
}

/// The frame-0 Metadata JSON of the signal in `group`, or an empty object when it has none.
json SignalMetadata(hid_t file, const std::string& file_path, const std::string& group) {
  if (!IsDataset(file, group + "/Metadata")) return json::object();
  return ReadJson(file, file_path, group + "/Metadata");
}

/// The value at `keys` in a Velox JSON object (Velox writes numbers as strings).
const json* At(const json& j, std::initializer_list<const char*> keys) {
  const json* node = &j;
  for (const char* key : keys) {
    if (!node->is_object()) return nullptr;
    const auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::optional<double> Number(const json& j, std::initializer_list<const char*> keys) {
  const json* node = At(j, keys);
  if (node == nullptr) return std::nullopt;
  if (node->is_number()) return node->get<double>();
  if (!node->is_string()) return std::nullopt;
  const std::string text = node->get<std::string>();
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<std::string> Text(const json& j, std::initializer_list<const char*> keys) {
  const json* node = At(j, keys);
  if (node == nullptr) return std::nullopt;
  if (node->is_string()) return node->get<std::string>();
  if (node->is_number()) return node->dump();
  return std::nullopt;
}

// ---- HDF5 array description ----

struct ArrayInfo {
  std::string path;
  std::vector<int64_t> dims;
  std::optional<DType> dtype;
  bool big_endian = false;
  std::string type_text;
};

ArrayInfo DescribeArray(hid_t file, const std::string& file_path, const std::string& path) {
  ArrayInfo info;
  info.path = path;
  Hid dset(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
  if (!dset.valid()) internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path, path, "cannot open");
  Hid space(H5Dget_space(dset.get()));
  Hid type(H5Dget_type(dset.get()));
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0 || rank > kMaxRank) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: rank {}", path, rank),
                          .file = file_path,
                          .field = path});
  }
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  int64_t elements = 1;
  for (const hsize_t dim : dims) {
    const auto d = static_cast<int64_t>(dim);
    if (d < 0 || (d > 0 && elements > kMaxElements / d)) {
      throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                            .message = fmt::format("{}: absurd dimensions [{}]", path,
                                                   fmt::join(dims, ", ")),
                            .file = file_path,
                            .field = path});
    }
    elements *= d;
    info.dims.push_back(d);
  }
  if (type.valid()) info.dtype = internal::DTypeOfHdf5(type.get(), &info.big_endian);
  info.type_text = info.dtype ? std::string(Name(*info.dtype))
                              : (type.valid() && H5Tget_class(type.get()) == H5T_COMPOUND
                                     ? "compound"
                                     : "unsupported type");
  return info;
}

// ---- units ----

std::string PrefixOf(int power) {
  switch (power) {
    case -24: return "y";
    case -21: return "z";
    case -18: return "a";
    case -15: return "f";
    case -12: return "p";
    case -9: return "n";
    case -6: return "µ";
    case -3: return "m";
    case 0: return "";
    case 3: return "k";
    case 6: return "M";
    case 9: return "G";
    default: return "?";
  }
}

}  // namespace

std::pair<double, std::string> VeloxCompactUnits(double value, const std::string& units,
                                                 double factor) {
  int exponent = 0;
  std::string base;
  if (units == "m" || units == "s") {
    exponent = 1;
    base = units;
  } else if (units == "1/m") {
    exponent = -1;
    base = "m";
  } else {
    return {1.0, units};
  }
  const double magnitude = std::fabs(value * factor);
  if (!(magnitude > 0) || !std::isfinite(magnitude)) return {1.0, units};
  const int log10_scale = static_cast<int>(std::floor(std::log10(magnitude)));
  int power = exponent > 0 ? static_cast<int>(std::floor(log10_scale / 3.0)) * 3
                           : static_cast<int>(std::ceil(-log10_scale / 3.0)) * 3;
  power = std::clamp(power, -24, 9);
  // value in prefixed units = value / (10^power)^exponent
  const double multiplier = std::pow(10.0, -power * exponent);
  const std::string unit = PrefixOf(power) + base;
  return {multiplier, exponent > 0 ? unit : "1/" + unit};
}

namespace {

// ---- the file's signals ----

enum class Kind { kImage, kSpectrum, kEelsSpectrumImage, kEdsSpectrumImage };

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kImage: return "image";
    case Kind::kSpectrum: return "spectrum";
    case Kind::kEelsSpectrumImage: return "eels_spectrum_image";
    case Kind::kEdsSpectrumImage: return "eds_spectrum_image";
  }
  return "?";
}

struct Signal {
  Kind kind = Kind::kImage;
  std::string group;                 // /Data/<Kind>/<uuid>
  std::string title;
  std::vector<std::string> streams;  // EDS: /Data/SpectrumStream/<uuid> groups summed
  std::vector<int64_t> shape;        // NumPy order as served (EDS: with frames summed)
  std::string dtype;                 // as stored ("" when not numeric)
  int64_t elements = 0;
};

/// Display titles by data uuid: Velox >= 11 /Displays/ImageDisplay ids (through
/// SharedProperties references), Operations input names, older /Presentation labels.
std::map<std::string, std::string> TitlesByUuid(hid_t file, const std::string& file_path) {
  std::map<std::string, std::string> titles;
  const auto best_effort = [&](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error&) {
      // Display and operation records only name things; a broken one must not stop reading.
    } catch (const json::exception&) {
    }
  };
  for (const auto& name : ListGroup(file, "/Presentation/Displays/ImageDisplay")) {
    best_effort([&] {
      const json v = ReadJson(file, file_path, "/Presentation/Displays/ImageDisplay/" + name);
      const auto path = Text(v, {"dataPath"});
      const auto label = Text(v, {"display", "label"});
      if (path && label) titles[LastComponent(*path)] = UrlDecode(*label);
    });
  }
  static const std::pair<const char*, const char*> kOperations[] = {
      {"CameraInputOperation", "cameraName"},
      {"StemInputOperation", "detector"},
  };
  for (const auto& operation : kOperations) {
    // Named members, not a structured binding: clang 14 (the fuzz preset) cannot capture those.
    const char* key = operation.second;
    const std::string group = std::string("/Operations/") + operation.first;
    for (const auto& name : ListGroup(file, group)) {
      best_effort([&] {
        const json v = ReadJson(file, file_path, group + "/" + name);
        const auto path = Text(v, {"dataPath"});
        const auto label = Text(v, {key});
        if (path && label && !label->empty()) titles[LastComponent(*path)] = *label;
      });
    }
  }
  for (const auto& name : ListGroup(file, "/Displays/ImageDisplay")) {
    best_effort([&] {
      const json v = ReadJson(file, file_path, "/Displays/ImageDisplay/" + name);
      const auto ref = Text(v, {"data"});
      const auto id = Text(v, {"id"});
      if (!ref || !id || !IsDataset(file, *ref)) return;
      const json r = ReadJson(file, file_path, *ref);
      if (const auto path = Text(r, {"dataPath"})) titles[LastComponent(*path)] = *id;
    });
  }
  return titles;
}

/// Scan size (ny, nx) of a spectrum image from its Metadata: ScanSize x ScanArea.
std::optional<std::pair<int64_t, int64_t>> ScanShape(const json& md) {
  const auto width = Number(md, {"Scan", "ScanSize", "width"});
  const auto height = Number(md, {"Scan", "ScanSize", "height"});
  if (!width || !height || *width < 1 || *height < 1) return std::nullopt;
  const double left = Number(md, {"Scan", "ScanArea", "left"}).value_or(0);
  const double right = Number(md, {"Scan", "ScanArea", "right"}).value_or(1);
  const double top = Number(md, {"Scan", "ScanArea", "top"}).value_or(0);
  const double bottom = Number(md, {"Scan", "ScanArea", "bottom"}).value_or(1);
  const double nx = std::round(*width * (right - left));
  const double ny = std::round(*height * (bottom - top));
  if (!(nx >= 1 && ny >= 1 && nx <= 1e7 && ny <= 1e7)) return std::nullopt;
  return std::pair<int64_t, int64_t>{static_cast<int64_t>(ny), static_cast<int64_t>(nx)};
}

/// Logical dims of a stored array: the last stored axis moves to the front.
std::vector<int64_t> MoveLastFirst(std::vector<int64_t> dims) {
  if (dims.size() > 1) std::rotate(dims.rbegin(), dims.rbegin() + 1, dims.rend());
  return dims;
}

/// Drop a leading axis of size 1 (one frame, one spectrum) when more axes follow.
std::vector<int64_t> SqueezeFirst(std::vector<int64_t> dims, size_t keep) {
  if (dims.size() > keep && dims[0] == 1) dims.erase(dims.begin());
  return dims;
}

struct FileSignals {
  std::string version;
  std::vector<Signal> signals;
};

/// Spectrum-image facts shared by the signal list and the opener.
struct StreamLayout {
  int64_t ny = 0, nx = 0, channels = 0;
  std::string encoding;
  std::string shape_source;
};

StreamLayout DescribeStreams(hid_t file, const std::string& file_path,
                             const std::vector<std::string>& streams) {
  StreamLayout layout;
  const std::string& first = streams.front();
  const json settings = ReadJson(file, file_path, first + "/AcquisitionSettings");
  const auto bins = Number(settings, {"bincount"});
  if (!bins || *bins < 1 || *bins > 65535 || std::floor(*bins) != *bins) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}/AcquisitionSettings: bincount {} is not in "
                                                 "[1, 65535]",
                                                 first, Text(settings, {"bincount"}).value_or("missing")),
                          .file = file_path,
                          .field = first + "/AcquisitionSettings"});
  }
  layout.channels = static_cast<int64_t>(*bins);
  layout.encoding = Text(settings, {"StreamEncoding"}).value_or("uint16");
  std::optional<std::pair<int64_t, int64_t>> scan;
  if (IsDataset(file, first + "/Metadata")) {
    scan = ScanShape(ReadJson(file, file_path, first + "/Metadata"));
    if (scan) layout.shape_source = first + "/Metadata Scan.ScanSize x Scan.ScanArea";
  }
  if (!scan) {
    for (const auto& name : ListGroup(file, "/Data/SpectrumImage")) {
      const std::string md = "/Data/SpectrumImage/" + name + "/Metadata";
      if (!IsDataset(file, md)) continue;
      scan = ScanShape(ReadJson(file, file_path, md));
      if (scan) {
        layout.shape_source = md + " Scan.ScanSize x Scan.ScanArea";
        break;
      }
    }
  }
  if (!scan) {
    const auto width = Number(settings, {"RasterScanDefinition", "Width"});
    const auto height = Number(settings, {"RasterScanDefinition", "Height"});
    if (width && height && *width >= 1 && *height >= 1 && *width <= 1e7 && *height <= 1e7) {
      scan = std::pair<int64_t, int64_t>{static_cast<int64_t>(*height),
                                         static_cast<int64_t>(*width)};
      layout.shape_source = first + "/AcquisitionSettings RasterScanDefinition";
    }
  }
  if (!scan) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: no scan size in Metadata (Scan.ScanSize) "
                                                 "or AcquisitionSettings (RasterScanDefinition)",
                                                 first),
                          .file = file_path,
                          .field = first + "/Metadata"});
  }
  layout.ny = scan->first;
  layout.nx = scan->second;
  if (layout.ny * layout.nx > kMaxScanPixels) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: absurd scan size {} x {}", first, layout.ny,
                                                 layout.nx),
                          .file = file_path,
                          .field = first + "/Metadata"});
  }
  return layout;
}

FileSignals ListSignals(hid_t file, const std::string& file_path) {
  FileSignals out;
  if (!IsDataset(file, "/Version") || !IsGroup(file, "/Data")) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = "not a Velox EMD file (no /Version dataset and /Data group)",
                          .file = file_path,
                          .field = "/Version"});
  }
  const json version = ReadJson(file, file_path, "/Version");
  if (Text(version, {"format"}).value_or("") != "Velox") {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("/Version names format '{}', not Velox",
                                                 Text(version, {"format"}).value_or("")),
                          .file = file_path,
                          .field = "/Version"});
  }
  out.version = Text(version, {"version"}).value_or("");
  const auto titles = TitlesByUuid(file, file_path);
  const auto title_of = [&](const std::string& uuid) -> std::string {
    const auto it = titles.find(uuid);
    return it == titles.end() ? "" : it->second;
  };
  const auto add_array = [&](Kind kind, const std::string& group, const std::string& fallback) {
    const std::string data = group + "/Data";
    if (!IsDataset(file, data)) return;
    const ArrayInfo info = DescribeArray(file, file_path, data);
    Signal s;
    s.kind = kind;
    s.group = group;
    s.title = title_of(LastComponent(group));
    if (s.title.empty() && kind == Kind::kSpectrum) s.title = fallback;  // HyperSpy: "EDS"
    if (s.title.empty() && IsDataset(file, group + "/Metadata")) {
      try {
        s.title = Text(ReadJson(file, file_path, group + "/Metadata"), {"BinaryResult", "Detector"})
                      .value_or("");
      } catch (const Error&) {
        // Reported when the signal is opened.
      }
    }
    if (s.title.empty()) s.title = fallback;
    s.dtype = info.dtype ? std::string(Name(*info.dtype)) : info.type_text;
    std::vector<int64_t> dims = info.dims;
    if (kind == Kind::kSpectrum && dims.size() == 1) dims.push_back(1);
    if (kind == Kind::kEelsSpectrumImage && dims.size() == 2) dims.push_back(1);
    s.shape = SqueezeFirst(MoveLastFirst(dims), kind == Kind::kEelsSpectrumImage ? 2 : 1);
    s.elements = Product(info.dims);
    out.signals.push_back(std::move(s));
  };
  for (const auto& name : ListGroup(file, "/Data/Spectrum")) {
    add_array(Kind::kSpectrum, "/Data/Spectrum/" + name, "EDS");
  }
  for (const auto& name : ListGroup(file, "/Data/Image")) {
    add_array(Kind::kImage, "/Data/Image/" + name, "image " + name);
  }
  for (const auto& name : ListGroup(file, "/Data/EelsSpectrumImage")) {
    add_array(Kind::kEelsSpectrumImage, "/Data/EelsSpectrumImage/" + name, "EELS");
  }
  // EDS spectrum images: the event streams, all detectors summed, then each detector alone.
  std::vector<std::string> streams;
  for (const auto& name : ListGroup(file, "/Data/SpectrumStream")) {
    const std::string group = "/Data/SpectrumStream/" + name;
    if (IsDataset(file, group + "/Data") && IsDataset(file, group + "/AcquisitionSettings")) {
      streams.push_back(group);
    }
  }
  if (!streams.empty() && IsGroup(file, "/Data/SpectrumImage")) {
    StreamLayout layout;
    std::string layout_error;
    try {
      layout = DescribeStreams(file, file_path, streams);
    } catch (const Error& e) {
      layout_error = e.what();  // listed; opening it reports the error
    }
    const auto add_stream = [&](std::vector<std::string> group, const std::string& title) {
      Signal s;
      s.kind = Kind::kEdsSpectrumImage;
      s.group = group.front();
      s.streams = std::move(group);
      s.title = title;
      s.dtype = layout.encoding;
      if (layout_error.empty()) s.shape = {layout.ny, layout.nx, layout.channels};
      s.elements = layout.ny * layout.nx * layout.channels;
      out.signals.push_back(std::move(s));
    };
    add_stream(streams, "EDS");
    if (streams.size() > 1) {
      for (const auto& stream : streams) {
        std::string detector;
        try {
          detector = Text(ReadJson(file, file_path, stream + "/Metadata"),
                          {"BinaryResult", "Detector"})
                         .value_or("");
        } catch (const Error&) {
        }
        add_stream({stream}, detector.empty() ? "EDS " + LastComponent(stream) : "EDS " + detector);
      }
    }
  }
  return out;
}

// ---- datasets ----

/// Frames of a Velox array whose outer logical axis (the last stored axis) is cut into blocks
/// that each lie contiguous in the file (a contiguous layout with one block, or unfiltered
/// chunks of one block each): served zero copy.
class BlockMappedDataset final : public dataset::Dataset {
 public:
  BlockMappedDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
                     std::vector<int64_t> block_offsets, int64_t frames_per_block,
                     bool byteswap)
      : meta_(std::move(meta)),
        file_(std::move(file)),
        blocks_(std::move(block_offsets)),
        frames_per_block_(frames_per_block),
        frame_bytes_(meta_.shape.sig_size() * SizeOf(meta_.dtype)),
        byteswap_(byteswap) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }
  int64_t native_depth() const override { return frames_per_block_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    if (byteswap_ || frame_begin < 0 || frame_end > meta_.shape.nav_size() ||
        frame_begin >= frame_end) {
      return nullptr;
    }
    const int64_t first = FrameOffset(frame_begin);
    for (int64_t f = frame_begin + 1; f < frame_end; ++f) {
      if (FrameOffset(f) != first + (f - frame_begin) * frame_bytes_) return nullptr;
    }
    return file_->bytes().data() + first;
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckRead(meta_, frame_begin, frame_end, sig, dst_dtype);
    const int64_t item = SizeOf(meta_.dtype);
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t f = frame_begin; f < frame_end; ++f) {
      internal::ConvertFromFile(file_->bytes().data() + FrameOffset(f) + sig.begin * item,
                                meta_.dtype, byteswap_, out, dst_dtype, sig.size());
      out += sig.size() * SizeOf(dst_dtype);
    }
  }

 private:
  int64_t FrameOffset(int64_t frame) const {
    return blocks_[static_cast<size_t>(frame / frames_per_block_)] +
           (frame % frames_per_block_) * frame_bytes_;
  }

  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  std::vector<int64_t> blocks_;
  int64_t frames_per_block_ = 1;
  int64_t frame_bytes_ = 0;
  bool byteswap_ = false;
};

/// The same arrays read through HDF5 (compressed or oddly chunked): reads the stored blocks
/// covering the frames and moves the last stored axis to the front.
class Hdf5BlockDataset final : public dataset::Dataset {
 public:
  Hdf5BlockDataset(dataset::DatasetMeta meta, std::string file_path, std::string h5path,
                   Hid file, Hid dset, std::vector<int64_t> stored_dims, bool virtual_outer,
                   int64_t frames_per_block)
      : meta_(std::move(meta)),
        file_path_(std::move(file_path)),
        h5path_(std::move(h5path)),
        file_(std::move(file)),
        dset_(std::move(dset)),
        stored_(std::move(stored_dims)),
        virtual_outer_(virtual_outer),
        frames_per_block_(frames_per_block) {}

  ~Hdf5BlockDataset() override {
    Hdf5Lock lock;
    dset_.Close();
    file_.Close();
  }

  const dataset::DatasetMeta& meta() const override { return meta_; }
  int64_t native_depth() const override { return frames_per_block_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    if (!internal::BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
    const int64_t block_begin = frame_begin / frames_per_block_;
    const int64_t block_end = (frame_end - 1) / frames_per_block_ + 1;
    const int64_t blocks = block_end - block_begin;
    const int64_t inner = Product(std::span<const int64_t>(stored_).first(stored_.size() - 1));
    const int64_t item = SizeOf(meta_.dtype);
    std::vector<std::byte> buffer(static_cast<size_t>(inner * blocks * item));
    {
      Hdf5Lock lock;
      Hid file_space(H5Dget_space(dset_.get()));
      const size_t rank = virtual_outer_ ? stored_.size() - 1 : stored_.size();
      std::vector<hsize_t> start(rank, 0), count(rank);
      for (size_t i = 0; i < rank; ++i) count[i] = static_cast<hsize_t>(stored_[i]);
      if (!virtual_outer_) {
        start.back() = static_cast<hsize_t>(block_begin);
        count.back() = static_cast<hsize_t>(blocks);
      }
      if (rank > 0 && H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(),
                                          nullptr, count.data(), nullptr) < 0) {
        internal::ThrowHdf5(ErrorCode::kIo, file_path_, h5path_, "cannot select frames");
      }
      Hid mem_space(rank == 0 ? H5Screate(H5S_SCALAR)
                              : H5Screate_simple(static_cast<int>(rank), count.data(), nullptr));
      Hid mem_type = internal::MemoryTypeOf(meta_.dtype);
      if (H5Dread(dset_.get(), mem_type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT,
                  buffer.data()) < 0) {
        internal::ThrowHdf5(ErrorCode::kCorruptFile, file_path_, h5path_,
                            fmt::format("cannot read frames [{}, {})", frame_begin, frame_end));
      }
    }
    // buffer is (inner..., blocks) C-order: element i of block b at (i * blocks + b).
    const int64_t sig_size = meta_.shape.sig_size();
    std::vector<std::byte> frame(static_cast<size_t>(sig.size() * item));
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t f = frame_begin; f < frame_end; ++f) {
      const int64_t b = f / frames_per_block_ - block_begin;
      const int64_t base = (f % frames_per_block_) * sig_size + sig.begin;
      for (int64_t s = 0; s < sig.size(); ++s) {
        std::memcpy(frame.data() + s * item,
                    buffer.data() + ((base + s) * blocks + b) * item, static_cast<size_t>(item));
      }
      ConvertElements(frame.data(), meta_.dtype, false, out, dst_dtype, sig.size());
      out += sig.size() * SizeOf(dst_dtype);
    }
  }

 private:
  dataset::DatasetMeta meta_;
  std::string file_path_;
  std::string h5path_;
  Hid file_;
  Hid dset_;
  std::vector<int64_t> stored_;
  bool virtual_outer_ = false;
  int64_t frames_per_block_ = 1;
};

/// An EDS spectrum image decoded on demand from Velox event streams.
class StreamSpectrumImageDataset final : public dataset::Dataset {
 public:
  struct Stream {
    std::vector<uint16_t> values;
    VeloxStreamIndex index;
  };

  StreamSpectrumImageDataset(dataset::DatasetMeta meta, std::vector<Stream> streams,
                             int64_t pixels, int64_t frames, bool sum_frames, int64_t rebin)
      : meta_(std::move(meta)),
        streams_(std::move(streams)),
        pixels_(pixels),
        frames_(frames),
        sum_frames_(sum_frames),
        rebin_(rebin) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    if (!CanConvert(DType::kUint64, dst_dtype)) {
      throw Error::Unsupported(fmt::format("cannot convert counts to {}", Name(dst_dtype)),
                               meta_.path);
    }
    const int64_t channels = meta_.shape.sig_size();
    std::vector<uint64_t> histogram(static_cast<size_t>(channels));
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t f = frame_begin; f < frame_end; ++f) {
      std::fill(histogram.begin(), histogram.end(), 0);
      for (const Stream& stream : streams_) {
        if (sum_frames_) {
          for (int64_t k = 0; k < frames_; ++k) Accumulate(stream, k * pixels_ + f, histogram);
        } else {
          Accumulate(stream, f, histogram);
        }
      }
      ConvertElements(histogram.data() + sig.begin, DType::kUint64, false, out, dst_dtype,
                      sig.size());
      out += sig.size() * SizeOf(dst_dtype);
    }
  }

 private:
  void Accumulate(const Stream& stream, int64_t slot, std::vector<uint64_t>& histogram) const {
    if (slot >= stream.index.slots) return;
    const auto begin = stream.index.starts[static_cast<size_t>(slot)];
    const auto end = stream.index.starts[static_cast<size_t>(slot) + 1];
    for (int64_t i = begin; i < end; ++i) {
      const uint16_t value = stream.values[static_cast<size_t>(i)];
      if (value == kPixelMarker) break;
      ++histogram[static_cast<size_t>(value / rebin_)];
    }
  }

  dataset::DatasetMeta meta_;
  std::vector<Stream> streams_;
  int64_t pixels_ = 1;
  int64_t frames_ = 1;
  bool sum_frames_ = true;
  int64_t rebin_ = 1;
};

// ---- metadata ----

std::string UtcDateTime(double unix_time) {
  const auto t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// The highlights of a Velox Metadata object, in Tessera's names.
json Highlights(const json& md) {
  json out = json::object();
  if (const auto v = Number(md, {"Optics", "AccelerationVoltage"})) out["beam_energy_kv"] = *v / 1e3;
  if (const auto v = Text(md, {"Instrument", "InstrumentClass"})) out["microscope"] = *v;
  if (const auto v = Text(md, {"Instrument", "InstrumentModel"})) out["instrument_model"] = *v;
  if (const auto v = Text(md, {"Instrument", "InstrumentId"})) out["instrument_id"] = *v;
  if (const auto v = Number(md, {"Optics", "CameraLength"})) out["camera_length_mm"] = *v * 1e3;
  if (const auto v = Number(md, {"CustomProperties", "StemMagnification", "value"})) {
    out["magnification"] = *v;
  }
  if (const auto v = Text(md, {"BinaryResult", "Detector"})) out["detector"] = *v;
  if (const auto v = Number(md, {"Scan", "DwellTime"})) out["dwell_time_s"] = *v;
  if (const auto v = Number(md, {"Scan", "FrameTime"})) out["frame_time_s"] = *v;
  if (const auto v = Number(md, {"Stage", "AlphaTilt"})) {
    out["stage_tilt_alpha_deg"] = std::round(*v * 180.0 / std::numbers::pi * 1e3) / 1e3;
  }
  if (const auto v = Number(md, {"Stage", "BetaTilt"})) {
    out["stage_tilt_beta_deg"] = std::round(*v * 180.0 / std::numbers::pi * 1e3) / 1e3;
  }
  std::optional<double> when = Number(md, {"Acquisition", "AcquisitionStartDatetime", "DateTime"});
  if (!when || *when <= 0) {
    if (const auto v = Number(md, {"CustomProperties", "Detectors[BM-Ceta].TimeStamp", "value"})) {
      when = *v / 1e6;
    }
  }
  if (when && *when > 0 && *when < 1e11) {
    const std::string iso = UtcDateTime(*when);
    if (iso.size() == 20) {
      out["acquisition_start_utc"] = iso;
      out["date"] = iso.substr(0, 10);
      out["time"] = iso.substr(11, 8);
    }
  }
  return out;
}

/// Spatial axes (y, x) from BinaryResult: PixelSize, Offset, PixelUnitX/Y, in compact units.
std::pair<dataset::Axis, dataset::Axis> SpatialAxes(const json& md, int64_t ny, int64_t nx) {
  dataset::Axis y{.name = "y", .size = ny}, x{.name = "x", .size = nx};
  const auto width = Number(md, {"BinaryResult", "PixelSize", "width"});
  const auto height = Number(md, {"BinaryResult", "PixelSize", "height"});
  const std::string ux = Text(md, {"BinaryResult", "PixelUnitX"}).value_or("");
  const std::string uy = Text(md, {"BinaryResult", "PixelUnitY"}).value_or(ux);
  if (width) {
    const auto [mult, units] = VeloxCompactUnits(*width, ux, static_cast<double>(nx) / 2);
    x.scale = *width * mult;
    x.offset = Number(md, {"BinaryResult", "Offset", "x"}).value_or(0) * mult;
    x.units = units;
    // y in x's unit, as HyperSpy does (one unit for the image).
    const double mult_y = uy == ux ? mult
                                   : VeloxCompactUnits(height.value_or(1), uy,
                                                       static_cast<double>(ny) / 2).first;
    y.scale = height.value_or(*width) * mult_y;
    y.offset = Number(md, {"BinaryResult", "Offset", "y"}).value_or(0) * mult_y;
    y.units = uy == ux ? units : VeloxCompactUnits(height.value_or(1), uy, ny / 2.0).second;
  }
  return {y, x};
}

/// EDS energy axis (keV) of the detector named in BinaryResult.Detector.
dataset::Axis EnergyAxis(const json& md, int64_t channels, int64_t rebin) {
  dataset::Axis axis{.name = "energy", .size = channels};
  const std::string detector = Text(md, {"BinaryResult", "Detector"}).value_or("");
  const json* detectors = At(md, {"Detectors"});
  if (detectors == nullptr || !detectors->is_object() || detector.empty()) return axis;
  for (const auto& [key, value] : detectors->items()) {
    const auto name = Text(value, {"DetectorName"});
    const auto dispersion = Number(value, {"Dispersion"});
    if (!name || !dispersion || name->find(detector) == std::string::npos) continue;
    axis.scale = *dispersion / 1e3 * static_cast<double>(rebin);
    axis.offset = Number(value, {"OffsetEnergy"}).value_or(0) / 1e3;
    axis.units = "keV";
    break;
  }
  return axis;
}

std::shared_ptr<const io::MappedFile> MapOnce(std::shared_ptr<const io::MappedFile>& mapped,
                                              const std::string& path) {
  if (!mapped) mapped = io::MappedFile::Open(path);
  return mapped;
}

/// Offsets of the blocks of `dset` when each lies contiguous in the file, else empty.
std::vector<int64_t> ContiguousBlocks(hid_t dset, const std::vector<int64_t>& stored,
                                      bool virtual_outer, int64_t item, int64_t file_size) {
  std::vector<int64_t> blocks;
  Hid dcpl(H5Dget_create_plist(dset));
  if (!dcpl.valid() || H5Pget_nfilters(dcpl.get()) != 0 ||
      H5Pget_external_count(dcpl.get()) != 0) {
    H5Eclear2(H5E_DEFAULT);
    return blocks;
  }
  const int64_t inner_bytes =
      Product(std::span<const int64_t>(stored).first(stored.size() - 1)) * item;
  const int64_t outer = stored.back();
  const auto fits = [&](int64_t offset) {
    return offset >= 0 && offset <= file_size && file_size - offset >= inner_bytes;
  };
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CONTIGUOUS) {
    const haddr_t offset = H5Dget_offset(dset);
    H5Eclear2(H5E_DEFAULT);
    if (outer != 1 || offset == HADDR_UNDEF || !fits(static_cast<int64_t>(offset))) return {};
    return {static_cast<int64_t>(offset)};
  }
  if (layout != H5D_CHUNKED) return blocks;
  const int rank = static_cast<int>(virtual_outer ? stored.size() - 1 : stored.size());
  std::vector<hsize_t> chunk(static_cast<size_t>(rank));
  if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank) {
    H5Eclear2(H5E_DEFAULT);
    return blocks;
  }
  for (int i = 0; i < rank; ++i) {
    const bool last = !virtual_outer && i == rank - 1;
    const auto want = static_cast<hsize_t>(last ? 1 : stored[static_cast<size_t>(i)]);
    if (chunk[static_cast<size_t>(i)] != want) return blocks;
  }
  std::vector<hsize_t> coord(static_cast<size_t>(rank), 0);
  for (int64_t b = 0; b < outer; ++b) {
    if (!virtual_outer && rank > 0) coord.back() = static_cast<hsize_t>(b);
    unsigned filter_mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(dset, coord.data(), &filter_mask, &addr, &size) < 0 ||
        addr == HADDR_UNDEF || static_cast<int64_t>(size) != inner_bytes ||
        !fits(static_cast<int64_t>(addr))) {
      H5Eclear2(H5E_DEFAULT);
      return {};
    }
    blocks.push_back(static_cast<int64_t>(addr));
  }
  return blocks;
}

json SignalsJson(const std::vector<Signal>& signals) {
  json list = json::array();
  for (size_t i = 0; i < signals.size(); ++i) {
    const Signal& s = signals[i];
    json entry = {{"index", i},        {"kind", KindName(s.kind)}, {"title", s.title},
                  {"path", s.group},   {"shape", s.shape},         {"dtype", s.dtype}};
    if (!s.streams.empty()) entry["streams"] = s.streams;
    list.push_back(std::move(entry));
  }
  return list;
}

std::unique_ptr<dataset::Dataset> OpenArraySignal(const std::string& path, hid_t file_id,
                                                  Hid file, const FileSignals& listing,
                                                  size_t index, int64_t file_size) {
  const Signal& signal = listing.signals[index];
  const std::string data_path = signal.group + "/Data";
  const ArrayInfo info = DescribeArray(file_id, path, data_path);
  if (!info.dtype) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("{} holds {} elements (Velox FFT/DPC results "
                                                 "are not supported)",
                                                 data_path, info.type_text),
                          .file = path,
                          .field = data_path});
  }
  std::vector<int64_t> stored = info.dims;
  bool virtual_outer = false;
  const size_t rank = stored.size();
  const bool ok = signal.kind == Kind::kImage               ? rank == 3
                  : signal.kind == Kind::kSpectrum          ? rank == 1 || rank == 2
                  : signal.kind == Kind::kEelsSpectrumImage ? rank == 2 || rank == 3
                                                            : false;
  if (!ok) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{} has {} dimensions [{}], not a Velox {}",
                                                 data_path, rank, fmt::join(stored, ", "),
                                                 KindName(signal.kind)),
                          .file = path,
                          .field = data_path});
  }
  if ((signal.kind == Kind::kSpectrum && rank == 1) ||
      (signal.kind == Kind::kEelsSpectrumImage && rank == 2)) {
    stored.push_back(1);
    virtual_outer = true;
  }
  // Logical dims: last stored axis first; nav/sig split by kind.
  const std::vector<int64_t> logical = MoveLastFirst(stored);
  std::vector<int64_t> nav, sig;
  int64_t frames_per_block = 1;
  if (signal.kind == Kind::kImage) {  // (frames, ny, nx)
    if (logical[0] != 1) nav = {logical[0]};
    sig = {logical[1], logical[2]};
  } else if (signal.kind == Kind::kSpectrum) {  // (spectra, channels)
    if (logical[0] != 1) nav = {logical[0]};
    sig = {logical[1]};
  } else {  // (ny, nx, channels); 2-D stored: (1, nx, channels)
    nav = logical[0] == 1 && virtual_outer ? std::vector<int64_t>{logical[1]}
                                           : std::vector<int64_t>{logical[0], logical[1]};
    sig = {logical[2]};
    frames_per_block = logical[1];
  }
  const int64_t item = SizeOf(*info.dtype);
  if (Product(stored) > kMaxElements / std::max<int64_t>(item, 1)) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: absurd dimensions", data_path),
                          .file = path,
                          .field = data_path});
  }

  // Calibrations and metadata from the frame-0 Metadata JSON.
  const json md = SignalMetadata(file_id, path, signal.group);
  dataset::DatasetMeta meta;
  meta.format = "velox";
  meta.path = path;
  meta.shape = Shape(nav, sig);
  meta.dtype = *info.dtype;
  meta.files = {dataset::InputFile{.path = path, .size = file_size}};
  json extra = json::object();
  if (signal.kind == Kind::kImage) {
    if (!nav.empty()) {
      std::optional<double> frame_time = Number(md, {"Scan", "FrameTime"});
      if (!frame_time) {
        const std::string det = Text(md, {"BinaryResult", "DetectorIndex"}).value_or("0");
        const std::string key = "Detector-" + det;
        if (const json* d = At(md, {"Detectors"}); d != nullptr && d->contains(key)) {
          frame_time = Number((*d)[key], {"ExposureTime"});
        }
      }
      dataset::Axis time{.name = "time", .size = nav[0]};
      if (frame_time) {
        const auto [mult, units] =
            VeloxCompactUnits(*frame_time, "s", static_cast<double>(nav[0]));
        time.scale = *frame_time * mult;
        time.units = units;
      }
      meta.axes.push_back(time);
    }
    const auto [y, x] = SpatialAxes(md, sig[0], sig[1]);
    meta.axes.push_back(y);
    meta.axes.push_back(x);
  } else if (signal.kind == Kind::kSpectrum) {
    if (!nav.empty()) meta.axes.push_back(dataset::Axis{.name = "spectrum", .size = nav[0]});
    meta.axes.push_back(EnergyAxis(md, sig[0], 1));
  } else {
    // EELS: spatial calibration from the spectrum image's own Metadata, else the first
    // /Data/SpectrumImage entry; energy from AcquisitionMetadata (eV).
    json spatial = md;
    if (!At(md, {"BinaryResult", "PixelSize"})) {
      for (const auto& name : ListGroup(file_id, "/Data/SpectrumImage")) {
        const std::string other = "/Data/SpectrumImage/" + name + "/Metadata";
        if (IsDataset(file_id, other)) {
          spatial = ReadJson(file_id, path, other);
          break;
        }
      }
    }
    const int64_t ny = nav.size() == 2 ? nav[0] : 1;
    const auto [y, x] = SpatialAxes(spatial, ny, nav.back());
    if (nav.size() == 2) meta.axes.push_back(y);
    meta.axes.push_back(x);
    dataset::Axis energy{.name = "energy loss", .size = sig[0], .units = "eV"};
    if (IsDataset(file_id, signal.group + "/AcquisitionMetadata")) {
      const json acq = ReadJson(file_id, path, signal.group + "/AcquisitionMetadata");
      if (const auto v = Number(acq, {"Data", "dispersion"})) energy.scale = *v;
      if (const auto v = Number(acq, {"Data", "offset"})) energy.offset = *v;
      extra["acquisition"] = acq;
    }
    meta.axes.push_back(energy);
  }
  json metadata = Highlights(md);
  metadata["velox_version"] = listing.version;
  metadata["signal"] = index;
  metadata["kind"] = KindName(signal.kind);
  metadata["title"] = signal.title;
  metadata["dataset"] = data_path;
  metadata["stored_shape"] = info.dims;
  metadata["signals"] = SignalsJson(listing.signals);
  for (auto& [key, value] : extra.items()) metadata[key] = value;
  metadata["metadata"] = md;
  meta.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);

  // Zero copy where each block of the outer axis lies contiguous in the file.
  Hid dset = internal::Check(H5Dopen2(file_id, data_path.c_str(), H5P_DEFAULT), path, data_path,
                             "cannot open dataset");
  const std::vector<int64_t> blocks =
      ContiguousBlocks(dset.get(), stored, virtual_outer, item, file_size);
  const bool byteswap = info.big_endian == internal::kHostLittleEndian;
  if (!blocks.empty() && static_cast<int64_t>(blocks.size()) == stored.back()) {
    std::shared_ptr<const io::MappedFile> mapped;
    return std::make_unique<BlockMappedDataset>(std::move(meta), MapOnce(mapped, path), blocks,
                                                frames_per_block, byteswap);
  }
  return std::make_unique<Hdf5BlockDataset>(std::move(meta), path, data_path, std::move(file),
                                            std::move(dset), stored, virtual_outer,
                                            frames_per_block);
}

std::vector<uint16_t> ReadStream(hid_t file, const std::string& path, const std::string& object,
                                 int64_t file_size) {
  const ArrayInfo info = DescribeArray(file, path, object);
  const int64_t count = Product(info.dims);
  if (!info.dtype || !IsInteger(*info.dtype) || info.dims.empty() ||
      count != info.dims[0]) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: a spectrum stream must be (n, 1) integers, "
                                                 "found [{}] {}",
                                                 object, fmt::join(info.dims, ", "),
                                                 info.type_text),
                          .file = path,
                          .field = object});
  }
  Hid dset(H5Dopen2(file, object.c_str(), H5P_DEFAULT));
  // HDF5 serves missing chunks as fill values: bound the claimed length by the stored bytes.
  const auto stored = static_cast<int64_t>(H5Dget_storage_size(dset.get()));
  Hid dcpl(H5Dget_create_plist(dset.get()));
  const bool filtered = H5Pget_nfilters(dcpl.get()) > 0;
  const int64_t needed = count * SizeOf(*info.dtype);
  const int64_t slack = int64_t{1} << 20;
  if ((!filtered && needed > stored + slack) || (filtered && needed / 1024 > stored + slack) ||
      stored > file_size) {
    throw Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                          .message = fmt::format("{}: claims {} values ({} bytes) but the file "
                                                 "stores {} bytes for it",
                                                 object, count, needed, stored),
                          .file = path,
                          .field = object});
  }
  std::vector<uint16_t> values(static_cast<size_t>(count));
  if (count > 0 && H5Dread(dset.get(), H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                           values.data()) < 0) {
    internal::ThrowHdf5(ErrorCode::kCorruptFile, path, object, "cannot read the stream");
  }
  return values;
}

std::optional<DType> EncodingDType(const std::string& encoding) {
  if (encoding == "uint8") return DType::kUint8;
  if (encoding == "uint16") return DType::kUint16;
  if (encoding == "uint32") return DType::kUint32;
  if (encoding == "uint64") return DType::kUint64;
  return std::nullopt;
}

std::unique_ptr<dataset::Dataset> OpenStreamSignal(const std::string& path, hid_t file_id,
                                                   const FileSignals& listing, size_t index,
                                                   int64_t file_size,
                                                   const VeloxOptions& options) {
  const Signal& signal = listing.signals[index];
  const StreamLayout layout = DescribeStreams(file_id, path, signal.streams);
  if (options.rebin_energy < 1 || layout.channels % options.rebin_energy != 0) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("rebin_energy {} does not divide the {} "
                                                 "channels",
                                                 options.rebin_energy, layout.channels),
                          .file = path,
                          .field = "rebin_energy"});
  }
  const int64_t pixels = layout.ny * layout.nx;
  std::vector<StreamSpectrumImageDataset::Stream> streams;
  int64_t frames_in_stream = 1;
  for (const auto& group : signal.streams) {
    StreamSpectrumImageDataset::Stream stream;
    stream.values = ReadStream(file_id, path, group + "/Data", file_size);
    stream.index = IndexVeloxStream(stream.values, layout.channels, path, group + "/Data");
    frames_in_stream = std::max(frames_in_stream, (stream.index.slots + pixels - 1) / pixels);
    streams.push_back(std::move(stream));
  }
  // Velox records the frame count in SpectrumImageSettings; events past it are ignored (as
  // RosettaSciIO does); without it, the frames the streams reach.
  int64_t frames = frames_in_stream;
  std::optional<double> end_frame;
  for (const auto& name : ListGroup(file_id, "/Data/SpectrumImage")) {
    const std::string settings = "/Data/SpectrumImage/" + name + "/SpectrumImageSettings";
    if (!IsDataset(file_id, settings)) continue;
    end_frame = Number(ReadJson(file_id, path, settings), {"endFramePosition"});
    break;
  }
  if (end_frame && *end_frame >= 1 && *end_frame < static_cast<double>(frames_in_stream)) {
    frames = static_cast<int64_t>(*end_frame);
  }
  // Largest count any pixel can reach: widen the stream encoding when it could overflow.
  const int64_t nav_frames = options.sum_frames ? pixels : frames * pixels;
  std::vector<uint64_t> totals(static_cast<size_t>(std::min<int64_t>(
      nav_frames, std::max<int64_t>(1, [&] {
        int64_t reach = 0;
        for (const auto& s : streams) reach = std::max(reach, s.index.slots);
        return reach;
      }()))));
  int64_t ignored = 0;
  for (const auto& stream : streams) {
    for (int64_t slot = 0; slot < stream.index.slots; ++slot) {
      const int64_t events = stream.index.starts[static_cast<size_t>(slot) + 1] -
                             stream.index.starts[static_cast<size_t>(slot)];
      if (slot >= frames * pixels) {
        ignored += events;
        continue;
      }
      const int64_t nav_index = options.sum_frames ? slot % pixels : slot;
      if (nav_index < static_cast<int64_t>(totals.size())) {
        totals[static_cast<size_t>(nav_index)] += static_cast<uint64_t>(events);
      }
    }
  }
  const uint64_t max_total = totals.empty() ? 0 : *std::max_element(totals.begin(), totals.end());
  DType dtype = EncodingDType(layout.encoding).value_or(DType::kUint16);
  const auto limit = [](DType t) -> uint64_t {
    switch (t) {
      case DType::kUint8: return 255;
      case DType::kUint16: return 65535;
      case DType::kUint32: return 4294967295u;
      default: return std::numeric_limits<uint64_t>::max();
    }
  };
  if (max_total > limit(dtype)) dtype = max_total > limit(DType::kUint32) ? DType::kUint64 : DType::kUint32;

  const int64_t channels = layout.channels / options.rebin_energy;
  const json md = SignalMetadata(file_id, path, signal.group);
  dataset::DatasetMeta meta;
  meta.format = "velox";
  meta.path = path;
  meta.dtype = dtype;
  meta.files = {dataset::InputFile{.path = path, .size = file_size}};
  std::vector<int64_t> nav = {layout.ny, layout.nx};
  if (!options.sum_frames) {
    nav.insert(nav.begin(), frames);
    dataset::Axis time{.name = "time", .size = frames};
    if (const auto ft = Number(md, {"Scan", "FrameTime"})) {
      const auto [mult, units] = VeloxCompactUnits(*ft, "s", static_cast<double>(frames));
      time.scale = *ft * mult;
      time.units = units;
    }
    meta.axes.push_back(time);
  }
  meta.shape = Shape(nav, {channels});
  const auto [y, x] = SpatialAxes(md, layout.ny, layout.nx);
  meta.axes.push_back(y);
  meta.axes.push_back(x);
  meta.axes.push_back(EnergyAxis(md, channels, options.rebin_energy));

  json metadata = Highlights(md);
  metadata["velox_version"] = listing.version;
  metadata["signal"] = index;
  metadata["kind"] = KindName(signal.kind);
  metadata["title"] = signal.title;
  metadata["streams"] = signal.streams;
  metadata["stream_encoding"] = layout.encoding;
  metadata["bincount"] = layout.channels;
  metadata["rebin_energy"] = options.rebin_energy;
  metadata["sum_frames"] = options.sum_frames;
  metadata["frames"] = frames;
  metadata["frames_in_stream"] = frames_in_stream;
  metadata["ignored_events"] = ignored;
  metadata["scan_shape_from"] = layout.shape_source;
  metadata["signals"] = SignalsJson(listing.signals);
  metadata["metadata"] = md;
  meta.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  return std::make_unique<StreamSpectrumImageDataset>(std::move(meta), std::move(streams), pixels,
                                                      frames, options.sum_frames,
                                                      options.rebin_energy);
}

}  // namespace

VeloxStreamIndex IndexVeloxStream(std::span<const uint16_t> stream, int64_t channels,
                                  const std::string& file, const std::string& object) {
  VeloxStreamIndex index;
  index.starts.push_back(0);
  const auto n = static_cast<int64_t>(stream.size());
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t value = stream[static_cast<size_t>(i)];
    if (value == kPixelMarker) {
      ++index.markers;
      index.starts.push_back(i + 1);
    } else if (value >= channels) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kCorruptFile,
          .message = fmt::format("{}: element {} is channel {}, outside the {} channels of the "
                                 "spectrum (bincount)",
                                 object, i, value, channels),
          .file = file,
          .field = fmt::format("{}[{}]", object, i)});
    }
  }
  index.slots = n == 0 ? 0 : index.markers + 1;
  if (n > 0) index.starts.push_back(n);
  return index;
}

bool IsVeloxFile(const std::string& path) {
  try {
    Hdf5Lock lock;
    if (H5Fis_hdf5(path.c_str()) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    if (!file.valid()) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (!IsDataset(file.get(), "/Version") || !IsGroup(file.get(), "/Data")) return false;
    const std::string text = ReadText(file.get(), path, "/Version");
    const json version = json::parse(text, nullptr, false);
    return !version.is_discarded() && Text(version, {"format"}).value_or("") == "Velox";
  } catch (...) {
    return false;
  }
}

std::unique_ptr<dataset::Dataset> OpenVelox(const std::string& path, const VeloxOptions& options) {
  const int64_t file_size = io::FileSize(path);  // kNotFound naming the file
  Hdf5Lock lock;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw Error::CorruptFile(path, 0, "signature",
                             "not an HDF5 file (no HDF5 signature at offset 0, 512, 1024, ...)");
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) {
    internal::ThrowHdf5(ErrorCode::kCorruptFile, path, "/", "cannot open the HDF5 file");
  }
  const FileSignals listing = ListSignals(file.get(), path);
  if (listing.signals.empty()) {
    throw Error(ErrorInfo{.code = ErrorCode::kNotFound,
                          .message = "no image, spectrum or spectrum image under /Data",
                          .file = path,
                          .field = "/Data"});
  }
  size_t chosen = 0;
  if (options.signal < 0) {
    int64_t best = -1;
    for (size_t i = 0; i < listing.signals.size(); ++i) {
      if (listing.signals[i].elements > best) {
        best = listing.signals[i].elements;
        chosen = i;
      }
    }
  } else if (static_cast<size_t>(options.signal) >= listing.signals.size()) {
    std::string list;
    for (size_t i = 0; i < listing.signals.size(); ++i) {
      list += fmt::format("{}{}: {} '{}' ({})", i == 0 ? "" : ", ", i,
                          KindName(listing.signals[i].kind), listing.signals[i].title,
                          fmt::join(listing.signals[i].shape, "x"));
    }
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("no signal {} in the file ({} signals: {})",
                                                 options.signal, listing.signals.size(), list),
                          .file = path,
                          .field = "signal"});
  } else {
    chosen = static_cast<size_t>(options.signal);
  }
  if (listing.signals[chosen].kind == Kind::kEdsSpectrumImage) {
    return OpenStreamSignal(path, file.get(), listing, chosen, file_size, options);
  }
  const hid_t id = file.get();
  return OpenArraySignal(path, id, std::move(file), listing, chosen, file_size);
}

FormatEntry VeloxFormatEntry() {
  FormatEntry entry;
  entry.name = "velox";
  entry.extensions = {".emd"};
  entry.summary =
      "Thermo Fisher Velox EMD (HDF5): images and stacks, spectra, EELS spectrum images and EDS "
      "spectrum streams (one signal at a time; zero copy where the chunks allow)";
  entry.params = {
      {.name = "signal", .type = "int",
       .help = "index of the signal to open (listed in `info` metadata 'signals'; -1: the "
               "largest)",
       .default_value = "-1"},
      {.name = "sum_frames", .type = "bool",
       .help = "EDS spectrum images: sum the frames (false: nav gets a leading frame axis)",
       .default_value = "true"},
      {.name = "rebin_energy", .type = "int",
       .help = "EDS spectrum images: sum this many channels into one (must divide the count)",
       .default_value = "1"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (head.size() < kSignature.size() ||
        std::memcmp(head.data(), kSignature.data(), kSignature.size()) != 0) {
      return false;
    }
    return IsVeloxFile(path);
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    if (!SplitDatasetPath(path).second.empty()) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = "the velox reader takes no :/dataset path; pick a signal "
                                       "with signal=N (or use --format hdf5)",
                            .file = path,
                            .field = "signal"});
    }
    VeloxOptions options;
    if (auto text = internal::FindParam(params, "signal")) {
      const int64_t value = internal::ParseIntParam(*text, "signal");
      if (value < -1 || value > std::numeric_limits<int>::max()) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("signal {} is out of range", value),
                              .file = path,
                              .field = "signal"});
      }
      options.signal = static_cast<int>(value);
    }
    if (auto text = internal::FindParam(params, "sum_frames")) {
      options.sum_frames = internal::ParseBoolParam(*text, "sum_frames");
    }
    if (auto text = internal::FindParam(params, "rebin_energy")) {
      options.rebin_energy = internal::ParseIntParam(*text, "rebin_energy");
      if (options.rebin_energy < 1) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("rebin_energy {} must be >= 1",
                                                     options.rebin_energy),
                              .file = path,
                              .field = "rebin_energy"});
      }
    }
    return OpenVelox(path, options);
  };
  return entry;
}

}  // namespace tessera::formats
