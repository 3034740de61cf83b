// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace tessera {

/// A 128-bit XXH3 digest.
struct Digest128 {
  uint64_t high = 0;
  uint64_t low = 0;
  /// Format as 32 lower-case hex digits, high half first (as `xxh128sum` prints).
  std::string ToHex() const;
  bool operator==(const Digest128&) const = default;
};

/// Incremental XXH3-128 hasher.
class Xxh3Hasher {
 public:
  Xxh3Hasher();
  ~Xxh3Hasher();
  Xxh3Hasher(const Xxh3Hasher&) = delete;
  Xxh3Hasher& operator=(const Xxh3Hasher&) = delete;

  void Update(std::span<const std::byte> bytes);
  Digest128 Finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Hash a whole file; throws kNotFound / kIo naming the file.
Digest128 ChecksumFile(const std::string& path);

}  // namespace tessera
