// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::arrayops {

/// A small column table of float64 values (peak lists, fit results), stored column by column.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::string> units;           // one per column ("px", "eV", "")
  std::vector<std::vector<double>> values;  // values[column][row]

  /// Return the number of rows (0 for a table without columns).
  int64_t rows() const;
  /// Append a column; throws kInvalidArgument when `name` is empty or taken ("name") or when
  /// `values` differs in length from the columns already present ("values").
  void AddColumn(std::string name, std::string unit, std::vector<double> column_values);
  /// Return whether a column called `name` exists.
  bool HasColumn(std::string_view name) const;
  /// Return the column called `name`; throws kInvalidArgument ("name") when there is none.
  const std::vector<double>& Column(std::string_view name) const;
};

}  // namespace tessera::arrayops
