// SPDX-License-Identifier: MIT
// Shared-data conformance: every `*.expected.json` under the shared test data directory is one test
// case. Its primary file is opened through the format registry with no format flag and every
// signal the reader exposes is compared with the expected shape, dtype, statistics and axis
// calibrations. Files listed in pending_files.txt are skipped with their reason; a listed file
// that passes fails, so the list only shrinks. See README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "conformance_util.h"
#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::conformance {
namespace {

using nlohmann::json;
using formats::OpenParams;

// ---------------------------------------------------------------------------------------------
// What to expect: one entry per signal the reader must expose.

struct Expected {
  std::string label;             // "signals[1]", "raw[0]"
  OpenParams params;             // selection parameters (none for the default signal)
  std::vector<int64_t> shape;    // NumPy order
  bool nav_any_shape = false;    // the navigation axes may be any reshaping of the leading dims
  int sig_dims = -1;             // number of signal axes, -1 when the JSON does not say
  std::string dtype;             // NumPy name
  json stats;                    // {count, sum, min, max, mean, sum_exact, nonfinite_count} or
                                 // {real: {...}, imag: {...}}
  std::vector<json> axes;        // {size, scale, offset, units}, array order; empty: not checked
  std::string axes_source;       // where the axes come from, for messages
  std::string path;              // a file or glob inside the primary folder; empty: the primary
};

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (const int64_t d : dims) n *= d;
  return n;
}

/// Return whether a raw entry describes an array (not version info, a text file, ...).
bool IsDataEntry(const json& raw) {
  return raw.contains("shape") && raw.contains("dtype") && raw.contains("stats") &&
         raw["dtype"].is_string();
}

/// NumPy dtype text ("uint16", "|u1", ">u2", a structured RGBA list) -> our name, and whether the
/// data gain a trailing channel axis (RGBA viewed as uint8, see data/README.md).
std::string DTypeName(const json& dtype, bool* channel_axis) {
  *channel_axis = false;
  if (dtype.is_array() || (dtype.is_string() && dtype.get<std::string>().rfind("[(", 0) == 0)) {
    // DM RGBA: a structured dtype "[('R', 'u1'), ('G', 'u1'), ...]"
    *channel_axis = true;
    return "uint8";
  }
  const std::string text = dtype.get<std::string>();
  if (auto parsed = ParseDType(text)) return std::string(Name(*parsed));
  bool big_endian = false;
  if (auto parsed = ParseNumpyTypestr(text, &big_endian)) return std::string(Name(*parsed));
  return text;
}

int SigDimsFromAxes(const json& signal) {
  if (!signal.contains("axes") || signal["axes"].empty()) return -1;
  // A BaseSignal has no navigation/signal split of its own (HyperSpy makes every axis signal).
  if (signal.value("signal_class", "") == "BaseSignal") return -1;
  int sig = 0;
  for (const auto& axis : signal["axes"]) sig += axis.value("navigate", false) ? 0 : 1;
  return sig;
}

std::vector<json> AxesOf(const json& signal) {
  std::vector<json> axes;
  if (signal.contains("axes")) {
    for (const auto& axis : signal["axes"]) axes.push_back(axis);
  }
  return axes;
}

/// HyperSpy 1.7 converts TIA calibrations from metres to nm (or 1/m to 1/nm) in the scale but not
/// in the offset (data/README.md); the raw SER calibration is the truth, so convert the offset.
std::vector<json> FixTiaOffsets(std::vector<json> axes) {
  for (auto& axis : axes) {
    if (!axis.contains("units") || !axis["units"].is_string()) continue;
    const std::string units = axis["units"].get<std::string>();
    const double offset = axis.value("offset", 0.0);
    if (units == "nm") axis["offset"] = offset * 1e9;
    if (units == "1 / nm" || units == "1/nm") axis["offset"] = offset * 1e-9;
  }
  return axes;
}

