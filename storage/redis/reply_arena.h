// ArenaReplyFunctions: hiredis reply objects built inside one arena per
// reply instead of two heap allocations per element.
//
// Why: an MGET of 100 keys made hiredis allocate 200 objects (a redisReply
// and a string per value) and free them again: malloc and free were the
// largest user-space cost of a hot read without L1 (docs/performance.md).
// With these functions the reader writes every element of a reply, and the
// bytes of its strings, into a few growing blocks owned by the top-level
// reply; freeing it frees them all. The objects are ordinary redisReply
// structs, so every reader of replies is unchanged.
//
// Contract: install on a reader (reader->fn) before it parses anything;
// replies it makes must be freed with the reader's freeObject (hiredis does
// this for async replies), never with freeReplyObject. Thread-safety: the
// functions keep no state; each reply belongs to the reader's thread.
#pragma once

#include <hiredis/read.h>

namespace catalog::storage {

redisReplyObjectFunctions* ArenaReplyFunctions();

}  // namespace catalog::storage
