// CatalogCore's own rules over in-memory tiers and a fake request log:
// index-before-record ordering, listing past stale index entries, and the
// request-id states of UpsertOnce.
#include "service/catalog_core.h"

#include <catch2/catch.hpp>
#include <map>

#include "storage/fake_tiers.h"

namespace catalog::service {
namespace {

using catalog::v1::Product;

class FakeRequestLog : public storage::RequestLog {
 public:
  std::map<std::string, storage::RequestClaim> entries;
  absl::Status fail_complete;
  int completes = 0, abandons = 0;

  absl::StatusOr<storage::RequestClaim> Claim(const std::string& id, const std::string& fingerprint,
                                              absl::Time) override {
    auto it = entries.find(id);
    if (it != entries.end()) return it->second;
    entries[id] = storage::RequestClaim{storage::RequestClaim::Kind::kInProgress, fingerprint, ""};
    return storage::RequestClaim{};
  }
  absl::Status Complete(const std::string& id, const std::string& fingerprint, const std::string& response,
                        absl::Time) override {
    ++completes;
    if (!fail_complete.ok()) return fail_complete;
    entries[id] = storage::RequestClaim{storage::RequestClaim::Kind::kDone, fingerprint, response};
    return absl::OkStatus();
  }
  absl::Status Abandon(const std::string& id, absl::Time) override {
    ++abandons;
    entries.erase(id);
    return absl::OkStatus();
  }
};

Product MakeProduct(const std::string& id, const std::string& category = "shoes") {
  Product p;
  p.set_id(id);
  p.set_sku("S");
  p.set_title("T " + id);
  p.mutable_price()->set_currency_code("EUR");
  p.add_category_ids(category);
  return p;
}

struct Fixture {
  storage::FakePrimaryTier primary;
  storage::FakeColdTier cold;
  storage::Metrics metrics;
  FakeRequestLog log;
  storage::TieredStore store{CatalogCore::ProductRecordType(), &primary, &cold,
                             storage::Clock::Real(),           &metrics, storage::TieredStoreOptions{}};
  CatalogCore core{&store, &log, storage::Clock::Real(), &metrics, CoreOptions{100}};
  absl::Time deadline = absl::Now() + absl::Seconds(5);

  absl::StatusOr<std::vector<Product>> Upsert(std::vector<Product> products, const std::string& request_id = "") {
    std::vector<const Product*> pointers;
    for (const Product& p : products) pointers.push_back(&p);
    return request_id.empty() ? core.Upsert(pointers, deadline) : core.UpsertOnce(request_id, pointers, deadline);
  }
  std::vector<std::string> ListAll(const std::string& category, int page_size) {
    std::vector<std::string> ids;
    std::string token;
    for (int page = 0; page < 50; ++page) {
      absl::StatusOr<ProductPage> result = core.List(category, page_size, token, deadline);
      REQUIRE(result.ok());
      for (const Product& p : result->products) ids.push_back(p.id());
      token = result->next_page_token;
      if (token.empty()) break;
    }
    return ids;
  }
};

TEST_CASE("core: the category index is written before the record, so a failed index write stores nothing") {
  Fixture f;
  f.primary.fail_multi_get = absl::UnavailableError("redis down");  // The fake's IndexAdd fails with it.
  CHECK(absl::IsUnavailable(f.Upsert({MakeProduct("a")}).status()));
  CHECK(f.primary.cas_calls == 0);
  f.primary.fail_multi_get = absl::OkStatus();
  REQUIRE(f.Upsert({MakeProduct("a")}).ok());
  CHECK(f.primary.indexes["category:shoes"] == std::set<std::string>{"a"});
}

TEST_CASE("core: listing skips moved and deleted products across several index reads") {
  Fixture f;
  std::vector<Product> products;
  for (int i = 0; i < 10; ++i) products.push_back(MakeProduct("p" + std::to_string(i)));
  REQUIRE(f.Upsert(products).ok());
  // Move every other product away, delete two more: 7 stale index entries.
  std::vector<Product> moved;
  for (int i = 0; i < 10; i += 2) moved.push_back(MakeProduct("p" + std::to_string(i), "hats"));
  REQUIRE(f.Upsert(moved).ok());
  REQUIRE(*f.core.Delete(std::vector<std::string>{"p1", "p5"}, f.deadline) == 2);
  CHECK(f.ListAll("shoes", 2) == std::vector<std::string>{"p3", "p7", "p9"});
  CHECK(f.ListAll("shoes", 0) == std::vector<std::string>{"p3", "p7", "p9"});
  CHECK(f.ListAll("hats", 3) == std::vector<std::string>{"p0", "p2", "p4", "p6", "p8"});
  CHECK(f.ListAll("none", 5).empty());
}

TEST_CASE("core: page tokens and sizes are checked") {
  Fixture f;
  REQUIRE(f.Upsert({MakeProduct("a"), MakeProduct("b")}).ok());
  absl::StatusOr<ProductPage> first = f.core.List("shoes", 1, "", f.deadline);
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->next_page_token.empty());
  CHECK(f.core.List("hats", 1, first->next_page_token, f.deadline).status().message() ==
        "page_token: belongs to category \"shoes\", not \"hats\"");
  CHECK(f.core.List("shoes", -2, "", f.deadline).status().message() == "page_size: -2 must be >= 0");
  CHECK(f.core.List("bad id", 1, "", f.deadline).status().message() ==
        "category_id: \"bad id\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  absl::StatusOr<ProductPage> capped = f.core.List("shoes", 5000, "", f.deadline);  // Lowered to max_batch_size.
  REQUIRE(capped.ok());
  CHECK(capped->products.size() == 2);
}

TEST_CASE("core: UpsertOnce applies once, replays, and rejects a reused id") {
  Fixture f;
  auto first = f.Upsert({MakeProduct("a")}, "r1");
  REQUIRE(first.ok());
  CHECK((*first)[0].version() == 1);
  auto replay = f.Upsert({MakeProduct("a")}, "r1");
  REQUIRE(replay.ok());
  CHECK((*replay)[0].version() == 1);
  CHECK(f.metrics.Get(storage::Counter::request_replays_total) == 1);
  CHECK(f.primary.cas_calls == 1);  // The replay wrote nothing.
  CHECK(f.Upsert({MakeProduct("b")}, "r1").status().message() ==
        "request_id: \"r1\" was already used for a different request");
}

TEST_CASE("core: a failed upsert is forgotten and a failed log write only counts") {
  Fixture f;
  Product stale = MakeProduct("a");
  stale.set_version(4);
  CHECK(absl::IsAborted(f.Upsert({stale}, "r1").status()));
  CHECK(f.log.abandons == 1);
  CHECK(f.log.entries.count("r1") == 0);

  f.log.fail_complete = absl::UnavailableError("redis down for the log");
  auto written = f.Upsert({MakeProduct("a")}, "r2");
  REQUIRE(written.ok());  // The write happened; it is reported.
  CHECK(f.metrics.Get(storage::Counter::request_log_failures_total) == 1);
  // Its claim is still pending (in Redis it expires after claim_ttl): a
  // retry meanwhile is told to come back, not applied twice.
  auto retry = f.Upsert({MakeProduct("a")}, "r2");
  CHECK(absl::IsAborted(retry.status()));
  CHECK(retry.status().message() == "request_id \"r2\": the first call is still in progress; retry later");
}

}  // namespace
}  // namespace catalog::service
