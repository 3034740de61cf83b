// SPDX-License-Identifier: MIT
#include "tessera/formats/results_writer.h"

#include <filesystem>
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

namespace {

// Read every dataset below `group` (recursing into subgroups, "sub/name") in name order.
void ReadResultGroup(const std::string& path, hid_t group, const std::string& prefix, StoredResults& out) {
  H5G_info_t info{};
  Check(H5Gget_info(group, &info), path, "/results/" + prefix, "cannot list");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len <= 0) continue;
    std::string name(static_cast<size_t>(len), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    const std::string object = "/results/" + prefix + name;
    H5O_info_t object_info{};
    if (H5Oget_info_by_name2(group, name.c_str(), &object_info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) continue;
    if (object_info.type == H5O_TYPE_GROUP) {
      Hid sub = Check(H5Gopen2(group, name.c_str(), H5P_DEFAULT), path, object, "cannot open");
      ReadResultGroup(path, sub.get(), prefix + name + "/", out);
      continue;
    }
    if (object_info.type != H5O_TYPE_DATASET) continue;
    Hid dset = Check(H5Dopen2(group, name.c_str(), H5P_DEFAULT), path, object, "cannot open");
    Hid type = Check(H5Dget_type(dset.get()), path, object, "cannot read the type");
    bool big_endian = false;
    const auto dtype = internal::DTypeOfHdf5(type.get(), &big_endian);
    if (!dtype) throw Error::Unsupported("element type not supported: " + object, path);
    Hid space = Check(H5Dget_space(dset.get()), path, object, "cannot read the shape");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 8) throw Error::CorruptFile(path, std::nullopt, object, "bad rank");
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    NdArray array(*dtype, std::vector<int64_t>(dims.begin(), dims.end()));
    Hid mem_type = internal::MemoryTypeOf(*dtype);
    if (array.size() > 0) {
      Check(H5Dread(dset.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, array.raw()), path, object,
            "cannot read");
    }
    out.names.push_back(prefix + name);
    out.arrays.push_back(std::move(array));
  }
}

}  // namespace

StoredResults ReadResultsHdf5(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error::NotFound("no such result file", path);
  StoredResults out;
  internal::NameFileInErrors(path, [&] {
    Hid file = Check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path, "/", "cannot open as HDF5");
    if (H5Lexists(file.get(), "provenance", H5P_DEFAULT) <= 0 ||
        H5Lexists(file.get(), "results", H5P_DEFAULT) <= 0) {
      throw Error::CorruptFile(path, std::nullopt, "/provenance",
                               "not a Tessera result file (no /results and /provenance groups)");
    }
    Hid prov = Check(H5Gopen2(file.get(), "provenance", H5P_DEFAULT), path, "/provenance", "cannot open");
    auto text = [&](const char* name) { return internal::ReadStringAttr(prov.get(), name).value_or(""); };
    out.provenance.command_line = text("command_line");
    out.provenance.tessera_version = text("tessera_version");
    out.provenance.git_hash = text("git_hash");
    out.provenance.start_time = text("start_time");
    out.provenance.end_time = text("end_time");
    out.provenance.host = text("host");
    out.provenance.parameters_json = text("parameters");
    if (H5Lexists(prov.get(), "inputs", H5P_DEFAULT) > 0) {
      Hid inputs = Check(H5Gopen2(prov.get(), "inputs", H5P_DEFAULT), path, "/provenance/inputs", "cannot open");
      H5G_info_t info{};
      Check(H5Gget_info(inputs.get(), &info), path, "/provenance/inputs", "cannot list");
      for (hsize_t i = 0; i < info.nlinks; ++i) {
        const std::string name = std::to_string(i);
        if (H5Lexists(inputs.get(), name.c_str(), H5P_DEFAULT) <= 0) continue;
        Hid g = Check(H5Gopen2(inputs.get(), name.c_str(), H5P_DEFAULT), path, "/provenance/inputs/" + name,
                      "cannot open");
        out.provenance.inputs.push_back(ProvenanceInput{
            .path = internal::ReadStringAttr(g.get(), "path").value_or(""),
            .size = static_cast<int64_t>(internal::ReadDoubleAttr(g.get(), "size").value_or(-1)),
            .xxh3_128 = internal::ReadStringAttr(g.get(), "xxh3_128").value_or("")});
      }
    }
    Hid results = Check(H5Gopen2(file.get(), "results", H5P_DEFAULT), path, "/results", "cannot open");
    ReadResultGroup(path, results.get(), "", out);
  });
  return out;
}

}  // namespace tessera::formats
