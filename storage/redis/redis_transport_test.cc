// TLS to a real redis-server (--tls-port) through RedisTls's tunnels:
// replies large and pipelined, certificate and name checks, client
// certificates, a server killed or paused mid-connection, event-loop
// connections, and option errors. Certificates are made by openssl for
// each test.
#include "storage/redis/redis_transport.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "storage/redis/redis_async.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisServer;
using catalog::testing::TestCertificates;

// A redis-server with a plaintext port (the harness's own inspection) and
// a TLS port (the code under test), certificates from `certs`.
struct TlsRedis {
  TlsRedis(const TestCertificates& certs, const std::string& auth_clients)
      : tls_port(catalog::testing::FreePort()),
        server(catalog::testing::RedisTlsArgs(certs, tls_port, auth_clients)) {}
  const int tls_port;
  RedisServer server;
  // CLIENT LIST as the plaintext port sees it: each client's laddr names
  // the port it connected to.
  bool HasClientOn(int port) {
    auto reply = server.Command({"CLIENT", "LIST"});
    return absl::StrContains(std::string(reply->str, reply->len), absl::StrCat("laddr=127.0.0.1:", port, " "));
  }
};

std::shared_ptr<RedisTls> MakeTls(RedisTlsOptions options) {
  absl::StatusOr<std::shared_ptr<RedisTls>> tls = RedisTls::Create(std::move(options));
  INFO(tls.status().ToString());
  REQUIRE(tls.ok());
  return *tls;
}

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;
Reply Run(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(context, static_cast<int>(args.size()), argv.data(),
                                                         lengths.data())),
               freeReplyObject);
}

// Polls `condition` for up to 10 s (a tunnel closes on the pump thread).
bool Eventually(const std::function<bool()>& condition) {
  for (absl::Time end = absl::Now() + absl::Seconds(10); absl::Now() < end; absl::SleepFor(absl::Milliseconds(10))) {
    if (condition()) return true;
  }
  return condition();
}

// A connection through `tls` that answered PING (5 s socket timeout).
absl::StatusOr<RedisLink> DialAndPing(int port, RedisTls* tls) {
  absl::StatusOr<RedisLink> link = DialRedis("127.0.0.1", port, absl::Seconds(5), tls);
  INFO(link.status().ToString());
  REQUIRE(link.ok());
  redisSetTimeout(link->context.get(), absl::ToTimeval(absl::Seconds(5)));
  Reply pong = Run(link->context.get(), {"PING"});
  REQUIRE(pong != nullptr);
  CHECK(std::string(pong->str, pong->len) == "PONG");
  return link;
}

TEST_CASE("redis tls: a blocking connection carries large and pipelined replies, on the TLS port only") {
  TestCertificates certs;
  TlsRedis redis(certs, "no");
  std::shared_ptr<RedisTls> tls = MakeTls({.ca_file = certs.ca});
  absl::StatusOr<RedisLink> link = DialRedis("127.0.0.1", redis.tls_port, absl::Seconds(5), tls.get());
  INFO(link.status().ToString());
  REQUIRE(link.ok());
  REQUIRE(link->tls != nullptr);
  redisSetTimeout(link->context.get(), absl::ToTimeval(absl::Seconds(10)));
  CHECK(redis.HasClientOn(redis.tls_port));
  CHECK(tls->open_tunnels() == 1);

  // 3 MB each way: far past one buffer (64 KB) and one TLS record (16 KB).
  std::string value(3 << 20, '\0');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>((i * 131) ^ (i >> 9));
  Reply set = Run(link->context.get(), {"SET", "big", value});
  REQUIRE(set != nullptr);
  CHECK(std::string(set->str, set->len) == "OK");
  Reply get = Run(link->context.get(), {"GET", "big"});
  REQUIRE(get != nullptr);
  CHECK(std::string(get->str, get->len) == value);
  CHECK(redis.server.Command({"STRLEN", "big"})->integer == static_cast<long long>(value.size()));

  // 5,000 commands written before any reply is read.
  for (int i = 0; i < 5000; ++i) redisAppendCommand(link->context.get(), "INCR counter");
  long long last = 0;
  for (int i = 0; i < 5000; ++i) {
    void* raw = nullptr;
    REQUIRE(redisGetReply(link->context.get(), &raw) == REDIS_OK);
    last = static_cast<redisReply*>(raw)->integer;
    freeReplyObject(raw);
  }
  CHECK(last == 5000);
  CHECK(redis.server.CommandCalls("incr") == 5000);

  // Closing hiredis's end closes the tunnel.
  link->context.reset();
  CHECK(Eventually([&] { return tls->open_tunnels() == 0; }));

  // TLS to the plaintext port: Redis takes the ClientHello for an inline
  // command and waits for its end, so the handshake's bound ends it.
  absl::StatusOr<RedisLink> plain = DialRedis("127.0.0.1", redis.server.port(), absl::Seconds(1), tls.get());
  INFO(plain.status().ToString());
  CHECK(absl::IsDeadlineExceeded(plain.status()));
  CHECK(absl::StrContains(plain.status().message(), "TLS handshake not done within 1s"));
  CHECK(Eventually([&] { return tls->open_tunnels() == 0; }));
}

