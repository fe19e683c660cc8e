#include "storage/fence.h"

#include <catch2/catch.hpp>
#include <set>

namespace catalog::storage {
namespace {

// Known slots, as `redis-cli CLUSTER KEYSLOT` prints them.
TEST_CASE("key slots match Redis Cluster's CRC16, hash tags included") {
  CHECK(KeySlot("foo") == 12182);
  CHECK(KeySlot("bar") == 5061);
  CHECK(KeySlot("{user1000}.following") == KeySlot("user1000"));
  CHECK(KeySlot("x{bar}y") == 5061);               // Only the tag counts...
  CHECK(KeySlot("foo{bar}{zap}") == 5061);         // ...the first one.
  CHECK(KeySlot("foo{}{bar}") != KeySlot("bar"));  // An empty tag: the whole key counts.
}

TEST_CASE("every slot has a tag that maps to it, so a fence shares its record's slot") {
  std::set<std::string> tags;
  for (int slot = 0; slot < kSlotCount; ++slot) {
    REQUIRE(KeySlot(SlotTag(static_cast<uint16_t>(slot))) == slot);
    tags.insert(SlotTag(static_cast<uint16_t>(slot)));
  }
  CHECK(tags.size() == kSlotCount);
  for (const char* key : {"product:a", "product:shoe-1", "product:x"}) {
    CHECK(KeySlot(FenceKey("product-fence:", key)) == KeySlot(key));
  }
}

}  // namespace
}  // namespace catalog::storage
