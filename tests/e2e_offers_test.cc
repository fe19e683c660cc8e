// Offers and product views through the real server (catalog.v2), on real
// Redis and MariaDB: the second record type in its own keys and table, the
// assembled views cached in Redis, and their invalidation by writes made
// through another server.
#include <fstream>

#include "absl/strings/match.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

namespace v2 = catalog::v2;

// A fresh path under the test's TMPDIR.
std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
         catalog::testing::UniqueName(name);
}

// A topology file placing products and offers on a Redis each, both in
// `mysql`; its path.
std::string TwoDeploymentTopology(catalog::testing::RedisServer& products_redis,
                                  catalog::testing::RedisServer& offers_redis, SharedMySql& mysql) {
  const std::string path = TempPath("topology") + ".textproto";
  std::ofstream(path) << "redis { name: \"products\" standalone { address: \"127.0.0.1:" << products_redis.port()
                      << "\" } }\n"
                      << "redis { name: \"offers\" standalone { address: \"127.0.0.1:" << offers_redis.port()
                      << "\" } }\n"
                      << "mysql { name: \"cold\" address: \"127.0.0.1:" << mysql.port()
                      << "\" user: \"catalog\" password_env: \"CATALOG_TEST_TOPOLOGY_PASSWORD\" database: \""
                      << mysql.database() << "\" }\n"
                      << "records { record_type: \"products\" redis: \"products\" mysql: \"cold\" }\n"
                      << "records { record_type: \"offers\" redis: \"offers\" mysql: \"cold\" }\n";
  setenv("CATALOG_TEST_TOPOLOGY_PASSWORD", "catalog", 1);
  return path;
}

