// SPDX-License-Identifier: MIT
// Shared HDF5 plumbing of the formats layer. Private: included only by formats .cc files, so the
// HDF5 headers never reach the rest of the code base.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/dataset/dataset.h"

namespace tessera::formats::internal {

/// Serialises every HDF5 call of the process (Debian's serial libhdf5 is not safe to call from
/// several threads) and silences HDF5's automatic error printing for the calling thread.
/// Construct one before touching HDF5 and keep it alive until every Hid is closed.
class Hdf5Lock {
 public:
  Hdf5Lock();

 private:
  std::unique_lock<std::recursive_mutex> lock_;
};

/// An owned HDF5 identifier, closed with the right H5*close when destroyed.
class Hid {
 public:
  Hid() = default;
  explicit Hid(hid_t id) : id_(id) {}
  Hid(Hid&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Hid& operator=(Hid&& other) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { Close(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void Close() noexcept;
  /// Give up ownership (after closing the id by hand).
  hid_t Release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Return the innermost message on the calling thread's HDF5 error stack ("" if none).
std::string Hdf5ErrorDetail();

/// Throw `code` naming the file and the HDF5 object, with HDF5's own explanation appended.
[[noreturn]] void ThrowHdf5(ErrorCode code, const std::string& file, const std::string& object,
                            const std::string& what);

/// Call `fn`; an Error that names no file gets `file` (attribute helpers do not know it).
template <class Fn>
void NameFileInErrors(const std::string& file, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    if (!e.info().file.empty()) throw;
    ErrorInfo info = e.info();
    info.file = file;
    throw Error(std::move(info));
  }
}

/// Return `id` wrapped, or throw kIo (via ThrowHdf5) when it is negative.
Hid Check(hid_t id, const std::string& file, const std::string& object, const std::string& what);
/// Throw kIo (via ThrowHdf5) when `status` is negative.
void Check(herr_t status, const std::string& file, const std::string& object,
           const std::string& what);

/// Return the dtype and byte order of an HDF5 type (integers, floats, {r,i} compounds as
/// complex, 1-byte enums as bool), or nullopt when Tessera has no matching dtype.
std::optional<DType> DTypeOfHdf5(hid_t type, bool* big_endian);
/// Return a new memory type (native byte order) for `dtype`.
Hid MemoryTypeOf(DType dtype);
/// Return a new little-endian file type for `dtype`.
Hid FileTypeOf(DType dtype);

void WriteStringAttr(hid_t object, const std::string& name, const std::string& value);
void WriteDoubleAttr(hid_t object, const std::string& name, double value);
void WriteInt64Attr(hid_t object, const std::string& name, int64_t value);
/// Write axis_<i>_name/scale/offset/units for each axis.
void WriteAxisAttrs(hid_t object, std::span<const dataset::Axis> axes);

std::optional<std::string> ReadStringAttr(hid_t object, const std::string& name);
std::optional<double> ReadDoubleAttr(hid_t object, const std::string& name);

/// Return a string attribute or an array of strings (NeXus "axes"), empty when absent.
std::vector<std::string> ReadStringArrayAttr(hid_t object, const std::string& name);

/// Make HDF5 find the filter plugins of the system (Debian/Ubuntu hdf5-filter-plugin,
/// /usr/lib/<multiarch>/hdf5/serial/plugins; Fedora /usr/lib64/hdf5/plugin) when the library's
/// own default and HDF5_PLUGIN_PATH do not name them. Idempotent; the Hdf5Lock calls it.
void AddSystemPluginPaths();
/// Return the directories HDF5 searches for filter plugins, ':'-separated.
std::string PluginSearchPath();
/// Return a readable name of HDF5 filter `id` ("lz4", "bitshuffle", "blosc", ...).
std::string FilterName(H5Z_filter_t id);
/// Throw kUnsupported naming the file, dataset and filter id when the dataset's creation
/// properties `dcpl` use a filter HDF5 cannot load (no plugin installed).
void CheckFiltersAvailable(hid_t dcpl, const std::string& file, const std::string& dataset);

/// Return every attribute of `object` as a JSON object text (strings, numbers, numeric arrays).
std::string AttributesAsJson(hid_t object);

/// Return the boxes (start, count per nav axis) that cover flat frames [begin, end) of a C-order
/// navigation grid `nav`: at most 2 * nav.size() - 1 boxes.
struct NavBox {
  std::vector<hsize_t> start;
  std::vector<hsize_t> count;
  int64_t frames = 0;
};
std::vector<NavBox> CoverFrames(std::span<const int64_t> nav, int64_t begin, int64_t end);

}  // namespace tessera::formats::internal
