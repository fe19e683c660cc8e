// HttpServer: epoll loops over non-blocking sockets. Each connection
// belongs to one loop for its life, so its state needs no lock; the only
// state shared across threads is a loop's mailbox (answers posted by
// Respond from any thread, then an eventfd write) and the counters.
//
// Why answers go through the mailbox even when given on the loop's own
// thread: a handler may answer from inside nghttp2's callbacks, where
// submitting frames re-enters the session; queueing keeps every write to a
// connection at one place in the loop.
#include "service/connect/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace catalog::service {
namespace {

constexpr absl::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint64_t kListenerId = 0;
constexpr uint64_t kWakeId = 1;
// Output buffered per connection before nghttp2 is asked for more frames.
constexpr size_t kMaxPendingOutput = 1 << 20;
// Bytes read from one connection per event, so one busy peer cannot starve
// the others of its loop.
constexpr size_t kMaxReadPerEvent = 1 << 20;
// HTTP/1: answers written but not yet taken by the peer above which no
// further request is read (a pipelining peer that does not read cannot
// make the server buffer answer after answer).
constexpr size_t kMaxPendingHttp1 = 64 << 10;
// After an answer that closes the connection, how long what the peer still
// sends is read and dropped (closing with unread input would reset the
// connection and could destroy the answer before the peer reads it).
constexpr absl::Duration kLinger = absl::Seconds(2);

struct Completion {
  uint64_t conn_id;
  int32_t stream_id;  // 0 for HTTP/1.
  HttpResponse response;
};

// Where Respond posts answers. Outlives the loop if a Respond does.
struct Mailbox {
  absl::Mutex mu;
  std::vector<Completion> queue ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
  int event_fd = -1;  // Closed only after `closed` is set, under mu.

  void Post(Completion completion) {
    absl::MutexLock lock(&mu);
    if (closed) return;
    const bool was_empty = queue.empty();
    queue.push_back(std::move(completion));
    if (was_empty) {
      const uint64_t one = 1;
      (void)!write(event_fd, &one, sizeof(one));
    }
  }
};

// The callable behind a Respond. Answers 500 if dropped unanswered (a
// handler bug), so the request is never left hanging and in_flight stays
// true.
class Responder {
 public:
  Responder(std::shared_ptr<Mailbox> mailbox, std::shared_ptr<std::atomic<int64_t>> in_flight, uint64_t conn_id,
            int32_t stream_id)
      : mailbox_(std::move(mailbox)), in_flight_(std::move(in_flight)), conn_id_(conn_id), stream_id_(stream_id) {
    in_flight_->fetch_add(1);
  }
  Responder(Responder&& other) noexcept
      : mailbox_(std::move(other.mailbox_)),
        in_flight_(std::move(other.in_flight_)),
        conn_id_(other.conn_id_),
        stream_id_(other.stream_id_) {}
  Responder& operator=(Responder&&) = delete;
  ~Responder() {
    if (mailbox_ != nullptr) {
      HttpResponse response;
      response.status = 500;
      response.headers.emplace_back("Content-Type", "application/json");
      response.body = ConnectErrorJson("internal", "the request was dropped unanswered");
      Send(std::move(response));
    }
  }
  void operator()(HttpResponse response) && { Send(std::move(response)); }

