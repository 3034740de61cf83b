// SPDX-License-Identifier: MIT
#include "commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include "progress_bar.h"
#include "tessera/core/checksum.h"
#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/core/system_info.h"
#include "tessera/dataset/corrections.h"
#include "tessera/dataset/roi.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/exec/executor.h"
#include "tessera/exec/mpi_world.h"
#include "tessera/formats/dataset_writer.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/image_writers.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/results_writer.h"
#include "tessera/io/mapped_file.h"
#include "tessera/ops/operator_registry.h"
#include "version.h"

namespace tessera::cli {
namespace {

/// Test hook for the MPI fault tests: TESSERA_TEST_MPI_FAULT=KIND@RANK makes rank RANK fail in
/// one way: "open" (cannot read its file), "udf" (an exception inside the analysis after its
/// first partition), "kill" (SIGKILL after its first partition). Returns KIND on that rank.
std::string InjectedFault(const Context& context) {
  const char* hook = std::getenv("TESSERA_TEST_MPI_FAULT");
  if (hook == nullptr || context.mpi == nullptr) return {};
  const std::string spec = hook;
  const size_t at = spec.find('@');
  if (at == std::string::npos || std::atoi(spec.c_str() + at + 1) != context.mpi->rank()) return {};
  return spec.substr(0, at);
}

using json = nlohmann::json;

/// Options that say how to open a dataset; shared by info, run and convert.
struct DatasetOptions {
  std::string path;
  std::string format;
  std::string nav_shape;
  std::string sig_shape;
  std::string dtype;
  std::string offset;
  std::string sig_dims;
  std::vector<std::string> open_params;

