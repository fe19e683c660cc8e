#include "storage/redis/redis_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

// Bytes a tunnel holds per direction: a few TLS records (16 KB each). A
// 1000-key MGET reply (~600 KB) streams through it; a full buffer stops
// reading that side, so memory stays bounded whatever the peers do.
constexpr size_t kBufferBytes = 64 << 10;

std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    char full[256];
    if (reason == nullptr) ERR_error_string_n(e, full, sizeof full);
    absl::StrAppend(&out, out.empty() ? "" : "; ", reason != nullptr ? reason : full);
  }
  return out;
}

bool IsIpAddress(const std::string& host) {
  in6_addr v6;
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

bool Retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// What hiredis writes and the server sends, waiting to be passed on.
class Buffer {
 public:
  bool empty() const { return begin_ == end_; }
  bool full() const { return begin_ == 0 && end_ == bytes_.size(); }
  size_t size() const { return end_ - begin_; }
  char* head() { return bytes_.data() + begin_; }
  // Room at the tail, moving what is held to the front first if that makes
  // room (TLS writes are retried from the new place:
  // SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
  size_t Room() {
    if (end_ == bytes_.size() && begin_ > 0) {
      std::memmove(bytes_.data(), head(), size());
      end_ -= begin_;
      begin_ = 0;
    }
    return bytes_.size() - end_;
  }
  char* tail() { return bytes_.data() + end_; }
  void Added(size_t n) { end_ += n; }
  void Taken(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

 private:
  std::vector<char> bytes_ = std::vector<char>(kBufferBytes);
  size_t begin_ = 0;
  size_t end_ = 0;
};

struct Tunnel;

// Which of a tunnel's two sockets an epoll event is for.
struct Side {
  Tunnel* tunnel;
};

struct Tunnel {
  enum class Phase { kConnecting, kHandshake, kOpen, kClosed };

  ~Tunnel() {
    if (ssl != nullptr) SSL_free(ssl);
    if (plain >= 0) close(plain);
    if (tcp >= 0) close(tcp);
  }

  Side plain_side{this};
  Side tcp_side{this};
  int plain = -1;  // The local end hiredis talks to (non-blocking).
  int tcp = -1;    // To the server (non-blocking).
  SSL* ssl = nullptr;
  Phase phase = Phase::kConnecting;
  absl::Time handshake_deadline;
  absl::Duration handshake_timeout;
  std::string peer;  // host:port, for messages.
  Buffer up;         // hiredis -> server.
  Buffer down;       // server -> hiredis.
  bool plain_eof = false;  // hiredis closed its end (or it failed).
  bool tls_eof = false;    // The server closed (or the TLS read failed).
  // The server asked for a client certificate and none is configured; and
  // whether anything at all came back after the handshake. Together they
  // explain a refusal whose alert a reset dropped (see Hint()).
  bool certificate_requested = false;
  bool received = false;
  absl::Status failure;     // Why, if the server side ended abnormally.
  // What the last handshake, write and read step waits for
  // (SSL_ERROR_WANT_READ/WRITE), 0 for nothing.
  int handshake_wants = 0;
  int write_wants = 0;
  int read_wants = 0;
  uint32_t plain_events = 0;  // Registered with epoll; 0: not registered.
  uint32_t tcp_events = 0;
  std::shared_ptr<TlsTunnelState> state;
};

}  // namespace

// The pump: one thread moving bytes for every tunnel of one RedisTls.
// Everything in a Tunnel is touched by this thread only once Add() handed it
// over; the TlsTunnelState is how others learn what happened.
//
// Level-triggered epoll, and a socket is only watched for what the tunnel
// can act on now (a full buffer stops reading the side that fills it; a
// socket with nothing wanted is not registered at all), so no event repeats
// without progress.
class RedisTls::Pump {
 public:
  // cert_option: the client certificate option's name, for messages.
  Pump(SSL_CTX* ctx, std::string cert_option) : ctx_(ctx), cert_option_(std::move(cert_option)) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wake_ < 0) std::abort();
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = nullptr;  // The wake-up.
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) std::abort();
    thread_ = std::thread([this] { Run(); });
  }

  ~Pump() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    thread_.join();
    close(wake_);
    close(epoll_);
    SSL_CTX_free(ctx_);
  }

  SSL_CTX* ctx() const { return ctx_; }
  int open() const { return open_.load(std::memory_order_relaxed); }

  void Add(std::unique_ptr<Tunnel> tunnel) {
    open_.fetch_add(1, std::memory_order_relaxed);
    {
      absl::MutexLock lock(&mu_);
      incoming_.push_back(std::move(tunnel));
    }
    Wake();
  }

 private:
  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof one);
  }

  void Run() {
    // A write to a server that reset the connection must give EPIPE here,
    // whatever the process does with SIGPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    std::vector<epoll_event> events(64);
    while (true) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), NextTimeoutMs());
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          if (!TakeIncoming()) {
            CloseAll();
            return;
          }
          continue;
        }
        Tunnel* t = static_cast<Side*>(events[i].data.ptr)->tunnel;
        if (t->phase != Tunnel::Phase::kClosed) Step(t);
      }
      ExpireHandshakes();
      dead_.clear();  // After the batch: a later event in it may name one.
    }
  }

  // Registers the tunnels Add() queued; false once stopping.
  bool TakeIncoming() {
    uint64_t count;
    [[maybe_unused]] const ssize_t r = read(wake_, &count, sizeof count);
    std::vector<std::unique_ptr<Tunnel>> incoming;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
      incoming.swap(incoming_);
    }
    for (std::unique_ptr<Tunnel>& tunnel : incoming) {
      Tunnel* t = tunnel.get();
      tunnels_[t] = std::move(tunnel);
      handshaking_.insert(t);
      Step(t);
    }
    return true;
  }

  // Advances one tunnel as far as its sockets allow, then watches what it
  // waits for.
  void Step(Tunnel* t) {
    Advance(t);
    if (t->phase != Tunnel::Phase::kClosed) Watch(t);
  }

  void Advance(Tunnel* t) {
    if (t->phase == Tunnel::Phase::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(t->tcp, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) return Close(t, absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err))));
      sockaddr_storage peer;
      socklen_t peer_len = sizeof peer;
      if (getpeername(t->tcp, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return;  // Still connecting.
      t->phase = Tunnel::Phase::kHandshake;
    }
    if (t->phase == Tunnel::Phase::kHandshake) {
      ERR_clear_error();
      const int r = SSL_connect(t->ssl);
      if (r != 1) {
        const int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          t->handshake_wants = e;
          return;
        }
        return Close(t, absl::UnavailableError(HandshakeFailure(t, e)));
      }
      t->handshake_wants = 0;
      t->phase = Tunnel::Phase::kOpen;
      handshaking_.erase(t);
      t->state->MarkEstablished();
    }
    // Open: move bytes both ways until no step makes progress.
    for (bool progress = true; progress;) {
      progress = false;
      if (!t->plain_eof && t->up.Room() > 0) {
        const ssize_t n = recv(t->plain, t->up.tail(), t->up.Room(), 0);
        if (n > 0) {
          t->up.Added(static_cast<size_t>(n));
        } else if (n == 0 || !Retryable(errno)) {
          t->plain_eof = true;
        }
        progress |= n >= 0 || !Retryable(errno);
      }
      if (t->tls_eof) {
        // The server's side is over: what hiredis still sends has nowhere
        // to go, and a write now would fail and hide the real reason.
        t->up.Taken(t->up.size());
        t->write_wants = 0;
      } else if (!t->up.empty()) {
        ERR_clear_error();
        const int n = SSL_write(t->ssl, t->up.head(), static_cast<int>(t->up.size()));
        if (n > 0) {
          t->up.Taken(static_cast<size_t>(n));
          t->write_wants = 0;
          progress = true;
        } else if (const int e = SSL_get_error(t->ssl, n); e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          t->write_wants = e;
        } else {
          return Close(t, absl::UnavailableError(IoFailure(t, "write", e)));
        }
      } else {
        t->write_wants = 0;
      }
      if (!t->tls_eof && t->down.Room() > 0) {
        ERR_clear_error();
        const int n = SSL_read(t->ssl, t->down.tail(), static_cast<int>(t->down.Room()));
        if (n > 0) {
          t->down.Added(static_cast<size_t>(n));
          t->read_wants = 0;
          t->received = true;
          progress = true;
        } else if (const int e = SSL_get_error(t->ssl, n); e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          t->read_wants = e;
        } else {
          // Closed by the server (close_notify: no failure) or failed (an
          // alert such as "certificate required", a reset, an EOF without
          // close_notify): what it sent before still reaches hiredis.
          t->tls_eof = true;
          t->read_wants = 0;
          if (e != SSL_ERROR_ZERO_RETURN) t->failure = absl::UnavailableError(IoFailure(t, "read", e));
          progress = true;
        }
      }
      if (!t->down.empty()) {
        const ssize_t n = send(t->plain, t->down.head(), t->down.size(), MSG_NOSIGNAL);
        if (n > 0) {
          t->down.Taken(static_cast<size_t>(n));
          progress = true;
        } else if (n < 0 && !Retryable(errno)) {
          return Close(t, absl::OkStatus());  // hiredis closed its end: nobody to deliver to.
        }
      }
    }
    if (t->tls_eof && t->down.empty()) return Close(t, t->failure);  // OK after close_notify.
    if (t->plain_eof && t->up.empty()) {
      SSL_shutdown(t->ssl);  // Best effort close_notify; the socket closes next.
      return Close(t, absl::OkStatus());
    }
  }

  // Registers each socket for what the tunnel waits for on it.
  void Watch(Tunnel* t) {
    uint32_t tcp = 0;
    uint32_t plain = 0;
    const bool open = t->phase == Tunnel::Phase::kOpen;
    if (t->phase == Tunnel::Phase::kConnecting) tcp |= EPOLLOUT;
    if (t->down.full()) t->read_wants = 0;  // No read is attempted until there is room.
    for (const int wants : {t->handshake_wants, t->write_wants, t->read_wants}) {
      if (wants == SSL_ERROR_WANT_READ) tcp |= EPOLLIN;
      if (wants == SSL_ERROR_WANT_WRITE) tcp |= EPOLLOUT;
    }
    if (open && !t->plain_eof && !t->up.full()) plain |= EPOLLIN;
    if (!t->down.empty()) plain |= EPOLLOUT;
    if (!Register(t->tcp, &t->tcp_side, &t->tcp_events, tcp) ||
        !Register(t->plain, &t->plain_side, &t->plain_events, plain)) {
      Close(t, absl::ResourceExhaustedError(absl::StrCat("TLS: epoll: ", std::strerror(errno))));
    }
  }

  // False if epoll refuses (ENOMEM, ENOSPC: fs.epoll.max_user_watches).
  bool Register(int fd, Side* side, uint32_t* registered, uint32_t wanted) {
    if (wanted == *registered) return true;
    epoll_event event{};
    event.events = wanted;
    event.data.ptr = side;
    const int op = *registered == 0 ? EPOLL_CTL_ADD : wanted == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(epoll_, op, fd, &event) != 0) return false;
    *registered = wanted;
    return true;
  }

  // `why`: OK when either end closed cleanly.
  void Close(Tunnel* t, absl::Status why) {
    // Unwatched before the sockets close, so a reused descriptor never gets
    // this tunnel's events.
    Register(t->tcp, &t->tcp_side, &t->tcp_events, 0);
    Register(t->plain, &t->plain_side, &t->plain_events, 0);
    t->phase = Tunnel::Phase::kClosed;
    handshaking_.erase(t);
    t->state->MarkClosed(std::move(why));
    auto it = tunnels_.find(t);
    dead_.push_back(std::move(it->second));  // Sockets close at the end of the batch.
    tunnels_.erase(it);
    open_.fetch_sub(1, std::memory_order_relaxed);
  }

  void CloseAll() {
    std::vector<Tunnel*> all;
    for (auto& [t, owned] : tunnels_) all.push_back(t);
    const absl::Status down = absl::UnavailableError("the Redis TLS transport was shut down");
    for (Tunnel* t : all) Close(t, down);
    dead_.clear();
    absl::MutexLock lock(&mu_);
    for (std::unique_ptr<Tunnel>& t : incoming_) t->state->MarkClosed(down);
    open_.fetch_sub(static_cast<int>(incoming_.size()), std::memory_order_relaxed);
    incoming_.clear();
  }

  // Until the earliest handshake deadline; -1: none pending.
  int NextTimeoutMs() const {
    absl::Time next = absl::InfiniteFuture();
    for (const Tunnel* t : handshaking_) next = std::min(next, t->handshake_deadline);
    if (next == absl::InfiniteFuture()) return -1;
    return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(next - absl::Now(), absl::Milliseconds(1)))));
  }

  void ExpireHandshakes() {
    if (handshaking_.empty()) return;
    const absl::Time now = absl::Now();
    std::vector<Tunnel*> late;
    for (Tunnel* t : handshaking_) {
      if (t->handshake_deadline <= now) late.push_back(t);
    }
    for (Tunnel* t : late) {
      Close(t, absl::DeadlineExceededError(absl::StrCat(t->phase == Tunnel::Phase::kConnecting ? "connect" : "TLS handshake",
                                                        " not done within ", absl::FormatDuration(t->handshake_timeout))));
    }
  }

  std::string HandshakeFailure(Tunnel* t, int error) const {
    const long verify = SSL_get_verify_result(t->ssl);
    std::string errors = OpenSslErrors();
    if (verify != X509_V_OK) {
      return absl::StrCat("TLS handshake: certificate verify failed: ", X509_verify_cert_error_string(verify));
    }
    if (errors.empty()) {
      errors = error == SSL_ERROR_SYSCALL && errno != 0 ? std::strerror(errno) : "connection closed by the server";
    }
    return absl::StrCat("TLS handshake: ", errors, Hint(t));
  }

  std::string IoFailure(Tunnel* t, const char* what, int error) const {
    std::string errors = OpenSslErrors();
    if (errors.empty()) errors = error == SSL_ERROR_SYSCALL && errno != 0 ? std::strerror(errno) : "connection lost";
    return absl::StrCat("TLS ", what, ": ", errors, Hint(t));
  }

  // Over TLS 1.3 a server that requires a client certificate refuses after
  // our side of the handshake is done: its alert ("certificate required")
  // is followed at once by a close, and when our first command crosses the
  // close, the reset can discard the alert before it is read. The log must
  // still say why, so a failure before any answer, on a connection whose
  // server asked for a certificate we do not have, names the option.
  std::string Hint(const Tunnel* t) const {
    if (!t->certificate_requested || t->received) return "";
    return absl::StrCat(" (Redis asked for a client certificate and ", cert_option_, " is not set)");
  }

  SSL_CTX* const ctx_;
  const std::string cert_option_;
  int epoll_ = -1;
  int wake_ = -1;
  std::atomic<int> open_{0};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Tunnel>> incoming_ ABSL_GUARDED_BY(mu_);
  // The pump thread's own.
  absl::flat_hash_map<Tunnel*, std::unique_ptr<Tunnel>> tunnels_;
  // Those of tunnels_ still connecting or handshaking: the only ones with a
  // deadline, so an event batch looks at them alone.
  absl::flat_hash_set<Tunnel*> handshaking_;
  std::vector<std::unique_ptr<Tunnel>> dead_;
  std::thread thread_;
};

