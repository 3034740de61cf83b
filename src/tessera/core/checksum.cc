// SPDX-License-Identifier: MIT
#include "tessera/core/checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/error.h"

namespace tessera {

std::string Digest128::ToHex() const { return fmt::format("{:016x}{:016x}", high, low); }

struct Xxh3Hasher::State {
  XXH3_state_t* state = nullptr;
};

Xxh3Hasher::Xxh3Hasher() : state_(std::make_unique<State>()) {
  state_->state = XXH3_createState();
  if (state_->state == nullptr) throw Error(ErrorCode::kOutOfMemory, "cannot allocate XXH3 state");
  XXH3_128bits_reset(state_->state);
}

Xxh3Hasher::~Xxh3Hasher() { XXH3_freeState(state_->state); }

void Xxh3Hasher::Update(std::span<const std::byte> bytes) {
  XXH3_128bits_update(state_->state, bytes.data(), bytes.size());
}

Digest128 Xxh3Hasher::Finish() const {
  const XXH128_hash_t h = XXH3_128bits_digest(state_->state);
  return {h.high64, h.low64};
}

Digest128 ChecksumFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw Error::NotFound("no such file", path);
    throw Error::Io(fmt::format("cannot open: {}", std::strerror(err)), path);
  }
  Xxh3Hasher hasher;
  std::vector<std::byte> buffer(4 << 20);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw Error::Io(fmt::format("read failed: {}", std::strerror(err)), path);
    }
    if (n == 0) break;
    hasher.Update({buffer.data(), static_cast<size_t>(n)});
  }
  ::close(fd);
  return hasher.Finish();
}

}  // namespace tessera
