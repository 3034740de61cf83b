// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/udf/udf.h"

namespace tessera::ops {

/// The type of one analysis parameter, as written on the command line.
enum class ParamType : uint8_t {
  kInt,        // "42"
  kFloat,      // "3.5", "1e-3"
  kBool,       // "true"/"false", "1"/"0", "yes"/"no", "on"/"off"
  kString,     // any text
  kFloatList,  // "1.5,2,3"
  kIntList,    // "1,2,3"
  kShape,      // "128x128" or "128,128"
  kArrayFile,  // a path; the caller loads the array and attaches it (see Params::AttachArray)
};

/// Return the schema name of a parameter type ("int", "float", "float-list", ...).
std::string_view Name(ParamType type);

/// One parameter of an analysis: its schema entry.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  /// Default as text; empty means required, unless `optional` is set.
  std::string default_value;
  std::string description;  // includes the units
  /// May be left out even without a default: the analysis then derives it from the dataset
  /// (e.g. a centre defaulting to the frame centre).
  bool optional = false;
  bool required() const { return default_value.empty() && !optional; }
};

/// A publication to cite when an analysis is used.
struct Citation {
  std::string doi;
  std::string bibtex;
};

/// User-given parameter values of one analysis, checked against its ParamSpecs, with typed
/// getters that fall back to the spec's default. Every error is kInvalidArgument naming the
/// parameter.
class Params {
 public:
  Params() = default;
  /// Check `values` against `specs` (unknown names, unparsable values, missing required ones).
  /// `specs` must outlive the Params. `analysis` is used in messages only.
  Params(const std::vector<ParamSpec>* specs, std::map<std::string, std::string> values,
         std::string analysis = {});

  /// Return whether the user gave `name` (defaults do not count).
  bool Has(std::string_view name) const;
  /// Return whether `name` has a value, given or by default.
  bool HasValue(std::string_view name) const;
  int64_t GetInt(std::string_view name) const;
  double GetFloat(std::string_view name) const;
  bool GetBool(std::string_view name) const;
  std::string GetString(std::string_view name) const;
  std::vector<double> GetFloatList(std::string_view name) const;
  std::vector<int64_t> GetIntList(std::string_view name) const;
  std::vector<int64_t> GetShape(std::string_view name) const;
  /// Return the value if given or defaulted, else nullopt (for `optional` parameters).
  std::optional<double> FindFloat(std::string_view name) const;
  std::optional<int64_t> FindInt(std::string_view name) const;

  /// Attach the array loaded from a kArrayFile parameter (or built in C++).
  void AttachArray(const std::string& name, NdArray array);
  /// Return the attached array, or nullptr.
  const NdArray* FindArray(std::string_view name) const;

  const std::map<std::string, std::string, std::less<>>& values() const { return values_; }
  const std::string& analysis() const { return analysis_; }

 private:
  const ParamSpec& Spec(std::string_view name) const;
  /// Return the given or default text of `name`; throws if it has none.
  const std::string& Text(std::string_view name) const;

  const std::vector<ParamSpec>* specs_ = nullptr;
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, std::shared_ptr<const NdArray>, std::less<>> arrays_;
  std::string analysis_;
};

/// One analysis: its documentation, parameter schema and factory.
struct AnalysisEntry {
  std::string name;  // "virtual-detector": lower case, digits and '-'
  std::string version;
  std::string summary;      // one line
  std::string description;  // paragraphs, parameter syntax, units
  std::vector<ParamSpec> params;
  std::vector<Citation> citations;
  std::vector<std::string> outputs;  // result names
  std::function<std::unique_ptr<udf::Udf>(const Params&)> make;
};

/// The built-in analyses, filled by explicit Register*Ops calls. Everything that lists analyses
/// (CLI help, `tessera ops list --json`, docs, UI) reads it.
class OperatorRegistry {
 public:
  /// Add an entry; throws kInvalidArgument (field "analysis") on a duplicate name, missing docs,
  /// or a default that does not parse.
  void Add(AnalysisEntry entry);
  /// Return the entry called `name`, or nullptr.
  const AnalysisEntry* Find(std::string_view name) const;
  /// Return every entry, sorted by name.
  std::vector<const AnalysisEntry*> entries() const;
  /// Check `params` against the entry's schema and make the UDF. Unknown analysis:
  /// kInvalidArgument "unknown analysis 'x' (known: ...)" naming the field "analysis".
  std::unique_ptr<udf::Udf> Make(std::string_view name,
                                 const std::map<std::string, std::string>& params,
                                 std::map<std::string, NdArray> arrays = {}) const;
  /// Return the checked Params for an analysis (for callers that attach arrays themselves).
  Params MakeParams(std::string_view name, const std::map<std::string, std::string>& params) const;
  /// Return every entry as a JSON array (for `tessera ops list --json`).
  std::string ToJson() const;

 private:
  const AnalysisEntry& Get(std::string_view name) const;

  std::map<std::string, std::unique_ptr<AnalysisEntry>, std::less<>> entries_;
};

/// sum, frame-sum, stats, noop.
void RegisterStatsOps(OperatorRegistry& registry);
/// virtual-detector.
void RegisterMaskOps(OperatorRegistry& registry);
/// com.
void RegisterComOps(OperatorRegistry& registry);
/// radial-profile.
void RegisterRadialOps(OperatorRegistry& registry);
/// pick.
void RegisterPickOps(OperatorRegistry& registry);
/// Every analysis above.
void RegisterBuiltinOps(OperatorRegistry& registry);
/// A registry with every built-in analysis, made once (thread-safe) and shared by the CLI, the
/// pipeline operators and the Python module.
const OperatorRegistry& BuiltinAnalyses();

}  // namespace tessera::ops
