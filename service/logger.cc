#include "service/logger.h"

#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace catalog::service {
namespace {

constexpr const char* kLevelNames[] = {"debug", "info", "warning", "error"};

thread_local absl::string_view current_request_id;

// Length of the valid UTF-8 sequence at the start of `s`, 0 if none.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
  else return 0;
  if (s.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and values past U+10FFFF.
  if (lead == 0xE0 && byte(1) < 0xA0) return 0;
  if (lead == 0xED && byte(1) > 0x9F) return 0;
  if (lead == 0xF0 && byte(1) < 0x90) return 0;
  if (lead == 0xF4 && byte(1) > 0x8F) return 0;
  return length;
}

}  // namespace

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20 || c == 0x7F) out += absl::StrFormat("\\u%04x", c);
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.data() + i, length);
      i += length;
    }
  }
  return out;
}

std::string RequestIdFor(absl::string_view from_caller) {
  bool usable = !from_caller.empty() && from_caller.size() <= 128;
  for (char c : from_caller) {
    usable = usable && (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '/' || c == '+' ||
                        c == '=' || c == '-');
  }
  if (usable) return std::string(from_caller);
  // Per-thread generator: no lock, and ids from different threads and
  // processes differ (seeded from the OS).
  thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return absl::StrFormat("%016x%016x", random(), random());
}

RequestIdScope::RequestIdScope(absl::string_view id) : previous_(current_request_id) { current_request_id = id; }
RequestIdScope::~RequestIdScope() { current_request_id = previous_; }
absl::string_view RequestIdScope::Current() { return current_request_id; }

absl::StatusOr<LogLevel> Logger::ParseLevel(absl::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("option log_level: \"", name, "\" is not one of debug, info, warning, error"));
}

absl::StatusOr<LogChannel> Logger::ParseChannel(absl::string_view name) {
  for (size_t i = 0; i < kLogChannels.size(); ++i) {
    if (name == kLogChannels[i]) return static_cast<LogChannel>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("log channel \"", name, "\" is not one of ",
                                                 absl::StrJoin(kLogChannels, ", ")));
}

Logger::Logger(const LoggerOptions& options, std::FILE* main) : options_(options), main_(main) {
  for (auto& level : levels_) level.store(static_cast<int>(options.level), std::memory_order_relaxed);
}

Logger::~Logger() {
  for (std::FILE* file : files_) {
    if (file != nullptr) std::fclose(file);
  }
}

absl::StatusOr<std::unique_ptr<Logger>> Logger::Create(const LoggerOptions& options, std::FILE* main) {
  std::unique_ptr<Logger> logger(new Logger(options, main));
  for (absl::string_view entry : absl::StrSplit(options.channel_levels, ',', absl::SkipWhitespace())) {
    const std::pair<absl::string_view, absl::string_view> pair = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    const absl::Status set = logger->SetLevel(absl::StripAsciiWhitespace(pair.first),
                                              absl::StripAsciiWhitespace(pair.second));
    if (!set.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("option log_channel_levels: \"", entry, "\": ", set.message()));
    }
  }
  if (!options.dir.empty()) {
    for (size_t i = 0; i < kLogChannels.size(); ++i) {
      const std::string path = absl::StrCat(options.dir, "/", kLogChannels[i], ".log");
      logger->files_[i] = std::fopen(path.c_str(), "ae");
      if (logger->files_[i] == nullptr) {
        return absl::FailedPreconditionError(
            absl::StrCat("option log_dir: cannot open ", path, " for append: ", std::strerror(errno)));
      }
    }
  }
  return logger;
}

absl::Status Logger::SetLevel(absl::string_view channel, absl::string_view level) const {
  absl::StatusOr<LogLevel> parsed = ParseLevel(level);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("log level \"", level, "\" is not one of debug, info, warning, error"));
  }
  if (channel == "*") {
    for (auto& cell : levels_) cell.store(static_cast<int>(*parsed), std::memory_order_relaxed);
    return absl::OkStatus();
  }
  absl::StatusOr<LogChannel> which = ParseChannel(channel);
  if (!which.ok()) return which.status();
  levels_[static_cast<size_t>(*which)].store(static_cast<int>(*parsed), std::memory_order_relaxed);
  return absl::OkStatus();
}

std::string Logger::Levels() const {
  std::string out;
  for (size_t i = 0; i < kLogChannels.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", kLogChannels[i], "=",
                    kLevelNames[levels_[i].load(std::memory_order_relaxed)]);
  }
  return out;
}

bool Logger::Admit(LogChannel channel, int64_t* report) const {
  *report = 0;
  if (options_.max_lines_per_second <= 0) return true;
  Flood& flood = flood_[static_cast<size_t>(channel)];
  const int64_t second = absl::ToUnixSeconds(absl::Now());
  absl::MutexLock lock(&flood.mu);
  if (second != flood.second) {
    flood.second = second;
    flood.lines = 0;
    *report = std::exchange(flood.dropped, 0);
  }
  if (flood.lines >= options_.max_lines_per_second) {
    ++flood.dropped;
    suppressed_total_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ++flood.lines;
  return true;
}

void Logger::Log(LogChannel channel, LogLevel level, absl::string_view message,
                 std::initializer_list<LogField> fields) const {
  if (!Enabled(channel, level)) return;
  int64_t dropped = 0;
  const bool admitted = Admit(channel, &dropped);
  if (dropped > 0) {
    const std::string count = absl::StrCat(dropped);
    Write(channel, LogLevel::kWarning,
          absl::StrCat(dropped, " lines of this channel were not written: more than ", options_.max_lines_per_second,
                       " in one second"),
          {{"suppressed", count}}, "");
  }
  if (admitted) Write(channel, level, message, fields, RequestIdScope::Current());
}

void Logger::Write(LogChannel channel, LogLevel level, absl::string_view message,
                   std::initializer_list<LogField> fields, absl::string_view request_id) const {
  const size_t c = static_cast<size_t>(channel);
  const std::string head =
      absl::StrCat("{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                   "\",\"level\":\"", kLevelNames[static_cast<int>(level)], "\",\"channel\":\"", kLogChannels[c],
                   "\"", request_id.empty() ? "" : ",\"request_id\":\"", JsonEscape(request_id),
                   request_id.empty() ? "" : "\"", ",\"msg\":\"");
  std::string tail = "\"";
  for (const LogField& field : fields) {
    absl::StrAppend(&tail, ",\"", JsonEscape(field.first), "\":\"", JsonEscape(field.second), "\"");
  }
  tail += "}\n";
  const std::string escaped = JsonEscape(message);
  const std::string whole = absl::StrCat(head, escaped, tail);
  auto put = [](std::FILE* out, const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), out);
    std::fflush(out);
  };
  if (files_[c] == nullptr) return put(main_, whole);
  put(files_[c], whole);
  if (level >= LogLevel::kWarning) return put(main_, whole);
  if (message.size() <= options_.short_message_chars) return put(main_, absl::StrCat(head, escaped, "\"}\n"));
  // Cut on a character boundary: a sequence the cut would split goes whole.
  absl::string_view cut = message.substr(0, options_.short_message_chars);
  size_t lead = cut.size();
  while (lead > 0 && (static_cast<unsigned char>(cut[lead - 1]) & 0xC0) == 0x80) --lead;
  if (lead > 0 && lead - 1 + Utf8SequenceLength(message.substr(lead - 1)) > cut.size()) cut = cut.substr(0, lead - 1);
  put(main_, absl::StrCat(head, JsonEscape(cut), "...\",\"truncated\":\"true\"}\n"));
}

}  // namespace catalog::service