 private:
  void Send(HttpResponse response) {
    std::shared_ptr<Mailbox> mailbox = std::move(mailbox_);
    mailbox->Post({conn_id_, stream_id_, std::move(response)});
    in_flight_->fetch_sub(1);
  }
  std::shared_ptr<Mailbox> mailbox_;
  std::shared_ptr<std::atomic<int64_t>> in_flight_;
  uint64_t conn_id_;
  int32_t stream_id_;
};

struct Stream {
  absl::Time started;
  bool dispatched = false;  // Whole, and handed to the handler.
  HttpRequest request;
  int64_t header_bytes = 0;
  bool failed = false;      // Answered before its request was whole (limits).
  int64_t discarded = 0;    // Body bytes received after that.
  HttpResponse response;
  size_t body_offset = 0;
};

struct Conn {
  HttpServer::Loop* loop = nullptr;  // nghttp2's callbacks get the connection; this leads to its loop.
  uint64_t id = 0;
  int fd = -1;
  enum class Mode { kUnknown, kHttp1, kHttp2 } mode = Mode::kUnknown;
  std::string in;
  std::string out;
  size_t out_offset = 0;
  // HTTP/1: a response body waits here after its head in `out`, so that it
  // is written (writev) without being copied again.
  std::string body_out;
  size_t body_offset = 0;
  bool Writing() const { return out_offset < out.size() || body_offset < body_out.size(); }
  size_t Pending() const { return out.size() - out_offset + body_out.size() - body_offset; }
  // Output bytes that must follow everything queued (100 Continue).
  void AppendRaw(absl::string_view bytes) {
    if (body_offset < body_out.size()) {
      body_out.append(bytes.data(), bytes.size());
    } else {
      out.append(bytes.data(), bytes.size());
    }
  }
  // Write side shut after the last answer; input read and dropped until
  // EOF or linger_until.
  bool lingering = false;
  bool held_for_output = false;  // HTTP/1: requests wait in `in` until output drains.
  absl::Time linger_until;
  uint32_t events = 0;
  absl::Time last_activity;
  // HTTP/1: one request at a time, answered in order.
  std::unique_ptr<Http1Parser> parser;
  bool in_flight = false;
  bool keep_alive = true;
  bool close_after_write = false;
  absl::Time request_started = absl::InfiniteFuture();  // First byte of a request not yet whole.
  // HTTP/2.
  nghttp2_session* h2 = nullptr;
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams;
  bool goaway_sent = false;

  ~Conn() {
    if (h2 != nullptr) nghttp2_session_del(h2);
  }
};

absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& address, socklen_t* length) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("option http_listen_address: \"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("option http_listen_address: cannot resolve \"", host, "\""));
  }
  sockaddr_storage storage{};
  std::memcpy(&storage, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return storage;
}

}  // namespace

struct HttpServer::Loop {
  Loop(const HttpServerOptions& options, HttpHandler* handler, storage::Metrics* metrics, int listen_fd,
       std::shared_ptr<std::atomic<int64_t>> in_flight, std::shared_ptr<std::atomic<int64_t>> connections)
      : options(options),
        handler(handler),
        metrics(metrics),
        listen_fd(listen_fd),
        in_flight(std::move(in_flight)),
        connections(std::move(connections)),
        mailbox(std::make_shared<Mailbox>()) {
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    mailbox->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Loop() {
    stop = true;
    Wake();
    if (thread.joinable()) thread.join();
    while (!conns.empty()) Close(conns.begin()->second.get());
    {
      absl::MutexLock lock(&mailbox->mu);
      mailbox->closed = true;
      close(mailbox->event_fd);
    }
    close(epoll_fd);
  }

  absl::Status Start() {
    if (epoll_fd < 0 || mailbox->event_fd < 0) return absl::InternalError("cannot create the HTTP loop's epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeId;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, mailbox->event_fd, &ev) != 0) return absl::InternalError("epoll_ctl");
    // EPOLLEXCLUSIVE: one loop is woken per new connection, not all.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenerId;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) != 0) return absl::InternalError("epoll_ctl");
    thread = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Wake() {
    const uint64_t one = 1;
    (void)!write(mailbox->event_fd, &one, sizeof(one));
  }

  void Run() {
    epoll_event events[64];
    absl::Time last_sweep = absl::Now();
    while (!stop) {
      const int n = epoll_wait(epoll_fd, events, 64, 1000);
      const absl::Time now = absl::Now();
      for (int i = 0; i < n; ++i) {
        const uint64_t id = events[i].data.u64;
        if (id == kListenerId) {
          Accept(now);
        } else if (id == kWakeId) {
          uint64_t count;
          (void)!read(mailbox->event_fd, &count, sizeof(count));
        } else if (auto it = conns.find(id); it != conns.end()) {
          OnEvent(it->second.get(), events[i].events, now);
        }
      }
      DeliverCompletions();
      if (draining.load() && !drain_started) StartDrain();
      if (accept_paused && !drain_started && now >= accept_resume) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.u64 = kListenerId;
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev) == 0) accept_paused = false;
      }
      if (now - last_sweep >= absl::Seconds(1) || drain_started) {
        last_sweep = now;
        Sweep(now);
      }
    }
  }

