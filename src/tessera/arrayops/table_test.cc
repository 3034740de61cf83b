// SPDX-License-Identifier: MIT
#include "tessera/arrayops/table.h"

#include <gtest/gtest.h>

#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectInvalidArgument;

TEST(TableTest, AddsColumnsOfEqualLength) {
  Table table;
  EXPECT_EQ(table.rows(), 0);
  table.AddColumn("y", "px", {1, 2, 3});
  table.AddColumn("intensity", "", {5, 6, 7});
  EXPECT_EQ(table.rows(), 3);
  EXPECT_EQ(table.columns, (std::vector<std::string>{"y", "intensity"}));
  EXPECT_EQ(table.units, (std::vector<std::string>{"px", ""}));
  EXPECT_EQ(table.Column("intensity"), (std::vector<double>{5, 6, 7}));
  EXPECT_TRUE(table.HasColumn("y"));
  EXPECT_FALSE(table.HasColumn("x"));
}

TEST(TableTest, RejectsBadColumns) {
  Table table;
  table.AddColumn("y", "px", {1, 2});
  ExpectInvalidArgument([&] { table.AddColumn("x", "px", {1, 2, 3}); }, "values", "3 rows");
  ExpectInvalidArgument([&] { table.AddColumn("y", "px", {1, 2}); }, "name", "already");
  ExpectInvalidArgument([&] { table.AddColumn("", "px", {1, 2}); }, "name");
  ExpectInvalidArgument([&] { (void)table.Column("x"); }, "name", "columns: y");
  EXPECT_EQ(table.columns.size(), 1u);  // failed additions leave the table as it was
}

TEST(TableTest, EmptyColumnsMakeAnEmptyTable) {
  Table table;
  table.AddColumn("y", "px", {});
  table.AddColumn("x", "px", {});
  EXPECT_EQ(table.rows(), 0);
}

}  // namespace
}  // namespace tessera::arrayops
