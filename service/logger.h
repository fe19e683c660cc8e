// Logger: one line per event on a stream (stderr in production, where
// systemd's journal keeps it): UTC timestamp, level, channel, message.
// Channels ("rpc", "admin", "server") let an operator grep one concern, as
// the case study's per-channel logs did.
//
// Thread-safety: Log() may be called from any thread; each line is written
// with one fwrite, so lines never interleave.
#pragma once

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace catalog::service {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

class Logger {
 public:
  // "debug", "info", "warning" or "error"; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<LogLevel> ParseLevel(absl::string_view name);

  // Does not take ownership of `out`.
  Logger(LogLevel min_level, std::FILE* out) : min_level_(min_level), out_(out) {}

  bool Enabled(LogLevel level) const { return level >= min_level_; }
  void Log(LogLevel level, absl::string_view channel, absl::string_view message) const;

 private:
  const LogLevel min_level_;
  std::FILE* const out_;
};

}  // namespace catalog::service
