// SPDX-License-Identifier: MIT
#include "tessera/render/colormap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::ExpectInvalid;
using testing::Lightness;

TEST(Colormap, NamesAreStableAndKnown) {
  const std::vector<std::string> expected = {"gray",    "viridis",  "magma",   "inferno",
                                             "cividis", "twilight", "coolwarm"};
  EXPECT_EQ(ColormapNames(), expected);
  for (const std::string& name : expected) EXPECT_TRUE(IsColormap(name)) << name;
  EXPECT_FALSE(IsColormap("jet"));
}

TEST(Colormap, EndsMatchMatplotlib) {
  EXPECT_EQ(MapColour("gray", 0.0), (Rgb{0, 0, 0}));
  EXPECT_EQ(MapColour("gray", 1.0), (Rgb{255, 255, 255}));
  EXPECT_EQ(MapColour("gray", 0.5), (Rgb{128, 128, 128}));
  EXPECT_EQ(MapColour("viridis", 0.0), (Rgb{68, 1, 84}));
  EXPECT_EQ(MapColour("viridis", 1.0), (Rgb{253, 231, 37}));
  EXPECT_EQ(MapColour("magma", 1.0), (Rgb{252, 253, 191}));
  EXPECT_EQ(MapColour("coolwarm", 0.0), (Rgb{59, 76, 192}));
  EXPECT_EQ(MapColour("coolwarm", 1.0), (Rgb{180, 4, 38}));
}

// Entries of matplotlib's 256-colour tables that are not anchors: index, then r, g, b.
struct Reference {
  const char* colormap;
  int index;
  Rgb colour;
};
constexpr Reference kReferences[] = {
    {"viridis", 37, {70, 51, 127}},     {"viridis", 100, {42, 118, 142}},
    {"viridis", 160, {40, 174, 128}},   {"viridis", 222, {168, 219, 52}},
    {"magma", 37, {36, 18, 83}},        {"magma", 100, {137, 40, 129}},
    {"magma", 160, {231, 82, 99}},      {"magma", 222, {254, 193, 133}},
    {"inferno", 37, {41, 11, 85}},      {"inferno", 100, {144, 37, 104}},
    {"inferno", 160, {228, 90, 49}},    {"cividis", 37, {35, 60, 110}},
    {"cividis", 100, {101, 104, 112}},  {"cividis", 160, {155, 148, 118}},
    {"cividis", 222, {220, 200, 89}},   {"twilight", 37, {135, 171, 196}},
    {"twilight", 100, {86, 33, 130}},   {"twilight", 160, {118, 31, 79}},
    {"twilight", 222, {204, 161, 134}}, {"coolwarm", 37, {104, 138, 239}},
    {"coolwarm", 100, {190, 210, 246}}, {"coolwarm", 160, {245, 196, 172}},
    {"coolwarm", 222, {223, 99, 78}},
};

TEST(Colormap, ApproximatesMatplotlibWithinTwoUnits) {
  for (const Reference& ref : kReferences) {
    const Rgb got = MapColour(ref.colormap, ref.index / 255.0);
    EXPECT_LE(std::abs(got.r - ref.colour.r), 2) << ref.colormap << " " << ref.index;
    EXPECT_LE(std::abs(got.g - ref.colour.g), 2) << ref.colormap << " " << ref.index;
    EXPECT_LE(std::abs(got.b - ref.colour.b), 2) << ref.colormap << " " << ref.index;
  }
}

TEST(Colormap, SequentialMapsRiseInLightness) {
  for (const char* name : {"gray", "viridis", "magma", "inferno", "cividis"}) {
    // Coarse steps rise strictly; fine steps never drop by more than 8-bit rounding.
    for (int i = 0; i < 32; ++i) {
      EXPECT_LT(Lightness(MapColour(name, i / 32.0)), Lightness(MapColour(name, (i + 1) / 32.0)))
          << name << " at " << i << "/32";
    }
    for (int i = 0; i < 1024; ++i) {
      EXPECT_GT(Lightness(MapColour(name, (i + 1) / 1024.0)),
                Lightness(MapColour(name, i / 1024.0)) - 0.5)
          << name << " at " << i << "/1024";
    }
  }
}

TEST(Colormap, TwilightIsCyclicAndCoolwarmDiverges) {
  EXPECT_EQ(MapColour("twilight", 0.0), MapColour("twilight", 1.0));
  const Rgb cold = MapColour("coolwarm", 0.0);
  const Rgb middle = MapColour("coolwarm", 0.5);
  const Rgb warm = MapColour("coolwarm", 1.0);
  EXPECT_GT(cold.b, cold.r);
  EXPECT_GT(warm.r, warm.b);
  EXPECT_GT(Lightness(middle), Lightness(cold) + 20);
  EXPECT_GT(Lightness(middle), Lightness(warm) + 20);
}

TEST(Colormap, ClampsAndMarksNaN) {
  EXPECT_EQ(MapColour("viridis", -3.0), MapColour("viridis", 0.0));
  EXPECT_EQ(MapColour("viridis", 7.0), MapColour("viridis", 1.0));
  EXPECT_EQ(MapColour("viridis", INFINITY), MapColour("viridis", 1.0));
  EXPECT_EQ(MapColour("gray", std::nan("")), kBadColour);
}

TEST(Colormap, TableSpansTheMap) {
  const std::vector<Rgb> table = ColourTable("inferno", 5);
  ASSERT_EQ(table.size(), 5u);
  EXPECT_EQ(table.front(), MapColour("inferno", 0.0));
  EXPECT_EQ(table[2], MapColour("inferno", 0.5));
  EXPECT_EQ(table.back(), MapColour("inferno", 1.0));
}

TEST(Colormap, RejectsUnknownNamesAndSizes) {
  ExpectInvalid([] { MapColour("jet", 0.5); }, "colormap");
  ExpectInvalid([] { ColourTable("Viridis", 16); }, "colormap");
  ExpectInvalid([] { ColourTable("gray", 1); }, "n");
}

}  // namespace
}  // namespace tessera::render
