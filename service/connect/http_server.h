// HttpServer: a small HTTP server for unary request/response APIs (the
// Connect protocol), serving HTTP/1.1 (keep-alive, pipelined requests
// answered in order) and HTTP/2 over cleartext with prior knowledge (h2c,
// through libnghttp2) on one port. A connection is HTTP/2 when its first
// bytes are the HTTP/2 connection preface, HTTP/1.x otherwise (an
// `Upgrade: h2c` header is ignored, as RFC 9110 allows: the answer stays
// HTTP/1.1).
//
// What it does not do: TLS (put a TLS-terminating balancer in front, as for
// the gRPC port), request bodies larger than max_request_bytes, trailers.
//
// Requests are whole (head and body) before the handler sees them. The
// handler answers through a Respond it may call later from any thread,
// exactly once; an HttpServer stays responsive meanwhile (one epoll loop
// per io thread, no thread ever waits for a handler).
//
// Limits, each answered precisely and bounded:
// - head larger than max_header_bytes: 431 (HTTP/1.1, then closed) or the
//   stream reset (HTTP/2);
// - body larger than max_request_bytes: 413 with a Connect-style JSON
//   error body, before the body is read (HTTP/1.1 closes the connection;
//   HTTP/2 resets the stream after the answer);
// - more than max_connections open: new ones are closed at once;
// - a connection idle (HTTP/2: no open stream, HTTP/1.1: no request in
//   progress) or a request not complete within idle_timeout: closed
//   (HTTP/1.1 with 408 when a request was under way);
// - HTTP/2 streams at once per connection: max_concurrent_streams
//   (SETTINGS_MAX_CONCURRENT_STREAMS; more are refused by nghttp2).
//
// Thread-safety: Start, port, Shutdown from one thread; the handler runs on
// the io threads (it must not block) and Respond may run on any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/metrics.h"

namespace catalog::service {

struct HttpRequest {
  enum class Protocol { kHttp1, kHttp2 };
  Protocol protocol = Protocol::kHttp1;
  std::string method;  // "POST"
  std::string path;    // Without the query.
  std::string query;   // After '?', undecoded; empty if none.
  // Header names lower case, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `name` (lower case); nullopt if absent.
  std::optional<absl::string_view> Header(absl::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  // Names as sent (HTTP/2 lower-cases them). Content-Length is added.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Answers one request: call exactly once, from any thread. Calling it after
// the server stopped or the connection closed is harmless (dropped).
using Respond = absl::AnyInvocable<void(HttpResponse) &&>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Runs on an io thread; must not block (start the work and answer later).
  virtual void Handle(HttpRequest request, Respond respond) = 0;
};

struct HttpServerOptions {
  // host:port; port 0 picks a free one (see port()).
  std::string listen_address;
  // Threads running epoll loops (each serves whole connections). Default 1.
  int io_threads = 1;
  // Largest request body. Default 4 MiB.
  int64_t max_request_bytes = 4 * 1024 * 1024;
  // Largest request head (request line and headers). Default 16 KiB.
  int64_t max_header_bytes = 16 * 1024;
  // Most connections open at once. Default 10000.
  int64_t max_connections = 10000;
  // See the header comment. Default 60 s.
  absl::Duration idle_timeout = absl::Seconds(60);
  // HTTP/2 streams at once per connection. Default 100.
  int64_t max_concurrent_streams = 100;
};

class HttpServer {
 public:
  // Listens and starts the io threads. UNAVAILABLE naming the address when
  // it cannot be bound; INVALID_ARGUMENT when it is not host:port. `handler`
  // and `metrics` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpHandler* handler,
                                                           storage::Metrics* metrics);
  // Stops and joins the io threads, closing every connection (Shutdown
  // first for a graceful stop).
  ~HttpServer();

  int port() const { return port_; }

  // Stops accepting connections; HTTP/2 connections get GOAWAY, HTTP/1.1
  // ones are closed once their request in progress is answered, idle ones
  // at once. Returns when every request handed to the handler was answered
  // or at `deadline`, whichever comes first.
  void Shutdown(absl::Time deadline);

  // Requests handed to the handler and not answered yet.
  int64_t in_flight() const;

  struct Loop;  // http_server.cc only.

 private:
  HttpServer() = default;
  HttpServerOptions options_;  // The loops refer to it.
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::shared_ptr<std::atomic<int64_t>> in_flight_;
  std::shared_ptr<std::atomic<int64_t>> connections_;
};

// The HTTP/1.x request parser, exposed for tests. Feed it bytes as they
// arrive; it consumes one request at a time.
class Http1Parser {
 public:
  Http1Parser(int64_t max_header_bytes, int64_t max_request_bytes)
      : max_header_bytes_(max_header_bytes), max_request_bytes_(max_request_bytes) {}

  enum class State {
    kNeedMore,      // Not a whole request yet.
    kExpectContinue,  // Head parsed, it asked for 100-continue, body not here yet: send "100 Continue" once.
    kRequest,       // request() is whole; Consume() it before parsing on.
    kError,         // error_status()/error_message(); the connection must be closed after answering.
  };
  // Parses what `buffer` holds from its start (the bytes not yet consumed).
  State Parse(absl::string_view buffer);
  // After kRequest: the request, and how many bytes of the buffer it took.
  HttpRequest& request() { return request_; }
  size_t consumed() const { return consumed_; }
  // After kRequest: whether the connection stays open after the answer.
  bool keep_alive() const { return keep_alive_; }
  // Ready for the next request (after kRequest was taken).
  void Reset();

  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  State Fail(int status, std::string message);
  State ParseHead(absl::string_view head);
  State ParseChunked(absl::string_view buffer);

  const int64_t max_header_bytes_;
  const int64_t max_request_bytes_;
  HttpRequest request_;
  bool head_done_ = false;
  size_t head_size_ = 0;
  bool chunked_ = false;
  int64_t content_length_ = 0;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  size_t consumed_ = 0;
  size_t chunk_scan_ = 0;  // Chunked: where the next chunk's size line starts (after the head).
  int error_status_ = 0;
  std::string error_message_;
};

// Reason phrase of an HTTP status ("Not Found"); "Unknown" if not listed.
absl::string_view HttpReason(int status);

// A Connect-style JSON error body {"code":"...","message":"..."}.
std::string ConnectErrorJson(absl::string_view code, absl::string_view message);

}  // namespace catalog::service