std::string TlsTunnelState::Failure() const {
  absl::MutexLock lock(&mu_);
  return std::string(failure_.message());
}

absl::Status TlsTunnelState::AwaitHandshake(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  const auto done = [](const TlsTunnelState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->established_ || s->closed_; };
  mu_.AwaitWithDeadline(absl::Condition(+done, this), deadline);
  if (established_) return absl::OkStatus();
  if (closed_) return failure_.ok() ? absl::UnavailableError("closed during the TLS handshake") : failure_;
  return absl::DeadlineExceededError("TLS handshake not done in time");
}

void TlsTunnelState::MarkEstablished() {
  absl::MutexLock lock(&mu_);
  established_ = true;
}

void TlsTunnelState::MarkClosed(absl::Status why) {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  failure_ = std::move(why);
}

absl::StatusOr<std::shared_ptr<RedisTls>> RedisTls::Create(RedisTlsOptions options) {
  const auto option = [&](const char* field) { return absl::StrCat(options.what, field); };
  if (options.ca_file.empty()) return absl::InvalidArgumentError(option("_ca_file") + ": required for TLS");
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(options.cert_file.empty() ? option("_cert_file") + ": required with the key"
                                                                : option("_key_file") + ": required with the certificate");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError(absl::StrCat("TLS: ", OpenSslErrors()));
  absl::Cleanup free_ctx = [ctx] { SSL_CTX_free(ctx); };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ERR_clear_error();
  const auto refuse = [&](const char* field, const std::string& path) {
    if (!std::ifstream(path).good()) {
      return absl::InvalidArgumentError(absl::StrCat(option(field), ": cannot read \"", path, "\""));
    }
    return absl::InvalidArgumentError(absl::StrCat(option(field), ": cannot load \"", path, "\": ", OpenSslErrors()));
  };
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return refuse("_ca_file", options.ca_file);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return refuse("_cert_file", options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return refuse("_key_file", options.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(option("_key_file"), ": \"", options.key_file, "\" is not the key of ", options.cert_file));
    }
  } else {
    // Called only when the server asks for a certificate and none is set:
    // noted for the failure message (Pump::Hint), and none is sent.
    SSL_CTX_set_client_cert_cb(ctx, [](SSL* ssl, X509**, EVP_PKEY**) {
      if (auto* t = static_cast<Tunnel*>(SSL_get_app_data(ssl))) t->certificate_requested = true;
      return 0;
    });
  }
  // hiredis's event-loop contexts reach their tunnel through a Unix socket
  // path: under a directory only this user can enter.
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/catalog-redis-tls-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("TLS to Redis: cannot create a private directory \"", dir, "\": ", std::strerror(errno)));
  }
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  std::move(free_ctx).Cancel();
  return std::shared_ptr<RedisTls>(new RedisTls(std::make_unique<Pump>(ctx, option("_cert_file")), std::move(dir), options.server_name));
}

