// SPDX-License-Identifier: MIT
#include "tessera/formats/msa/msa_format.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/strings.h"
#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

// Spectra are a few thousand channels; anything this large is not an EMSA file.
constexpr int64_t kMaxMsaBytes = int64_t{256} << 20;

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

/// Parse a whole token as a double ("20.", "3.1", "1.0E-06"); nullopt when it does not parse.
std::optional<double> ParseNumber(std::string_view token) {
  const std::string text(Trim(token));
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) return std::nullopt;
  return value;
}

const MsaKeyword* FindKeyword(const MsaSpectrum& spectrum, std::string_view name) {
  const MsaKeyword* found = nullptr;
  for (const auto& keyword : spectrum.keywords) {  // the last one wins (XLABEL repeats)
    if (keyword.name == name) found = &keyword;
  }
  return found;
}

/// An EMSA spectrum held in memory: one frame of float64 values.
class MsaDataset final : public dataset::Dataset {
 public:
  MsaDataset(dataset::DatasetMeta meta, std::vector<double> values)
      : meta_(std::move(meta)), values_(std::move(values)) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    if (frame_begin < 0 || frame_begin > frame_end || frame_end > 1) return nullptr;
    return reinterpret_cast<const std::byte*>(values_.data()) +
           frame_begin * static_cast<int64_t>(values_.size() * sizeof(double));
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    if (!CanConvert(DType::kFloat64, dst_dtype)) {
      throw Error::Unsupported(fmt::format("cannot convert float64 to {}", Name(dst_dtype)),
                               meta_.path);
    }
    if (frame_end > frame_begin) {
      ConvertElements(values_.data() + sig.begin, DType::kFloat64, false, dst, dst_dtype,
                      sig.size());
    }
  }

 private:
  dataset::DatasetMeta meta_;
  std::vector<double> values_;
};