// Descriptors this process holds now.
int OpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_CASE("redis tls: refused and abandoned tunnels leave no descriptor behind") {
  TestCertificates certs, other;
  TlsRedis redis(certs, "no");
  std::shared_ptr<RedisTls> untrusted = MakeTls({.ca_file = other.ca});
  std::shared_ptr<RedisTls> trusted = MakeTls({.ca_file = certs.ca});
  const int before = OpenFds();
  for (int i = 0; i < 50; ++i) {
    CHECK(!DialRedis("127.0.0.1", redis.tls_port, absl::Seconds(5), untrusted.get()).ok());
    absl::StatusOr<RedisLink> link = DialRedis("127.0.0.1", redis.tls_port, absl::Seconds(5), trusted.get());
    REQUIRE(link.ok());  // Closed at once, from hiredis's side.
  }
  CHECK(Eventually([&] { return untrusted->open_tunnels() == 0 && trusted->open_tunnels() == 0; }));
  CHECK(Eventually([&] { return OpenFds() == before; }));
}

TEST_CASE("redis tls: the server's certificate must chain to the CA and name the host dialled") {
  TestCertificates certs, other;  // `other`: a CA that did not sign the server's certificate.
  TlsRedis redis(certs, "no");
  const auto dial = [&](RedisTlsOptions options) {
    return DialRedis("127.0.0.1", redis.tls_port, absl::Seconds(5), MakeTls(std::move(options)).get());
  };
  absl::StatusOr<RedisLink> untrusted = dial({.ca_file = other.ca});
  INFO(untrusted.status().ToString());
  CHECK(absl::IsUnavailable(untrusted.status()));
  CHECK(absl::StrContains(untrusted.status().message(), "certificate verify failed"));
  // The certificate names 127.0.0.1 and localhost, not this.
  absl::StatusOr<RedisLink> misnamed = dial({.ca_file = certs.ca, .server_name = "redis.example"});
  INFO(misnamed.status().ToString());
  CHECK(absl::IsUnavailable(misnamed.status()));
  CHECK(absl::StrContains(misnamed.status().message(), "certificate verify failed"));
  // An address the certificate does not carry (it has IP:127.0.0.1 only).
  absl::StatusOr<RedisLink> other_ip = dial({.ca_file = certs.ca, .server_name = "127.0.0.2"});
  INFO(other_ip.status().ToString());
  CHECK(absl::IsUnavailable(other_ip.status()));
  CHECK(absl::StrContains(other_ip.status().message(), "certificate verify failed: IP address mismatch"));
  absl::StatusOr<RedisLink> named = dial({.ca_file = certs.ca, .server_name = "localhost"});
  INFO(named.status().ToString());
  CHECK(named.ok());
}

