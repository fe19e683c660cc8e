// End-to-end faults with real processes: two catalog-server instances on one
// Redis and MariaDB with one of them SIGSTOPped inside an operation, limits
// and overload, Redis full or misconfigured, slow HTTP clients, SIGTERM
// during demotion.
#include <signal.h>
#include <sys/socket.h>

#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

std::vector<Product> Products(const std::vector<std::string>& ids, const std::string& title, int64_t version = 0) {
  std::vector<Product> products;
  for (const std::string& id : ids) {
    products.push_back(MakeProduct(id, title));
    products.back().set_version(version);
  }
  return products;
}

// Polls `count_sql` on the test's MariaDB until it returns `want` (bounded).
void AwaitQueryCount(catalog::testing::MySqlClient& mysql, const std::string& count_sql, long long want) {
  for (int i = 0; i < 1000; ++i) {
    if (mysql.QueryInt(count_sql) == want) return;
    absl::SleepFor(absl::Milliseconds(10));
  }
  FAIL("timed out waiting for: " << count_sql << " == " << want);
}

// Two instances, A and B. A runs with a long max_call_ms, so that nothing in
// A stops the late step by itself: as if the pause came right after A's own
// last check of its deadline, which no client can rule out.
struct TwoServers {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess a{redis.port(), mysql.port(), mysql.database(), {"--max_call_ms=60000"}};
  CatalogServerProcess b{redis.port(), mysql.port(), mysql.database()};
  Client client_a{a};
  Client client_b{b};

  std::string CountQueries(const std::string& like) {
    return absl::StrCat("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND DB = '",
                        mysql.database(), "' AND INFO LIKE '", like, "'");
  }

  // Starts `call` on A, stops A (SIGSTOP) while its SELECT of the cold tier
  // waits on a table lock, lets the SELECT finish inside MariaDB, runs
  // `meanwhile`, and then resumes A. Returns when `call` has returned.
  template <typename Call>
  void PauseInsideColdRead(
      Call call, const std::function<void()>& meanwhile, const std::function<void()>& when_stopped = [] {}) {
    mysql.client().Execute("LOCK TABLES products WRITE");
    auto running = std::async(std::launch::async, call);
    const std::string selects = CountQueries("%SELECT id, payload, version FROM products%");
    AwaitQueryCount(mysql.client(), selects, 1);
    REQUIRE(kill(a.process().pid(), SIGSTOP) == 0);
    // A must still be inside the call: otherwise the lock did not hold it
    // (the pause would test nothing).
    REQUIRE(running.wait_for(std::chrono::seconds(0)) != std::future_status::ready);
    when_stopped();
    mysql.client().Execute("UNLOCK TABLES");
    AwaitQueryCount(mysql.client(), selects, 0);  // A's rows sit in its socket; A sleeps.
    meanwhile();
    REQUIRE(kill(a.process().pid(), SIGCONT) == 0);
    running.get();
  }
};

