#include "storage/fence.h"

#include <sys/random.h>

#include <array>
#include <vector>

#include "absl/strings/str_cat.h"

namespace catalog::storage {
namespace {

// CRC16-CCITT (XMODEM), as Redis Cluster uses for key slots.
uint16_t Crc16(absl::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char c : bytes) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : crc << 1;
  }
  return crc;
}

// Tags for all slots, found once by enumerating short base-36 strings until
// every slot has one (about 170,000 candidates; a few milliseconds).
const std::vector<std::string>& SlotTags() {
  static const std::vector<std::string>* const tags = [] {
    auto* table = new std::vector<std::string>(kSlotCount);
    int missing = kSlotCount;
    constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (uint64_t n = 0; missing > 0; ++n) {
      std::string tag;
      uint64_t rest = n;
      do {
        tag.push_back(kDigits[rest % 36]);
        rest /= 36;
      } while (rest > 0);
      std::string& slot = (*table)[Crc16(tag) % kSlotCount];
      if (slot.empty()) {
        slot = std::move(tag);
        --missing;
      }
    }
    return table;
  }();
  return *tags;
}

}  // namespace

uint16_t KeySlot(absl::string_view key) {
  // Redis hashes only the part between the first '{' and the next '}' if
  // that part is not empty.
  const size_t open = key.find('{');
  if (open != absl::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != absl::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return Crc16(key) % kSlotCount;
}

const std::string& SlotTag(uint16_t slot) { return SlotTags()[slot % kSlotCount]; }

std::string FenceKey(absl::string_view fence_prefix, absl::string_view record_key) {
  return absl::StrCat(fence_prefix, "{", SlotTag(KeySlot(record_key)), "}");
}

std::string RandomToken() {
  uint64_t bits[2] = {0, 0};
  size_t got = 0;
  while (got < sizeof(bits)) {
    const ssize_t n = getrandom(reinterpret_cast<char*>(bits) + got, sizeof(bits) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return absl::StrCat(absl::Hex(bits[0], absl::kZeroPad16), absl::Hex(bits[1], absl::kZeroPad16));
}

}  // namespace catalog::storage
