#include "service/logger.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace catalog::service {
namespace {

// A memory stream the logger writes to; text() reads what it holds.
class Capture {
 public:
  Capture() : out_(open_memstream(&buffer_, &size_)) {}
  ~Capture() {
    std::fclose(out_);
    std::free(buffer_);
  }
  std::FILE* out() { return out_; }
  std::string text() {
    std::fflush(out_);
    return std::string(buffer_, size_);
  }

 private:
  char* buffer_ = nullptr;
  size_t size_ = 0;
  std::FILE* out_;
};

std::unique_ptr<Logger> Make(Capture& capture, LoggerOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Logger>> logger = Logger::Create(options, capture.out());
  REQUIRE(logger.ok());
  return *std::move(logger);
}

TEST_CASE("a log line is one JSON object: time, level, channel, request id, message, fields") {
  Capture capture;
  auto logger = Make(capture);
  {
    const RequestIdScope scope("req-1");
    logger->Log(LogChannel::kRpc, LogLevel::kWarning, "m UNAVAILABLE: \"down\"\n",
                {{"method", "m"}, {"code", "UNAVAILABLE"}});
  }
  logger->Log(LogChannel::kStorage, LogLevel::kInfo, "no call");
  const std::vector<std::string> lines = absl::StrSplit(capture.text(), '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  CHECK(std::regex_match(lines[0], std::regex(R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warning",)"
                                              R"("channel":"rpc","request_id":"req-1",)"
                                              R"("msg":"m UNAVAILABLE: \\"down\\"\\n","method":"m","code":"UNAVAILABLE"\})")));
  // Outside a call: no request_id.
  CHECK(std::regex_match(lines[1], std::regex(R"(\{"ts":"[^"]+","level":"info","channel":"storage","msg":"no call"\})")));
}

TEST_CASE("each channel has its own level, set at start and changed while running") {
  Capture capture;
  LoggerOptions options;
  options.level = LogLevel::kWarning;
  options.channel_levels = "rpc=debug, tiering = error";
  auto logger = Make(capture, options);
  CHECK(logger->Enabled(LogChannel::kRpc, LogLevel::kDebug));
  CHECK_FALSE(logger->Enabled(LogChannel::kStorage, LogLevel::kInfo));
  CHECK(logger->Enabled(LogChannel::kStorage, LogLevel::kWarning));
  CHECK_FALSE(logger->Enabled(LogChannel::kTiering, LogLevel::kWarning));
  logger->Log(LogChannel::kStorage, LogLevel::kInfo, "dropped");
  CHECK(capture.text().empty());
  CHECK(logger->Levels() == "rpc=debug,access=warning,storage=warning,tiering=error,admin=warning,server=warning");

  REQUIRE(logger->SetLevel("storage", "debug").ok());
  CHECK(logger->Enabled(LogChannel::kStorage, LogLevel::kDebug));
  REQUIRE(logger->SetLevel("*", "error").ok());
  CHECK(logger->Levels() == "rpc=error,access=error,storage=error,tiering=error,admin=error,server=error");
  CHECK(logger->SetLevel("disk", "info").message() ==
        "log channel \"disk\" is not one of rpc, access, storage, tiering, admin, server");
  CHECK(logger->SetLevel("rpc", "loud").message() == "log level \"loud\" is not one of debug, info, warning, error");
  CHECK(logger->Levels() == "rpc=error,access=error,storage=error,tiering=error,admin=error,server=error");
}

TEST_CASE("a bad log option is refused at start naming it") {
  Capture capture;
  LoggerOptions options;
  options.channel_levels = "rpc=debug,disk=info";
  CHECK(Logger::Create(options, capture.out()).status().message() ==
        "option log_channel_levels: \"disk=info\": log channel \"disk\" is not one of rpc, access, storage, tiering, "
        "admin, server");
  options.channel_levels = "";
  options.dir = "/nonexistent/dir";
  absl::Status status = Logger::Create(options, capture.out()).status();
  CHECK(absl::IsFailedPrecondition(status));
  CHECK(absl::StartsWith(status.message(), "option log_dir: cannot open /nonexistent/dir/rpc.log for append"));
}

TEST_CASE("with a log directory, channel files get every line whole and the main log a short line") {
  const std::string dir =
      std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/logger_test_" + std::to_string(getpid());
  REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()) == 0);
  Capture capture;
  LoggerOptions options;
  options.level = LogLevel::kDebug;
  options.dir = dir;
  options.short_message_chars = 10;
  {
    auto logger = Make(capture, options);
    logger->Log(LogChannel::kRpc, LogLevel::kDebug, "a debug line longer than ten", {{"method", "m"}});
    logger->Log(LogChannel::kStorage, LogLevel::kWarning, "a warning longer than ten", {{"k", "v"}});
    logger->Log(LogChannel::kRpc, LogLevel::kInfo, "short", {{"k", "v"}});
    // A cut that would split a two-byte character drops it whole.
    logger->Log(LogChannel::kRpc, LogLevel::kInfo, "123456789\xC3\xA9xyz");
    // A cut just after a whole two-byte character keeps it.
    logger->Log(LogChannel::kRpc, LogLevel::kInfo, "12345678\xC3\xA9xyz");
  }
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string rpc = read(dir + "/rpc.log");
  CHECK(absl::StrContains(rpc, "\"msg\":\"a debug line longer than ten\",\"method\":\"m\"}\n"));
  CHECK(absl::StrContains(rpc, "\"msg\":\"short\",\"k\":\"v\"}\n"));
  CHECK(absl::StrContains(read(dir + "/storage.log"), "\"msg\":\"a warning longer than ten\",\"k\":\"v\"}\n"));
  const std::string main = capture.text();
  CHECK(absl::StrContains(main, "\"msg\":\"a debug li...\",\"truncated\":\"true\"}\n"));
  CHECK(absl::StrContains(main, "\"msg\":\"a warning longer than ten\",\"k\":\"v\"}\n"));  // warnings whole
  CHECK(absl::StrContains(main, "\"msg\":\"short\"}\n"));                                 // no fields
  CHECK(absl::StrContains(main, "\"msg\":\"123456789...\""));
  CHECK(absl::StrContains(main, "\"msg\":\"12345678\xC3\xA9...\""));
  CHECK_FALSE(absl::StrContains(main, "\xEF\xBF\xBD"));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("the flood guard writes at most max_lines_per_second a channel and then says how many it dropped") {
  Capture capture;
  LoggerOptions options;
  options.max_lines_per_second = 3;
  auto logger = Make(capture, options);
  auto next_second = [] {
    absl::SleepFor(absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 1) + absl::Milliseconds(10) - absl::Now());
  };
  // All eleven lines in one second: started just after a second begins, and
  // tried again if the machine stalled across the next boundary anyway.
  for (int attempt = 0;; ++attempt) {
    REQUIRE(attempt < 5);
    next_second();
    const int64_t second = absl::ToUnixSeconds(absl::Now());
    for (int i = 0; i < 10; ++i) logger->Log(LogChannel::kRpc, LogLevel::kWarning, "line");
    logger->Log(LogChannel::kAdmin, LogLevel::kWarning, "other channel");
    if (absl::ToUnixSeconds(absl::Now()) == second) break;
  }
  const std::string before = capture.text();
  next_second();
  logger->Log(LogChannel::kRpc, LogLevel::kWarning, "next second");
  const std::string after = capture.text().substr(before.size());
  CHECK(absl::StrContains(before, "\"msg\":\"other channel\""));  // channels are limited apart
  const std::vector<std::string> lines = absl::StrSplit(after, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 2);
  CHECK(absl::StrContains(lines[0], "\"msg\":\"7 lines of this channel were not written: more than 3 in one second\""));
  CHECK(absl::StrContains(lines[0], "\"suppressed\":\"7\""));
  CHECK(absl::StrContains(lines[1], "\"msg\":\"next second\""));
  CHECK(logger->suppressed() >= 7);
}