TEST_CASE(
    "two servers, one SIGSTOPped inside reads, upserts and deletes, over rounds: nothing stale, lost or resurrected") {
  TwoServers t;
  int64_t stale = 0, lost = 0, resurrected = 0, aborted = 0;
  constexpr int kIds = 25;
  for (int round = 0; round < 2; ++round) {
    for (const std::string kind : {"read", "upsert", "conditional", "delete"}) {
      const auto ids = Ids(absl::StrCat(kind, round, "_"), kIds);
      REQUIRE(t.client_b.Upsert(Products(ids, "v1")).ok());
      REQUIRE(t.client_b.Demote(0).demoted() >= kIds);  // Cold: only in MySQL.
      long long hot = 0;
      for (const std::string& id : ids) hot += t.redis.Command({"EXISTS", "product:" + id})->integer;
      INFO(kind << " round " << round << ": " << hot << " of the ids still in Redis after demotion");
      REQUIRE(hot == 0);
      // While A sleeps: B's write is acknowledged, then moved to MySQL,
      // so the keys are absent again when A wakes up.
      auto meanwhile = [&] {
        REQUIRE(t.client_b.Upsert(Products(ids, "theirs")).ok());
        REQUIRE(t.client_b.Demote(0).demoted() >= kIds);
      };
      std::function<void()> call;
      UpsertProductsResponse upserted;
      DeleteProductsResponse deleted;
      grpc::Status status;
      if (kind == "read") {
        call = [&] {
          BatchGetProductsResponse seen;
          status = t.client_a.BatchGet(ids, &seen, absl::Seconds(60));
        };
      } else if (kind == "delete") {
        call = [&] { status = t.client_a.Delete(ids, &deleted); };
      } else {
        call = [&] {
          grpc::ClientContext context;
          Client::Deadline(context, absl::Seconds(60));
          UpsertProductsRequest request;
          for (const Product& p : Products(ids, "mine", kind == "conditional" ? 1 : 0)) *request.add_products() = p;
          status = t.client_a.stub->UpsertProducts(&context, request, &upserted);
        };
      }
      // A writes nothing before its SELECT returns: if any id is in Redis
      // now, A was not held inside the SELECT.
      t.PauseInsideColdRead(call, meanwhile, [&] {
        long long present = 0;
        for (const std::string& id : ids) present += t.redis.Command({"EXISTS", "product:" + id})->integer;
        INFO(kind << " round " << round << ": " << present << " ids in Redis while A is stopped");
        REQUIRE(present == 0);
      });
      if (kind == "conditional") {
        CHECK(status.error_code() == grpc::StatusCode::ABORTED);  // Version 1 is no longer current.
        aborted += status.error_code() == grpc::StatusCode::ABORTED ? 1 : 0;
      } else {
        INFO(kind << ": " << status.error_message());
        CHECK(status.ok());
      }
      // Read back through B as things are (a stale write-back would show
      // now), then once more after everything went cold (a lost or
      // superseded version would show then).
      BatchGetProductsResponse now;
      REQUIRE(t.client_b.BatchGet(ids, &now).ok());
      if (kind == "read") {
        for (const Product& p : now.products()) stale += p.title() == "theirs" ? 0 : 1;
        stale += kIds - now.products_size();
      }
      t.client_b.Demote(0);
      now.Clear();
      REQUIRE(t.client_b.BatchGet(ids, &now).ok());
      if (kind == "read") {
        for (const Product& p : now.products()) stale += p.title() == "theirs" ? 0 : 1;
      } else if (kind == "upsert") {
        // A's write came after B's acknowledged one: on top, version 3.
        for (int i = 0; i < now.products_size(); ++i) {
          lost += now.products(i).title() == "mine" && now.products(i).version() == 3 ? 0 : 1;
        }
        for (const Product& p : upserted.products()) lost += p.version() == 3 ? 0 : 1;
        lost += kIds - now.products_size();
      } else if (kind == "conditional") {
        for (const Product& p : now.products()) lost += p.title() == "theirs" && p.version() == 2 ? 0 : 1;
        lost += kIds - now.products_size();
      } else {
        CHECK(deleted.deleted_count() == kIds);
        resurrected += now.products_size();
        for (const Product& p : now.products()) {
          UNSCOPED_INFO("round " << round << " resurrected " << p.id() << " title=" << p.title()
                                 << " version=" << p.version());
        }
      }
    }
  }
  CHECK(stale == 0);
  CHECK(lost == 0);
  CHECK(resurrected == 0);
  CHECK(aborted == 2);
}

TEST_CASE("at max_in_flight_calls every call is served, past it RESOURCE_EXHAUSTED at once") {
  const int metrics_port = catalog::testing::FreePort();
  Stack s({"--max_in_flight_calls=10", "--redis_command_timeout_ms=20000", "--max_call_ms=20000",
           "--metrics_listen_address=127.0.0.1:" + std::to_string(metrics_port)});
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  // Held until the pause runs out (Redis 7.0 holds even CLIENT UNPAUSE from
  // a new connection during a pause).
  s.redis.Command({"CLIENT", "PAUSE", "4000"});
  std::vector<std::future<grpc::Status>> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(std::async(std::launch::async, [&] {
      BatchGetProductsResponse r;
      return s.client.BatchGet({"a"}, &r, absl::Seconds(20));
    }));
  }
  for (int i = 0; i < 1000; ++i) {  // Until all ten are inside the server.
    if (HttpGet(metrics_port, "/metrics").find("\ncatalog_rpc_in_flight 10\n") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  REQUIRE(HttpGet(metrics_port, "/metrics").find("\ncatalog_rpc_in_flight 10\n") != std::string::npos);
  for (int i = 0; i < 5; ++i) {
    BatchGetProductsResponse r;
    grpc::Status status = s.client.BatchGet({"a"}, &r, absl::Seconds(20));
    CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(status.error_message() == "server busy: 10 calls in flight (max_in_flight_calls); retry with backoff");
  }
  for (auto& call : held) {
    const grpc::Status status = call.get();
    INFO(status.error_code() << " " << status.error_message());
    CHECK(status.ok());
  }
  CHECK(Metric(s.client, "catalog_rpc_overload_rejections_total") == 5);
}

TEST_CASE("1,000 concurrent reads on one connection, Redis stalled meanwhile: all served, none UNAVAILABLE") {
  Stack s;
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  // Every call arrives while Redis holds all commands, so all 1,000 are in
  // flight at once (pipelined on the async connections).
  s.redis.Command({"CLIENT", "PAUSE", "500"});
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext context;
    BatchGetProductsResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<BatchGetProductsResponse>> reader;
  };
  std::vector<std::unique_ptr<Call>> calls(1000);
  BatchGetProductsRequest request;
  request.add_ids("a");
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i] = std::make_unique<Call>();
    Client::Deadline(calls[i]->context, absl::Seconds(30));
    calls[i]->reader = s.client.stub->AsyncBatchGetProducts(&calls[i]->context, request, &cq);
    calls[i]->reader->Finish(&calls[i]->response, &calls[i]->status, reinterpret_cast<void*>(i));
  }
  std::map<int, int> codes;
  for (size_t done = 0; done < calls.size(); ++done) {
    void* tag = nullptr;
    bool ok = false;
    REQUIRE(cq.Next(&tag, &ok));
    codes[calls[reinterpret_cast<size_t>(tag)]->status.error_code()]++;
  }
  cq.Shutdown();
  INFO("OK " << codes[0] << ", UNAVAILABLE " << codes[14] << ", other " << (1000 - codes[0] - codes[14]));
  CHECK(codes[grpc::StatusCode::OK] == 1000);
}

