// How every connection to a Redis-protocol server is opened: a data node,
// a sentinel or a cluster node, blocking (pools, sentinel queries, the
// invalidation stream) or on an event loop (AsyncRedis).
//
// Plain TCP is hiredis's own connect. TLS: hiredis 0.14 has none, so a
// RedisTls runs the TLS client (OpenSSL) on one pump thread and hands
// hiredis the local end of a socket whose bytes it carries over TLS:
//
//   hiredis <-> local socket <-> pump thread <-> TLS over TCP <-> Redis
//
// The local socket is a socketpair (blocking contexts, redisConnectFd) or a
// Unix socket accepted once in a private 0700 directory (event-loop
// contexts: hiredis 0.14 can only open those itself, redisAsyncConnectUnix).
// Either way nothing outside this process can reach the plaintext side, and
// every byte hiredis writes goes to the one server verified for it.
#ifndef CATALOG_STORAGE_REDIS_REDIS_TRANSPORT_H_
#define CATALOG_STORAGE_REDIS_REDIS_TRANSPORT_H_

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace catalog::storage {

struct RedisTlsOptions {
  // PEM CA certificates; required. The server's certificate must chain to
  // one of them and name the host dialled (or server_name).
  std::string ca_file;
  // PEM client certificate chain and its key, both or neither: presented
  // to servers that ask (Redis's tls-auth-clients yes/optional).
  std::string cert_file;
  std::string key_file;
  // The name the server's certificate must carry (and the SNI sent);
  // empty: the host each connection dials (the endpoints dial resolved,
  // numeric addresses). An IP address is matched against the
  // certificate's IP SANs.
  std::string server_name;
  // How errors name the files: what + "_ca_file" etc. Default "option
  // redis_tls" (so "option redis_tls_ca_file: ...").
  std::string what = "option redis_tls";
};

// What became of one TLS tunnel. Thread-safe. Callers get it const; only
// the pump calls the Mark methods.
class TlsTunnelState {
 public:
  // Why the pump closed the tunnel (handshake refused, certificate not
  // trusted, the server's alert, an I/O error, a handshake past its
  // deadline); "" while it is open, or after either end closed it cleanly.
  std::string Failure() const;
  // OK once the handshake completed. Otherwise the reason the tunnel
  // closed first: DEADLINE_EXCEEDED for a connect or handshake not done by
  // its deadline (the pump enforces it), UNAVAILABLE for the rest.
  // `deadline` is only a safety net beyond the pump's own (also
  // DEADLINE_EXCEEDED).
  absl::Status AwaitHandshake(absl::Time deadline) const;

  void MarkEstablished();
  // `why`: OK for a clean close.
  void MarkClosed(absl::Status why);

 private:
  mutable absl::Mutex mu_;
  bool established_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

class RedisTls {
 public:
  // Loads the CA, certificate and key and starts the pump thread.
  // INVALID_ARGUMENT naming the option (options.what) for a file that
  // cannot be read or parsed, or a key that does not match its
  // certificate. Sets SIGPIPE to ignored if it is at its default: hiredis
  // writes with write(2), and a tunnel's local end closed by the pump must
  // give hiredis EPIPE, not kill the process. Thread-safe.
  static absl::StatusOr<std::shared_ptr<RedisTls>> Create(RedisTlsOptions options);
  // Closes every tunnel (their hiredis contexts see the connection closed)
  // and stops the pump.
  ~RedisTls();
  RedisTls(const RedisTls&) = delete;
  RedisTls& operator=(const RedisTls&) = delete;

  // Tunnels open now (handshaking or carrying bytes).
  int open_tunnels() const;

  // For DialRedis and DialRedisAsync below.
  //
  // Connects to host:port (name resolution and the TCP connect start here,
  // the handshake runs on the pump) and makes `plain_fd` (taken over, closed
  // on every error too) its local end. The pump closes the tunnel if the
  // connect and handshake are not done within `handshake_timeout`.
  // UNAVAILABLE if the name does not resolve or the connect fails at once;
  // INVALID_ARGUMENT if the name to verify cannot be set; later failures
  // close plain_fd's peer and are recorded in the returned state.
  // Thread-safe, as are DialRedis and DialRedisAsync.
  absl::StatusOr<std::shared_ptr<TlsTunnelState>> Start(int plain_fd, const std::string& host, int port,
                                                        absl::Duration handshake_timeout) const;
  // A fresh path for a Unix socket in this RedisTls's private directory
  // (mode 0700, removed with it; made again if something removed it).
  // FAILED_PRECONDITION if it cannot be made, or is not this user's 0700
  // directory.
  absl::StatusOr<std::string> NewSocketPath() const;

 private:
  class Pump;
  RedisTls(std::unique_ptr<Pump> pump, std::string socket_dir, std::string server_name);

  std::unique_ptr<Pump> pump_;
  const std::string socket_dir_;
  const std::string server_name_;
  mutable std::atomic<uint64_t> sockets_{0};
};

struct RedisContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;

// A blocking hiredis context and, over TLS, its tunnel.
struct RedisLink {
  RedisContextPtr context;
  std::shared_ptr<const TlsTunnelState> tls;  // Null: plain TCP.
  // WithTlsFailure(what, tls).
  std::string Explain(absl::string_view what) const;
};

// `what` (hiredis's errstr, say), with why the tunnel failed if it did:
// hiredis only sees its local socket close. `tls` null: `what`.
std::string WithTlsFailure(absl::string_view what, const TlsTunnelState* tls);

// Opens a blocking connection to host:port within `timeout` (the TLS
// handshake included), with no socket timeouts set (the caller sets its
// own). `tls` null: plain TCP. UNAVAILABLE with hiredis's or the TLS
// failure's reason (not naming the endpoint: callers prefix it);
// DEADLINE_EXCEEDED if the handshake is not done in time.
absl::StatusOr<RedisLink> DialRedis(const std::string& host, int port, absl::Duration timeout, const RedisTls* tls);

// An event-loop hiredis context, not yet attached to a loop, and over TLS
// its tunnel. The caller owns the context (redisAsyncFree or hiredis's own
// disconnect).
struct AsyncRedisLink {
  redisAsyncContext* context = nullptr;
  std::shared_ptr<const TlsTunnelState> tls;  // Null: plain TCP.
};

// Starts connecting to host:port (a numeric address: no DNS, this runs on
// event loops) without blocking on the network; hiredis reports the
// outcome. Over TLS commands written before the handshake completes wait
// for it, and a handshake not done within `timeout` closes the connection.
// UNAVAILABLE if nothing could be started.
absl::StatusOr<AsyncRedisLink> DialRedisAsync(const std::string& host, int port, absl::Duration timeout,
                                              const RedisTls* tls);

}  // namespace catalog::storage

#endif  // CATALOG_STORAGE_REDIS_REDIS_TRANSPORT_H_
