// SPDX-License-Identifier: MIT
#include "tessera/formats/format_registry.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "tessera/core/error.h"
#include "tessera/formats/blo/blo_format.h"
#include "tessera/formats/dm/dm_format.h"
#include "tessera/formats/empad/empad_format.h"
#include "tessera/formats/hdf5/hdf5_format.h"
#include "tessera/formats/mib/mib_format.h"
#include "tessera/formats/mrc/mrc_format.h"
#include "tessera/formats/msa/msa_format.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/params_internal.h"
#include "tessera/formats/raw/raw_format.h"
#include "tessera/formats/ripple/ripple_format.h"
#include "tessera/formats/tia/tia_format.h"
#include "tessera/formats/velox/velox_format.h"
#include "tessera/formats/zspy/zspy_format.h"
#include "tessera/formats/tiff/tiff_format.h"
#include "tessera/formats/tvips/tvips_format.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr size_t kSniffBytes = 512;

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::byte> ReadHead(const std::string& path) {
  std::vector<std::byte> head(kSniffBytes);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error::Io("cannot open for reading", path);
  const size_t n = std::fread(head.data(), 1, head.size(), f);
  std::fclose(f);
  head.resize(n);
  return head;
}

std::string KnownNames(const std::vector<std::unique_ptr<FormatEntry>>& entries) {
  std::string names;
  for (const auto& entry : entries) names += (names.empty() ? "" : ", ") + entry->name;
  return names;
}

}  // namespace

std::pair<std::string, std::string> SplitDatasetPath(const std::string& path) {
  const auto colon = path.rfind(":/");
  if (colon == std::string::npos || colon == 0 || IsRegularFile(path)) return {path, ""};
  return {path.substr(0, colon), path.substr(colon + 1)};
}

void FormatRegistry::Add(FormatEntry entry) {
  if (entry.name.empty()) throw Error::InvalidArgument("format without a name", "name");
  if (Find(entry.name) != nullptr) {
    throw Error::InvalidArgument(fmt::format("format '{}' registered twice", entry.name), "name");
  }
  if (entry.summary.empty()) {
    throw Error::InvalidArgument(fmt::format("format '{}' has no summary", entry.name), "summary");
  }
  if (!entry.open) {
    throw Error::InvalidArgument(fmt::format("format '{}' has no open function", entry.name),
                                 "open");
  }
  std::set<std::string> seen;
  for (const auto& param : entry.params) {
    if (param.name.empty() || param.help.empty() || param.type.empty()) {
      throw Error::InvalidArgument(
          fmt::format("format '{}': parameter '{}' needs a name, a type and help", entry.name,
                      param.name),
          "params");
    }
    if (!seen.insert(param.name).second) {
      throw Error::InvalidArgument(
          fmt::format("format '{}': parameter '{}' listed twice", entry.name, param.name),
          "params");
    }
  }
  for (const auto& ext : entry.extensions) {
    if (ext.size() < 2 || ext[0] != '.') {
      throw Error::InvalidArgument(
          fmt::format("format '{}': extension '{}' must start with a dot", entry.name, ext),
          "extensions");
    }
  }
  entries_.push_back(std::make_unique<FormatEntry>(std::move(entry)));
}

const FormatEntry* FormatRegistry::Find(const std::string& name) const {
  for (const auto& entry : entries_) {
    if (entry->name == name) return entry.get();
  }
  return nullptr;
}

std::vector<const FormatEntry*> FormatRegistry::entries() const {
  std::vector<const FormatEntry*> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.get());
  return out;
}

const FormatEntry& FormatRegistry::Detect(const std::string& path, const OpenParams& params,
                                          const std::string& format) const {
  if (!format.empty()) {
    const FormatEntry* entry = Find(format);
    if (entry == nullptr) {
      throw Error::InvalidArgument(
          fmt::format("unknown format '{}' (known: {})", format, KnownNames(entries_)), "format");
    }
    return *entry;
  }
  const std::string file = SplitDatasetPath(path).first;
  if (const FormatEntry* zarr = ZarrDirectoryEntry(*this, file)) return *zarr;
  if (const auto* tiff = Find("tiff"); tiff && IsTiffStackPath(file)) return *tiff;
  io::FileSize(file);  // kNotFound naming the file
  if (!IsRegularFile(file)) throw Error::Io("not a regular file", file);
  const std::vector<std::byte> head = ReadHead(file);
  for (const auto& entry : entries_) {
    if (entry->sniff && entry->sniff(head, file)) return *entry;
  }
  const FormatEntry* raw = Find("raw");
  if (raw != nullptr) {
    for (const char* name : {"nav_shape", "sig_shape", "dtype"}) {
      if (params.count(name) != 0) return *raw;
    }
  }
  const std::string ext = internal::LowerExtension(file);
  if (!ext.empty()) {
    for (const auto& entry : entries_) {
      const auto& exts = entry->extensions;
      if (std::find(exts.begin(), exts.end(), ext) != exts.end()) return *entry;
    }
  }
  throw Error::Unsupported(fmt::format("cannot tell the format of {}; give --format", file), file);
}

