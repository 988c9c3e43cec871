#include "pattern.h"

#include <cstring>

namespace pinlab {

static void SectorBytes(uint8_t out[kSector], uint64_t sector, uint32_t seed) {
  uint64_t offset = sector * kSector;
  std::memcpy(out, "PNLB", 4);
  for (int i = 0; i < 4; i++) out[4 + i] = uint8_t(seed >> (8 * i));
  for (int i = 0; i < 8; i++) out[8 + i] = uint8_t(offset >> (8 * i));
  uint32_t x = (uint32_t(sector) * 2654435761u) ^ (uint32_t(sector >> 32) * 40503u) ^
               (seed * 2246822519u) ^ 0x5bd1e995u;
  for (size_t i = 16; i < kSector; i += 4) {
    x = x * 1664525u + 1013904223u;
    for (int b = 0; b < 4; b++) out[i + b] = uint8_t(x >> (8 * b));
  }
}

// Walks [position, position + length) sector piece by sector piece, handing each piece's expected
// bytes to `piece(done, expected, n)`; a piece returning >= 0 stops the walk with that value.
template <typename Piece>
static int64_t WalkSectors(size_t length, uint64_t position, uint32_t seed, Piece piece) {
  uint8_t sector[kSector];
  size_t done = 0;
  while (done < length) {
    uint64_t pos = position + done;
    size_t in = pos % kSector;
    size_t n = kSector - in;
    if (n > length - done) n = length - done;
    SectorBytes(sector, pos / kSector, seed);
    int64_t stop = piece(done, sector + in, n);
    if (stop >= 0) return stop;
    done += n;
  }
  return -1;
}

void PatternFill(uint8_t* dst, size_t length, uint64_t position, uint32_t seed) {
  WalkSectors(length, position, seed, [dst](size_t done, const uint8_t* expected, size_t n) -> int64_t {
    std::memcpy(dst + done, expected, n);
    return -1;
  });
}

int64_t PatternVerify(const uint8_t* data, size_t length, uint64_t position, uint32_t seed) {
  return WalkSectors(length, position, seed, [data](size_t done, const uint8_t* expected, size_t n) -> int64_t {
    if (std::memcmp(data + done, expected, n) == 0) return -1;
    for (size_t i = 0; i < n; i++)
      if (data[done + i] != expected[i]) return int64_t(done + i);
    return -1;
  });
}

}  // namespace pinlab