  formats::OpenParams ToParams() const {
    formats::OpenParams params;
    if (!nav_shape.empty()) params["nav_shape"] = nav_shape;
    if (!sig_shape.empty()) params["sig_shape"] = sig_shape;
    if (!dtype.empty()) params["dtype"] = dtype;
    if (!offset.empty()) params["offset"] = offset;
    if (!sig_dims.empty()) params["sig_dims"] = sig_dims;
    for (const auto& kv : open_params) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw Error::InvalidArgument(fmt::format("expected NAME=VALUE, got '{}'", kv), "--open");
      }
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return params;
  }
};

void AddDatasetOptions(CLI::App* cmd, DatasetOptions& options) {
  cmd->add_option("--format", options.format, "Force a format (raw, npy, hdf5); default: detect");
  cmd->add_option("--nav-shape", options.nav_shape, "Raw files: navigation shape, e.g. 128x128");
  cmd->add_option("--sig-shape", options.sig_shape, "Raw files: frame shape, e.g. 256x256");
  cmd->add_option("--dtype", options.dtype, "Raw files: element type (float32, uint16, ...)");
  cmd->add_option("--offset", options.offset, "Raw files: bytes to skip at the start");
  cmd->add_option("--sig-dims", options.sig_dims, "Number of trailing signal axes (default 2)");
  // One value per occurrence: `--open a=1 FILE` must not swallow FILE.
  cmd->add_option("--open", options.open_params, "Other format parameter NAME=VALUE (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

const formats::FormatRegistry& Formats() { return formats::BuiltinFormats(); }

const ops::OperatorRegistry& Operators() { return ops::BuiltinAnalyses(); }

std::unique_ptr<dataset::Dataset> OpenDataset(const DatasetOptions& options) {
  return Formats().Open(options.path, options.ToParams(), options.format);
}

/// Read a whole small file (mask, dark frame, gain map) into memory with its full shape.
NdArray LoadArray(const std::string& path, DType dtype) {
  auto ds = Formats().Open(path, {});
  const auto& meta = ds->meta();
  if (meta.shape.size() > (int64_t{1} << 30)) {
    throw Error::InvalidArgument("file is too large for a mask or calibration image", path);
  }
  NdArray array(dtype, meta.shape.dims());
  const int64_t frames = std::max<int64_t>(meta.shape.nav_size(), 1);
  ds->ReadFrames(0, frames, {0, meta.shape.sig_size()}, array.raw(), dtype);
  return array;
}

json AxesJson(const std::vector<dataset::Axis>& axes) {
  json out = json::array();
  for (const auto& a : axes) {
    out.push_back({{"name", a.name}, {"size", a.size}, {"scale", a.scale}, {"offset", a.offset},
                   {"units", a.units}});
  }
  return out;
}

json MetaJson(const dataset::DatasetMeta& meta) {
  json j;
  j["path"] = meta.path;
  j["format"] = meta.format;
  j["shape"] = meta.shape.dims();
  j["nav_shape"] = std::vector<int64_t>(meta.shape.nav().begin(), meta.shape.nav().end());
  j["sig_shape"] = std::vector<int64_t>(meta.shape.sig().begin(), meta.shape.sig().end());
  j["dtype"] = std::string(Name(meta.dtype));
  j["axes"] = AxesJson(meta.axes);
  j["metadata"] = json::parse(meta.metadata_json, nullptr, false);
  if (j["metadata"].is_discarded()) j["metadata"] = meta.metadata_json;
  json files = json::array();
  for (const auto& f : meta.files) files.push_back({{"path", f.path}, {"size", f.size}});
  j["files"] = files;
  return j;
}

// --- info -----------------------------------------------------------------------------------

struct InfoOptions {
  DatasetOptions dataset;
  bool json = false;
};

int RunInfo(const InfoOptions& options) {
  auto ds = OpenDataset(options.dataset);
  const auto& meta = ds->meta();
  if (options.json) {
    std::cout << MetaJson(meta).dump(2) << std::endl;
    return 0;
  }
  std::cout << fmt::format("file:      {}\n", meta.path);
  std::cout << fmt::format("format:    {}\n", meta.format);
  std::cout << fmt::format("nav shape: {}\n", FormatDims(meta.shape.nav()));
  std::cout << fmt::format("sig shape: {}\n", FormatDims(meta.shape.sig()));
  std::cout << fmt::format("dtype:     {}\n", Name(meta.dtype));
  std::cout << fmt::format("size:      {:.3f} GiB\n",
                           static_cast<double>(meta.shape.size() * SizeOf(meta.dtype)) / (1 << 30));
  std::cout << "axes:\n";
  for (size_t i = 0; i < meta.axes.size(); ++i) {
    const auto& a = meta.axes[i];
    std::cout << fmt::format("  {:<3} {:<8} {:>6}  scale {:<10g} offset {:<10g} {}{}\n", i, a.name,
                             a.size, a.scale, a.offset, a.units,
                             static_cast<int>(i) < meta.shape.nav_dims() ? "  (nav)" : "  (sig)");
  }
  const json metadata = json::parse(meta.metadata_json, nullptr, false);
  std::cout << "metadata:  " << (metadata.is_discarded() ? meta.metadata_json : metadata.dump(2))
            << "\n";
  return 0;
}

// --- run ------------------------------------------------------------------------------------

struct RunCommandOptions {
  std::string analyses;
  DatasetOptions dataset;
  std::vector<std::string> params;
  std::string roi;
  std::string dark;
  std::string gain;
  std::string excluded_pixels;
  std::string executor = "threads";
  int threads = 0;
  double partition_mib = 64;
  std::vector<std::string> outputs;
  int repeat = 1;
  bool json = false;
  bool quiet = false;
};

/// Route `--param [analysis.]name=value` to the analyses that declare that parameter.
std::vector<std::map<std::string, std::string>> RouteParams(
    const std::vector<std::string>& names, const std::vector<std::string>& params) {
  std::vector<std::map<std::string, std::string>> routed(names.size());
  for (const auto& kv : params) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error::InvalidArgument(fmt::format("expected NAME=VALUE, got '{}'", kv), "--param");
    }
    std::string key = kv.substr(0, eq);
    const std::string value = kv.substr(eq + 1);
    std::string target;
    if (const auto dot = key.find('.'); dot != std::string::npos) {
      target = key.substr(0, dot);
      key = key.substr(dot + 1);
      if (std::find(names.begin(), names.end(), target) == names.end()) {
        throw Error::InvalidArgument(
            fmt::format("'{}' names analysis '{}', which is not being run", kv, target), "--param");
      }
    }
    bool used = false;
    for (size_t i = 0; i < names.size(); ++i) {
      if (!target.empty() && names[i] != target) continue;
      const auto* entry = Operators().Find(names[i]);
      const bool declares = std::any_of(entry->params.begin(), entry->params.end(),
                                        [&](const auto& spec) { return spec.name == key; });
      if (declares) {
        routed[i][key] = value;
        used = true;
      }
    }
    if (!used) {
      throw Error::InvalidArgument(
          fmt::format("no analysis being run has a parameter '{}' (see `tessera ops list`)", key),
          key);
    }
  }
  return routed;
}

std::vector<int64_t> ParseExcludedPixels(const std::string& text, const Shape& shape) {
  std::vector<int64_t> pixels;
  if (text.empty()) return pixels;
  const auto sig = shape.sig();
  if (text.find(';') == std::string::npos && text.find(',') == std::string::npos) {
    // A file: non-zero entries are excluded.
    const NdArray mask = LoadArray(text, DType::kUint8);
    if (mask.size() != shape.sig_size()) {
      throw Error::InvalidArgument(
          fmt::format("excluded-pixel mask has {} pixels, frames have {}", mask.size(),
                      shape.sig_size()),
          "--excluded-pixels");
    }
    auto flat = mask.flat<uint8_t>();
    for (size_t i = 0; i < flat.size(); ++i) {
      if (flat[i] != 0) pixels.push_back(static_cast<int64_t>(i));
    }
    return pixels;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    if (item.empty()) continue;
    const auto coords = ParseDims(item, "--excluded-pixels");
    if (coords.size() != sig.size()) {
      throw Error::InvalidArgument(
          fmt::format("pixel '{}' needs {} coordinates", item, sig.size()), "--excluded-pixels");
    }
    int64_t flat = 0;
    for (size_t d = 0; d < coords.size(); ++d) {
      if (coords[d] >= sig[d]) {
        throw Error::InvalidArgument(
            fmt::format("pixel '{}' is outside the frame {}", item, FormatDims(sig)),
            "--excluded-pixels");
      }
      flat = flat * sig[d] + coords[d];
    }
    pixels.push_back(flat);
  }
  return pixels;
}

std::string ResultKey(const std::string& analysis, const std::string& name) {
  return analysis + "/" + name;
}

/// Write every result to `output` (.h5 holds all; .npy/.png/.tif one file per result).
std::vector<std::string> WriteOutputs(const std::string& output,
                                      const std::vector<std::string>& analyses,
                                      const std::vector<std::vector<udf::Result>>& results,
                                      const formats::Provenance& provenance) {
  std::vector<std::string> written;
  const std::filesystem::path out(output);
  std::string ext = out.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t count = 0;
  for (const auto& r : results) count += r.size();
  if (ext == ".h5" || ext == ".hdf5") {
    std::vector<formats::ResultArray> arrays;
    for (size_t a = 0; a < analyses.size(); ++a) {
      for (const auto& r : results[a]) {
        arrays.push_back(formats::ResultArray{.name = ResultKey(analyses[a], r.name),
                                              .data = &r.data,
                                              .axes = r.axes,
                                              .units = r.units,
                                              .description = r.description});
      }
    }
    formats::WriteResultsHdf5(output, arrays, provenance);
    written.push_back(output);
    return written;
  }
  if (ext != ".npy" && ext != ".png" && ext != ".tif" && ext != ".tiff") {
    throw Error::InvalidArgument(
        fmt::format("unknown output type '{}' (use .h5, .npy, .png or .tif)", ext), "-o");
  }
  const std::string stem = (out.parent_path() / out.stem()).string();
  for (size_t a = 0; a < analyses.size(); ++a) {
    for (const auto& r : results[a]) {
      const std::string path =
          count == 1 ? output : fmt::format("{}_{}_{}{}", stem, analyses[a], r.name, ext);
      if (ext == ".npy") {
        formats::WriteNpy(path, r.data);
      } else if (ext == ".png") {
        if (r.data.rank() == 2) {
          formats::WritePng(path, r.data);
        } else if (r.data.rank() == 3 && r.kind == udf::BufferKind::kNav && r.data.shape()[2] <= 16) {
          // A scan-shaped stack such as one virtual image per mask: one picture each.
          const int64_t rows = r.data.shape()[0], cols = r.data.shape()[1], n = r.data.shape()[2];
          for (int64_t k = 0; k < n; ++k) {
            NdArray plane(DType::kFloat64, {rows, cols});
            auto out_plane = plane.flat<double>();
            for (int64_t i = 0; i < rows * cols; ++i) {
              out_plane[static_cast<size_t>(i)] = r.data.GetAsDouble(i * n + k);
            }
            const auto sliced = n == 1 ? path : fmt::format("{}_{}{}", path.substr(0, path.size() - ext.size()), k, ext);
            formats::WritePng(sliced, plane);
            written.push_back(sliced);
          }
          continue;
        } else {
          continue;  // PNG pictures of images only
        }
      } else {
        if (r.data.rank() != 2 && r.data.rank() != 3) continue;  // TIFF holds images and stacks
        formats::WriteTiff(path, r.data);
      }
      written.push_back(path);
    }
  }
  if (written.empty()) {
    throw Error::InvalidArgument("no result is an image; use .h5 or .npy", "-o");
  }
  return written;
}

json ResultSummary(const udf::Result& r) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  double sum = 0;
  int64_t finite = 0;
  for (int64_t i = 0; i < r.data.size(); ++i) {
    const double v = r.data.GetAsDouble(i);
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    ++finite;
  }
  json j = {{"name", r.name}, {"shape", r.data.shape()}, {"dtype", std::string(Name(r.data.dtype()))}};
  if (finite > 0) {
    j["min"] = lo;
    j["max"] = hi;
    j["mean"] = sum / static_cast<double>(finite);
  }
  j["finite"] = finite;
  return j;
}

