// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// The colour of NaN pixels in every colormap (magenta: no colormap contains it).
inline constexpr Rgb kBadColour{255, 0, 255};

/// Return the names of the colormaps MapColour knows, in a stable order: "gray", "viridis",
/// "magma", "inferno", "cividis", "twilight" (cyclic, for angles), "coolwarm" (diverging).
std::vector<std::string> ColormapNames();

/// Return whether `colormap` names a known colormap.
bool IsColormap(std::string_view colormap);

/// Map `t` in [0, 1] to a colour. `t` is clamped to [0, 1]; NaN maps to kBadColour.
/// The maps interpolate linearly between sRGB anchors sampled from matplotlib's definitions and
/// match matplotlib's 256-entry tables to within 2 units of 8 bits.
/// Throws kInvalidArgument ("colormap") for an unknown name.
Rgb MapColour(std::string_view colormap, double t);

/// Return `n` >= 2 colours evenly spaced over [0, 1] (entry 0 is t = 0, entry n - 1 is t = 1):
/// a lookup table for per-pixel mapping and for clients that colour-map themselves.
/// Throws kInvalidArgument ("colormap", "n").
std::vector<Rgb> ColourTable(std::string_view colormap, int64_t n = 256);

}  // namespace tessera::render
