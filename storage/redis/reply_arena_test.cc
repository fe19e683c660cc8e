#include "storage/redis/reply_arena.h"

#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <string>

namespace catalog::storage {
namespace {

// Feeds `resp` to a reader using the arena functions, in pieces of
// `chunk` bytes (replies arrive split across reads); returns the reply.
redisReply* Parse(redisReader* reader, const std::string& resp, size_t chunk) {
  bool fed = true;
  for (size_t at = 0; at < resp.size(); at += chunk) {
    fed = fed && redisReaderFeed(reader, resp.data() + at, std::min(chunk, resp.size() - at)) == REDIS_OK;
  }
  REQUIRE(fed);
  void* reply = nullptr;
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  REQUIRE(reply != nullptr);
  return static_cast<redisReply*>(reply);
}

TEST_CASE("replies built in an arena read like hiredis's own, nested, split and larger than a block") {
  redisReader* reader = redisReaderCreateWithFunctions(ArenaReplyFunctions());
  const std::string big(100000, 'v');  // Past the first blocks.
  std::string resp = "*5\r\n$3\r\nabc\r\n$-1\r\n:42\r\n*2\r\n+OK\r\n-ERR bad\r\n";
  resp += "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n";
  for (size_t chunk : {resp.size(), size_t{7}, size_t{1}}) {
    redisReply* reply = Parse(reader, resp, chunk);
    REQUIRE(reply->type == REDIS_REPLY_ARRAY);
    REQUIRE(reply->elements == 5);
    CHECK(std::string(reply->element[0]->str, reply->element[0]->len) == "abc");
    CHECK(reply->element[0]->str[3] == '\0');
    CHECK(reply->element[1]->type == REDIS_REPLY_NIL);
    CHECK(reply->element[2]->type == REDIS_REPLY_INTEGER);
    CHECK(reply->element[2]->integer == 42);
    REQUIRE(reply->element[3]->type == REDIS_REPLY_ARRAY);
    CHECK(reply->element[3]->element[0]->type == REDIS_REPLY_STATUS);
    CHECK(std::string(reply->element[3]->element[1]->str) == "ERR bad");
    CHECK(reply->element[3]->element[1]->type == REDIS_REPLY_ERROR);
    CHECK(std::string(reply->element[4]->str, reply->element[4]->len) == big);
    reader->fn->freeObject(reply);
  }
  // Top-level scalars and empty arrays have arenas of their own.
  for (const std::string& one : {std::string("$0\r\n\r\n"), std::string(":-7\r\n"), std::string("*0\r\n"),
                                 std::string("$-1\r\n"), std::string("*-1\r\n")}) {
    redisReply* reply = Parse(reader, one, one.size());
    CHECK(reply->type == (one[0] == '$' && one[1] == '-'   ? REDIS_REPLY_NIL
                          : one[0] == '*' && one[1] == '-' ? REDIS_REPLY_NIL
                          : one[0] == '$'                  ? REDIS_REPLY_STRING
                          : one[0] == ':'                  ? REDIS_REPLY_INTEGER
                                                           : REDIS_REPLY_ARRAY));
    reader->fn->freeObject(reply);
  }
  redisReaderFree(reader);
}

TEST_CASE("a reader freed in the middle of a reply frees what it built") {
  redisReader* reader = redisReaderCreateWithFunctions(ArenaReplyFunctions());
  const std::string partial = "*3\r\n$3\r\nabc\r\n$5\r\nxy";
  REQUIRE(redisReaderFeed(reader, partial.data(), partial.size()) == REDIS_OK);
  void* reply = nullptr;
  REQUIRE(redisReaderGetReply(reader, &reply) == REDIS_OK);
  CHECK(reply == nullptr);  // Not complete yet.
  redisReaderFree(reader);  // Frees the partial tree (ASan builds check there is no leak).
}

}  // namespace
}  // namespace catalog::storage