long long RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      long long kib = 0;
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(line).substr(6, line.size() - 6 - 3)), &kib);
      return kib;
    }
  }
  return -1;
}

TEST_CASE("twenty 52 MB requests are refused, and the server's memory returns near its baseline") {
  Stack s({"--redis_info_interval_ms=200"});
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  absl::SleepFor(absl::Milliseconds(500));
  const long long baseline = RssKiB(s.server.process().pid());
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 20; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      // Separate connections, as separate frontends; the stub directly
      // (Catch's message macros are not for other threads).
      Client own(s.server);
      UpsertProductsRequest request;
      *request.add_products() = MakeProduct("huge");
      request.mutable_products(0)->set_description(std::string(52 << 20, 'x'));
      grpc::ClientContext context;
      Client::Deadline(context, absl::Seconds(60));
      UpsertProductsResponse response;
      return own.stub->UpsertProducts(&context, request, &response);
    }));
  }
  for (auto& call : calls) CHECK(call.get().error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::SleepFor(absl::Seconds(1));  // Past a maintenance tick (malloc_trim).
  const long long after = RssKiB(s.server.process().pid());
  INFO("RSS baseline " << baseline << " KiB, after " << after << " KiB");
  // Under AddressSanitizer (CATALOG_SANITIZE=1 tools/test exports
  // ASAN_OPTIONS) freed memory sits in its quarantine and malloc_trim is not
  // glibc's: RSS says nothing there.
  if (std::getenv("ASAN_OPTIONS") == nullptr) {
    CHECK(after < baseline + 64 * 1024);
  } else {
    WARN("RSS not checked under AddressSanitizer");
  }
  BatchGetProductsResponse batch;
  CHECK(s.client.BatchGet({"a"}, &batch).ok());
}

TEST_CASE(
    "the sync BatchGet path without L1 answers byte for byte like the async one with L1, its hits included") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess async_server(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess sync_server(redis.port(), mysql.port(), mysql.database(),
                                   {"--redis_async_connections=0", "--l1_max_bytes=0"});
  Client async_client(async_server);
  Client sync_client(sync_server);
  REQUIRE(async_client.Upsert(Products(Ids("h", 5), "hot")).ok());
  REQUIRE(async_client.Upsert(Products(Ids("c", 5), "cold")).ok());
  REQUIRE(async_client.Demote(0).demoted() == 10);
  REQUIRE(async_client.Upsert(Products(Ids("h", 5), "hot again")).ok());
  DeleteProductsResponse deleted;
  REQUIRE(async_client.Delete({"h4"}, &deleted).ok());
  const std::vector<std::string> ids = {"h0", "c0", "nope", "h4", "c1", "h1"};
  // Cold ids are promoted by the first round; later rounds are L1 hits.
  for (int round = 0; round < 3; ++round) {
    BatchGetProductsResponse from_async, from_sync;
    REQUIRE(async_client.BatchGet(ids, &from_async).ok());
    REQUIRE(sync_client.BatchGet(ids, &from_sync).ok());
    CHECK(from_async.SerializeAsString() == from_sync.SerializeAsString());
    CHECK(from_async.products_size() == 4);
    CHECK(from_async.missing_ids_size() == 2);
  }
  CHECK(Metric(async_client, "catalog_l1_hits_total") >= 4);
  CHECK(Metric(sync_client, "catalog_l1_hits_total") == 0);
  // Bad input: the same status and message from both.
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{{"a b"}, {"x", "x"}, {}}) {
    BatchGetProductsResponse r1, r2;
    grpc::Status s1 = async_client.BatchGet(bad, &r1);
    grpc::Status s2 = sync_client.BatchGet(bad, &r2);
    CHECK(s1.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s1.error_code() == s2.error_code());
    CHECK(s1.error_message() == s2.error_message());
  }
}

