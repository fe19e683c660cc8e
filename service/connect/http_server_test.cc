#include "service/connect/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace catalog::service {
namespace {

// Answers "<path>:<body>"; a path starting /slow is answered only when
// Release() is called (from another thread), in arrival order.
class EchoHandler : public HttpHandler {
 public:
  void Handle(HttpRequest request, Respond respond) override {
    HttpResponse response;
    response.headers.emplace_back("Content-Type", "text/plain");
    response.body = absl::StrCat(request.path, ":", request.body);
    handled_.fetch_add(1);
    if (request.path == "/big") response.body += std::string(100 << 10, 'b');
    if (absl::StartsWith(request.path, "/slow")) {
      absl::MutexLock lock(&mu_);
      held_.emplace_back(std::move(respond), std::move(response));
      return;
    }
    std::move(respond)(std::move(response));
  }
  int Handled() const { return handled_.load(); }
  int Held() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }
  void Release() {
    std::vector<std::pair<Respond, HttpResponse>> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    std::thread([held = std::move(held)]() mutable {
      for (auto& [respond, response] : held) std::move(respond)(std::move(response));
    }).join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<Respond, HttpResponse>> held_;
  std::atomic<int> handled_{0};
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void Send(int fd, const std::string& bytes) { REQUIRE(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size())); }

// Reads until `n` whole responses (by Content-Length) arrived or EOF.
std::string ReadResponses(int fd, int n, bool* eof = nullptr) {
  std::string got;
  std::vector<char> buffer(1 << 16);
  int whole = 0;
  size_t pos = 0;  // Start of the first response not yet whole.
  while (true) {
    while (true) {
      const size_t head_end = got.find("\r\n\r\n", pos);
      if (head_end == std::string::npos) break;
      const size_t cl = got.find("Content-Length: ", pos);
      size_t length = 0;
      if (cl != std::string::npos && cl < head_end) length = std::stoul(got.substr(cl + 16, 12));
      if (got.size() < head_end + 4 + length) break;
      pos = head_end + 4 + length;
      ++whole;
    }
    if (whole >= n) break;
    const ssize_t r = read(fd, buffer.data(), buffer.size());
    if (r <= 0) {
      if (eof != nullptr) *eof = true;
      break;
    }
    got.append(buffer.data(), static_cast<size_t>(r));
  }
  return got;
}

bool ClosedByPeer(int fd) {
  char c;
  return read(fd, &c, 1) == 0;
}

struct Fixture {
  explicit Fixture(HttpServerOptions options = {}) {
    options.listen_address = "127.0.0.1:0";
    auto started = HttpServer::Start(options, &handler, &metrics);
    REQUIRE(started.ok());
    server = *std::move(started);
  }
  storage::Metrics metrics;
  EchoHandler handler;
  std::unique_ptr<HttpServer> server;
};

TEST_CASE("HttpServer: keep-alive, and pipelined requests answered in order", "[http]") {
  Fixture f;
  const int fd = Connect(f.server->port());
  Send(fd, "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n1");
  CHECK(absl::StrContains(ReadResponses(fd, 1), "/a:1"));
  // The first is held by the handler; the second must still come after it.
  Send(fd, "POST /slow HTTP/1.1\r\nContent-Length: 1\r\n\r\n2POST /b HTTP/1.1\r\nContent-Length: 1\r\n\r\n3");
  while (f.handler.Held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  f.handler.Release();
  const std::string both = ReadResponses(fd, 2);
  const size_t first = both.find("/slow:2");
  const size_t second = both.find("/b:3");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
  CHECK(f.metrics.Get(storage::Counter::http_requests_total) == 3);
  close(fd);
}

TEST_CASE("HttpServer: 100-continue, and a body past the limit refused before it is sent", "[http]") {
  HttpServerOptions options;
  options.max_request_bytes = 8;
  Fixture f(options);
  int fd = Connect(f.server->port());
  Send(fd, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n");
  char buffer[64];
  const ssize_t n = read(fd, buffer, sizeof(buffer));
  REQUIRE(n > 0);
  CHECK(std::string(buffer, static_cast<size_t>(n)) == "HTTP/1.1 100 Continue\r\n\r\n");
  Send(fd, "12345678");
  CHECK(absl::StrContains(ReadResponses(fd, 1), "/a:12345678"));
  close(fd);

  fd = Connect(f.server->port());
  Send(fd, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
  const std::string refused = ReadResponses(fd, 1);
  CHECK(absl::StartsWith(refused, "HTTP/1.1 413 Content Too Large\r\n"));
  CHECK(absl::StrContains(refused, "Connection: close"));
  CHECK(absl::StrContains(refused, "{\"code\":\"resource_exhausted\",\"message\":\"request body of 9 bytes exceeds"));
  CHECK(ClosedByPeer(fd));
  CHECK(f.metrics.Get(storage::Counter::http_rejected_total) == 1);
  close(fd);
}

TEST_CASE("HttpServer: a pipelining peer that does not read is not answered further, then all in order",
          "[http]") {
  Fixture f;
  const int fd = Connect(f.server->port());
  std::string pipeline;
  for (int i = 0; i < 500; ++i) pipeline += "POST /big HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
  Send(fd, pipeline);
  // Each answer is 100 KiB, 50 MB in all: once the kernel's socket buffers
  // are full and an answer waits in the server, it stops taking requests.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const int handled = f.handler.Handled();
  CHECK(handled < 500);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(f.handler.Handled() == handled);  // Still waiting for the peer.
  const std::string all = ReadResponses(fd, 500);
  size_t count = 0;
  for (size_t at = 0; (at = all.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++count;
  CHECK(count == 500);
  CHECK(f.handler.Handled() == 500);
  // A peer that leaves in the middle of an answer (EPIPE, never SIGPIPE).
  const int quitter = Connect(f.server->port());
  Send(quitter, "POST /big HTTP/1.1\r\n\r\nPOST /big HTTP/1.1\r\n\r\nPOST /big HTTP/1.1\r\n\r\n");
  close(quitter);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Send(fd, "POST /after HTTP/1.1\r\nContent-Length: 1\r\n\r\n1");
  CHECK(absl::StrContains(ReadResponses(fd, 1), "/after:1"));
  close(fd);
}

TEST_CASE("HttpServer: a body in one-byte chunks, and a flood of empty lines", "[http]") {
  Fixture f;
  int fd = Connect(f.server->port());
  std::string request = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20000; ++i) request += "1\r\nz\r\n";
  request += "0\r\n\r\n";
  Send(fd, request);
  const std::string answer = ReadResponses(fd, 1);
  CHECK(absl::StrContains(answer, "/c:" + std::string(20000, 'z')));
  close(fd);
  fd = Connect(f.server->port());
  std::string flood;
  for (int i = 0; i < 20000; ++i) flood += "\r\n";
  Send(fd, flood);
  CHECK(absl::StartsWith(ReadResponses(fd, 1), "HTTP/1.1 431 "));
  close(fd);
}

TEST_CASE("HttpServer: connections at and past http_max_connections", "[http]") {
  HttpServerOptions options;
  options.max_connections = 2;
  Fixture f(options);
  const int a = Connect(f.server->port());
  const int b = Connect(f.server->port());
  Send(a, "POST /a HTTP/1.1\r\n\r\n");
  Send(b, "POST /b HTTP/1.1\r\n\r\n");
  CHECK(absl::StrContains(ReadResponses(a, 1), "/a:"));
  CHECK(absl::StrContains(ReadResponses(b, 1), "/b:"));
  const int c = Connect(f.server->port());  // The kernel accepts; the server closes it.
  CHECK(ClosedByPeer(c));
  CHECK(f.metrics.Get(storage::Counter::http_connections_refused_total) == 1);
  CHECK(f.metrics.Get(storage::Gauge::http_connections) == 2);
  close(a);
  close(b);
  close(c);
}

TEST_CASE("HttpServer: a request not whole within the idle timeout gets 408 and is closed", "[http]") {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(300);
  Fixture f(options);
  const int partial = Connect(f.server->port());
  Send(partial, "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
  bool eof = false;
  const std::string answer = ReadResponses(partial, 1, &eof);
  CHECK(absl::StartsWith(answer, "HTTP/1.1 408 Request Timeout\r\n"));
  CHECK(ClosedByPeer(partial));
  const int idle = Connect(f.server->port());
  CHECK(ClosedByPeer(idle));  // Idle without a request: closed, nothing sent.
  close(partial);
  close(idle);
}

TEST_CASE("HttpServer: Shutdown waits for the answer in flight, then closes the connection", "[http]") {
  Fixture f;
  const int fd = Connect(f.server->port());
  Send(fd, "POST /slow HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
  while (f.handler.Held() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(f.server->in_flight() == 1);
  auto stopped = std::async(std::launch::async, [&] { f.server->Shutdown(absl::Now() + absl::Seconds(30)); });
  CHECK(stopped.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  f.handler.Release();
  stopped.get();
  const std::string answer = ReadResponses(fd, 1);
  CHECK(absl::StrContains(answer, "/slow:x"));
  CHECK(absl::StrContains(answer, "Connection: close"));
  CHECK(ClosedByPeer(fd));
  CHECK(f.server->in_flight() == 0);
  // New connections are refused after Shutdown.
  const int late = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(f.server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(late, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0);
  close(late);
  close(fd);
}

TEST_CASE("HttpServer: a Respond dropped unanswered answers 500 instead of hanging", "[http]") {
  class Dropper : public HttpHandler {
   public:
    void Handle(HttpRequest, Respond) override {}
  } dropper;
  storage::Metrics metrics;
  HttpServerOptions options;
  options.listen_address = "127.0.0.1:0";
  auto server = HttpServer::Start(options, &dropper, &metrics);
  REQUIRE(server.ok());
  const int fd = Connect((*server)->port());
  Send(fd, "POST /a HTTP/1.1\r\n\r\n");
  const std::string answer = ReadResponses(fd, 1);
  CHECK(absl::StartsWith(answer, "HTTP/1.1 500 "));
  CHECK(absl::StrContains(answer, "\"code\":\"internal\""));
  CHECK((*server)->in_flight() == 0);
  close(fd);
}

TEST_CASE("HttpServer: a bad listen address or a taken port is refused with the option named", "[http]") {
  storage::Metrics metrics;
  EchoHandler handler;
  HttpServerOptions options;
  options.listen_address = "nonsense";
  CHECK(HttpServer::Start(options, &handler, &metrics).status().message() ==
        "option http_listen_address: \"nonsense\" is not host:port");
  Fixture f;
  options.listen_address = absl::StrCat("127.0.0.1:", f.server->port());
  const absl::Status taken = HttpServer::Start(options, &handler, &metrics).status();
  CHECK(taken.code() == absl::StatusCode::kUnavailable);
  CHECK(absl::StrContains(taken.message(), "--http_listen_address"));
}

}  // namespace
}  // namespace catalog::service
