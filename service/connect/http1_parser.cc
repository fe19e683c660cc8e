// Http1Parser: RFC 9112 request parsing, strict where leniency lets two
// parties disagree on where a request ends (request smuggling): both
// Content-Length and Transfer-Encoding, differing Content-Lengths, obsolete
// line folding and a Transfer-Encoding other than chunked are refused.
#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "service/connect/http_server.h"

namespace catalog::service {
namespace {

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || absl::StrContains("!#$%&'*+-.^_`|~", c))) return false;
  }
  return true;
}

// Parses a non-negative decimal with at most 15 digits (well past any limit).
bool ParseLength(absl::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 15) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<absl::string_view> HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

void Http1Parser::Reset() {
  request_ = HttpRequest();
  head_done_ = false;
  head_size_ = 0;
  chunked_ = false;
  content_length_ = 0;
  keep_alive_ = true;
  expect_continue_ = false;
  continue_sent_ = false;
  consumed_ = 0;
  chunk_scan_ = 0;
}

Http1Parser::State Http1Parser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return State::kError;
}

Http1Parser::State Http1Parser::Parse(absl::string_view buffer) {
  if (!head_done_) {
    // RFC 9112 2.2: empty lines before the request line are ignored (they
    // count against the head's limit, so they cannot pile up).
    size_t skip = 0;
    while (skip + 1 < buffer.size() && buffer[skip] == '\r' && buffer[skip + 1] == '\n') skip += 2;
    const size_t end = buffer.find("\r\n\r\n", skip);
    if (end == absl::string_view::npos) {
      if (static_cast<int64_t>(buffer.size()) > max_header_bytes_) {
        return Fail(431, absl::StrCat("request head exceeds ", max_header_bytes_, " bytes"));
      }
      return State::kNeedMore;
    }
    if (static_cast<int64_t>(end + 4) > max_header_bytes_) {
      return Fail(431, absl::StrCat("request head exceeds ", max_header_bytes_, " bytes"));
    }
    if (State s = ParseHead(buffer.substr(skip, end - skip)); s == State::kError) return s;
    head_done_ = true;
    head_size_ = end + 4;
  }
  absl::string_view rest = buffer.substr(head_size_);
  if (chunked_) {
    // Chunk sizes, extensions and trailers may take max_header_bytes on top
    // of the body, no more: what a peer sends is bounded either way.
    if (static_cast<int64_t>(rest.size()) > max_request_bytes_ + max_header_bytes_ + 16) {
      return Fail(413, absl::StrCat("chunked request exceeds the limit of ", max_request_bytes_,
                                    " bytes (max_message_bytes)"));
    }
    State s = ParseChunked(rest);
    if (s == State::kNeedMore && expect_continue_ && !continue_sent_) {
      continue_sent_ = true;
      return State::kExpectContinue;
    }
    return s;
  }
  if (static_cast<int64_t>(rest.size()) < content_length_) {
    if (expect_continue_ && !continue_sent_) {
      continue_sent_ = true;
      return State::kExpectContinue;
    }
    return State::kNeedMore;
  }
  request_.body.assign(rest.data(), static_cast<size_t>(content_length_));
  consumed_ = head_size_ + static_cast<size_t>(content_length_);
  return State::kRequest;
}

