// The data pattern: every 512-byte sector of the device/file is stamped with its own byte offset
// and a seed, so data that lands in the wrong place or is stale is detected.
// Sector layout (little endian): "PNLB", u32 seed, u64 byte offset of the sector, then 124 u32
// words of an LCG seeded from (sector, seed). harness/workloads/pattern.ts mirrors this.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pinlab {

constexpr size_t kSector = 512;

// Writes the pattern bytes for file positions [position, position + length) to dst.
void PatternFill(uint8_t* dst, size_t length, uint64_t position, uint32_t seed);

// Index (relative to data) of the first byte that differs from the pattern, or -1.
int64_t PatternVerify(const uint8_t* data, size_t length, uint64_t position, uint32_t seed);

}  // namespace pinlab
