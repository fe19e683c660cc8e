#include "storage/redis/reply_arena.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace catalog::storage {
namespace {

// Bump allocation in blocks that double in size, the first one inline.
class Arena {
 public:
  static Arena* New() {
    void* memory = std::malloc(sizeof(Arena));
    return memory == nullptr ? nullptr : new (memory) Arena();
  }
  static void Delete(Arena* arena) {
    for (int i = 0; i < arena->extra_blocks_; ++i) std::free(arena->blocks_[i]);
    arena->~Arena();
    std::free(arena);
  }

  // Zeroed, 16-byte aligned; nullptr when out of memory.
  void* Alloc(size_t bytes) {
    bytes = (bytes + 15) & ~size_t{15};
    if (bytes > left_ && !Grow(bytes)) return nullptr;
    char* at = next_;
    next_ += bytes;
    left_ -= bytes;
    std::memset(at, 0, bytes);
    return at;
  }

 private:
  Arena() : next_(first_), left_(sizeof(first_)) {}
  bool Grow(size_t bytes) {
    if (extra_blocks_ == kMaxBlocks) return false;
    next_size_ = std::max(next_size_ * 2, bytes);
    char* block = static_cast<char*>(std::aligned_alloc(16, (next_size_ + 15) & ~size_t{15}));
    if (block == nullptr) return false;
    blocks_[extra_blocks_++] = block;
    next_ = block;
    left_ = next_size_;
    return true;
  }

  static constexpr int kMaxBlocks = 40;  // Doubling from 16 KiB: far past any reply.
  char* blocks_[kMaxBlocks];
  int extra_blocks_ = 0;
  size_t next_size_ = 8192;
  char* next_;
  size_t left_;
  alignas(16) char first_[8192];
};

// Each reply is preceded by its reply's arena.
struct Node {
  Arena* arena;
  alignas(16) redisReply reply;
};

Arena* ArenaOf(void* reply) {
  return reinterpret_cast<Node*>(static_cast<char*>(reply) - offsetof(Node, reply))->arena;
}

redisReply* NewReply(const redisReadTask* task) {
  Arena* arena = task->parent != nullptr ? ArenaOf(task->parent->obj) : Arena::New();
  if (arena == nullptr) return nullptr;
  Node* node = static_cast<Node*>(arena->Alloc(sizeof(Node)));
  if (node == nullptr) {
    if (task->parent == nullptr) Arena::Delete(arena);
    return nullptr;
  }
  node->arena = arena;
  node->reply.type = task->type;
  if (task->parent != nullptr) {
    static_cast<redisReply*>(task->parent->obj)->element[task->idx] = &node->reply;
  }
  return &node->reply;
}

void* CreateString(const redisReadTask* task, char* str, size_t len) {
  redisReply* reply = NewReply(task);
  if (reply == nullptr) return nullptr;
  char* bytes = static_cast<char*>(ArenaOf(reply)->Alloc(len + 1));  // Zeroed: NUL-terminated.
  if (bytes == nullptr) return nullptr;  // The arena goes with the top-level reply.
  std::memcpy(bytes, str, len);
  reply->str = bytes;
  reply->len = len;
  return reply;
}

void* CreateArray(const redisReadTask* task, int elements) {
  redisReply* reply = NewReply(task);
  if (reply == nullptr) return nullptr;
  if (elements > 0) {
    reply->element = static_cast<redisReply**>(ArenaOf(reply)->Alloc(sizeof(redisReply*) * elements));
    if (reply->element == nullptr) return nullptr;
  }
  reply->elements = static_cast<size_t>(elements);
  return reply;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  redisReply* reply = NewReply(task);
  if (reply != nullptr) reply->integer = value;
  return reply;
}

// The task says what was announced ($-1 is a STRING task, *-1 an ARRAY
// one); the reply must say NIL, as hiredis's own objects do.
void* CreateNil(const redisReadTask* task) {
  redisReply* reply = NewReply(task);
  if (reply != nullptr) reply->type = REDIS_REPLY_NIL;
  return reply;
}

// Only ever called for top-level replies (hiredis frees nested ones through
// their parent): the arena holds the whole tree.
void FreeObject(void* reply) { Arena::Delete(ArenaOf(reply)); }

redisReplyObjectFunctions kFunctions = {CreateString, CreateArray, CreateInteger, CreateNil, FreeObject};

}  // namespace

redisReplyObjectFunctions* ArenaReplyFunctions() { return &kFunctions; }

}  // namespace catalog::storage