TEST_CASE("redis tls: a server that asks for client certificates gets ours, and names its refusal without") {
  TestCertificates certs;
  TlsRedis redis(certs, "yes");
  std::shared_ptr<RedisTls> with_cert =
      MakeTls({.ca_file = certs.ca, .cert_file = certs.client_cert, .key_file = certs.client_key});
  absl::StatusOr<RedisLink> link = DialAndPing(redis.tls_port, with_cert.get());

  // Without one: TLS 1.3 completes our side of the handshake before the
  // server checks, so the refusal arrives as an alert on the first read
  // (or as a reset that dropped it); either way the error says why.
  std::shared_ptr<RedisTls> without = MakeTls({.ca_file = certs.ca});
  absl::StatusOr<RedisLink> refused = DialRedis("127.0.0.1", redis.tls_port, absl::Seconds(5), without.get());
  std::string why = refused.status().ToString();
  if (refused.ok()) {
    redisSetTimeout(refused->context.get(), absl::ToTimeval(absl::Seconds(5)));
    Reply none = Run(refused->context.get(), {"PING"});
    CHECK(none == nullptr);
    CHECK(Eventually([&] { return !refused->tls->Failure().empty(); }));
    why = refused->Explain(refused->context->errstr);
  }
  INFO(why);
  // The alert itself, unless a reset dropped it; the option, always.
  CHECK(absl::StrContains(why, "Redis asked for a client certificate and option redis_tls_cert_file is not set"));
}

TEST_CASE("redis tls: a server that asks for a certificate but lets us in without gets no blame for a later failure") {
  TestCertificates certs;
  TlsRedis redis(certs, "optional");  // Asks for a client certificate, accepts none.
  std::shared_ptr<RedisTls> tls = MakeTls({.ca_file = certs.ca});
  absl::StatusOr<RedisLink> link = DialAndPing(redis.tls_port, tls.get());
  // Killed after answering: the failure is the reset or EOF, and the
  // certificate it asked for is not named as the cause.
  REQUIRE(kill(redis.server.pid(), SIGKILL) == 0);
  CHECK(Eventually([&] { return tls->open_tunnels() == 0; }));
  CHECK(Run(link->context.get(), {"PING"}) == nullptr);
  const std::string why = link->Explain(link->context->errstr);
  INFO(why);
  CHECK(!why.empty());
  CHECK(!absl::StrContains(why, "client certificate"));
}

TEST_CASE("redis tls: a server killed or paused mid-connection gives bounded errors, and every tunnel closes") {
  TestCertificates certs;
  TlsRedis redis(certs, "no");
  std::shared_ptr<RedisTls> tls = MakeTls({.ca_file = certs.ca});
  const auto dial = [&](absl::Duration timeout) {
    return DialRedis("127.0.0.1", redis.tls_port, timeout, tls.get());
  };
  {
    absl::StatusOr<RedisLink> link = dial(absl::Seconds(5));
    REQUIRE(link.ok());
    redisSetTimeout(link->context.get(), absl::ToTimeval(absl::Seconds(5)));
    REQUIRE(Run(link->context.get(), {"SET", "k", "v"}) != nullptr);
    // Killed: the next command fails (the tunnel closes hiredis's socket)
    // instead of waiting for a server that is gone.
    REQUIRE(kill(redis.server.pid(), SIGKILL) == 0);
    CHECK(Eventually([&] { return tls->open_tunnels() == 0; }));
    CHECK(Run(link->context.get(), {"GET", "k"}) == nullptr);
    CHECK(link->context->err != 0);
  }
  redis.server.Start();
  {
    absl::StatusOr<RedisLink> again = dial(absl::Seconds(5));
    INFO(again.status().ToString());
    REQUIRE(again.ok());
    redisSetTimeout(again->context.get(), absl::ToTimeval(absl::Milliseconds(300)));
    // Paused mid-command: the socket timeout bounds the wait as it does
    // over plain TCP.
    REQUIRE(kill(redis.server.pid(), SIGSTOP) == 0);
    CHECK(Run(again->context.get(), {"PING"}) == nullptr);
    CHECK(again->context->err == REDIS_ERR_IO);
    // Paused during the handshake (the kernel still accepts the TCP
    // connection): the dial's bound ends it.
    absl::StatusOr<RedisLink> stalled = dial(absl::Milliseconds(300));
    INFO(stalled.status().ToString());
    CHECK(absl::IsDeadlineExceeded(stalled.status()));
    CHECK(absl::StrContains(stalled.status().message(), "TLS handshake not done within 300ms"));
    REQUIRE(kill(redis.server.pid(), SIGCONT) == 0);
  }
  CHECK(Eventually([&] { return tls->open_tunnels() == 0; }));
  // And the server is still reachable afterwards.
  absl::StatusOr<RedisLink> after = dial(absl::Seconds(5));
  REQUIRE(after.ok());
  redisSetTimeout(after->context.get(), absl::ToTimeval(absl::Seconds(5)));
  Reply pong = Run(after->context.get(), {"PING"});
  REQUIRE(pong != nullptr);
  CHECK(std::string(pong->str, pong->len) == "PONG");
}