TEST_CASE("raw GetProduct (v1, v2) and v2 BatchGetProducts with read masks answer byte for byte like the typed ones") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess raw_server(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess typed_server(redis.port(), mysql.port(), mysql.database(),
                                    {"--redis_async_connections=0", "--l1_max_bytes=0"});
  Client raw(raw_server), typed(typed_server);
  auto raw_v2 = catalog::v2::CatalogService::NewStub(raw.channel);
  auto typed_v2 = catalog::v2::CatalogService::NewStub(typed.channel);
  REQUIRE(raw.Upsert(Products(Ids("m", 4), "masked")).ok());
  REQUIRE(raw.Demote(0).demoted() == 4);  // m0..m3 cold; m2 hot again below.
  REQUIRE(raw.Upsert(Products({"m2"}, "hot")).ok());
  DeleteProductsResponse deleted;
  REQUIRE(raw.Delete({"m3"}, &deleted).ok());
  auto same = [](const grpc::Status& a, const std::string& a_bytes, const grpc::Status& b, const std::string& b_bytes) {
    CHECK(a.error_code() == b.error_code());
    CHECK(a.error_message() == b.error_message());
    CHECK(a_bytes == b_bytes);
  };
  // Sends `request` to both servers through `method`; checks the answers
  // are the same; returns the raw server's.
  auto both = [&](auto method, const auto& request, auto* raw_response) {
    std::remove_pointer_t<decltype(raw_response)> typed_response;
    grpc::ClientContext ca, cb;
    Client::Deadline(ca);
    Client::Deadline(cb);
    grpc::Status va = ((*raw_v2).*method)(&ca, request, raw_response);
    grpc::Status vb = ((*typed_v2).*method)(&cb, request, &typed_response);
    same(va, raw_response->SerializeAsString(), vb, typed_response.SerializeAsString());
    return va;
  };
  const std::vector<std::vector<std::string>> masks = {{}, {"id", "title"}, {"price.amount_minor"}, {"update_time"},
                                                       {"bogus"}};
  // Three rounds: cold reads promote; later rounds are hot, then L1 hits.
  for (int round = 0; round < 3; ++round) {
    for (const std::string& id : {"m0", "m2", "m3", "nope", "bad id"}) {
      INFO("round " << round << " id " << id);
      Product a, b;
      grpc::Status sa = raw.Get(id, &a);
      grpc::Status sb = typed.Get(id, &b);
      same(sa, a.SerializeAsString(), sb, b.SerializeAsString());
      for (const std::vector<std::string>& paths : masks) {
        catalog::v2::GetProductRequest request;
        request.set_id(id);
        for (const std::string& path : paths) request.mutable_read_mask()->add_paths(path);
        catalog::v2::Product answer;
        both(&catalog::v2::CatalogService::Stub::GetProduct, request, &answer);
      }
    }
    for (const std::vector<std::string>& paths : masks) {
      for (const std::vector<std::string>& ids :
           std::vector<std::vector<std::string>>{{"m0", "m1", "m2", "m3", "nope"}, {"m1", "m1"}, {}}) {
        catalog::v2::BatchGetProductsRequest request;
        for (const std::string& id : ids) request.add_ids(id);
        for (const std::string& path : paths) request.mutable_read_mask()->add_paths(path);
        INFO("round " << round << " batch of " << ids.size() << " mask " << request.read_mask().ShortDebugString());
        catalog::v2::BatchGetProductsResponse ra;
        grpc::Status va = both(&catalog::v2::CatalogService::Stub::BatchGetProducts, request, &ra);
        if (ids.size() == 5 && paths.size() == 2) {
          REQUIRE(va.ok());
          CHECK(ra.results(0).product().title() == "masked");
          CHECK(ra.results(0).product().sku().empty());  // Trimmed away.
          CHECK(ra.results(3).has_not_found());
        }
      }
    }
  }
  CHECK(Metric(raw, "catalog_l1_hits_total") > 0);
}

