// Logger: one JSON object per line, by channel, like the case study's
// Monolog channels. Every line has "ts" (UTC, ms), "level", "channel", "msg",
// the calling thread's "request_id" when it handles a call (RequestIdScope),
// then the caller's fields, e.g.
//   {"ts":"2026-11-24T10:00:00.123Z","level":"warning","channel":"rpc",
//    "request_id":"5f0c...","msg":"...","method":"...","code":"UNAVAILABLE"}
//
// Channels (kLogChannels): rpc (calls: failures the server is responsible
// for at warning, every call at debug), access (a sampled line of calls,
// info), storage (Redis/MySQL reachability, failover, configuration
// warnings), tiering (demotion), admin (admin-plane calls and refusals),
// server (start-up and shutdown). Each channel has its own level, set at
// start (log_level, log_channel_levels) and changeable while running
// (SetLevel, from the admin plane).
//
// Where lines go: without a directory, every line to the main stream
// (stderr: the journal). With `dir`, each channel's lines go whole to
// <dir>/<channel>.log, and the main stream keeps a short line of each
// (message cut at short_message_chars, no fields) and warnings and errors
// whole: the main log stays readable while the channel files are verbose.
//
// Flood guard: a channel writes at most max_lines_per_second lines in a
// second; the rest are counted and reported in one line when the next
// second's first line is written (with the count of the lines it stood for).
//
// Thread-safety: everything may be called from any thread. Enabled() is one
// relaxed atomic load, so a disabled line costs nothing but that; each line
// is written with one fwrite, so lines never interleave.
#pragma once

#include <array>
#include <atomic>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace catalog::service {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

enum class LogChannel { kRpc, kAccess, kStorage, kTiering, kAdmin, kServer, kCount };
inline constexpr std::array<const char*, static_cast<size_t>(LogChannel::kCount)> kLogChannels = {
    "rpc", "access", "storage", "tiering", "admin", "server"};

struct LoggerOptions {
  // Every channel's level unless log_channel_levels names it. Default info.
  LogLevel level = LogLevel::kInfo;
  // "channel=level,..." e.g. "rpc=debug,storage=warning". Default none.
  std::string channel_levels;
  // Directory for the per-channel files; empty (default): main stream only.
  std::string dir;
  // Main-stream message length when channel files are written. Default 160.
  size_t short_message_chars = 160;
  // Per channel and second; 0: no limit. Default 200.
  int max_lines_per_second = 200;
};

// A field of a line: a name and its text (written as a JSON string).
using LogField = std::pair<absl::string_view, absl::string_view>;

class Logger {
 public:
  // "debug", "info", "warning" or "error"; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<LogLevel> ParseLevel(absl::string_view name);
  static absl::StatusOr<LogChannel> ParseChannel(absl::string_view name);

  // INVALID_ARGUMENT naming the option for a bad channel_levels entry;
  // FAILED_PRECONDITION if a channel file cannot be opened for append.
  // Does not take ownership of `main`.
  static absl::StatusOr<std::unique_ptr<Logger>> Create(const LoggerOptions& options, std::FILE* main);

  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(LogChannel channel, LogLevel level) const {
    return static_cast<int>(level) >= levels_[static_cast<size_t>(channel)].load(std::memory_order_relaxed);
  }
  void Log(LogChannel channel, LogLevel level, absl::string_view message,
           std::initializer_list<LogField> fields = {}) const;

  // Changes one channel's level from now on (INVALID_ARGUMENT for an
  // unknown channel or level); "*" sets every channel.
  // Const: levels are atomics, changed in place (thread-safe).
  absl::Status SetLevel(absl::string_view channel, absl::string_view level) const;
  // "rpc=info,access=info,...": every channel's level now.
  std::string Levels() const;

  // Lines dropped by the flood guard so far, all channels.
  int64_t suppressed() const { return suppressed_total_.load(std::memory_order_relaxed); }

 private:
  Logger(const LoggerOptions& options, std::FILE* main);
  struct Flood {
    absl::Mutex mu;
    int64_t second = 0;
    int lines = 0;
    int64_t dropped = 0;
  };
  // Whether the line may be written now; sets *report to lines dropped in
  // an earlier second that should be reported first.
  bool Admit(LogChannel channel, int64_t* report) const;
  void Write(LogChannel channel, LogLevel level, absl::string_view message, std::initializer_list<LogField> fields,
             absl::string_view request_id) const;

  const LoggerOptions options_;
  std::FILE* const main_;
  std::array<std::FILE*, static_cast<size_t>(LogChannel::kCount)> files_{};
  mutable std::array<std::atomic<int>, static_cast<size_t>(LogChannel::kCount)> levels_{};
  mutable std::array<Flood, static_cast<size_t>(LogChannel::kCount)> flood_;
  mutable std::atomic<int64_t> suppressed_total_{0};
};

// The request id of the call the current thread is handling, for every line
// the thread writes meanwhile. Scopes nest; the id must outlive the scope.
class RequestIdScope {
 public:
  explicit RequestIdScope(absl::string_view id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;
  // Empty outside any scope.
  static absl::string_view Current();

 private:
  const absl::string_view previous_;
};

// A caller's x-request-id if it is usable as one (1-128 characters of
// [A-Za-z0-9._:/+=-]), else a new random one (32 hex digits).
std::string RequestIdFor(absl::string_view from_caller);

// `text` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD.
std::string JsonEscape(absl::string_view text);

}  // namespace catalog::service