/// TIA navigation axes from the SER dimension array (NumPy order is the reverse of the array):
/// coordinate(i) = offset + (i - element) * delta, in metres -> nm. HyperSpy ignores `element`.
void FixTiaNavAxes(std::vector<json>& axes, const json& raw) {
  if (!raw.contains("dimensions")) return;
  const auto& dims = raw["dimensions"];
  std::vector<size_t> nav;
  for (size_t k = 0; k < axes.size(); ++k) {
    if (axes[k].value("navigate", false)) nav.push_back(k);
  }
  if (nav.size() != dims.size()) return;
  for (size_t j = 0; j < nav.size(); ++j) {
    const json& dim = dims[dims.size() - 1 - j];
    if (dim.value("units", "") != "meters") continue;
    const double delta = dim.value("calibration_delta", 1.0);
    const double offset = dim.value("calibration_offset", 0.0);
    const double element = dim.value("calibration_element", 0.0);
    axes[nav[j]]["scale"] = delta * 1e9;
    axes[nav[j]]["offset"] = (offset - element * delta) * 1e9;
    axes[nav[j]]["units"] = "nm";
  }
}

/// MRC calibrations from the header (mrcfile's voxel_size, in Angstrom): x and y always, z for
/// volumes only (a stack's frame axis is uncalibrated). HyperSpy 1.7 reports these 100x too
/// large in "nm" (temp.mrc: 20 nm for a 2 A voxel). The offset is not compared (null).
std::vector<json> MrcHeaderAxes(const json& raw) {
  const auto shape = raw["shape"].get<std::vector<int64_t>>();
  const json& h = raw["header"];
  if (!h.contains("voxel_size") || shape.size() < 2) return {};
  const auto voxel = h["voxel_size"].get<std::vector<double>>();
  std::vector<json> axes;
  if (shape.size() == 3) {
    // A zero z voxel size (Direct Electron movies) means no z calibration: a frame axis.
    const bool volume = h.value("is_volume", h.value("ispg", 0) != 0) && voxel[2] > 0;
    axes.push_back(volume ? json{{"size", shape[0]}, {"scale", voxel[2]}, {"offset", nullptr},
                                 {"units", "Å"}}
                          : json{{"size", shape[0]}, {"scale", 1.0}, {"offset", nullptr},
                                 {"units", nullptr}});
  }
  axes.push_back(json{{"size", shape[shape.size() - 2]}, {"scale", voxel[1]}, {"offset", nullptr},
                      {"units", "Å"}});
  axes.push_back(json{{"size", shape.back()}, {"scale", voxel[0]}, {"offset", nullptr},
                      {"units", "Å"}});
  return axes;
}

/// Berkeley EMD dim vectors (`dims` of a raw entry) as axes: first, step, units ("n_m" -> "nm").
std::vector<json> EmdDimsAxes(const json& raw) {
  std::vector<json> axes;
  const auto shape = raw["shape"].get<std::vector<int64_t>>();
  if (!raw["dims"].is_array() || raw["dims"].size() != shape.size()) return {};
  for (size_t i = 0; i < shape.size(); ++i) {
    // String-valued dim vectors (emd_type1_stringDims.h5) carry no calibration.
    if (raw["dims"][i].value("len", int64_t{-1}) != shape[i]) return {};
  }
  for (const auto& dim : raw["dims"]) {
    std::string units = dim.value("units", "");
    units.erase(std::remove(units.begin(), units.end(), '_'), units.end());
    axes.push_back(json{{"size", dim.value("len", 0)},
                        {"scale", dim.value("step", 1.0)},
                        {"offset", dim.value("first", 0.0)},
                        {"units", units}});
  }
  return axes;
}

/// The number in "name_<n>.ser".
std::string SerIndex(const std::string& ser_file) {
  const auto underscore = ser_file.rfind('_');
  const auto dot = ser_file.rfind('.');
  if (underscore == std::string::npos || dot == std::string::npos || dot < underscore) return "";
  return ser_file.substr(underscore + 1, dot - underscore - 1);
}

void StripOnes(std::vector<int64_t>& dims) {
  dims.erase(std::remove(dims.begin(), dims.end(), int64_t{1}), dims.end());
}