int RunRun(const RunCommandOptions& options, const Context& context) {
  const auto start_time = NowIso8601();
  std::vector<std::string> names;
  {
    size_t start = 0;
    while (start <= options.analyses.size()) {
      const size_t end = std::min(options.analyses.find(',', start), options.analyses.size());
      std::string name = options.analyses.substr(start, end - start);
      start = end + 1;
      if (name.empty()) continue;
      if (Operators().Find(name) == nullptr) {
        std::vector<std::string> known;
        for (const auto* e : Operators().entries()) known.push_back(e->name);
        throw Error::InvalidArgument(
            fmt::format("unknown analysis '{}' (known: {})", name, fmt::join(known, ", ")),
            "analysis");
      }
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        throw Error::InvalidArgument(fmt::format("analysis '{}' named twice", name), "analysis");
      }
      names.push_back(name);
    }
  }
  if (names.empty()) throw Error::InvalidArgument("no analysis given", "analysis");
  const auto routed = RouteParams(names, options.params);
  // Under MPI every rank runs this; only rank 0 prints, shows progress and writes outputs.
  const bool root = context.mpi == nullptr || context.mpi->is_root();
  const std::string fault = InjectedFault(context);
  for (const auto& output : root ? options.outputs : std::vector<std::string>{}) {
    // Fail on an unwritable output before spending minutes on the data.
    const auto dir = std::filesystem::path(output).parent_path();
    const std::string d = dir.empty() ? "." : dir.string();
    if (::access(d.c_str(), W_OK) != 0) {
      throw Error::Io("output directory does not exist or is not writable", output);
    }
  }

  if (fault == "open") {
    throw Error::CorruptFile(options.dataset.path, 0, "TESSERA_TEST_MPI_FAULT",
                             "injected fault: this rank cannot read the file");
  }
  auto ds = OpenDataset(options.dataset);
  const auto& meta = ds->meta();
  std::vector<std::unique_ptr<udf::Udf>> udfs;
  std::vector<udf::Udf*> udf_ptrs;
  for (size_t i = 0; i < names.size(); ++i) {
    // Parameters that name a file of weights (mask_file) are loaded here, next to the data.
    std::map<std::string, NdArray> arrays;
    for (const auto& spec : Operators().Find(names[i])->params) {
      const auto it = routed[i].find(spec.name);
      if (spec.type != ops::ParamType::kArrayFile || it == routed[i].end()) continue;
      arrays.emplace(spec.name, LoadArray(it->second, DType::kFloat32));
    }
    udfs.push_back(Operators().Make(names[i], routed[i], std::move(arrays)));
    udf_ptrs.push_back(udfs.back().get());
  }

  std::optional<dataset::Roi> roi;
  if (!options.roi.empty()) roi = dataset::Roi::Parse(meta.shape.nav(), options.roi);
  dataset::CorrectionSet corrections;
  if (!options.dark.empty() || !options.gain.empty() || !options.excluded_pixels.empty()) {
    const NdArray dark = options.dark.empty() ? NdArray() : LoadArray(options.dark, DType::kFloat32);
    const NdArray gain = options.gain.empty() ? NdArray() : LoadArray(options.gain, DType::kFloat32);
    corrections = dataset::CorrectionSet::Make(meta.shape, dark, gain,
                                               ParseExcludedPixels(options.excluded_pixels, meta.shape));
  }

  udf::RunOptions run_options;
  run_options.roi = roi ? &*roi : nullptr;
  run_options.corrections = corrections.empty() ? nullptr : &corrections;
  run_options.partition_bytes = static_cast<int64_t>(options.partition_mib * (1 << 20));
  run_options.cancel = context.cancel;
  auto executor = exec::MakeExecutor(options.executor, options.threads);

  ProgressBar bar(fmt::format("{}", fmt::join(names, ",")));
  const bool show_progress = !options.quiet && root;
  // Test hook: deliver a real SIGINT after N merged partitions, so the end-to-end tests can check
  // Ctrl-C handling deterministically, without sleeping.
  const char* sigint_hook = std::getenv("TESSERA_TEST_SIGINT_AFTER_PARTITIONS");
  const int64_t sigint_after = sigint_hook != nullptr ? std::atoll(sigint_hook) : -1;
  // --repeat runs the same pass again over the still-mapped file: the first pass is what a fresh
  // process sees, the best of the others what an interactive session (server, notebook) sees.
  std::vector<double> elapsed_runs;
  std::vector<std::vector<udf::Result>> results;
  exec::MpiRunStats mpi_stats;
  for (int pass = 0; pass < std::max(options.repeat, 1); ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    auto on_partial = [&](const udf::Progress& p, const udf::UdfRunner&) {
      if (p.partitions_done == sigint_after) std::raise(SIGINT);
      if (fault == "udf" && p.partitions_done >= 1) {
        throw std::runtime_error("injected fault: an exception in a UDF");
      }
      if (fault == "kill" && p.partitions_done >= 1) std::raise(SIGKILL);
      if (show_progress) {
        bar.Update(p.frames_done, p.frames_total,
                   fmt::format("partitions {}/{}", p.partitions_done, p.partitions_total));
      }
    };
    results = context.mpi != nullptr
                  ? exec::RunUdfsMpi(*context.mpi, *executor, *ds, udf_ptrs, run_options, on_partial,
                                     &mpi_stats)
                  : exec::RunUdfs(*executor, *ds, udf_ptrs, run_options, on_partial);
    elapsed_runs.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!root) return 0;
  const double elapsed = elapsed_runs.front();
  const double elapsed_best = *std::min_element(elapsed_runs.begin(), elapsed_runs.end());
  bar.Finish();
  const int64_t frames = roi ? roi->count() : meta.shape.nav_size();
  const int64_t bytes = frames * meta.shape.sig_size() * SizeOf(meta.dtype);

  std::vector<std::string> written;
  if (!options.outputs.empty()) {
    formats::Provenance provenance;
    provenance.command_line = fmt::format("{}", fmt::join(context.command_line, " "));
    provenance.tessera_version = TESSERA_VERSION;
    provenance.git_hash = TESSERA_GIT_HASH;
    provenance.start_time = start_time;
    provenance.host = HostName();
    json params = json::object();
    for (size_t i = 0; i < names.size(); ++i) params[names[i]] = routed[i];
    params["roi"] = options.roi;
    params["dark"] = options.dark;
    params["gain"] = options.gain;
    params["excluded_pixels"] = options.excluded_pixels;
    params["executor"] = options.executor;
    provenance.parameters_json = params.dump();
    for (const auto& f : meta.files) {
      provenance.inputs.push_back(formats::ProvenanceInput{
          .path = std::filesystem::absolute(f.path).string(),
          .size = f.size,
          .xxh3_128 = ChecksumFile(f.path).ToHex()});
    }
    provenance.end_time = NowIso8601();
    for (const auto& output : options.outputs) {
      for (auto& path : WriteOutputs(output, names, results, provenance)) {
        written.push_back(std::move(path));
      }
    }
  }

  if (options.json) {
    json j;
    j["input"] = MetaJson(meta);
    j["analyses"] = names;
    j["executor"] = executor->name();
    j["threads"] = executor->concurrency();
    j["ranks"] = context.mpi != nullptr ? context.mpi->size() : 1;
    if (context.mpi != nullptr) {
      j["mpi"] = {{"rank0_compute_s", mpi_stats.compute_s},
                  {"rank0_reduce_s", mpi_stats.reduce_s},
                  {"rank0_gather_s", mpi_stats.gather_s},
                  {"rank0_partitions", mpi_stats.partitions},
                  {"rank0_bytes_received", mpi_stats.bytes_received}};
    }
    j["frames"] = frames;
    j["bytes"] = bytes;
    j["elapsed_s"] = elapsed;
    j["gbps"] = elapsed > 0 ? static_cast<double>(bytes) / elapsed / 1e9 : 0.0;
    j["elapsed_runs_s"] = elapsed_runs;
    j["elapsed_best_s"] = elapsed_best;
    j["gbps_best"] = elapsed_best > 0 ? static_cast<double>(bytes) / elapsed_best / 1e9 : 0.0;
    json res = json::object();
    for (size_t a = 0; a < names.size(); ++a) {
      json list = json::array();
      for (const auto& r : results[a]) list.push_back(ResultSummary(r));
      res[names[a]] = list;
    }
    j["results"] = res;
    j["outputs"] = written;
    std::cout << j.dump(2) << std::endl;
    return 0;
  }
  for (size_t a = 0; a < names.size(); ++a) {
    for (const auto& r : results[a]) {
      const json s = ResultSummary(r);
      std::cout << fmt::format("{:<28} shape {:<14} {}", ResultKey(names[a], r.name),
                               FormatDims(r.data.shape()), Name(r.data.dtype()));
      if (s.contains("min")) {
        std::cout << fmt::format("  min {:<12.6g} max {:<12.6g} mean {:.6g}", s["min"].get<double>(),
                                 s["max"].get<double>(), s["mean"].get<double>());
      }
      std::cout << "\n";
    }
  }
  std::cout << fmt::format("processed {} frames ({:.3f} GB) in {:.3f} s: {:.2f} GB/s on {} x {}\n",
                           frames, static_cast<double>(bytes) / 1e9, elapsed,
                           elapsed > 0 ? static_cast<double>(bytes) / elapsed / 1e9 : 0.0,
                           executor->concurrency(), executor->name());
  for (const auto& w : written) std::cout << "wrote " << w << "\n";
  return 0;
}