Http1Parser::State Http1Parser::ParseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  // Request line: method SP target SP version.
  std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || parts[1].empty()) {
    return Fail(400, "malformed request line");
  }
  if (parts[2] != "HTTP/1.1" && parts[2] != "HTTP/1.0") {
    if (absl::StartsWith(parts[2], "HTTP/")) return Fail(505, absl::StrCat(parts[2], " is not supported"));
    return Fail(400, "malformed request line");
  }
  const bool http10 = parts[2] == "HTTP/1.0";
  request_.protocol = HttpRequest::Protocol::kHttp1;
  request_.method = std::string(parts[0]);
  absl::string_view target = parts[1];
  if (target[0] != '/' && target != "*") return Fail(400, "request target must be a path");
  const size_t q = target.find('?');
  request_.path = std::string(target.substr(0, q));
  if (q != absl::string_view::npos) request_.query = std::string(target.substr(q + 1));

  std::optional<int64_t> length;
  std::optional<std::string> connection;
  bool transfer_encoding = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) return Fail(400, "obsolete header line folding");
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Fail(400, "malformed header line");
    }
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (value.find_first_of(std::string("\0\r\n", 3)) != std::string::npos) return Fail(400, "malformed header value");
    if (name == "content-length") {
      int64_t n;
      if (!ParseLength(value, &n) || (length.has_value() && *length != n)) {
        return Fail(400, absl::StrCat("invalid Content-Length \"", value, "\""));
      }
      length = n;
    } else if (name == "transfer-encoding") {
      if (transfer_encoding || !absl::EqualsIgnoreCase(value, "chunked")) {
        return Fail(501, absl::StrCat("Transfer-Encoding \"", value, "\" is not supported (only chunked)"));
      }
      transfer_encoding = true;
    } else if (name == "connection") {
      connection = absl::AsciiStrToLower(value);
    } else if (name == "expect") {
      if (!absl::EqualsIgnoreCase(value, "100-continue")) return Fail(417, absl::StrCat("cannot meet Expect: ", value));
      expect_continue_ = !http10;
    }
    request_.headers.emplace_back(std::move(name), std::move(value));
  }
  if (transfer_encoding && length.has_value()) {
    return Fail(400, "both Content-Length and Transfer-Encoding");
  }
  chunked_ = transfer_encoding;
  content_length_ = length.value_or(0);
  if (content_length_ > max_request_bytes_) {
    return Fail(413, absl::StrCat("request body of ", content_length_, " bytes exceeds the limit of ",
                                  max_request_bytes_, " bytes (max_message_bytes)"));
  }
  if (http10) {
    // RFC 9112 6.1: chunked over HTTP/1.0 means the connection closes.
    keep_alive_ = connection.has_value() && absl::StrContains(*connection, "keep-alive") && !transfer_encoding;
  } else {
    keep_alive_ = !(connection.has_value() && absl::StrContains(*connection, "close"));
  }
  return State::kNeedMore;
}

// RFC 9112 7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF.
// Trailers are read and dropped. Whole chunks are appended to the body as
// they arrive and not looked at again (chunk_scan_: where the next chunk's
// size line starts), so a body sent in tiny chunks costs linear time.
Http1Parser::State Http1Parser::ParseChunked(absl::string_view rest) {
  std::string& body = request_.body;
  size_t pos = chunk_scan_;
  while (true) {
    const size_t eol = rest.find("\r\n", pos);
    if (eol == absl::string_view::npos) {
      if (rest.size() - pos > 64) return Fail(400, "malformed chunk size line");
      return State::kNeedMore;
    }
    absl::string_view size_line = rest.substr(pos, eol - pos);
    size_line = size_line.substr(0, size_line.find(';'));
    size_line = absl::StripAsciiWhitespace(size_line);
    if (size_line.empty() || size_line.size() > 8) return Fail(400, "malformed chunk size");
    int64_t size = 0;
    for (char c : size_line) {
      const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : (c >= 'a' && c <= 'f')                  ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F')                  ? c - 'A' + 10
                                                                  : -1;
      if (digit < 0) return Fail(400, "malformed chunk size");
      size = size * 16 + digit;
    }
    pos = eol + 2;
    if (size == 0) {
      // Trailer section, ended by an empty line.
      while (true) {
        const size_t end = rest.find("\r\n", pos);
        if (end == absl::string_view::npos) {
          if (static_cast<int64_t>(rest.size() - pos) > max_header_bytes_) return Fail(431, "trailers too large");
          return State::kNeedMore;
        }
        const bool empty = end == pos;
        pos = end + 2;
        if (empty) break;
      }
      consumed_ = head_size_ + pos;
      return State::kRequest;
    }
    if (static_cast<int64_t>(body.size()) + size > max_request_bytes_) {
      return Fail(413, absl::StrCat("request body exceeds the limit of ", max_request_bytes_,
                                    " bytes (max_message_bytes)"));
    }
    if (rest.size() < pos + static_cast<size_t>(size) + 2) return State::kNeedMore;
    if (rest.substr(pos + static_cast<size_t>(size), 2) != "\r\n") return Fail(400, "chunk not followed by CRLF");
    body.append(rest.data() + pos, static_cast<size_t>(size));
    pos += static_cast<size_t>(size) + 2;
    chunk_scan_ = pos;
  }
}

absl::string_view HttpReason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string ConnectErrorJson(absl::string_view code, absl::string_view message) {
  std::string out = absl::StrCat("{\"code\":\"", code, "\",\"message\":\"");
  for (unsigned char c : message) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::string_view("0123456789abcdef" + (c >> 4), 1),
                          absl::string_view("0123456789abcdef" + (c & 15), 1));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"}";
  return out;
}

}  // namespace catalog::service