TEST_CASE("a product's whole encoding is bounded: at the limit stored, past it INVALID_ARGUMENT naming it") {
  Stack s;
  auto with_unknown = [](size_t payload) {
    Product p = MakeProduct("u");
    std::string bytes = p.SerializeAsString();
    bytes += std::string("\xC2\x3E", 2);  // Field 1000, length-delimited: unknown to the server.
    for (size_t n = payload;; n >>= 7) {
      if (n < 0x80) {
        bytes.push_back(static_cast<char>(n));
        break;
      }
      bytes.push_back(static_cast<char>(0x80 | (n & 0x7F)));
    }
    bytes += std::string(payload, 'u');
    Product q;
    REQUIRE(q.ParseFromString(bytes));
    return q;
  };
  const size_t known = MakeProduct("u").ByteSizeLong();
  const size_t room = 65536 - 32 - known - 2 - 3;  // Limit less stamp, known fields, tag, 3-byte length.
  REQUIRE(with_unknown(room).ByteSizeLong() == 65536 - 32);
  CHECK(s.client.Upsert({with_unknown(room)}).ok());
  grpc::Status status = s.client.Upsert({with_unknown(room + 1)});
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StartsWith(status.error_message(), "products[0]: encodes to 65505 bytes (unknown fields included)"));
  // 10 MB: past max_message_bytes, refused by gRPC before it is read whole.
  status = s.client.Upsert({with_unknown(10 << 20)});
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_CASE("an upsert whose answer would not fit max_message_bytes is refused before anything is written") {
  Stack s;
  // 1,000 products whose request just fits 4 MiB; stamping each with a
  // version and update time would push the echo past it.
  std::vector<Product> products;
  for (const std::string& id : Ids("big", 1000)) {
    products.push_back(MakeProduct(id));
    products.back().set_description(std::string(4110, 'd'));
  }
  UpsertProductsRequest request;
  for (const Product& p : products) *request.add_products() = p;
  const size_t request_bytes = request.ByteSizeLong();
  const size_t echo_bytes = request_bytes + 1000 * 30;  // Each product gains ~30 bytes of stamps.
  REQUIRE(request_bytes < 4 * 1024 * 1024);
  REQUIRE(echo_bytes > 4 * 1024 * 1024);
  grpc::Status status = s.client.Upsert(products);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(status.error_message(), "send fewer products per call"));
  Product stored;
  CHECK(s.client.Get("big0", &stored).error_code() == grpc::StatusCode::NOT_FOUND);  // Nothing written.
  std::vector<Product> rest(products.begin() + 900, products.end());
  products.resize(900);
  CHECK(s.client.Upsert(products).ok());
  CHECK(s.client.Upsert(rest).ok());
  // Reading them all back would not fit one answer either: a clear error.
  BatchGetProductsResponse batch;
  status = s.client.BatchGet(Ids("big", 1000), &batch);
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(absl::StrContains(status.error_message(), "ask for fewer ids per call"));
  CHECK(s.client.BatchGet(Ids("big", 500), &batch).ok());
}

TEST_CASE("Redis full: writes get RESOURCE_EXHAUSTED for the operator, reads work, demotion makes room") {
  Stack s({"--redis_info_interval_ms=200"});
  std::vector<Product> filler;
  for (const std::string& id : Ids("f", 100)) {
    filler.push_back(MakeProduct(id));
    filler.back().set_description(std::string(5000, 'd'));
  }
  REQUIRE(s.client.Upsert(filler).ok());
  auto info = s.redis.Command({"INFO", "memory"});
  const std::string text(info->str, info->len);
  const size_t at = text.find("used_memory:") + 12;
  const long long used = std::stoll(text.substr(at, text.find("\r\n", at) - at));
  s.redis.Command({"CONFIG", "SET", "maxmemory", std::to_string(used - 100000)});
  grpc::Status status = s.client.Upsert({MakeProduct("new")});
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK(absl::StrContains(status.error_message(), "is full (OOM)"));
  CHECK(absl::StrContains(status.error_message(), "catalog-admin demote"));
  BatchGetProductsResponse batch;
  CHECK(s.client.BatchGet({"f1"}, &batch).ok());
  CHECK(Metric(s.client, "catalog_redis_oom_errors_total") == 1);
  absl::SleepFor(absl::Milliseconds(500));  // An INFO poll.
  CHECK(Metric(s.client, "catalog_redis_keys") >= 100);
  CHECK(Metric(s.client, "catalog_redis_keys_with_ttl") == 0);  // Nothing left to evict.
  CHECK(Metric(s.client, "catalog_redis_maxmemory_bytes") > 0);
  CHECK(Metric(s.client, "catalog_redis_maxmemory_policy_ok") == 1);
  CHECK(s.client.Demote(0).demoted() == 100);
  CHECK(s.client.Upsert({MakeProduct("new")}).ok());
}

TEST_CASE("start-up refuses a Redis whose maxmemory-policy can evict records") {
  RedisServer redis;
  SharedMySql mysql;
  redis.Command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
  catalog::testing::ChildProcess server;
  const std::string log = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                          catalog::testing::UniqueName("refused") + ".log";
  server.Start(
      {CATALOG_SERVER_BINARY, "--listen_address=127.0.0.1:0", absl::StrCat("--redis_port=", redis.port()),
       absl::StrCat("--mysql_port=", mysql.port()), "--mysql_database=" + mysql.database(),
       "--admin_listen_address=127.0.0.1:0"},
      log);
  CHECK(server.Stop(0, absl::Seconds(20)) == 1);  // Exits by itself.
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(absl::StrContains(text, "maxmemory-policy allkeys-lru may evict keys without a TTL"));
  CHECK(absl::StrContains(text, "set maxmemory-policy to volatile-lru"));
}

TEST_CASE("/metrics keeps answering with idle and half-sent HTTP connections open") {
  const int metrics_port = catalog::testing::FreePort();
  Stack s({"--metrics_listen_address=127.0.0.1:" + std::to_string(metrics_port)});
  std::vector<int> stalled;
  for (int i = 0; i < 8; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(metrics_port));
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    if (i % 2 == 0) {
      const std::string partial = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n";  // Never finished.
      REQUIRE(write(fd, partial.data(), partial.size()) == static_cast<ssize_t>(partial.size()));
    }
    stalled.push_back(fd);
  }
  for (int i = 0; i < 3; ++i) CHECK(HttpGet(metrics_port, "/metrics").rfind("HTTP/1.1 200", 0) == 0);
  // The server ends the stalled connections itself (request_timeout_ms).
  for (int fd : stalled) {
    const timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buffer[512];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    }
    CHECK(n == 0);  // Closed by the server, not our 10 s timeout.
    close(fd);
  }
}