  void Accept(absl::Time now) {
    if (drain_started) return;
    while (true) {
      const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // Out of descriptors: the listener stays readable, so stop polling
        // it for a moment instead of spinning.
        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) && !accept_paused) {
          epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          accept_paused = true;
          accept_resume = now + absl::Milliseconds(100);
        }
        return;  // EAGAIN (another loop took it) or the above: wait.
      }
      if (connections->fetch_add(1) >= options.max_connections) {
        connections->fetch_sub(1);
        metrics->Add(storage::Counter::http_connections_refused_total);
        close(fd);
        continue;
      }
      metrics->Add(storage::Gauge::http_connections, 1);
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      auto conn = std::make_unique<Conn>();
      conn->loop = this;
      conn->id = next_id++;
      conn->fd = fd;
      conn->last_activity = now;
      Conn* c = conn.get();
      conns.emplace(c->id, std::move(conn));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c->id;
      if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        Close(c);
        continue;
      }
      c->events = EPOLLIN;
    }
  }

  void Close(Conn* c) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    connections->fetch_sub(1);
    metrics->Add(storage::Gauge::http_connections, -1);
    conns.erase(c->id);  // Destroys c.
  }

  // Reads what is there, parses, answers what it can; closes on EOF/errors.
  void OnEvent(Conn* c, uint32_t events, absl::Time now) {
    if (events & (EPOLLERR)) return Close(c);
    if (events & EPOLLOUT) {
      if (!Flush(c)) return;
    }
    if (c->lingering) {
      char drop[65536];
      ssize_t got;
      while ((got = read(c->fd, drop, sizeof(drop))) > 0) {
      }
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) Close(c);
      return;
    }
    if (events & (EPOLLIN | EPOLLHUP)) {
      size_t total = 0;
      char buffer[65536];
      bool eof = false;
      while (total < kMaxReadPerEvent) {
        const ssize_t got = read(c->fd, buffer, sizeof(buffer));
        if (got > 0) {
          c->in.append(buffer, static_cast<size_t>(got));
          total += static_cast<size_t>(got);
          continue;
        }
        if (got == 0) eof = true;
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) eof = true;
        break;
      }
      if (total > 0) c->last_activity = now;
      if (total > 0 && !Process(c, now)) return;
      // The peer is gone (or half-closed: answers could still be read, but
      // unary clients do not half-close, and keeping it would hold a
      // descriptor for nothing).
      if (eof) return Close(c);
    }
    UpdateInterest(c);
  }

  // Returns false if `c` was closed.
  bool Process(Conn* c, absl::Time now) {
    if (c->mode == Conn::Mode::kUnknown) {
      const size_t n = std::min(c->in.size(), kH2Preface.size());
      if (absl::string_view(c->in).substr(0, n) == kH2Preface.substr(0, n)) {
        if (n < kH2Preface.size()) return true;  // Could still be either.
        if (!StartHttp2(c)) {
          Close(c);
          return false;
        }
      } else {
        c->mode = Conn::Mode::kHttp1;
        c->parser = std::make_unique<Http1Parser>(options.max_header_bytes, options.max_request_bytes);
      }
    }
    if (c->mode == Conn::Mode::kHttp2) {
      const ssize_t used = nghttp2_session_mem_recv(c->h2, reinterpret_cast<const uint8_t*>(c->in.data()),
                                                    c->in.size());
      c->in.clear();
      if (used < 0) {
        Close(c);
        return false;
      }
      return Flush(c);
    }
    ProcessHttp1(c, now);
    return Flush(c);
  }

  void ProcessHttp1(Conn* c, absl::Time now) {
    while (!c->in_flight && !c->close_after_write && !c->in.empty()) {
      if (c->Pending() >= kMaxPendingHttp1) {
        c->held_for_output = true;  // FlushHttp1 goes on once the peer took enough.
        return;
      }
      if (c->request_started == absl::InfiniteFuture()) c->request_started = now;
      switch (c->parser->Parse(c->in)) {
        case Http1Parser::State::kNeedMore:
          return;
        case Http1Parser::State::kExpectContinue:
          c->AppendRaw("HTTP/1.1 100 Continue\r\n\r\n");
          return;
        case Http1Parser::State::kError: {
          metrics->Add(storage::Counter::http_requests_total);
          metrics->Add(storage::Counter::http_rejected_total);
          const int status = c->parser->error_status();
          HttpResponse response;
          response.status = status;
          response.headers.emplace_back("Content-Type", "application/json");
          response.body = ConnectErrorJson(status == 413 || status == 431 ? "resource_exhausted"
                                           : status == 501 || status == 505 ? "unimplemented"
                                                                            : "invalid_argument",
                                           c->parser->error_message());
          c->in.clear();
          c->keep_alive = false;
          c->request_started = absl::InfiniteFuture();
          WriteHttp1(c, std::move(response));
          return;
        }
        case Http1Parser::State::kRequest: {
          HttpRequest request = std::move(c->parser->request());
          c->keep_alive = c->parser->keep_alive();
          c->in.erase(0, c->parser->consumed());
          c->parser->Reset();
          c->request_started = absl::InfiniteFuture();
          c->in_flight = true;
          Dispatch(c->id, 0, std::move(request));
          break;
        }
      }
    }
  }

  void Dispatch(uint64_t conn_id, int32_t stream_id, HttpRequest request) {
    metrics->Add(storage::Counter::http_requests_total);
    handler->Handle(std::move(request), Respond(Responder(mailbox, in_flight, conn_id, stream_id)));
  }

  void WriteHttp1(Conn* c, HttpResponse response) {
    const bool close_after = !c->keep_alive || drain_started;
    std::string head = absl::StrCat("HTTP/1.1 ", response.status, " ", HttpReason(response.status), "\r\n");
    for (const auto& [name, value] : response.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
    if (response.status != 204) absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n");
    if (close_after) head += "Connection: close\r\n";
    head += "\r\n";
    if (c->body_offset < c->body_out.size()) {
      // An earlier body is still being sent: this answer goes after it.
      c->body_out += head;
      c->body_out += response.body;
    } else {
      c->out += head;
      c->body_out = std::move(response.body);
      c->body_offset = 0;
    }
    if (close_after) c->close_after_write = true;
  }

  // Writes pending output; returns false if `c` was closed.
  bool Flush(Conn* c) {
    if (c->mode != Conn::Mode::kHttp2) return FlushHttp1(c);
    while (true) {
      if (c->mode == Conn::Mode::kHttp2) {
        while (c->out.size() - c->out_offset < kMaxPendingOutput) {
          const uint8_t* data = nullptr;
          const ssize_t n = nghttp2_session_mem_send(c->h2, &data);
          if (n < 0) {
            Close(c);
            return false;
          }
          if (n == 0) break;
          c->out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
        }
      }
      if (c->out_offset == c->out.size()) break;
      // MSG_NOSIGNAL: a peer gone mid-answer is EPIPE here, not a SIGPIPE
      // that would end the process.
      const ssize_t n = send(c->fd, c->out.data() + c->out_offset, c->out.size() - c->out_offset, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        Close(c);
        return false;
      }
      c->out_offset += static_cast<size_t>(n);
      c->last_activity = absl::Now();
      if (c->out_offset == c->out.size()) {
        c->out.clear();
        c->out_offset = 0;
        if (c->mode != Conn::Mode::kHttp2) break;
        // HTTP/2: nghttp2 may have more frames now.
      }
    }
    if (c->out.empty()) {
      if (c->close_after_write) {
        Close(c);
        return false;
      }
      if (c->mode == Conn::Mode::kHttp2 && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
        Close(c);
        return false;
      }
    }
    UpdateInterest(c);
    return true;
  }

  bool FlushHttp1(Conn* c) {
    while (c->Writing()) {
      iovec parts[2];
      int n = 0;
      if (c->out_offset < c->out.size()) parts[n++] = {c->out.data() + c->out_offset, c->out.size() - c->out_offset};
      if (c->body_offset < c->body_out.size()) {
        parts[n++] = {c->body_out.data() + c->body_offset, c->body_out.size() - c->body_offset};
      }
      msghdr message{};
      message.msg_iov = parts;
      message.msg_iovlen = static_cast<size_t>(n);
      const ssize_t written = sendmsg(c->fd, &message, MSG_NOSIGNAL);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (written <= 0) {
        Close(c);
        return false;
      }
      c->last_activity = absl::Now();
      const size_t head = std::min(static_cast<size_t>(written), c->out.size() - c->out_offset);
      c->out_offset += head;
      c->body_offset += static_cast<size_t>(written) - head;
    }
    if (c->out_offset == c->out.size()) {
      c->out.clear();
      c->out_offset = 0;
    }
    if (c->body_offset == c->body_out.size()) {
      c->body_out.clear();
      c->body_offset = 0;
    }
    if (c->held_for_output && c->Pending() < kMaxPendingHttp1) {
      // Requests read while answers waited: on with them (each dispatch
      // waits for its answer, so this does not recurse deeply).
      c->held_for_output = false;
      ProcessHttp1(c, absl::Now());
      return FlushHttp1(c);
    }
    if (!c->Writing() && c->close_after_write && !c->lingering) {
      shutdown(c->fd, SHUT_WR);
      c->lingering = true;
      c->linger_until = absl::Now() + kLinger;
    }
    UpdateInterest(c);
    return true;
  }

  void UpdateInterest(Conn* c) {
    // HTTP/1 reads nothing while a request is answered (the next one waits
    // in the kernel), so a pipelining peer cannot grow our buffers.
    uint32_t want = 0;
    if (c->lingering ||
        !(c->mode == Conn::Mode::kHttp1 && (c->in_flight || c->close_after_write || c->Pending() >= kMaxPendingHttp1))) {
      want |= EPOLLIN;
    }
    if (c->Writing()) want |= EPOLLOUT;
    if (want == c->events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
  }

  void DeliverCompletions() {
    std::vector<Completion> batch;
    {
      absl::MutexLock lock(&mailbox->mu);
      batch.swap(mailbox->queue);
    }
    const absl::Time now = absl::Now();
    for (Completion& done : batch) {
      auto it = conns.find(done.conn_id);
      if (it == conns.end()) continue;  // Closed meanwhile: the answer is dropped.
      Conn* c = it->second.get();
      c->last_activity = now;
      if (c->mode == Conn::Mode::kHttp2) {
        auto s = c->streams.find(done.stream_id);
        if (s == c->streams.end()) continue;  // Reset by the peer.
        SubmitHttp2(c, done.stream_id, s->second.get(), std::move(done.response));
        Flush(c);
        continue;
      }
      if (!c->in_flight) continue;
      c->in_flight = false;
      WriteHttp1(c, std::move(done.response));
      ProcessHttp1(c, now);  // Pipelined requests already read.
      Flush(c);
    }
  }

  // Idle and slow connections; during a drain, finished ones.
  void Sweep(absl::Time now) {
    std::vector<Conn*> to_close;
    std::vector<Conn*> to_timeout;
    std::vector<std::pair<Conn*, int32_t>> expired_streams;
    for (auto& [id, conn] : conns) {
      Conn* c = conn.get();
      if (c->lingering) {
        if (now >= c->linger_until) to_close.push_back(c);
        continue;
      }
      bool busy = c->in_flight;
      if (c->mode == Conn::Mode::kHttp2) {
        // Busy while a call runs or its answer is sent; a stream whose
        // request is not whole within the idle timeout is reset.
        busy = false;
        for (const auto& [stream_id, stream] : c->streams) {
          busy = busy || stream->dispatched || stream->failed;
          if (!stream->dispatched && !stream->failed && now - stream->started > options.idle_timeout) {
            expired_streams.emplace_back(c, stream_id);
          }
        }
      }
      const bool writing = c->Writing();
      if (drain_started && !busy && !writing && (c->mode != Conn::Mode::kHttp1 || c->in.empty())) {
        to_close.push_back(c);
      } else if (c->mode == Conn::Mode::kHttp1 && !busy && c->request_started != absl::InfiniteFuture() &&
                 now - c->request_started > options.idle_timeout) {
        to_timeout.push_back(c);
      } else if (!busy && now - c->last_activity > options.idle_timeout) {
        to_close.push_back(c);
      }
    }
    for (Conn* c : to_close) Close(c);
    for (const auto& [c, stream_id] : expired_streams) {
      if (std::find(to_close.begin(), to_close.end(), c) != to_close.end()) continue;
      nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
    }
    for (const auto& [c, stream_id] : expired_streams) {
      if (std::find(to_close.begin(), to_close.end(), c) != to_close.end()) continue;
      if (conns.contains(c->id)) Flush(c);
    }
    for (Conn* c : to_timeout) {
      HttpResponse response;
      response.status = 408;
      response.headers.emplace_back("Content-Type", "application/json");
      response.body = ConnectErrorJson("deadline_exceeded", "request not received in time (http_idle_timeout_ms)");
      c->keep_alive = false;
      c->in.clear();
      c->request_started = absl::InfiniteFuture();
      WriteHttp1(c, std::move(response));
      Flush(c);
    }
  }

  void StartDrain() {
    drain_started = true;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
    drain_acknowledged = true;  // Shutdown may close the listening socket now.
    std::vector<Conn*> all;
    for (auto& [id, conn] : conns) all.push_back(conn.get());
    for (Conn* c : all) {
      if (c->mode == Conn::Mode::kHttp2 && !c->goaway_sent) {
        c->goaway_sent = true;
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                              NGHTTP2_NO_ERROR, nullptr, 0);
        Flush(c);
      }
    }
  }

  // ---- HTTP/2 ----

  bool StartHttp2(Conn* c) {
    c->mode = Conn::Mode::kHttp2;
    nghttp2_session_callbacks* callbacks;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Loop::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Loop::OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Loop::OnData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Loop::OnFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Loop::OnStreamClose);
    const int rv = nghttp2_session_server_new(&c->h2, callbacks, c);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) return false;
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<uint32_t>(options.max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(options.max_header_bytes)},
    };
    return nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, settings, 3) == 0;
  }

  static int OnBeginHeaders(nghttp2_session* /*session*/, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<Conn*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto stream = std::make_unique<Stream>();
    stream->started = absl::Now();
    stream->request.protocol = HttpRequest::Protocol::kHttp2;
    c->streams[frame->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int OnHeader(nghttp2_session* /*session*/, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* user) {
    auto* c = static_cast<Conn*>(user);
    Loop* loop = c->loop;
    auto it = c->streams.find(frame->hd.stream_id);
    if (it == c->streams.end()) return 0;
    Stream* s = it->second.get();
    s->header_bytes += static_cast<int64_t>(namelen + valuelen + 32);
    if (s->header_bytes > loop->options.max_header_bytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    absl::string_view n(reinterpret_cast<const char*>(name), namelen);
    absl::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->request.method = std::string(v);
    } else if (n == ":path") {
      const size_t q = v.find('?');
      s->request.path = std::string(v.substr(0, q));
      if (q != absl::string_view::npos) s->request.query = std::string(v.substr(q + 1));
    } else if (!n.empty() && n[0] != ':') {
      s->request.headers.emplace_back(std::string(n), std::string(v));
    }
    return 0;
  }

  static int OnData(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data, size_t len,
                    void* user) {
    auto* c = static_cast<Conn*>(user);
    Loop* loop = c->loop;
    auto it = c->streams.find(stream_id);
    if (it == c->streams.end()) return 0;
    Stream* s = it->second.get();
    if (s->failed) {
      // Answered already: the rest of the body is discarded; a peer that
      // keeps sending far past the limit has its stream reset.
      s->discarded += static_cast<int64_t>(len);
      if (s->discarded > loop->options.max_request_bytes) {
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
      }
      return 0;
    }
    if (static_cast<int64_t>(s->request.body.size() + len) > loop->options.max_request_bytes) {
      // Answer now, before the body is whole (RFC 9113 8.1).
      s->failed = true;
      s->request.body.clear();
      loop->metrics->Add(storage::Counter::http_requests_total);
      loop->metrics->Add(storage::Counter::http_rejected_total);
      HttpResponse response;
      response.status = 413;
      response.headers.emplace_back("content-type", "application/json");
      response.body = ConnectErrorJson(
          "resource_exhausted", absl::StrCat("request body exceeds the limit of ", loop->options.max_request_bytes,
                                             " bytes (max_message_bytes)"));
      loop->SubmitHttp2(c, stream_id, s, std::move(response));
      return 0;
    }
    s->request.body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnFrame(nghttp2_session* /*session*/, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<Conn*>(user);
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      return 0;
    }
    auto it = c->streams.find(frame->hd.stream_id);
    if (it == c->streams.end() || it->second->failed) return 0;
    it->second->dispatched = true;
    c->loop->Dispatch(c->id, frame->hd.stream_id, std::move(it->second->request));
    return 0;
  }

  static int OnStreamClose(nghttp2_session* /*session*/, int32_t stream_id, uint32_t /*error*/, void* user) {
    static_cast<Conn*>(user)->streams.erase(stream_id);
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session* /*session*/, int32_t /*stream_id*/, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* /*user*/) {
    auto* s = static_cast<Stream*>(source->ptr);
    const size_t n = std::min(length, s->response.body.size() - s->body_offset);
    std::memcpy(buf, s->response.body.data() + s->body_offset, n);
    s->body_offset += n;
    if (s->body_offset == s->response.body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  void SubmitHttp2(Conn* c, int32_t stream_id, Stream* s, HttpResponse response) {
    s->response = std::move(response);
    s->body_offset = 0;
    const std::string status = std::to_string(s->response.status);
    const std::string length = std::to_string(s->response.body.size());
    std::vector<std::string> names;
    names.reserve(s->response.headers.size());
    for (const auto& [name, value] : s->response.headers) names.push_back(absl::AsciiStrToLower(name));
    std::vector<nghttp2_nv> nva;
    auto add = [&nva](const std::string& name, const std::string& value) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    static const std::string kStatus = ":status";
    static const std::string kLength = "content-length";
    add(kStatus, status);
    for (size_t i = 0; i < names.size(); ++i) add(names[i], s->response.headers[i].second);
    if (s->response.status != 204) add(kLength, length);
    nghttp2_data_provider provider{};
    provider.source.ptr = s;
    provider.read_callback = &Loop::ReadBody;
    nghttp2_submit_response(c->h2, stream_id, nva.data(), nva.size(),
                            s->response.body.empty() ? nullptr : &provider);
  }

  const HttpServerOptions& options;
  HttpHandler* const handler;
  storage::Metrics* const metrics;
  const int listen_fd;
  std::shared_ptr<std::atomic<int64_t>> in_flight;
  std::shared_ptr<std::atomic<int64_t>> connections;
  std::shared_ptr<Mailbox> mailbox;
  int epoll_fd = -1;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> drain_acknowledged{false};
  bool accept_paused = false;
  absl::Time accept_resume;
  bool drain_started = false;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 2;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, HttpHandler* handler,
                                                             storage::Metrics* metrics) {
  socklen_t length = 0;
  absl::StatusOr<sockaddr_storage> address = ParseAddress(options.listen_address, &length);
  if (!address.ok()) return address.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->options_ = options;
  const int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot create a socket: ", std::strerror(errno)));
  server->listen_fd_ = fd;
  const int one = 1;
  // SO_REUSEADDR only (not SO_REUSEPORT): a second server on the port fails
  // to start instead of silently sharing its connections.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*address), length) != 0 || listen(fd, 1024) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen_address, " for Connect: ",
                                               std::strerror(errno),
                                               " (port in use? choose another with --http_listen_address=host:port)"));
  }
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  server->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  server->in_flight_ = std::make_shared<std::atomic<int64_t>>(0);
  auto connections = std::make_shared<std::atomic<int64_t>>(0);
  server->connections_ = connections;
  for (int i = 0; i < std::max(1, options.io_threads); ++i) {
    server->loops_.push_back(
        std::make_unique<Loop>(server->options_, handler, metrics, fd, server->in_flight_, connections));
    if (absl::Status s = server->loops_.back()->Start(); !s.ok()) return s;
  }
  return server;
}