RedisTls::RedisTls(std::unique_ptr<Pump> pump, std::string socket_dir, std::string server_name)
    : pump_(std::move(pump)), socket_dir_(std::move(socket_dir)), server_name_(std::move(server_name)) {}

RedisTls::~RedisTls() {
  pump_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(socket_dir_, ignored);
}

int RedisTls::open_tunnels() const { return pump_->open(); }

absl::StatusOr<std::string> RedisTls::NewSocketPath() const {
  // The directory again if something removed it (a tmp cleaner, after a
  // long idle spell); only as this user's own 0700 directory.
  if (mkdir(socket_dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("TLS: cannot create \"", socket_dir_, "\": ", std::strerror(errno)));
  }
  struct stat st {};
  if (lstat(socket_dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0777) != 0700) {
    return absl::FailedPreconditionError(
        absl::StrCat("TLS: \"", socket_dir_, "\" is not this user's private (0700) directory"));
  }
  return absl::StrCat(socket_dir_, "/", sockets_.fetch_add(1, std::memory_order_relaxed), ".sock");
}

absl::StatusOr<std::shared_ptr<TlsTunnelState>> RedisTls::Start(int plain_fd, const std::string& host, int port,
                                                                 absl::Duration handshake_timeout) const {
  auto t = std::make_unique<Tunnel>();
  t->plain = plain_fd;  // Closed with `t` on every early return.
  t->peer = absl::StrCat(host, ":", port);
  t->handshake_timeout = handshake_timeout;
  t->handshake_deadline = absl::Now() + handshake_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", gai_strerror(rc)));
  }
  absl::Cleanup free_found = [found] { freeaddrinfo(found); };
  int last_error = ECONNREFUSED;
  for (const addrinfo* a = found; a != nullptr && t->tcp < 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // As hiredis does: commands are small.
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
      t->tcp = fd;
    } else {
      last_error = errno;
      close(fd);
    }
  }
  if (t->tcp < 0) return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(last_error)));
  const int flags = fcntl(plain_fd, F_GETFL);
  if (flags < 0 || fcntl(plain_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return absl::UnavailableError(absl::StrCat("TLS: local socket: ", std::strerror(errno)));
  }
  t->ssl = SSL_new(pump_->ctx());
  if (t->ssl == nullptr || SSL_set_fd(t->ssl, t->tcp) != 1) {
    return absl::ResourceExhaustedError(absl::StrCat("TLS: ", OpenSslErrors()));
  }
  SSL_set_connect_state(t->ssl);
  SSL_set_app_data(t->ssl, t.get());  // For the client certificate callback.
  // The certificate must name what was dialled (or server_name): a CA
  // signing many servers' certificates must not let one stand in for another.
  const std::string& name = server_name_.empty() ? host : server_name_;
  const bool named = IsIpAddress(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name.c_str()) == 1
                                        : SSL_set_tlsext_host_name(t->ssl, name.c_str()) == 1 &&
                                              SSL_set1_host(t->ssl, name.c_str()) == 1;
  if (!named) {  // Never verify the chain alone.
    return absl::InvalidArgumentError(absl::StrCat("TLS: cannot check certificates for \"", name, "\": ", OpenSslErrors()));
  }
  t->state = std::make_shared<TlsTunnelState>();
  std::shared_ptr<TlsTunnelState> state = t->state;
  pump_->Add(std::move(t));
  return state;
}