/// Build the list of signals to compare, choosing between the HyperSpy view (`signals`) and the
/// format-level view (`raw`) by the rules of data/README.md: `raw` is the on-disk truth for
/// values, dtype and shape where it has them; `signals` supplies the NumPy shape split into
/// navigation/signal axes and the calibrations where it agrees with `raw`.
std::vector<Expected> ExpectedSignals(const json& doc, const std::string& primary) {
  std::vector<const json*> raws;
  if (doc.contains("raw")) {
    for (const auto& raw : doc["raw"]) {
      if (IsDataEntry(raw)) raws.push_back(&raw);
    }
  }
  std::vector<const json*> signals;
  if (doc.contains("signals")) {
    for (const auto& signal : doc["signals"]) signals.push_back(&signal);
  }
  const bool emi = primary.size() > 4 && primary.substr(primary.size() - 4) == ".emi";
  std::vector<Expected> out;

  if (raws.empty()) {
    // Only HyperSpy's view: files HyperSpy reads without quirks (DM, MSA, Ripple, blockfile, ...).
    for (size_t i = 0; i < signals.size(); ++i) {
      const json& s = *signals[i];
      Expected e;
      e.label = "signals[" + std::to_string(i) + "]";
      bool channel = false;
      e.dtype = DTypeName(s["dtype"], &channel);
      e.shape = s["shape"].get<std::vector<int64_t>>();
      e.sig_dims = SigDimsFromAxes(s);
      e.axes = AxesOf(s);
      if (channel) {  // RGBA: the channel is a trailing signal axis without calibration
        e.shape.push_back(4);
        if (e.sig_dims >= 0) ++e.sig_dims;
        e.axes.push_back(json{{"size", 4}, {"scale", 1.0}, {"offset", 0.0}, {"units", nullptr}});
      }
      e.stats = s["stats"];
      e.axes_source = "signals[" + std::to_string(i) + "].axes";
      out.push_back(std::move(e));
    }
    return out;
  }

  for (size_t i = 0; i < raws.size(); ++i) {
    const json& r = *raws[i];
    const std::string loader = r.value("loader", "");
    Expected e;
    e.label = "raw[" + std::to_string(i) + "]";
    bool channel = false;
    e.dtype = DTypeName(r["dtype"], &channel);
    e.stats = r["stats"];
    const auto raw_shape = r["shape"].get<std::vector<int64_t>>();
    // The HyperSpy signal describing the same array, when there is one per raw entry.
    const json* signal = signals.size() == raws.size() ? signals[i] : nullptr;
    if (signal != nullptr && (*signal)["shape"].get<std::vector<int64_t>>() == raw_shape) {
      e.shape = raw_shape;
      e.sig_dims = SigDimsFromAxes(*signal);
    } else if (signal != nullptr &&
               Product((*signal)["shape"].get<std::vector<int64_t>>()) == Product(raw_shape) &&
               loader == "numpy (ser)") {
      // TIA: raw is (valid elements, *element shape); HyperSpy reshapes the elements by the
      // series dimensions (5 x 5 positions), which the reader must do too.
      e.shape = (*signal)["shape"].get<std::vector<int64_t>>();
      e.sig_dims = SigDimsFromAxes(*signal);
    } else {
      e.shape = raw_shape;
    }
    if (loader == "h5py (Velox)") {
      // Velox stores images as (ny, nx, frames) and spectra as (channels, 1); the reader serves
      // NumPy order (frames, ny, nx) / (channels). Values and dtype are the raw ones (HyperSpy's
      // float64 view is a quirk). The signal is selected by its group through `signal=`.
      const std::string dset = r.value("dataset", "");
      const std::string group = dset.size() > 5 ? dset.substr(0, dset.size() - 5) : dset;
      if (group.find("/SpectrumStream/") != std::string::npos ||
          group.find("/SpectrumImage/") != std::string::npos) {
        continue;  // encoded EDS event streams: not an array a reader serves as such
      }
      e.params["velox_group"] = group;
      if (raw_shape.size() == 3 && group.find("/Image/") != std::string::npos) {
        e.shape = {raw_shape[2], raw_shape[0], raw_shape[1]};
        e.sig_dims = 2;
      } else if (raw_shape.size() == 2 && raw_shape[1] == 1) {
        e.shape = {raw_shape[0]};
        e.sig_dims = 1;
      } else if (raw_shape.size() == 3) {  // EELS SI (ny, channels, nx)
        e.shape = {raw_shape[0] * raw_shape[2], raw_shape[1]};
        e.sig_dims = 1;
        e.nav_any_shape = true;
      }
      // Calibrations from HyperSpy where exactly one kind of axes fits this shape.
      std::vector<int64_t> want = e.shape;
      StripOnes(want);
      std::optional<json> axes;
      bool unique = true;
      for (const json* candidate : signals) {
        auto shape = (*candidate)["shape"].get<std::vector<int64_t>>();
        StripOnes(shape);
        if (shape != want) continue;
        if (axes && *axes != (*candidate)["axes"]) unique = false;
        axes = (*candidate)["axes"];
      }
      if (axes && unique && !e.nav_any_shape) {
        for (const auto& axis : *axes) e.axes.push_back(axis);
        e.axes_source = "the HyperSpy signal of the same shape";
        // HyperSpy 1.7 converts the Velox image offsets wrongly (Camera Ceta: -0.0293 1/nm for
        // a stored -29293998131 1/m): take them from the stored BinaryResult, converted to the
        // unit of the scale.
        const json meta = r.value("metadata", json::object());
        const json binary = meta.value("BinaryResult", json::object());
        const json size = binary.value("PixelSize", json::object());
        const json offset = binary.value("Offset", json::object());
        if (e.axes.size() >= 2 && size.contains("width") && offset.contains("x") &&
            offset.contains("y")) {
          const double pixel = std::stod(size["width"].is_string() ? size["width"].get<std::string>()
                                                                   : size["width"].dump());
          auto value = [](const json& v) {
            return v.is_string() ? std::stod(v.get<std::string>()) : v.get<double>();
          };
          json& x = e.axes[e.axes.size() - 1];
          json& y = e.axes[e.axes.size() - 2];
          if (pixel != 0 && x["scale"].is_number()) {
            const double factor = x["scale"].get<double>() / pixel;
            x["offset"] = value(offset["x"]) * factor;
            y["offset"] = value(offset["y"]) * factor;
            e.axes_source += ", offsets from raw BinaryResult.Offset";
          }
        }
      }
      out.push_back(std::move(e));
      continue;
    }
    if (loader == "numpy (ser)" || loader == "numpy (mib)") {
      // Raw element/frame stacks: the reader may reshape the frames by the scan dimensions.
      if (e.sig_dims < 0) {
        e.nav_any_shape = true;
        e.sig_dims = static_cast<int>(raw_shape.size()) - 1;
      }
    }
    if (loader == "numpy (ser)") {
      if (emi) e.params["ser"] = SerIndex(r.value("file", ""));
      if (signal != nullptr) {
        e.axes = FixTiaOffsets(AxesOf(*signal));
        FixTiaNavAxes(e.axes, r);
        e.axes_source = "signals[" + std::to_string(i) + "].axes, offsets from the SER calibration";
      }
    } else if (loader.rfind("h5py", 0) == 0) {
      std::string path = r.value("dataset", "");
      if (r.contains("group")) path = r["group"].get<std::string>() + "/" + path;
      if (raws.size() > 1) e.params["dataset"] = path;
      if (r.contains("dims")) {
        e.axes = EmdDimsAxes(r);
        e.axes_source = "raw[" + std::to_string(i) + "].dims";
      } else if (signal != nullptr && e.sig_dims >= 0) {
        e.axes = AxesOf(*signal);
        e.axes_source = "signals[" + std::to_string(i) + "].axes";
      }
    } else if (loader.rfind("tifffile", 0) == 0 && std::filesystem::is_directory(primary)) {
      // A folder of TIFFs (tomography: projections, dark, flat): each entry names its file or
      // glob ("tiffs/*.tif* (91 files, sorted by name)") inside the folder.
      const std::string files = r.value("files", r.value("file", ""));
      e.path = primary + "/" + files.substr(0, files.find(' '));
    } else if (loader == "mrcfile") {
      e.axes = MrcHeaderAxes(r);
      e.axes_source = "raw[" + std::to_string(i) + "].header.voxel_size";
    } else if (signal != nullptr && e.sig_dims >= 0) {
      e.axes = AxesOf(*signal);
      e.axes_source = "signals[" + std::to_string(i) + "].axes";
    }
    if (raws.size() > 1 && e.params.empty() && e.path.empty()) {
      e.params["?"] = "";  // no known way to select it: reported by Check()
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Comparison. Mismatches are collected as text so that pending files can be checked quietly.

struct Mismatches {
  std::vector<std::string> items;
  template <class... Args>
  void Add(const Args&... args) {
    std::ostringstream text;
    text.precision(17);
    (text << ... << args);
    items.push_back(text.str());
  }
};

bool Close(double got, double expected, double rel, double scale) {
  if (std::isnan(got) || std::isnan(expected)) return std::isnan(got) && std::isnan(expected);
  return std::abs(got - expected) <= rel * std::max({std::abs(expected), std::abs(got), scale});
}

/// Statistics as in data/README.md: float64, non-finite values excluded and counted.
struct Stats {
  int64_t count = 0;
  int64_t nonfinite = 0;
  double sum = 0;
  double abs_sum = 0;  // scale of the rounding error of `sum`
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    if (!std::isfinite(v)) {
      ++nonfinite;
      return;
    }
    ++count;
    sum += v;
    abs_sum += std::abs(v);
    min = std::min(min, v);
    max = std::max(max, v);
  }
};

void CompareStats(const std::string& what, const Stats& got, const json& expected,
                  Mismatches& out) {
  const int64_t count = expected.value("count", int64_t{-1});
  if (count >= 0 && got.count != count) out.Add(what, "count: got ", got.count, ", expected ", count);
  const int64_t nonfinite = expected.value("nonfinite_count", int64_t{0});
  if (got.nonfinite != nonfinite) {
    out.Add(what, "nonfinite_count: got ", got.nonfinite, ", expected ", nonfinite);
  }
  if (got.count == 0) return;
  const double sum = expected.value("sum", 0.0);
  if (!Close(got.sum, sum, 1e-9, got.abs_sum * 1e-7)) {
    out.Add(what, "sum: got ", got.sum, ", expected ", sum);
  }
  for (const auto& [name, value] : {std::pair{"min", got.min}, std::pair{"max", got.max},
                                    std::pair{"mean", got.sum / static_cast<double>(got.count)}}) {
    if (!expected.contains(name)) continue;
    const double want = expected[name].get<double>();
    if (!Close(value, want, 1e-9, std::string(name) == "mean" ? got.abs_sum / got.count * 1e-7 : 0)) {
      out.Add(what, name, ": got ", value, ", expected ", want);
    }
  }
}

std::string NormalizeUnits(const json& units) {
  if (!units.is_string()) return "";
  std::string text = units.get<std::string>();
  if (text == "<undefined>" || text == "px" || text == "pixel" || text == "pixels") return "";
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '_' || c == '[' || c == ']') continue;  // Berkeley EMD "[n_m]" = nm
    if ((c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xB5) ||
        (c == 0xCE && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBC)) {
      out += 'u';  // micro sign / Greek mu
      ++i;
      continue;
    }
    if (c == 0xC3 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x85) {
      out += 'A';  // Angstrom sign (U+00C5)
      ++i;
      continue;
    }
    out += static_cast<char>(c);
  }
  // "nm^-1" (Berkeley EMD) = "1/nm" (HyperSpy "1 / nm").
  if (out.size() > 3 && out.compare(out.size() - 3, 3, "^-1") == 0) {
    out = "1/" + out.substr(0, out.size() - 3);
  }
  return out;
}

