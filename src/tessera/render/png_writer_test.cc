// SPDX-License-Identifier: MIT
#include "tessera/render/png_writer.h"

#include <gtest/gtest.h>
#include <png.h>

#include <filesystem>

#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::ExpectInvalid;
using testing::TempDir;

// A test pattern in which every channel of every pixel differs from its neighbours.
RgbImage Pattern(int64_t height, int64_t width) {
  RgbImage image = RgbImage::Filled(height, width);
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      image.Set(y, x,
                {static_cast<uint8_t>(y * 7 + x), static_cast<uint8_t>(x * 13 + 5),
                 static_cast<uint8_t>(y * x + 200)});
    }
  }
  return image;
}

// Decode with libpng's simplified API into 8-bit RGB.
RgbImage Decode(png_image& png) {
  png.format = PNG_FORMAT_RGB;
  RgbImage image = RgbImage::Filled(png.height, png.width);
  EXPECT_NE(png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr), 0)
      << png.message;
  return image;
}

RgbImage DecodeMemory(const std::vector<uint8_t>& bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  EXPECT_NE(png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()), 0) << png.message;
  return Decode(png);
}

RgbImage DecodeFile(const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  EXPECT_NE(png_image_begin_read_from_file(&png, path.c_str()), 0) << png.message;
  return Decode(png);
}

int64_t EntriesIn(const std::string& directory) {
  int64_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(directory)) ++count;
  return count;
}

TEST(Png, EncodesLosslessly) {
  const RgbImage image = Pattern(37, 61);
  const std::vector<uint8_t> bytes = EncodePng(image);
  ASSERT_GT(bytes.size(), 8u);
  EXPECT_EQ(bytes[1], 'P');
  EXPECT_EQ(bytes[2], 'N');
  EXPECT_EQ(bytes[3], 'G');
  const RgbImage decoded = DecodeMemory(bytes);
  EXPECT_EQ(decoded.height, 37);
  EXPECT_EQ(decoded.width, 61);
  EXPECT_EQ(decoded.pixels, image.pixels);
}

TEST(Png, WritesAtomically) {
  TempDir dir;
  const std::string path = dir.File("plot.png");
  const RgbImage image = Pattern(5, 300);
  WritePng(path, image);
  EXPECT_EQ(DecodeFile(path).pixels, image.pixels);
  EXPECT_EQ(EntriesIn(dir.path()), 1);  // no temp file left
  WritePng(path, Pattern(2, 2));        // replaces the old file
  EXPECT_EQ(DecodeFile(path).pixels, Pattern(2, 2).pixels);
}

TEST(Png, ReportsUnwritablePathsAndLeavesNothingBehind) {
  TempDir dir;
  const std::string missing = dir.File("no/such/dir/out.png");
  try {
    WritePng(missing, Pattern(2, 2));
    ADD_FAILURE() << "expected kIo";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_EQ(error.info().file, missing);
  }
  // A directory where the file should go: the rename fails after the temp file was written.
  const std::string occupied = dir.File("occupied.png");
  std::filesystem::create_directory(occupied);
  std::filesystem::create_directory(occupied + "/child");
  try {
    WritePng(occupied, Pattern(2, 2));
    ADD_FAILURE() << "expected kIo";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kIo);
    EXPECT_EQ(error.info().file, occupied);
  }
  EXPECT_EQ(EntriesIn(dir.path()), 1);  // only the directory itself
}

TEST(Png, RejectsImagesWithoutPixelsOrWithTheWrongBufferSize) {
  ExpectInvalid([] { EncodePng(RgbImage{}); }, "image");
  RgbImage short_buffer = Pattern(4, 4);
  short_buffer.pixels.pop_back();
  ExpectInvalid([&] { EncodePng(short_buffer); }, "image");
  TempDir dir;
  ExpectInvalid([&] { WritePng(dir.File("x.png"), RgbImage{.height = 1, .width = 1}); }, "image");
  EXPECT_EQ(EntriesIn(dir.path()), 0);
}

}  // namespace
}  // namespace tessera::render