// --- generate / convert ---------------------------------------------------------------------

struct GenerateOptions {
  std::string kind;
  std::string output;
  std::string scan = "128x128";
  std::string frame = "256x256";
  std::string dtype = "float32";
  uint64_t seed = 0;
};

void WriteWithProgress(const dataset::Dataset& ds, const std::string& output, const Context& context) {
  ProgressBar bar("writing");
  formats::WriteDataset(
      ds, output,
      [&](int64_t done, int64_t total) {
        bar.Update(done, total, fmt::format("frames {}/{}", done, total));
      },
      context.cancel);
  bar.Finish();
}

int RunGenerate(const GenerateOptions& options, const Context& context) {
  if (options.kind != "4dstem") {
    throw Error::InvalidArgument(fmt::format("unknown kind '{}' (4dstem)", options.kind), "kind");
  }
  dataset::SyntheticParams params;
  params.scan = ParseDims(options.scan, "--scan");
  params.frame = ParseDims(options.frame, "--frame");
  const auto dtype = ParseDType(options.dtype);
  if (!dtype) throw Error::InvalidArgument(fmt::format("unknown dtype '{}'", options.dtype), "--dtype");
  params.dtype = *dtype;
  params.seed = options.seed;
  auto ds = dataset::Synthetic4dstem::Make(params);
  WriteWithProgress(*ds, options.output, context);
  std::cout << fmt::format("wrote {} ({} scan, {} frames, {})\n", options.output,
                           FormatDims(params.scan), FormatDims(params.frame), Name(params.dtype));
  return 0;
}