struct AsyncResult {
  absl::Notification done;
  absl::Status status;
  std::string text;
};

void Send(AsyncRedis& redis, RedisCommand command, AsyncResult* result) {
  redis.Send(std::move(command), absl::Now() + absl::Seconds(5), [result](absl::StatusOr<const redisReply*> reply) {
    result->status = reply.status();
    if (reply.ok() && (*reply)->str != nullptr) result->text = std::string((*reply)->str, (*reply)->len);
    result->done.Notify();
  });
}

TEST_CASE("redis tls: event-loop connections (AsyncRedis) over TLS, and the reason when the certificate is refused") {
  TestCertificates certs, other;
  TlsRedis redis(certs, "no");
  REQUIRE(redis.server.Command({"SET", "a", "1"}) != nullptr);
  AsyncRedisOptions options;
  options.port = redis.tls_port;
  options.connections = 2;
  options.credentials.tls = MakeTls({.ca_file = certs.ca});
  {
    AsyncRedis client(options);
    std::vector<AsyncResult> results(200);
    for (AsyncResult& r : results) Send(client, {"GET", "a"}, &r);
    int ok = 0;
    for (AsyncResult& r : results) {
      REQUIRE(r.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
      ok += r.status.ok() && r.text == "1";
    }
    CHECK(ok == 200);
    CHECK(redis.HasClientOn(redis.tls_port));
    CHECK(redis.server.CommandCalls("get") == 200);
  }
  options.credentials.tls = MakeTls({.ca_file = other.ca});
  AsyncRedis refused(options);
  AsyncResult r;
  Send(refused, {"GET", "a"}, &r);
  REQUIRE(r.done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  INFO(r.status.ToString());
  CHECK(absl::IsUnavailable(r.status));
  CHECK(absl::StrContains(r.status.message(), "certificate verify failed"));
}

TEST_CASE("redis tls: files that cannot work are refused at creation, naming the option") {
  TestCertificates certs, other;
  const auto refusal = [](RedisTlsOptions options) {
    absl::StatusOr<std::shared_ptr<RedisTls>> tls = RedisTls::Create(std::move(options));
    CHECK(absl::IsInvalidArgument(tls.status()));
    return std::string(tls.status().message());
  };
  CHECK(absl::StartsWith(refusal({.ca_file = "/nonexistent/ca.pem"}),
                         "option redis_tls_ca_file: cannot read \"/nonexistent/ca.pem\""));
  CHECK(absl::StartsWith(refusal({.ca_file = certs.ca, .cert_file = certs.client_cert}),
                         "option redis_tls_key_file: required"));
  // Another certificate's key (OpenSSL says "key values mismatch").
  CHECK(absl::StartsWith(refusal({.ca_file = certs.ca, .cert_file = certs.client_cert, .key_file = other.client_key}),
                         "option redis_tls_key_file: "));
  CHECK(absl::StartsWith(refusal({.ca_file = certs.ca, .cert_file = certs.client_key, .key_file = certs.client_key}),
                         "option redis_tls_cert_file: cannot load"));
  CHECK(absl::StartsWith(refusal({.ca_file = ""}), "option redis_tls_ca_file: required"));
}

}  // namespace
}  // namespace catalog::storage