std::string WithTlsFailure(absl::string_view what, const TlsTunnelState* tls) {
  const std::string failure = tls != nullptr ? tls->Failure() : std::string();
  return failure.empty() ? std::string(what) : absl::StrCat(what, " (", failure, ")");
}

std::string RedisLink::Explain(absl::string_view what) const { return WithTlsFailure(what, tls.get()); }

absl::StatusOr<RedisLink> DialRedis(const std::string& host, int port, absl::Duration timeout, const RedisTls* tls) {
  RedisLink link;
  if (tls == nullptr) {
    link.context.reset(
        redisConnectWithTimeout(host.c_str(), port, absl::ToTimeval(std::max(timeout, absl::Milliseconds(1)))));
    if (link.context == nullptr) return absl::ResourceExhaustedError("cannot allocate a hiredis context");
    if (link.context->err != 0) return absl::UnavailableError(absl::StrCat("connect: ", link.context->errstr));
    return link;
  }
  const absl::Time deadline = absl::Now() + timeout;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return absl::UnavailableError(absl::StrCat("TLS: socketpair: ", std::strerror(errno)));
  }
  absl::Cleanup close_ours = [fd = pair[0]] { close(fd); };
  ASSIGN_OR_RETURN(std::shared_ptr<TlsTunnelState> state, tls->Start(pair[1], host, port, timeout));
  // The pump closes the tunnel at `deadline` (DEADLINE_EXCEEDED, naming
  // the bound); waiting a little longer lets its status be the one returned.
  RETURN_IF_ERROR(state->AwaitHandshake(deadline + absl::Seconds(1)));
  link.context.reset(redisConnectFd(pair[0]));
  if (link.context == nullptr) return absl::ResourceExhaustedError("cannot allocate a hiredis context");
  std::move(close_ours).Cancel();  // hiredis owns it now.
  link.tls = std::move(state);
  return link;
}