TEST_CASE("SIGTERM during a demotion: it stops between batches, nothing is lost, the server exits 0") {
  Stack s({"--max_call_ms=2000"});
  const auto ids = Ids("t", 3000);
  for (size_t i = 0; i < ids.size(); i += 500) {
    std::vector<Product> batch;
    for (size_t j = i; j < i + 500; ++j) batch.push_back(MakeProduct(ids[j]));
    REQUIRE(s.client.Upsert(batch).ok());
  }
  s.mysql.client().Execute("LOCK TABLES products WRITE");  // The first batch's INSERT waits here.
  auto demotion = std::async(std::launch::async, [&] {
    grpc::ClientContext context;
    Client::Deadline(context, absl::Seconds(60));
    catalog::admin::v1::DemoteRequest request;
    request.set_idle_seconds(0);
    catalog::admin::v1::DemoteResponse response;
    return s.client.admin->Demote(&context, request, &response);
  });
  AwaitQueryCount(s.mysql.client(),
                  absl::StrCat("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND "
                               "INFO LIKE '%INSERT INTO products%' AND DB = '",
                               s.mysql.database(), "'"),
                  1);
  REQUIRE(kill(s.server.process().pid(), SIGTERM) == 0);
  absl::SleepFor(absl::Milliseconds(200));
  s.mysql.client().Execute("UNLOCK TABLES");
  const grpc::Status status = demotion.get();
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::CANCELLED);
  CHECK(absl::StrContains(status.error_message(), "demotion cancelled"));
  CHECK(s.server.Terminate() == 0);
  // Every product is in Redis or in MySQL, and some stayed in Redis.
  long long hot = 0, missing = 0;
  for (const std::string& id : ids) {
    const bool in_redis = s.redis.Command({"EXISTS", "product:" + id})->integer == 1;
    hot += in_redis ? 1 : 0;
    if (!in_redis && s.mysql.client().QueryInt("SELECT COUNT(*) FROM products WHERE id = '" + id + "'") != 1) {
      ++missing;
    }
  }
  CHECK(hot > 0);
  CHECK(missing == 0);
}

}  // namespace
}  // namespace catalog

