// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tessera/core/error.h"
#include "tessera/io/atomic_file.h"
#include "tessera/io/mapped_file.h"

namespace tessera::io {
namespace {

std::filesystem::path TempDir() {
  auto dir = std::filesystem::temp_directory_path() / ("tessera-io-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(MappedFile, MapsBytesAndReportsMissingFiles) {
  const auto path = (TempDir() / "data.bin").string();
  WriteFileAtomically(path, "hello");
  auto file = MappedFile::Open(path);
  ASSERT_EQ(file->size(), 5);
  EXPECT_EQ(static_cast<char>(file->bytes()[1]), 'e');
  file->Prefetch(0, 5);
  try {
    MappedFile::Open(path + ".missing");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("data.bin.missing"), std::string::npos);
  }
  EXPECT_THROW(MappedFile::Open(TempDir().string()), Error);  // a directory
}

TEST(AtomicFile, UncommittedFilesVanish) {
  const auto dir = TempDir();
  const auto final_path = (dir / "result.h5").string();
  std::string temp;
  {
    auto file = AtomicFile::Create(final_path);
    temp = file.temp_path();
    std::ofstream(temp) << "partial";
    EXPECT_TRUE(std::filesystem::exists(temp));
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(final_path));
  {
    auto file = AtomicFile::Create(final_path);
    std::ofstream(file.temp_path()) << "complete";
    file.Commit();
  }
  EXPECT_TRUE(std::filesystem::exists(final_path));
  EXPECT_THROW(AtomicFile::Create("/nonexistent-dir/x.h5"), Error);
}

TEST(ReadExactly, ShortReadNamesOffset) {
  const auto path = (TempDir() / "short.bin").string();
  WriteFileAtomically(path, "abc");
  FILE* f = std::fopen(path.c_str(), "rb");
  std::byte buffer[8];
  try {
    ReadExactly(fileno(f), path, 1, buffer);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptFile);
    EXPECT_EQ(e.info().offset, 3);
  }
  std::fclose(f);
}

}  // namespace
}  // namespace tessera::io