struct ConvertOptions {
  DatasetOptions dataset;
  std::string output;
};

int RunConvert(const ConvertOptions& options, const Context& context) {
  auto ds = OpenDataset(options.dataset);
  WriteWithProgress(*ds, options.output, context);
  std::cout << fmt::format("wrote {}\n", options.output);
  return 0;
}

// --- ops --------------------------------------------------------------------------------------

int RunOpsList(bool as_json) {
  if (as_json) {
    std::cout << Operators().ToJson() << std::endl;
    return 0;
  }
  for (const auto* e : Operators().entries()) {
    std::cout << fmt::format("{:<18} {}\n", e->name, e->summary);
    for (const auto& p : e->params) {
      std::cout << fmt::format("    {:<14} {}{}\n", p.name, p.description,
                               p.default_value.empty() ? "" : fmt::format(" [default: {}]", p.default_value));
    }
  }
  return 0;
}

}  // namespace

std::string VersionString() {
  return fmt::format("tessera {} (git {})", TESSERA_VERSION, TESSERA_GIT_HASH);
}

void AddCommands(CLI::App& app, Context& context) {
  // Options live as long as the app: CLI11 binds to them by reference.
  static InfoOptions info;
  static RunCommandOptions run;
  static GenerateOptions generate;
  static ConvertOptions convert;
  static bool ops_json = false;

  auto* info_cmd = app.add_subcommand("info", "Describe a dataset: format, shapes, dtype, axes, metadata");
  info_cmd->add_option("file", info.dataset.path, "Dataset file (HDF5: FILE.h5:/path/to/data)")->required();
  AddDatasetOptions(info_cmd, info.dataset);
  info_cmd->add_flag("--json", info.json, "Print JSON");
  info_cmd->callback([&] {
    context.json_errors = info.json;
    context.run = [] { return RunInfo(info); };
  });

  auto* run_cmd = app.add_subcommand("run", "Run analyses in one pass over a dataset");
  run_cmd->add_option("analyses", run.analyses, "Comma-separated analyses, e.g. sum,com (see `tessera ops list`)")->required();
  run_cmd->add_option("file", run.dataset.path, "Dataset file")->required();
  AddDatasetOptions(run_cmd, run.dataset);
  run_cmd->add_option("-p,--param", run.params, "Analysis parameter [ANALYSIS.]NAME=VALUE (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run_cmd->add_option("--roi", run.roi, "Scan region to process, e.g. 10:20,0:64 (others are not read)");
  run_cmd->add_option("--dark", run.dark, "Dark frame file, subtracted from every frame");
  run_cmd->add_option("--gain", run.gain, "Gain map file, multiplied into every frame after dark");
  run_cmd->add_option("--excluded-pixels", run.excluded_pixels,
                      "Dead/hot pixels 'y,x;y,x' or a mask file; replaced by their neighbours' mean");
  run_cmd->add_option("--executor", run.executor, "threads (default) or inline");
  run_cmd->add_option("--threads", run.threads, "Worker threads (default: all cores)");
  run_cmd->add_option("--partition-mib", run.partition_mib, "Partition size in MiB (default 64)");
  run_cmd->add_option("-o,--output", run.outputs,
                      "Write results: OUT.h5 (all + provenance), .npy, .png, .tif (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run_cmd->add_option("--repeat", run.repeat,
                      "Run the pass N times over the mapped file and report each time (benchmarks)")
      ->check(CLI::Range(1, 1000));
  run_cmd->add_flag("--json", run.json, "Print a JSON summary (timings, result statistics)");
  run_cmd->add_flag("-q,--quiet", run.quiet, "No progress bar");
  run_cmd->callback([&] {
    context.json_errors = run.json;
    context.run = [&] { return RunRun(run, context); };
    context.distributed = true;
  });

  auto* gen_cmd = app.add_subcommand("generate", "Write a synthetic dataset with known answers");
  gen_cmd->add_option("kind", generate.kind, "What to simulate: 4dstem")->required();
  gen_cmd->add_option("output", generate.output, "OUT.raw, OUT.npy or OUT.h5")->required();
  gen_cmd->add_option("--scan", generate.scan, "Scan shape (default 128x128)");
  gen_cmd->add_option("--frame", generate.frame, "Frame shape (default 256x256)");
  gen_cmd->add_option("--dtype", generate.dtype, "float32 (default), uint16, ...");
  gen_cmd->add_option("--seed", generate.seed, "Random seed (default 0)");
  gen_cmd->callback([&] { context.run = [&] { return RunGenerate(generate, context); }; });

  auto* conv_cmd = app.add_subcommand("convert", "Convert a dataset to .raw, .npy or .h5");
  conv_cmd->add_option("input", convert.dataset.path, "Input dataset")->required();
  conv_cmd->add_option("output", convert.output, "OUT.raw, OUT.npy or OUT.h5")->required();
  AddDatasetOptions(conv_cmd, convert.dataset);
  conv_cmd->callback([&] { context.run = [&] { return RunConvert(convert, context); }; });

  auto* ops_cmd = app.add_subcommand("ops", "List the analyses and their parameters");
  ops_cmd->require_subcommand(1);
  auto* list_cmd = ops_cmd->add_subcommand("list", "List analyses");
  list_cmd->add_flag("--json", ops_json, "Print JSON");
  list_cmd->callback([&] { context.run = [] { return RunOpsList(ops_json); }; });
  AddPipelineCommands(app, context);
}

}  // namespace tessera::cli