namespace catalog {
namespace {

// Reads `id` through `client` until `accept` holds for what it returns
// (bounded); returns how many reads it took.
int ReadUntil(Client& client, const std::string& id, const std::function<bool(const BatchGetProductsResponse&)>& accept) {
  for (int reads = 1; reads <= 2000; ++reads) {
    BatchGetProductsResponse seen;
    REQUIRE(client.BatchGet({id}, &seen).ok());
    if (accept(seen)) return reads;
    absl::SleepFor(absl::Milliseconds(2));
  }
  FAIL("never saw the expected answer for " << id);
  return -1;
}

// Reads `ids` through `client` until one read is answered wholly from its
// L1 (bounded: L1 serves only once its invalidation stream is up).
void AwaitL1Hits(Client& client, const std::vector<std::string>& ids) {
  for (int i = 0; i < 500; ++i) {
    const int64_t before = Metric(client, "catalog_l1_hits_total");
    BatchGetProductsResponse seen;
    REQUIRE(client.BatchGet(ids, &seen).ok());
    if (Metric(client, "catalog_l1_hits_total") - before == static_cast<int64_t>(ids.size())) return;
    absl::SleepFor(absl::Milliseconds(10));
  }
  FAIL("L1 never answered these ids");
}

bool HasTitle(const BatchGetProductsResponse& r, const std::string& title) {
  return r.products_size() == 1 && r.products(0).title() == title;
}

TEST_CASE("L1 on two servers: each reads its own writes at once, and the other's after the invalidation, never older") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess a(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess b(redis.port(), mysql.port(), mysql.database());
  Client client_a(a), client_b(b);
  const auto ids = Ids("l1_", 20);
  REQUIRE(client_a.Upsert(Products(ids, "t0")).ok());
  AwaitL1Hits(client_a, ids);
  AwaitL1Hits(client_b, ids);
  int rounds_needing_retries = 0;
  for (int round = 1; round <= 10; ++round) {
    Client& writer = round % 2 ? client_a : client_b;
    Client& other = round % 2 ? client_b : client_a;
    const std::string title = absl::StrCat("t", round);
    const std::string& id = ids[round];
    const int64_t other_invalidations = Metric(other, "catalog_l1_invalidations_total");
    REQUIRE(writer.Upsert(Products({id}, title)).ok());
    BatchGetProductsResponse own;
    REQUIRE(writer.BatchGet({id}, &own).ok());
    INFO("round " << round);
    CHECK(HasTitle(own, title));  // Read-your-writes: no waiting.
    // The other server converges, and once it has, never goes back.
    const int reads = ReadUntil(other, id, [&](const BatchGetProductsResponse& r) { return HasTitle(r, title); });
    rounds_needing_retries += reads > 1 ? 1 : 0;
    CHECK(Metric(other, "catalog_l1_invalidations_total") > other_invalidations);  // Redis told the other server.
    for (int again = 0; again < 20; ++again) {
      BatchGetProductsResponse later;
      REQUIRE(other.BatchGet({id}, &later).ok());
      CHECK(HasTitle(later, title));
    }
  }
  UNSCOPED_INFO(rounds_needing_retries << " of 10 rounds needed more than one read on the other server");
  // Deletes: gone at once on the writer, after the invalidation elsewhere.
  DeleteProductsResponse deleted;
  REQUIRE(client_a.Delete({ids[0]}, &deleted).ok());
  BatchGetProductsResponse gone;
  REQUIRE(client_a.BatchGet({ids[0]}, &gone).ok());
  CHECK(gone.products_size() == 0);
  ReadUntil(client_b, ids[0], [](const BatchGetProductsResponse& r) { return r.products_size() == 0; });
  // A change straight in Redis (an operator, another tool) reaches both.
  redis.Command({"DEL", "product:" + ids[15]});
  for (Client* c : {&client_a, &client_b}) {
    ReadUntil(*c, ids[15], [](const BatchGetProductsResponse& r) { return r.products_size() == 0; });
  }
}

TEST_CASE("a server whose invalidation connection was lost while it was stopped serves nothing stale on waking") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess a(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess b(redis.port(), mysql.port(), mysql.database(), {"--l1_lease_ms=200"});
  Client client_a(a), client_b(b);
  const auto ids = Ids("lost_", 10);
  REQUIRE(client_a.Upsert(Products(ids, "v0")).ok());
  for (int round = 1; round <= 3; ++round) {
    AwaitL1Hits(client_b, ids);  // B answers the ids from L1.
    const int64_t losses_before = Metric(client_b, "catalog_l1_connection_losses_total");
    // B sleeps past its lease; Redis drops every invalidation connection
    // (B's included); A writes, acknowledged. No invalidation reaches B.
    REQUIRE(kill(b.process().pid(), SIGSTOP) == 0);
    absl::SleepFor(absl::Milliseconds(500));
    REQUIRE(redis.Command({"CLIENT", "KILL", "TYPE", "pubsub"})->integer >= 1);
    const std::string title = absl::StrCat("v", round);
    REQUIRE(client_a.Upsert(Products(ids, title)).ok());
    REQUIRE(kill(b.process().pid(), SIGCONT) == 0);
    BatchGetProductsResponse woke;
    REQUIRE(client_b.BatchGet(ids, &woke).ok());
    INFO("round " << round);
    CHECK(woke.products_size() == 10);
    for (const Product& p : woke.products()) CHECK(p.title() == title);
    // B noticed the loss, and serves from L1 again after re-subscribing.
    int64_t losses = 0;
    for (int i = 0; i < 500 && (losses = Metric(client_b, "catalog_l1_connection_losses_total")) == losses_before; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    CHECK(losses == losses_before + 1);
  }
  AwaitL1Hits(client_b, ids);  // And serves from L1 again.
}

TEST_CASE("a server paused for less than its lease serves nothing stale on waking, its stream closed or not") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess a(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess b(redis.port(), mysql.port(), mysql.database(), {"--l1_lease_ms=5000"});
  Client client_a(a), client_b(b);
  const auto ids = Ids("short_", 10);
  REQUIRE(client_a.Upsert(Products(ids, "v0")).ok());
  int stale = 0;
  for (int round = 1; round <= 6; ++round) {
    AwaitL1Hits(client_b, ids);
    // B stops for far less than its lease. Meanwhile A's write is
    // acknowledged: its invalidation waits unread in B's socket (or, every
    // other round, Redis also closes B's invalidation connection). B's next
    // call is already queued when it wakes, racing its listener thread.
    REQUIRE(kill(b.process().pid(), SIGSTOP) == 0);
    if (round % 2 == 0) REQUIRE(redis.Command({"CLIENT", "KILL", "TYPE", "pubsub"})->integer >= 1);
    const std::string title = absl::StrCat("v", round);
    REQUIRE(client_a.Upsert(Products(ids, title)).ok());
    auto woke = std::async(std::launch::async, [&] {
      BatchGetProductsResponse seen;
      REQUIRE(client_b.BatchGet(ids, &seen).ok());
      return seen;
    });
    absl::SleepFor(absl::Milliseconds(100));  // The call reaches B's socket.
    REQUIRE(kill(b.process().pid(), SIGCONT) == 0);
    const BatchGetProductsResponse seen = woke.get();
    INFO("round " << round);
    CHECK(seen.products_size() == 10);
    for (const Product& p : seen.products()) stale += p.title() == title ? 0 : 1;
  }
  CHECK(stale == 0);
}

}  // namespace
}  // namespace catalog

namespace catalog {
namespace {

// Keys of products still in Redis (test helper: KEYS is fine here).
int64_t HotProducts(RedisServer& redis) {
  return static_cast<int64_t>(redis.Command({"KEYS", "product:*"})->elements);
}

bool WaitUntilAllDemoted(RedisServer& redis, absl::Duration timeout) {
  return Eventually([&] { return HotProducts(redis) == 0; }, timeout, absl::Milliseconds(100));
}

TEST_CASE("background demotion on two instances: one lock holder at a time, a paused holder is taken over, nothing lost") {
  RedisServer redis;
  SharedMySql mysql;
  const std::vector<std::string> flags = {"--demote_interval_s=1", "--demote_idle_s=0", "--demote_lock_ttl_ms=1000"};
  CatalogServerProcess a(redis.port(), mysql.port(), mysql.database(), flags);
  CatalogServerProcess b(redis.port(), mysql.port(), mysql.database(), flags);
  Client client_a(a), client_b(b);
  const auto first = Ids("bg1_", 300);
  REQUIRE(client_a.Upsert(Products(first, "one")).ok());
  REQUIRE(WaitUntilAllDemoted(redis, absl::Seconds(30)));
  CHECK(mysql.client().QueryInt("SELECT COUNT(*) FROM products WHERE id LIKE 'bg1\\_%'") == 300);

  // A stops (SIGSTOP) for longer than the lock's ttl, holding it or not;
  // B goes on demoting what is written meanwhile.
  REQUIRE(kill(a.process().pid(), SIGSTOP) == 0);
  const auto second = Ids("bg2_", 300);
  const grpc::Status written = client_b.Upsert(Products(second, "two"));
  const bool demoted_while_stopped = WaitUntilAllDemoted(redis, absl::Seconds(30));
  REQUIRE(kill(a.process().pid(), SIGCONT) == 0);
  REQUIRE(written.ok());
  CHECK(demoted_while_stopped);

  // Both instances work after A wakes; every acknowledged write reads back.
  const auto third = Ids("bg3_", 100);
  REQUIRE(client_a.Upsert(Products(third, "three")).ok());
  REQUIRE(WaitUntilAllDemoted(redis, absl::Seconds(30)));
  for (const auto& [ids, title] : {std::pair{first, "one"}, std::pair{second, "two"}, std::pair{third, "three"}}) {
    BatchGetProductsResponse response;
    REQUIRE(client_b.BatchGet(ids, &response).ok());
    for (int i = 0; i < response.products_size(); ++i) CHECK(response.products(i).title() == title);
  }
  const int64_t runs = Metric(client_a, "catalog_demotion_runs_total") + Metric(client_b, "catalog_demotion_runs_total");
  CHECK(runs >= 3);
  // At least two holdings wrote to MySQL (the first batch, and B's while A
  // was stopped), each with a greater token.
  CHECK(mysql.client().QueryInt("SELECT token FROM demotion_fences WHERE name = 'products'") >= 2);
}

TEST_CASE("a demotion lock counter that fell behind MySQL's fence (lost increments) catches up after one fenced run") {
  Stack s;
  REQUIRE(s.client.Upsert(Products(Ids("floor_", 10), "one")).ok());
  CHECK(s.client.Demote(0).demoted() == 10);
  CHECK(s.mysql.client().QueryInt("SELECT token FROM demotion_fences WHERE name = 'products'") == 1);
  // As after a failover that lost increments: MySQL has seen token 100,
  // the Redis counter is far behind it.
  s.mysql.client().Execute("UPDATE demotion_fences SET token = 100 WHERE name = 'products'");
  REQUIRE(s.client.Upsert(Products(Ids("floor_", 10), "two")).ok());
  grpc::ClientContext context;
  Client::Deadline(context);
  catalog::admin::v1::DemoteRequest request;
  request.set_idle_seconds(0);
  catalog::admin::v1::DemoteResponse response;
  const grpc::Status fenced = s.client.admin->Demote(&context, request, &response);
  CHECK(fenced.error_code() == grpc::StatusCode::ABORTED);
  CHECK(absl::StrContains(fenced.error_message(), "is older than 100"));
  CHECK(Metric(s.client, "catalog_demote_fenced_total") == 1);
  // The next run starts above MySQL's token and demotes.
  CHECK(s.client.Demote(0).demoted() == 10);
  CHECK(s.mysql.client().QueryInt("SELECT token FROM demotion_fences WHERE name = 'products'") == 101);
  BatchGetProductsResponse read;
  REQUIRE(s.client.BatchGet(Ids("floor_", 10), &read).ok());
  for (const Product& product : read.products()) CHECK(product.title() == "two");
}

}  // namespace
}  // namespace catalog
