#include "service/logger.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <regex>

namespace catalog::service {
namespace {

std::string Capture(LogLevel min, LogLevel level, const char* channel, const char* message) {
  char* buffer = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buffer, &size);
  Logger(min, out).Log(level, channel, message);
  std::fclose(out);
  std::string text(buffer, size);
  std::free(buffer);
  return text;
}

TEST_CASE("log lines carry time, level, channel and message, and lower levels are dropped") {
  const std::string line = Capture(LogLevel::kInfo, LogLevel::kWarning, "rpc", "m UNAVAILABLE 1ms: down");
  CHECK(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING rpc m UNAVAILABLE 1ms: down\n)")));
  CHECK(Capture(LogLevel::kInfo, LogLevel::kDebug, "rpc", "dropped").empty());
  CHECK_FALSE(Capture(LogLevel::kDebug, LogLevel::kDebug, "rpc", "kept").empty());
}

TEST_CASE("log levels parse by name") {
  CHECK(*Logger::ParseLevel("debug") == LogLevel::kDebug);
  CHECK(*Logger::ParseLevel("error") == LogLevel::kError);
  CHECK(Logger::ParseLevel("loud").status().message() ==
        "option log_level: \"loud\" is not one of debug, info, warning, error");
}

}  // namespace
}  // namespace catalog::service