std::unique_ptr<dataset::Dataset> FormatRegistry::Open(const std::string& path,
                                                       const OpenParams& params,
                                                       const std::string& format) const {
  const FormatEntry& entry = Detect(path, params, format);
  for (const auto& param : params) {
    const std::string& name = param.first;  // a plain reference: lambdas may capture it
    const bool known = std::any_of(entry.params.begin(), entry.params.end(),
                                   [&](const ParamDoc& doc) { return doc.name == name; });
    if (!known) {
      std::string accepted;
      for (const auto& doc : entry.params) accepted += (accepted.empty() ? "" : ", ") + doc.name;
      throw Error::InvalidArgument(
          fmt::format("{}: format '{}' does not take parameter '{}' (it takes: {})", path,
                      entry.name, name, accepted.empty() ? "none" : accepted),
          name);
    }
  }
  return entry.open(path, params);
}

void RegisterBuiltinFormats(FormatRegistry& registry) {
  registry.Add(NpyFormatEntry());
  registry.Add(VeloxFormatEntry());  // before hdf5: Velox .emd files are HDF5 too
  registry.Add(Hdf5FormatEntry());
  registry.Add(MibFormatEntry());
  registry.Add(DmFormatEntry());
  registry.Add(MrcFormatEntry());
  registry.Add(EmpadFormatEntry());
  registry.Add(TiaFormatEntry());
  registry.Add(MsaFormatEntry());
  registry.Add(RippleFormatEntry());
  registry.Add(BloFormatEntry());
  registry.Add(ZspyFormatEntry());
  registry.Add(TiffFormatEntry());
  registry.Add(TvipsFormatEntry());
  registry.Add(RawFormatEntry());
}

namespace internal {

std::optional<std::string> FindParam(const OpenParams& params, const std::string& name) {
  const auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

std::string RequireParam(const OpenParams& params, const std::string& name,
                         const std::string& file) {
  auto value = FindParam(params, name);
  if (!value || value->empty()) {
    throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                          .message = fmt::format("missing required parameter '{}'", name),
                          .file = file,
                          .field = name});
  }
  return *value;
}

int64_t ParseIntParam(const std::string& text, const std::string& field) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) {
    throw Error::InvalidArgument(fmt::format("'{}' is not an integer", text), field);
  }
  return value;
}

bool ParseBoolParam(const std::string& text, const std::string& field) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  throw Error::InvalidArgument(fmt::format("'{}' is not true or false", text), field);
}

DType ParseDTypeParam(const std::string& text, const std::string& field, bool* big_endian) {
  *big_endian = false;
  if (auto dtype = ParseDType(text)) return *dtype;
  if (auto dtype = ParseNumpyTypestr(text, big_endian)) return *dtype;
  throw Error::InvalidArgument(
      fmt::format("unknown dtype '{}' (try uint8, uint16, uint32, int16, float32, float64, "
                  "complex64, or a NumPy typestr like '>u2')",
                  text),
      field);
}

int SigDimsParam(const OpenParams& params, int rank, const std::string& file) {
  const auto text = FindParam(params, "sig_dims");
  if (!text) return std::min(2, rank);
  const int64_t sig_dims = ParseIntParam(*text, "sig_dims");
  if (sig_dims < 0 || sig_dims > rank) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("sig_dims {} for an array of rank {}", sig_dims, rank),
        .file = file,
        .field = "sig_dims"});
  }
  return static_cast<int>(sig_dims);
}

std::string LowerExtension(const std::string& path) {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace internal
const FormatRegistry& BuiltinFormats() {
  static const FormatRegistry registry = [] {
    FormatRegistry r;
    RegisterBuiltinFormats(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera::formats