absl::StatusOr<AsyncRedisLink> DialRedisAsync(const std::string& host, int port, absl::Duration timeout,
                                              const RedisTls* tls) {
  AsyncRedisLink link;
  std::string path;
  if (tls != nullptr) {
    ASSIGN_OR_RETURN(path, tls->NewSocketPath());
  }
  int listener = -1;
  absl::Cleanup close_listener = [&] {
    if (listener >= 0) close(listener);
    if (!path.empty()) unlink(path.c_str());
  };
  if (tls != nullptr) {
    // hiredis 0.14 opens event-loop contexts itself: give it a path to a
    // socket this thread accepts from at once (a Unix connect completes as
    // soon as the listener queues it), then close and remove.
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) {
      return absl::FailedPreconditionError(absl::StrCat("TLS: socket path too long: ", path));
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener, 1) != 0) {
      return absl::UnavailableError(absl::StrCat("TLS: local socket ", path, ": ", std::strerror(errno)));
    }
  }
  link.context = tls == nullptr ? redisAsyncConnect(host.c_str(), port) : redisAsyncConnectUnix(path.c_str());
  if (link.context == nullptr) return absl::ResourceExhaustedError("cannot allocate a hiredis context");
  if (link.context->err != 0) {
    absl::Status status = absl::UnavailableError(absl::StrCat("connect: ", link.context->errstr));
    redisAsyncFree(link.context);
    return status;
  }
  if (tls == nullptr) return link;
  const int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  absl::StatusOr<std::shared_ptr<TlsTunnelState>> state =
      accepted < 0 ? absl::UnavailableError(absl::StrCat("TLS: local socket: ", std::strerror(errno)))
                   : tls->Start(accepted, host, port, timeout);
  if (!state.ok()) {
    redisAsyncFree(link.context);
    return state.status();
  }
  link.tls = *std::move(state);
  return link;
}

}  // namespace catalog::storage