std::string ReadSmallFile(const std::string& path) {
  const int64_t size = io::FileSize(path);
  if (size > kMaxMsaBytes) {
    throw Error::Unsupported(
        fmt::format("{} bytes is too large for an EMSA/MSA spectrum (limit {} bytes)", size,
                    kMaxMsaBytes),
        path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::Io("cannot open for reading", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

MsaSpectrum ParseMsa(std::string_view text, const std::string& path) {
  MsaSpectrum spectrum;
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);  // UTF-8 byte order mark
  std::vector<std::pair<int64_t, std::string_view>> data_tokens;  // offset, token
  bool in_data = false;
  bool ended = false;
  int64_t spectrum_offset = -1;
  size_t pos = 0;
  while (pos < text.size() && !ended) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const auto line_offset = static_cast<int64_t>(pos);
    const std::string_view line = Trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty()) continue;
    if (line.front() == '#') {
      const size_t colon = line.find(':');
      const std::string_view field = colon == std::string_view::npos
                                         ? line.substr(1)
                                         : line.substr(1, colon - 1);
      MsaKeyword keyword;
      const size_t dash = field.find('-', 1);  // "##ALPHA-1": user keywords keep their '#'
      keyword.name = Upper(Trim(field.substr(0, dash)));
      if (dash != std::string_view::npos) keyword.units = std::string(Trim(field.substr(dash + 1)));
      if (colon != std::string_view::npos) keyword.value = std::string(Trim(line.substr(colon + 1)));
      if (keyword.name == "ENDOFDATA") {
        ended = true;
      } else if (keyword.name == "SPECTRUM") {
        in_data = true;
        spectrum_offset = line_offset;
      } else if (in_data) {
        ended = true;  // a keyword after the data ends it
      } else {
        spectrum.keywords.push_back(std::move(keyword));
      }
      continue;
    }
    if (!in_data) {
      throw Error::CorruptFile(path, line_offset, "header",
                               fmt::format("line '{}' before #SPECTRUM is not a #KEYWORD line",
                                           line.substr(0, 40)));
    }
    size_t start = 0;
    while (start < line.size()) {
      const size_t stop = line.find_first_of(", \t\r", start);
      const size_t end = stop == std::string_view::npos ? line.size() : stop;
      if (end > start) {
        data_tokens.emplace_back(line_offset + static_cast<int64_t>(start),
                                 line.substr(start, end - start));
      }
      start = end + 1;
    }
  }
  if (spectrum.keywords.empty() || spectrum.keywords.front().name != "FORMAT") {
    throw Error::CorruptFile(path, 0, "FORMAT",
                             "an EMSA/MSA file must start with a #FORMAT keyword line");
  }
  if (!in_data) {
    throw Error::CorruptFile(path, static_cast<int64_t>(text.size()), "SPECTRUM",
                             "no #SPECTRUM line: the file has no data section");
  }
  const MsaKeyword* npoints_keyword = FindKeyword(spectrum, "NPOINTS");
  if (npoints_keyword == nullptr) {
    throw Error::CorruptFile(path, 0, "NPOINTS", "missing the required #NPOINTS keyword");
  }
  const auto npoints = ParseNumber(npoints_keyword->value);
  if (!npoints || *npoints < 0 || *npoints > 1e9) {
    throw Error::CorruptFile(path, std::nullopt, "NPOINTS",
                             fmt::format("#NPOINTS '{}' is not a channel count",
                                         npoints_keyword->value));
  }
  const MsaKeyword* datatype = FindKeyword(spectrum, "DATATYPE");
  const bool xy = datatype != nullptr && Upper(datatype->value) == "XY";
  if (datatype != nullptr && !xy && Upper(datatype->value) != "Y") {
    throw Error::CorruptFile(path, std::nullopt, "DATATYPE",
                             fmt::format("#DATATYPE '{}' is neither Y nor XY", datatype->value));
  }
  for (size_t i = 0; i < data_tokens.size(); ++i) {
    const auto value = ParseNumber(data_tokens[i].second);
    if (!value) {
      throw Error::CorruptFile(path, data_tokens[i].first, "SPECTRUM",
                               fmt::format("data value '{}' is not a number",
                                           data_tokens[i].second));
    }
    if (!xy || i % 2 == 1) spectrum.values.push_back(*value);
  }
  if (xy && data_tokens.size() % 2 != 0) {
    throw Error::CorruptFile(path, data_tokens.back().first, "SPECTRUM",
                             "#DATATYPE XY data ends with an X value without its Y");
  }
  // Writers disagree by one on NPOINTS (the EMSA example has 21 values for 20): keep every
  // value read, but a spectrum shorter than declared is truncated.
  if (static_cast<double>(spectrum.values.size()) < *npoints) {
    throw Error::CorruptFile(
        path, spectrum_offset, "NPOINTS",
        fmt::format("data is truncated: #NPOINTS declares {} values, the data section has {}",
                    npoints_keyword->value, spectrum.values.size()));
  }
  if (spectrum.values.empty()) {
    throw Error::CorruptFile(path, spectrum_offset, "SPECTRUM", "the data section is empty");
  }
  return spectrum;
}

std::unique_ptr<dataset::Dataset> OpenMsa(const std::string& path) {
  const std::string text = ReadSmallFile(path);
  MsaSpectrum spectrum = ParseMsa(text, path);
  const auto size = static_cast<int64_t>(spectrum.values.size());

  dataset::Axis axis{.name = "Energy", .size = size, .units = "px"};
  if (const auto* label = FindKeyword(spectrum, "XLABEL"); label != nullptr && !label->value.empty()) {
    axis.name = label->value;
  }
  auto number = [&](std::string_view name) -> std::optional<double> {
    const MsaKeyword* keyword = FindKeyword(spectrum, name);
    if (keyword == nullptr) return std::nullopt;
    const auto value = ParseNumber(keyword->value);
    if (!value) {
      throw Error::CorruptFile(path, std::nullopt, std::string(name),
                               fmt::format("#{} '{}' is not a number", name, keyword->value));
    }
    return value;
  };
  const auto xperchan = number("XPERCHAN");
  const auto offset = number("OFFSET");
  if (xperchan) axis.scale = *xperchan;
  if (offset) axis.offset = *offset;
  if (const auto* units = FindKeyword(spectrum, "XUNITS"); units != nullptr) {
    axis.units = units->value;
  } else if (xperchan) {
    axis.units = "";
  }

  nlohmann::json keywords = nlohmann::json::object();
  nlohmann::json units = nlohmann::json::object();
  for (const auto& keyword : spectrum.keywords) {
    keywords[keyword.name] = keyword.value;
    if (!keyword.units.empty()) units[keyword.name] = keyword.units;
  }
  nlohmann::json j;
  j["keywords"] = keywords;
  j["keyword_units"] = units;
  j["npoints_read"] = size;

  dataset::DatasetMeta meta;
  meta.format = "msa";
  meta.path = path;
  meta.dtype = DType::kFloat64;
  meta.shape = Shape({}, {size});
  meta.axes = {axis};
  meta.metadata_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  meta.files = {dataset::InputFile{.path = path, .size = static_cast<int64_t>(text.size())}};
  return std::make_unique<MsaDataset>(std::move(meta), std::move(spectrum.values));
}

FormatEntry MsaFormatEntry() {
  FormatEntry entry;
  entry.name = "msa";
  entry.extensions = {".msa", ".ems", ".mas", ".emsa"};
  entry.summary = "EMSA/MAS spectral data (.msa, .ems): one spectrum, float64, energy axis";
  entry.sniff = [](std::span<const std::byte> head, const std::string& /*path*/) {
    std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
    if (text.size() >= 3 && text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
    text = Trim(text);
    if (text.size() < 7 || Upper(text.substr(0, 7)) != "#FORMAT") return false;
    const size_t eol = text.find('\n');
    return Upper(text.substr(0, eol)).find("EMSA") != std::string::npos;
  };
  entry.open = [](const std::string& path, const OpenParams& /*params*/) { return OpenMsa(path); };
  return entry;
}

}  // namespace tessera::formats