std::string Dims(const std::vector<int64_t>& dims) {
  std::string text = "(";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + ")";
}

/// Drop leading size-1 axes (HyperSpy keeps a 1-frame navigation axis in some files, readers in
/// others); return how many were dropped.
size_t StripLeadingOnes(std::vector<int64_t>& dims, size_t max_strip) {
  size_t n = 0;
  while (n < max_strip && n < dims.size() && dims[n] == 1) ++n;
  dims.erase(dims.begin(), dims.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

void CheckSignal(const formats::FormatRegistry& registry, const std::string& path,
                 const Expected& e, Mismatches& out) {
  const std::string where = e.label + " " + (e.params.empty() ? "" : "(") +
                            [&] {
                              std::string p;
                              for (const auto& [k, v] : e.params) p += (p.empty() ? "" : ", ") + k + "=" + v;
                              return p;
                            }() +
                            (e.params.empty() ? "" : ") ");
  if (e.params.count("?") != 0) {
    out.Add(where, "the file holds several signals and the test knows no parameter of the "
                   "reader that selects one: add a rule in ExpectedSignals()");
    return;
  }
  std::unique_ptr<dataset::Dataset> ds;
  try {
    OpenParams params = e.params;
    if (params.count("velox_group") != 0) {
      // Find the signal index of this group in the reader's listing (metadata "signals").
      const std::string group = params["velox_group"];
      params.erase("velox_group");
      const json listing = json::parse(registry.Open(path, {})->meta().metadata_json);
      for (const auto& entry : listing.value("signals", json::array())) {
        if (entry.value("path", "") == group) {
          params["signal"] = std::to_string(entry.value("index", -1));
        }
      }
      if (params.count("signal") == 0) {
        out.Add(where, "the reader lists no signal ", group, " in its metadata 'signals'");
        return;
      }
    }
    ds = registry.Open(e.path.empty() ? path : e.path, params);
  } catch (const std::exception& error) {
    out.Add(where, "open failed: ", error.what());
    return;
  }
  const auto& meta = ds->meta();
  // Shape (NumPy order: navigation axes, then signal axes).
  const std::vector<int64_t> got_dims = meta.shape.dims();
  const auto got_sig = std::vector<int64_t>(meta.shape.sig().begin(), meta.shape.sig().end());
  bool shape_ok = true;
  if (e.nav_any_shape) {
    const size_t sig = static_cast<size_t>(e.sig_dims);
    const std::vector<int64_t> want_sig(e.shape.end() - static_cast<std::ptrdiff_t>(sig), e.shape.end());
    const std::vector<int64_t> want_nav(e.shape.begin(), e.shape.end() - static_cast<std::ptrdiff_t>(sig));
    if (got_sig != want_sig || meta.shape.nav_size() != Product(want_nav)) {
      out.Add(where, "shape: got ", meta.shape.ToString(), ", expected ", Product(want_nav),
              " frames of ", Dims(want_sig));
      shape_ok = false;
    }
  } else {
    std::vector<int64_t> got = got_dims, want = e.shape;
    StripLeadingOnes(got, static_cast<size_t>(meta.shape.nav_dims()));
    StripLeadingOnes(want, e.sig_dims >= 0 ? want.size() - static_cast<size_t>(e.sig_dims) : want.size());
    if (got != want) {
      out.Add(where, "shape: got ", meta.shape.ToString(), ", expected ", Dims(e.shape));
      shape_ok = false;
    } else if (e.sig_dims >= 0 && meta.shape.sig_dims() != e.sig_dims) {
      out.Add(where, "signal axes: got ", meta.shape.ToString(), ", expected the last ", e.sig_dims,
              " of ", Dims(e.shape), " as signal");
    }
  }
  // Dtype.
  if (std::string(Name(meta.dtype)) != e.dtype) {
    out.Add(where, "dtype: got ", Name(meta.dtype), ", expected ", e.dtype);
  }
  if (static_cast<int64_t>(meta.axes.size()) != meta.shape.rank()) {
    out.Add(where, "axes: ", meta.axes.size(), " axes for a rank-", meta.shape.rank(), " shape");
  }
  // Values: read everything once (complex as complex128, integers exactly as int64).
  const int64_t frames = meta.shape.nav_size(), sig = meta.shape.sig_size();
  const auto n = static_cast<size_t>(frames * sig);
  try {
    if (IsComplex(meta.dtype)) {
      std::vector<std::complex<double>> values(n);
      ds->ReadFrames(0, frames, {0, sig}, values.data(), DType::kComplex128);
      Stats re, im;
      for (const auto& v : values) {
        re.Add(v.real());
        im.Add(v.imag());
      }
      if (!e.stats.contains("real")) {
        out.Add(where, "values: got complex data, expected real statistics");
      } else {
        CompareStats(where + "real ", re, e.stats["real"], out);
        if (e.stats.contains("imag")) CompareStats(where + "imag ", im, e.stats["imag"], out);
      }
    } else {
      std::vector<double> values(n);
      ds->ReadFrames(0, frames, {0, sig}, values.data(), DType::kFloat64);
      Stats stats;
      for (const double v : values) stats.Add(v);
      if (e.stats.contains("real")) {
        out.Add(where, "values: got real data, expected complex statistics");
      } else {
        CompareStats(where, stats, e.stats, out);
      }
      if (e.stats.contains("sum_exact") && IsInteger(meta.dtype) && meta.dtype != DType::kUint64) {
        std::vector<int64_t> ints(n);
        ds->ReadFrames(0, frames, {0, sig}, ints.data(), DType::kInt64);
        int64_t exact = 0;
        bool overflow = false;
        for (const int64_t v : ints) overflow = overflow || __builtin_add_overflow(exact, v, &exact);
        const auto want = e.stats["sum_exact"].get<int64_t>();
        if (overflow || exact != want) {
          out.Add(where, "sum_exact: got ", overflow ? "overflow" : std::to_string(exact),
                  ", expected ", want);
        }
      }
    }
  } catch (const std::exception& error) {
    out.Add(where, "reading failed: ", error.what());
    return;
  }
  // Calibrations, aligned from the last axis (leading size-1 axes may be absent on either side).
  if (e.axes.empty() || meta.axes.empty()) return;
  const size_t count = std::min(e.axes.size(), meta.axes.size());
  for (size_t k = 1; k <= count; ++k) {
    const json& want = e.axes[e.axes.size() - k];
    const dataset::Axis& got = meta.axes[meta.axes.size() - k];
    const std::string axis = where + "axis " + std::to_string(meta.axes.size() - k) + " (" +
                             got.name + ", from " + e.axes_source + ") ";
    const int64_t size = want.value("size", int64_t{-1});
    if (size != got.size) {
      if (shape_ok && !e.nav_any_shape && size != 1 && got.size != 1) {
        out.Add(axis, "size: got ", got.size, ", expected ", size);
      }
      continue;  // a reshaped or missing axis: the shape check has the verdict
    }
    const json want_scale = want.value("scale", json()), want_offset = want.value("offset", json());
    const double scale = want_scale.is_number() ? want_scale.get<double>() : 1.0;
    const double offset = want_offset.is_number() ? want_offset.get<double>() : 0.0;
    const json want_units = want.value("units", json());
    // Calibrations are often stored as float32: 1e-6 catches unit and sign errors, not rounding.
    if (!Close(got.scale, scale, 1e-6, 0)) out.Add(axis, "scale: got ", got.scale, ", expected ", scale);
    if (!want_offset.is_null() && !Close(got.offset, offset, 1e-6, std::abs(scale) * 1e-3)) {
      out.Add(axis, "offset: got ", got.offset, ", expected ", offset);
    }
    if (NormalizeUnits(got.units) != NormalizeUnits(want_units)) {
      out.Add(axis, "units: got '", got.units, "', expected '",
              want_units.is_string() ? want_units.get<std::string>() : "", "'");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Test cases: one per *.expected.json.

struct Case {
  std::string name;      // gtest parameter name
  std::string json_rel;  // path of the JSON relative to the data directory
  std::string primary;   // the file it describes, relative to the data directory
};

std::map<std::string, std::string> PendingFiles() {
  std::map<std::string, std::string> pending;
  for (const auto& line : ReadListFile(ConformanceFile("pending_files.txt"))) {
    if (line.fields.size() != 2 || line.fields[0].empty() || line.fields[1].empty()) {
      ADD_FAILURE() << "pending_files.txt:" << line.line_number
                    << ": expected 'path | reason'";
      continue;
    }
    if (!pending.emplace(line.fields[0], line.fields[1]).second) {
      ADD_FAILURE() << "pending_files.txt:" << line.line_number << ": " << line.fields[0]
                    << " listed twice";
    }
  }
  return pending;
}

std::vector<Case> DiscoverCases() {
  std::vector<Case> cases;
  const auto dir = TestDataDir();
  if (!dir) return cases;
  const std::string suffix = ".expected.json";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(*dir)) {
    const std::string path = entry.path().string();
    if (!entry.is_regular_file() || path.size() <= suffix.size() ||
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string rel = std::filesystem::relative(entry.path(), *dir).string();
    cases.push_back({.json_rel = rel, .primary = rel.substr(0, rel.size() - suffix.size())});
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.json_rel < b.json_rel; });
  std::set<std::string> used;
  for (auto& c : cases) c.name = TestName(c.primary, used);
  return cases;
}

class SharedDataConformance : public ::testing::TestWithParam<Case> {};

TEST_P(SharedDataConformance, MatchesExpectedJson) {
  const Case& c = GetParam();
  const std::string dir = *TestDataDir();
  std::ifstream in(dir + "/" + c.json_rel);
  const json doc = json::parse(in);
  // The JSON names its primary file; it must be the file next to it.
  ASSERT_EQ(doc.value("file", ""), c.primary) << c.json_rel;
  const std::string path = dir + "/" + c.primary;
  const auto registry = formats::testing::Builtins();

  Mismatches mismatches;
  const std::vector<Expected> expected = ExpectedSignals(doc, path);
  if (expected.empty()) mismatches.Add("the JSON has neither signals nor raw arrays to compare");
  for (const auto& e : expected) CheckSignal(registry, path, e, mismatches);

  const auto pending = PendingFiles();
  const auto it = pending.find(c.primary);
  if (it != pending.end()) {
    if (mismatches.items.empty()) {
      FAIL() << c.primary << " now matches " << c.json_rel
             << ": remove it from tests/conformance/pending_files.txt";
    }
    std::string first = mismatches.items.front();
    if (first.size() > 300) first = first.substr(0, 300) + "...";
    GTEST_SKIP() << "pending: " << it->second << " [" << mismatches.items.size()
                 << " mismatch(es), first: " << first << "]";
  }
  for (const auto& item : mismatches.items) ADD_FAILURE() << c.primary << ": " << item;
}

INSTANTIATE_TEST_SUITE_P(Files, SharedDataConformance, ::testing::ValuesIn(DiscoverCases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SharedDataConformance);

TEST(SharedDataConformanceList, EveryPendingEntryNamesAnExpectedFile) {
  const auto dir = TestDataDir();
  if (!dir) GTEST_SKIP() << "shared test data not found (set TESSERA_TESTDATA)";
  const auto cases = DiscoverCases();
  EXPECT_FALSE(cases.empty()) << "no *.expected.json under " << *dir;
  for (const auto& [file, reason] : PendingFiles()) {
    const bool known = std::any_of(cases.begin(), cases.end(),
                                   [&file = file](const Case& c) { return c.primary == file; });
    EXPECT_TRUE(known) << "pending_files.txt lists " << file
                       << ", which has no .expected.json: remove the stale entry";
  }
}

}  // namespace
}  // namespace tessera::conformance
