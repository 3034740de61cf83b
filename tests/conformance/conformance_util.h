// SPDX-License-Identifier: MIT
// Helpers shared by the conformance suites: the list files kept next to the tests and gtest
// parameter names.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tessera/core/strings.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::conformance {

using formats::testing::TestDataDir;

/// Return the path of a file kept in tests/conformance/.
inline std::string ConformanceFile(const std::string& name) {
  return std::string(TESSERA_CONFORMANCE_DIR) + "/" + name;
}

/// One line of a list file: `first | second | third ...`, fields trimmed; '#' starts a comment
/// line; blank lines are skipped.
struct ListLine {
  int line_number = 0;
  std::vector<std::string> fields;
};

inline std::vector<ListLine> ReadListFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  std::vector<ListLine> lines;
  std::string text;
  int number = 0;
  while (std::getline(in, text)) {
    ++number;
    const std::string trimmed(Trim(text));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    ListLine line{.line_number = number};
    size_t begin = 0;
    while (true) {
      const size_t bar = trimmed.find('|', begin);
      line.fields.emplace_back(Trim(trimmed.substr(begin, bar - begin)));
      if (bar == std::string::npos) break;
      begin = bar + 1;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

/// A gtest parameter name from free text: letters, digits and '_' only, unique within `used`.
inline std::string TestName(const std::string& text, std::set<std::string>& used) {
  std::string name;
  for (const char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '_') {
      name += '_';
    }
  }
  while (!name.empty() && name.back() == '_') name.pop_back();
  if (name.empty()) name = "case";
  std::string unique = name;
  for (int i = 2; !used.insert(unique).second; ++i) unique = name + "_" + std::to_string(i);
  return unique;
}

}  // namespace tessera::conformance