HttpServer::~HttpServer() {
  loops_.clear();  // Joins the threads, closes the connections.
  if (listen_fd_ >= 0) close(listen_fd_);
}

int64_t HttpServer::in_flight() const { return in_flight_->load(); }

void HttpServer::Shutdown(absl::Time deadline) {
  for (auto& loop : loops_) {
    loop->draining = true;
    loop->Wake();
  }
  // Once no loop polls it, the listening socket is closed: new connections
  // are refused at once (a balancer moves on) instead of waiting unanswered
  // in the backlog.
  bool all_acknowledged = false;
  while (!all_acknowledged && absl::Now() < deadline) {
    all_acknowledged = true;
    for (auto& loop : loops_) all_acknowledged = all_acknowledged && loop->drain_acknowledged.load();
    if (!all_acknowledged) absl::SleepFor(absl::Milliseconds(1));
  }
  if (all_acknowledged && listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
  // Every answer given, or the deadline. Only calls in flight are waited
  // for: a connection holding half a request or not reading must not take
  // the gRPC server's grace (CatalogServer::Shutdown comes next).
  while (absl::Now() < deadline && in_flight_->load() > 0) absl::SleepFor(absl::Milliseconds(5));
  // Then a moment for the answers to be written and the connections to
  // close; what is left is closed by the destructor.
  const absl::Time flushed = std::min(deadline, absl::Now() + absl::Seconds(1));
  while (absl::Now() < flushed && connections_->load() > 0) absl::SleepFor(absl::Milliseconds(5));
}

}  // namespace catalog::service
