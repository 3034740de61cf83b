// SPDX-License-Identifier: MIT
#include "tessera/render/colormap.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "tessera/core/error.h"

namespace tessera::render {
namespace {

// One anchor: the entry at `index` (t = index / 255) of the colormap's 256-entry table.
struct Anchor {
  int index;
  uint8_t r, g, b;
};

// Anchors are entries of matplotlib's published 256-colour tables (coolwarm: Moreland's diverging
// map), added greedily where linear interpolation between the anchors strayed by more than 2
// units from the table. Storing anchors, not tables, keeps this file small and the maps exact
// where it matters: the ends, and every anchor.
constexpr Anchor kGray[] = {{0, 0, 0, 0}, {255, 255, 255, 255}};
constexpr Anchor kViridis[] = {
    {0, 68, 1, 84},      {23, 72, 33, 115},   {50, 65, 66, 135},   {81, 50, 100, 142},
    {132, 31, 148, 140}, {151, 33, 166, 133}, {166, 47, 180, 124}, {177, 64, 189, 114},
    {190, 90, 200, 100}, {203, 119, 209, 83}, {233, 197, 224, 33}, {239, 213, 226, 26},
    {246, 231, 228, 25}, {255, 253, 231, 37},
};
constexpr Anchor kMagma[] = {
    {0, 0, 0, 4},        {12, 6, 5, 26},       {25, 20, 14, 54},     {42, 44, 17, 95},
    {48, 54, 16, 107},   {58, 71, 16, 120},    {66, 84, 19, 125},    {93, 126, 36, 130},
    {120, 170, 51, 125}, {149, 216, 69, 108},  {170, 241, 96, 93},   {179, 247, 112, 92},
    {192, 252, 137, 97}, {216, 254, 182, 124}, {235, 254, 216, 154}, {255, 252, 253, 191},
};
constexpr Anchor kInferno[] = {
    {0, 0, 0, 4},         {15, 10, 7, 34},      {26, 24, 12, 60},     {40, 47, 10, 91},
    {48, 61, 9, 101},     {64, 87, 16, 110},    {88, 125, 30, 109},   {110, 160, 42, 99},
    {132, 193, 58, 80},   {144, 210, 70, 68},   {166, 234, 99, 42},   {189, 248, 137, 12},
    {199, 251, 155, 6},   {209, 252, 174, 18},  {222, 249, 199, 47},  {232, 245, 219, 76},
    {241, 241, 236, 109}, {246, 242, 244, 130}, {255, 252, 255, 164},
};
constexpr Anchor kCividis[] = {
    {0, 0, 34, 78},       {20, 0, 48, 112},    {23, 1, 50, 113},     {28, 18, 53, 112},
    {44, 45, 65, 109},    {86, 88, 94, 109},   {134, 130, 128, 121}, {151, 146, 141, 120},
    {191, 187, 173, 109}, {219, 217, 197, 92}, {233, 232, 210, 79},  {244, 245, 220, 65},
    {251, 253, 227, 52},  {255, 254, 232, 56},
};
constexpr Anchor kTwilight[] = {
    {0, 226, 217, 226},   {5, 220, 217, 223},   {12, 205, 211, 216},  {22, 176, 197, 205},
    {31, 150, 182, 199},  {42, 124, 162, 194},  {55, 104, 136, 190},  {65, 97, 114, 186},
    {75, 95, 91, 178},    {90, 92, 55, 156},    {96, 89, 41, 142},    {104, 81, 26, 117},
    {116, 61, 17, 78},    {125, 50, 18, 58},    {128, 48, 20, 55},    {133, 54, 17, 57},
    {140, 67, 18, 62},    {151, 95, 23, 74},    {164, 128, 35, 80},   {177, 156, 57, 80},
    {186, 171, 75, 80},   {201, 189, 110, 90},  {208, 195, 127, 100}, {216, 200, 146, 117},
    {234, 212, 189, 173}, {244, 221, 208, 206}, {247, 223, 212, 214}, {255, 226, 217, 226},
};
constexpr Anchor kCoolwarm[] = {
    {0, 59, 76, 192},     {11, 72, 95, 209},    {32, 98, 130, 234},   {42, 111, 146, 243},
    {63, 140, 175, 254},  {90, 177, 203, 252},  {104, 195, 213, 244}, {127, 220, 221, 221},
    {148, 239, 207, 191}, {167, 247, 188, 161}, {183, 247, 166, 136}, {201, 240, 138, 108},
    {229, 215, 84, 69},   {245, 195, 46, 49},   {248, 190, 36, 46},   {255, 180, 4, 38},
};

struct Colormap {
  std::string_view name;
  std::span<const Anchor> anchors;
};

constexpr Colormap kColormaps[] = {
    {"gray", kGray},       {"viridis", kViridis},   {"magma", kMagma},       {"inferno", kInferno},
    {"cividis", kCividis}, {"twilight", kTwilight}, {"coolwarm", kCoolwarm},
};

const Colormap* Find(std::string_view name) {
  for (const Colormap& map : kColormaps) {
    if (map.name == name) return &map;
  }
  return nullptr;
}

const Colormap& FindOrThrow(std::string_view name) {
  if (const Colormap* map = Find(name)) return *map;
  throw Error::InvalidArgument(
      fmt::format("unknown colormap '{}' (known: {})", name, fmt::join(ColormapNames(), ", ")),
      "colormap");
}

uint8_t Lerp(uint8_t a, uint8_t b, double f) {
  return static_cast<uint8_t>(std::lround(a + (b - a) * f));
}

Rgb Interpolate(const Colormap& map, double t) {
  if (std::isnan(t)) return kBadColour;
  const double position = std::clamp(t, 0.0, 1.0) * 255.0;
  const auto upper =
      std::upper_bound(map.anchors.begin() + 1, map.anchors.end() - 1, position,
                       [](double p, const Anchor& anchor) { return p < anchor.index; });
  const Anchor& hi = *upper;
  const Anchor& lo = *(upper - 1);
  const double f = (position - lo.index) / (hi.index - lo.index);
  return {Lerp(lo.r, hi.r, f), Lerp(lo.g, hi.g, f), Lerp(lo.b, hi.b, f)};
}

}  // namespace

std::vector<std::string> ColormapNames() {
  std::vector<std::string> names;
  for (const Colormap& map : kColormaps) names.emplace_back(map.name);
  return names;
}

bool IsColormap(std::string_view colormap) { return Find(colormap) != nullptr; }

Rgb MapColour(std::string_view colormap, double t) { return Interpolate(FindOrThrow(colormap), t); }

std::vector<Rgb> ColourTable(std::string_view colormap, int64_t n) {
  const Colormap& map = FindOrThrow(colormap);
  if (n < 2 || n > 65536) {
    throw Error::InvalidArgument(fmt::format("table size {} is outside [2, 65536]", n), "n");
  }
  std::vector<Rgb> table(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    table[static_cast<size_t>(i)] = Interpolate(map, static_cast<double>(i) / (n - 1));
  }
  return table;
}

}  // namespace tessera::render