TEST_CASE("JSON escaping keeps valid UTF-8 and replaces what is not") {
  CHECK(JsonEscape("a\"b\\c\td\x01") == "a\\\"b\\\\c\\td\\u0001");
  CHECK(JsonEscape("caf\xC3\xA9 \xE2\x82\xAC") == "caf\xC3\xA9 \xE2\x82\xAC");
  CHECK(JsonEscape("bad \xFF end") == "bad \xEF\xBF\xBD end");
  CHECK(JsonEscape("cut \xE2\x82") == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(JsonEscape("overlong \xC0\xAF") == "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("request ids: a usable caller id is kept, anything else replaced by a fresh random one") {
  CHECK(RequestIdFor("frontend-7:abc.123") == "frontend-7:abc.123");
  CHECK(RequestIdFor(std::string(128, 'a')) == std::string(128, 'a'));
  std::set<std::string> fresh;
  for (const std::string bad : {std::string(), std::string(129, 'a'), std::string("has space"),
                                std::string("quote\""), std::string("nl\n")}) {
    const std::string id = RequestIdFor(bad);
    CHECK(std::regex_match(id, std::regex("[0-9a-f]{32}")));
    fresh.insert(id);
  }
  CHECK(fresh.size() == 5);
  {
    const RequestIdScope outer("outer");
    {
      const RequestIdScope inner("inner");
      CHECK(RequestIdScope::Current() == "inner");
    }
    CHECK(RequestIdScope::Current() == "outer");
  }
  CHECK(RequestIdScope::Current().empty());
}

TEST_CASE("log levels parse by name") {
  CHECK(*Logger::ParseLevel("debug") == LogLevel::kDebug);
  CHECK(*Logger::ParseLevel("error") == LogLevel::kError);
  CHECK(Logger::ParseLevel("loud").status().message() ==
        "option log_level: \"loud\" is not one of debug, info, warning, error");
}

}  // namespace
}  // namespace catalog::service