struct V2 {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v2::CatalogService::Stub> stub;
  explicit V2(const std::string& target)
      : channel(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
        stub(v2::CatalogService::NewStub(channel)) {}

  grpc::Status PutOffer(const std::string& product_id, const std::string& market, int64_t amount,
                        const std::string& request_id = "", v2::UpsertOffersResponse* response = nullptr) {
    grpc::ClientContext context;
    Client::Deadline(context);
    v2::UpsertOffersRequest request;
    v2::Offer* offer = request.add_offers();
    offer->set_product_id(product_id);
    offer->set_market(market);
    offer->mutable_price()->set_currency_code("EUR");
    offer->mutable_price()->set_amount_minor(amount);
    offer->set_availability(v2::AVAILABILITY_IN_STOCK);
    request.set_request_id(request_id);
    v2::UpsertOffersResponse ignored;
    return stub->UpsertOffers(&context, request, response != nullptr ? response : &ignored);
  }
  v2::BatchGetProductViewsResponse Views(const std::vector<std::string>& ids, const std::string& market) {
    grpc::ClientContext context;
    Client::Deadline(context);
    v2::BatchGetProductViewsRequest request;
    for (const std::string& id : ids) request.add_product_ids(id);
    request.set_market(market);
    v2::BatchGetProductViewsResponse response;
    const grpc::Status status = stub->BatchGetProductViews(&context, request, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return response;
  }
};

TEST_CASE("offers: stored apart from products, read by key, deleted, in Redis and the offers table") {
  Stack s;
  V2 v2(s.server.target());
  REQUIRE(v2.PutOffer("p1", "de", 1999).ok());
  REQUIRE(v2.PutOffer("p1", "fr", 2099).ok());
  CHECK(s.redis.Command({"EXISTS", "offer:p1/de"})->integer == 1);
  CHECK(s.redis.Command({"EXISTS", "product:p1"})->integer == 0);

  grpc::ClientContext context;
  Client::Deadline(context);
  v2::BatchGetOffersRequest request;
  auto* de = request.add_keys();
  de->set_product_id("p1");
  de->set_market("de");
  auto* at = request.add_keys();
  at->set_product_id("p1");
  at->set_market("at");
  v2::BatchGetOffersResponse response;
  REQUIRE(v2.stub->BatchGetOffers(&context, request, &response).ok());
  REQUIRE(response.results_size() == 2);
  CHECK(response.results(0).offer().price().amount_minor() == 1999);
  CHECK(response.results(0).offer().version() == 1);
  CHECK(response.results(1).has_not_found());
  CHECK(response.results(1).key().market() == "at");

  grpc::ClientContext bad_context;
  Client::Deadline(bad_context);
  v2::UpsertOffersRequest bad;
  bad.add_offers()->set_product_id("p1");
  v2::UpsertOffersResponse ignored;
  const grpc::Status refused = v2.stub->UpsertOffers(&bad_context, bad, &ignored);
  CHECK(refused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(refused.error_message() == "offers[0].market: required");

  grpc::ClientContext delete_context;
  Client::Deadline(delete_context);
  v2::DeleteOffersRequest remove;
  *remove.add_keys() = *de;
  v2::DeleteOffersResponse removed;
  REQUIRE(v2.stub->DeleteOffers(&delete_context, remove, &removed).ok());
  CHECK(removed.deleted_count() == 1);
  // The delete's tombstone went to the offers' own cold table.
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM offers WHERE id = 'p1/de'") == 1);
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 0);

  // Demoted under their own lock into their own table, and read back.
  grpc::ClientContext demote_context;
  Client::Deadline(demote_context);
  catalog::admin::v1::DemoteRequest demote;
  demote.set_idle_seconds(0);
  demote.set_record_type("offers");
  catalog::admin::v1::DemoteResponse demoted;
  const grpc::Status demote_status = s.client.admin->Demote(&demote_context, demote, &demoted);
  INFO(demote_status.error_message());
  REQUIRE(demote_status.ok());
  CHECK(demoted.demoted() == 1);  // p1/fr (p1/de is a tombstone now).
  CHECK(s.redis.Command({"EXISTS", "offer:p1/fr"})->integer == 0);
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM offers WHERE id = 'p1/fr'") == 1);
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM demotion_fences WHERE name = 'offers'") == 1);
  grpc::ClientContext again_context;
  Client::Deadline(again_context);
  v2::BatchGetOffersRequest again;
  *again.add_keys() = request.keys(0);
  again.mutable_keys(0)->set_market("fr");
  v2::BatchGetOffersResponse found;
  REQUIRE(v2.stub->BatchGetOffers(&again_context, again, &found).ok());
  CHECK(found.results(0).offer().price().amount_minor() == 2099);
  grpc::ClientContext bad_demote_context;
  Client::Deadline(bad_demote_context);
  demote.set_record_type("prices");
  CHECK(s.client.admin->Demote(&bad_demote_context, demote, &demoted).error_message() ==
        "record_type: \"prices\" is not one of products, offers");
}

TEST_CASE("offers: an upsert with a request_id is applied once, a retry gets the first answer and overwrites nothing") {
  Stack s;
  V2 v2(s.server.target());
  auto upsert = [&](int64_t amount, const std::string& request_id, v2::UpsertOffersResponse* response) {
    return v2.PutOffer("p1", "de", amount, request_id, response);
  };
  v2::UpsertOffersResponse first, retry;
  REQUIRE(upsert(1000, "offer-req-1", &first).ok());
  REQUIRE(first.offers_size() == 1);
  CHECK(first.offers(0).version() == 1);
  // Another caller writes a newer price; then the first caller retries
  // (its answer was lost): the retry must not put the old price back.
  v2::UpsertOffersResponse newer;
  REQUIRE(upsert(1200, "", &newer).ok());
  CHECK(newer.offers(0).version() == 2);
  REQUIRE(upsert(1000, "offer-req-1", &retry).ok());
  CHECK(retry.SerializeAsString() == first.SerializeAsString());  // The recorded answer.
  // What is stored: price and version.
  auto stored = [&]() {
    grpc::ClientContext context;
    Client::Deadline(context);
    v2::BatchGetOffersRequest request;
    auto* key = request.add_keys();
    key->set_product_id("p1");
    key->set_market("de");
    v2::BatchGetOffersResponse read;
    REQUIRE(v2.stub->BatchGetOffers(&context, request, &read).ok());
    REQUIRE(read.results_size() == 1);
    return std::make_pair(read.results(0).offer().price().amount_minor(), read.results(0).offer().version());
  };
  CHECK(stored() == std::make_pair(int64_t{1200}, int64_t{2}));
  // Its own log, kept like the products' (no TTL, an expiry set).
  CHECK(s.redis.Command({"TTL", "offer-request:offer-req-1"})->integer == -1);
  CHECK(s.redis.Command({"ZSCORE", "offer-request-expiry", "offer-request:offer-req-1"})->type == REDIS_REPLY_STRING);
  CHECK(s.redis.Command({"EXISTS", "request:offer-req-1"})->integer == 0);

  // Reused for other offers: refused, nothing written.
  v2::UpsertOffersResponse ignored;
  const grpc::Status reused = upsert(999, "offer-req-1", &ignored);
  CHECK(reused.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(reused.error_message() == "request_id: \"offer-req-1\" was already used for a different request");
  const grpc::Status bad = upsert(999, "not valid", &ignored);
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(bad.error_message() == "request_id: \"not valid\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  CHECK(stored() == std::make_pair(int64_t{1200}, int64_t{2}));  // Neither refused call wrote.

  // A call that failed is forgotten: its retry, corrected, is applied.
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    v2::UpsertOffersRequest request;
    v2::Offer* offer = request.add_offers();
    offer->set_product_id("p1");
    offer->set_market("de");
    offer->mutable_price()->set_currency_code("EUR");
    offer->mutable_price()->set_amount_minor(1300);
    offer->set_version(7);  // Not the stored version: ABORTED, nothing written.
    request.set_request_id("offer-req-2");
    v2::UpsertOffersResponse response;
    CHECK(v2.stub->UpsertOffers(&context, request, &response).error_code() == grpc::StatusCode::ABORTED);
  }
  v2::UpsertOffersResponse corrected;
  REQUIRE(upsert(1300, "offer-req-2", &corrected).ok());
  REQUIRE(corrected.offers_size() == 1);
  CHECK(corrected.offers(0).version() == 3);
  CHECK(stored() == std::make_pair(int64_t{1300}, int64_t{3}));
}

TEST_CASE("product views: assembled, cached in Redis, and never older than a write acknowledged by another server") {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess a(redis.port(), mysql.port(), mysql.database());
  CatalogServerProcess b(redis.port(), mysql.port(), mysql.database());
  Client client_a(a);
  V2 view_a(a.target()), write_b(b.target());
  REQUIRE(client_a.Upsert({MakeProduct("p1", "shoe"), MakeProduct("p2", "boot")}).ok());
  REQUIRE(write_b.PutOffer("p1", "de", 1000).ok());

  auto views = view_a.Views({"p1", "p2", "p3"}, "de");
  REQUIRE(views.results_size() == 3);
  CHECK(views.results(0).view().product().title() == "shoe");
  CHECK(views.results(0).view().offer().price().amount_minor() == 1000);
  CHECK(views.results(1).view().product().title() == "boot");
  CHECK_FALSE(views.results(1).view().has_offer());
  CHECK(views.results(2).has_not_found());
  // Cached: a hash per product with a TTL (volatile-lru may evict it).
  CHECK(redis.Command({"HEXISTS", "product-view:p1", "de"})->integer == 1);
  CHECK(redis.Command({"TTL", "product-view:p1"})->integer > 0);
  redis.ResetStats();
  views = view_a.Views({"p1", "p2"}, "de");
  CHECK(redis.CommandCalls("mget") == 1);  // The fences only: no record read.
  CHECK(redis.CommandCalls("hget") == 2);

  // Writes through B, each read through A right after B acknowledged it.
  for (int round = 1; round <= 20; ++round) {
    REQUIRE(write_b.PutOffer("p1", "de", 1000 + round).ok());
    CHECK(view_a.Views({"p1"}, "de").results(0).view().offer().price().amount_minor() == 1000 + round);
    Client client_b(b);
    REQUIRE(client_b.Upsert({MakeProduct("p1", absl::StrCat("shoe ", round))}).ok());
    CHECK(view_a.Views({"p1"}, "de").results(0).view().product().title() == absl::StrCat("shoe ", round));
  }
  // A deleted product has no view, whatever was cached.
  DeleteProductsResponse deleted;
  REQUIRE(client_a.Delete({"p2"}, &deleted).ok());
  CHECK(view_a.Views({"p2"}, "de").results(0).has_not_found());
}

TEST_CASE("topology file: offers on a Redis of their own, views still never older than an acknowledged write") {
  RedisServer products_redis, offers_redis;
  SharedMySql mysql;
  const std::string path = TwoDeploymentTopology(products_redis, offers_redis, mysql);
  // redis_port points elsewhere on purpose: the file decides.
  CatalogServerProcess a(1, mysql.port(), mysql.database(), {"--topology_file=" + path});
  CatalogServerProcess b(1, mysql.port(), mysql.database(), {"--topology_file=" + path});
  Client client_a(a);
  V2 view_a(a.target()), write_b(b.target());
  REQUIRE(client_a.Upsert({MakeProduct("p1", "shoe")}).ok());
  REQUIRE(write_b.PutOffer("p1", "de", 1000).ok());
  CHECK(products_redis.Command({"EXISTS", "product:p1"})->integer == 1);
  CHECK(offers_redis.Command({"EXISTS", "product:p1"})->integer == 0);
  CHECK(offers_redis.Command({"EXISTS", "offer:p1/de"})->integer == 1);
  CHECK(products_redis.Command({"EXISTS", "offer:p1/de"})->integer == 0);
  // Views live with the products; offers written on the other deployment
  // invalidate them before they are acknowledged.
  for (int round = 1; round <= 10; ++round) {
    CHECK(view_a.Views({"p1"}, "de").results(0).view().offer().price().amount_minor() == 1000 + round - 1);
    REQUIRE(write_b.PutOffer("p1", "de", 1000 + round).ok());
  }
  CHECK(products_redis.Command({"EXISTS", "product-view:p1"})->integer == 0);  // Invalidated by the last write.
  CHECK(view_a.Views({"p1"}, "de").results(0).view().offer().price().amount_minor() == 1010);
}

TEST_CASE("topology file: maintenance watches every deployment and expires the offers' request log too") {
  RedisServer products_redis, offers_redis;
  SharedMySql mysql;
  const int metrics_port = catalog::testing::FreePort();
  const std::string path = TwoDeploymentTopology(products_redis, offers_redis, mysql);
  CatalogServerProcess server(1, mysql.port(), mysql.database(),
                              {"--topology_file=" + path, "--request_ttl_s=5", "--redis_info_interval_ms=200",
                               absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port)});
  V2 v2(server.target());
  REQUIRE(v2.PutOffer("p1", "de", 1, "expiring").ok());
  REQUIRE(offers_redis.Command({"EXISTS", "offer-request:expiring"})->integer == 1);
  // Past request_ttl_s the maintenance thread removes it from the offers'
  // deployment (bounded wait: a server that never does fails here).
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (offers_redis.Command({"EXISTS", "offer-request:expiring"})->integer == 1) {
    REQUIRE(absl::Now() < until);
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(offers_redis.Command({"ZCARD", "offer-request-expiry"})->integer == 0);
  CHECK(offers_redis.Command({"EXISTS", "offer:p1/de"})->integer == 1);  // The offer itself stays.

  // A policy that would evict records, set on the offers' Redis after
  // start-up, is reported naming that deployment.
  REQUIRE(offers_redis.Command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"})->type == REDIS_REPLY_STATUS);
  // JSON lines: the message's quotes are escaped.
  while (!absl::StrContains(server.Log(), "deployment \\\"offers\\\": ")) {
    INFO(server.Log());
    REQUIRE(absl::Now() < until + absl::Seconds(30));
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(absl::StrContains(server.Log(), "allkeys-lru"));
  CHECK_FALSE(absl::StrContains(server.Log(), "deployment \\\"products\\\": "));
  // The gauge says so too (the products' deployment alone is fine).
  while (!absl::StrContains(HttpGet(metrics_port, "/metrics"), "catalog_redis_maxmemory_policy_ok 0\n")) {
    REQUIRE(absl::Now() < until + absl::Seconds(30));
    absl::SleepFor(absl::Milliseconds(100));
  }
}

TEST_CASE("background demotion: memory pressure is judged per deployment, the full one gives up idle records sooner") {
  RedisServer products_redis, offers_redis;
  SharedMySql mysql;
  const std::string path = TwoDeploymentTopology(products_redis, offers_redis, mysql);
  // Idle records go only under pressure (idle bound 1 s instead of 1 h).
  CatalogServerProcess server(1, mysql.port(), mysql.database(),
                              {"--topology_file=" + path, "--redis_info_interval_ms=200", "--demote_interval_s=1",
                               "--demote_idle_s=3600", "--demote_pressure_idle_s=1"});
  Client client(server);
  V2 v2(server.target());
  std::vector<Product> products;
  for (int i = 0; i < 20; ++i) {
    products.push_back(MakeProduct(absl::StrCat("pp", i), "kept"));
    REQUIRE(v2.PutOffer(absl::StrCat("pp", i), "de", 100 + i).ok());
  }
  REQUIRE(client.Upsert(products).ok());
  // The offers' Redis only is past 80% of its maxmemory (the products' has
  // none), with room left for the demotion's own writes.
  auto used_memory = [](RedisServer& redis) {
    auto info = redis.Command({"INFO", "memory"});
    const std::string text(info->str, info->len);
    const size_t at = text.find("used_memory:");
    return std::stoll(text.substr(at + 12));
  };
  const long long cap = used_memory(offers_redis) * 6 / 5;
  REQUIRE(offers_redis.Command({"CONFIG", "SET", "maxmemory", std::to_string(cap)})->type == REDIS_REPLY_STATUS);
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (offers_redis.Command({"KEYS", "offer:*"})->elements > 0) {
    INFO(server.Log());
    REQUIRE(absl::Now() < until);
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(mysql.client().QueryInt("SELECT COUNT(*) FROM offers WHERE id LIKE 'pp%/de'") == 20);
  // Products, as idle but on a Redis with room, stayed (several runs have
  // passed since: the offers took at least one).
  absl::SleepFor(absl::Seconds(2));
  CHECK(products_redis.Command({"KEYS", "product:pp*"})->elements == 20);
  CHECK(mysql.client().QueryInt("SELECT COUNT(*) FROM products WHERE id LIKE 'pp%'") == 0);
  // Every demoted offer reads back (promoted from MySQL).
  grpc::ClientContext context;
  Client::Deadline(context);
  v2::BatchGetOffersRequest request;
  for (int i = 0; i < 20; ++i) {
    v2::OfferKey* key = request.add_keys();
    key->set_product_id(absl::StrCat("pp", i));
    key->set_market("de");
  }
  v2::BatchGetOffersResponse response;
  REQUIRE(v2.stub->BatchGetOffers(&context, request, &response).ok());
  REQUIRE(response.results_size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(response.results(i).offer().price().amount_minor() == 100 + i);
}

TEST_CASE("topology file: a bad one stops start-up naming the line and the field") {
  SharedMySql mysql;
  const std::string path = TempPath("topology") + ".textproto";
  std::ofstream(path) << "redis { name: \"r\" standalone { address: \"127.0.0.1:6379\" } }\n"
                      << "mysql { name: \"m\" address: \"127.0.0.1:3306\" user: \"u\" database: \"d\" }\n"
                      << "records { record_type: \"products\" redis: \"r\" mysql: \"m\" }\n"
                      << "records { record_type: \"offers\" redis: \"elsewhere\" mysql: \"m\" }\n";
  catalog::testing::ChildProcess server;
  const std::string log = TempPath("topology-refused") + ".log";
  server.Start({CATALOG_SERVER_BINARY, "--topology_file=" + path}, log);
  CHECK(server.Stop(0, absl::Seconds(30)) == 1);  // Exits by itself.
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(absl::StrContains(text, "line 4: records[1].redis: \"elsewhere\" names no redis deployment"));
}

}  // namespace
}  // namespace catalog
