// SPDX-License-Identifier: MIT
#include "tessera/formats/results_writer.h"

#include <set>

#include <fmt/format.h>

#include "tessera/formats/hdf5/hdf5_internal.h"
#include "tessera/io/atomic_file.h"

namespace tessera::formats {
namespace {

using internal::Check;
using internal::Hid;

void ValidateResults(const std::string& path, std::span<const ResultArray> results) {
  std::set<std::string> names;
  for (const auto& result : results) {
    // Names may hold one level of grouping ("com/field_y": /results/com/field_y).
    const bool bad_part = result.name.empty() || result.name.front() == '/' ||
                          result.name.back() == '/' || result.name.find("//") != std::string::npos ||
                          result.name.find("./") != std::string::npos || result.name == "." ||
                          result.name == "..";
    if (bad_part) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("bad result name '{}'", result.name),
                            .file = path,
                            .field = "name"});
    }
    if (!names.insert(result.name).second) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("result '{}' given twice", result.name),
                            .file = path,
                            .field = "name"});
    }
    if (result.data == nullptr) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("result '{}' has no data", result.name),
                            .file = path,
                            .field = "data"});
    }
    if (!result.axes.empty() && static_cast<int>(result.axes.size()) != result.data->rank()) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kInvalidArgument,
          .message = fmt::format("result '{}' has {} axes for rank {}", result.name,
                                 result.axes.size(), result.data->rank()),
          .file = path,
          .field = "axes"});
    }
  }
}

void WriteResult(hid_t group, const std::string& path, const ResultArray& result) {
  const NdArray& data = *result.data;
  std::vector<hsize_t> dims(data.shape().begin(), data.shape().end());
  Hid space(data.rank() == 0 ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(data.rank(), dims.data(), nullptr));
  const std::string object = "/results/" + result.name;
  Hid file_type = internal::FileTypeOf(data.dtype());
  Hid link_props(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(link_props.get(), 1);
  Hid dset = Check(H5Dcreate2(group, result.name.c_str(), file_type.get(), space.get(),
                              link_props.get(), H5P_DEFAULT, H5P_DEFAULT),
                   path, object, "cannot create dataset");
  Hid mem_type = internal::MemoryTypeOf(data.dtype());
  if (data.size() > 0) {
    Check(H5Dwrite(dset.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.raw()), path,
          object, "cannot write dataset");
  }
  std::vector<dataset::Axis> axes = result.axes;
  if (axes.empty()) {
    axes = dataset::DefaultAxes(Shape({}, std::vector<int64_t>(data.shape())));
  }
  internal::WriteAxisAttrs(dset.get(), axes);
  internal::WriteStringAttr(dset.get(), "units", result.units);
  internal::WriteStringAttr(dset.get(), "description", result.description);
}

}  // namespace

void WriteResultsHdf5(const std::string& path, std::span<const ResultArray> results,
                      const Provenance& provenance) {
  ValidateResults(path, results);
  io::AtomicFile atomic = io::AtomicFile::Create(path);
  internal::NameFileInErrors(path, [&] {
    internal::Hdf5Lock lock;
    Hid file = Check(H5Fcreate(atomic.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT,
                               H5P_DEFAULT),
                     path, "", "cannot create HDF5 file");
    Hid results_group = Check(H5Gcreate2(file.get(), "results", H5P_DEFAULT, H5P_DEFAULT,
                                         H5P_DEFAULT),
                              path, "/results", "cannot create group");
    for (const auto& result : results) WriteResult(results_group.get(), path, result);

    Hid prov = Check(H5Gcreate2(file.get(), "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     path, "/provenance", "cannot create group");
    internal::WriteStringAttr(prov.get(), "command_line", provenance.command_line);
    internal::WriteStringAttr(prov.get(), "tessera_version", provenance.tessera_version);
    internal::WriteStringAttr(prov.get(), "git_hash", provenance.git_hash);
    internal::WriteStringAttr(prov.get(), "start_time", provenance.start_time);
    internal::WriteStringAttr(prov.get(), "end_time", provenance.end_time);
    internal::WriteStringAttr(prov.get(), "host", provenance.host);
    internal::WriteStringAttr(prov.get(), "parameters",
                              provenance.parameters_json.empty() ? "{}"
                                                                 : provenance.parameters_json);
    Hid inputs = Check(H5Gcreate2(prov.get(), "inputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       path, "/provenance/inputs", "cannot create group");
    for (size_t i = 0; i < provenance.inputs.size(); ++i) {
      const auto& input = provenance.inputs[i];
      const std::string name = std::to_string(i);
      Hid group = Check(H5Gcreate2(inputs.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT),
                        path, "/provenance/inputs/" + name, "cannot create group");
      internal::WriteStringAttr(group.get(), "path", input.path);
      internal::WriteInt64Attr(group.get(), "size", input.size);
      internal::WriteStringAttr(group.get(), "xxh3_128", input.xxh3_128);
    }
    inputs.Close();
    prov.Close();
    results_group.Close();
    if (H5Fclose(file.get()) < 0) {
      internal::ThrowHdf5(ErrorCode::kIo, path, "", "cannot finish the HDF5 file");
    }
    (void)file.Release();
  });
  atomic.Commit();
}

}  // namespace tessera::formats
