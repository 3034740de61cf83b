// SPDX-License-Identifier: MIT
#include "tessera/arrayops/table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "tessera/core/error.h"

namespace tessera::arrayops {

int64_t Table::rows() const {
  return values.empty() ? 0 : static_cast<int64_t>(values.front().size());
}

void Table::AddColumn(std::string name, std::string unit, std::vector<double> column_values) {
  if (name.empty()) throw Error::InvalidArgument("a column needs a name", "name");
  if (HasColumn(name)) {
    throw Error::InvalidArgument(fmt::format("the table already has a column '{}'", name), "name");
  }
  if (!values.empty() && static_cast<int64_t>(column_values.size()) != rows()) {
    throw Error::InvalidArgument(
        fmt::format("column '{}' has {} rows, the table {}", name, column_values.size(), rows()),
        "values");
  }
  columns.push_back(std::move(name));
  units.push_back(std::move(unit));
  values.push_back(std::move(column_values));
}

bool Table::HasColumn(std::string_view name) const {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

const std::vector<double>& Table::Column(std::string_view name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) {
    throw Error::InvalidArgument(
        fmt::format("no column '{}' (columns: {})", name, fmt::join(columns, ", ")), "name");
  }
  return values[static_cast<size_t>(it - columns.begin())];
}

}  // namespace tessera::arrayops
