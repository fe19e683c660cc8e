// CatalogCore's own rules over in-memory tiers: index-before-record
// ordering, listing past stale index entries, size limits, and the
// request-id outcomes of UpsertOnce.
#include "service/catalog_core.h"

#include <catch2/catch.hpp>
#include <map>

#include "absl/strings/match.h"
#include "storage/record_types.h"
#include "storage/tiering/fake_tiers.h"

namespace catalog::service {
namespace {

using catalog::v1::Product;

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
  storage::TieredStore store{storage::ProductRecordType(), &primary, &cold,
                             storage::Clock::Real(),           &metrics, storage::TieredStoreOptions{}};
  CoreOptions options = [] {
    CoreOptions o;
    o.max_batch_size = 100;
    o.demotion_holder = "me";
    return o;
  }();
  // Offers on their own tiers, views in a map.
  storage::FakePrimaryTier offer_primary;
  storage::FakeColdTier offer_cold;
  storage::TieredStore offer_store{storage::OfferRecordType(), &offer_primary, &offer_cold,
                                   storage::Clock::Real(),      &metrics,       storage::TieredStoreOptions{}};
  storage::FakeViewTier views;
  CatalogCore core{&store, storage::Clock::Real(), &metrics, options, &offer_store, &views};
  absl::Time deadline = absl::Now() + absl::Seconds(5);

  absl::StatusOr<std::vector<Product>> Upsert(std::vector<Product> products, const std::string& request_id = "") {
    std::vector<const Product*> pointers;
    for (const Product& p : products) pointers.push_back(&p);
    return request_id.empty() ? core.Upsert(pointers, deadline) : core.UpsertOnce(request_id, pointers, deadline);
  }
  absl::StatusOr<std::vector<catalog::v2::Offer>> PutOffers(std::vector<catalog::v2::Offer> offers) {
    std::vector<const catalog::v2::Offer*> pointers;
    for (const auto& o : offers) pointers.push_back(&o);
    return core.UpsertOffers(pointers, deadline);
  }
  // The views of `ids` in `market`, parsed; an empty product id for none.
  std::vector<catalog::v2::ProductView> Views(const std::vector<std::string>& ids, const std::string& market) {
    auto views = core.BatchGetProductViews(ids, market, deadline);
    INFO(views.status().ToString());
    REQUIRE(views.ok());
    std::vector<catalog::v2::ProductView> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if ((*views)[i].has_value()) REQUIRE(out[i].ParseFromString(*(*views)[i]));
    }
    return out;
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

TEST_CASE("core: an upsert refused for its version records nothing, so its corrected retry is applied") {
  Fixture f;
  Product stale = MakeProduct("a");
  stale.set_version(4);
  CHECK(absl::IsAborted(f.Upsert({stale}, "r1").status()));
  CHECK(f.primary.requests.count("r1") == 0);
  stale.set_version(0);
  auto written = f.Upsert({stale}, "r1");  // The retry, corrected, applies.
  REQUIRE(written.ok());
  CHECK((*written)[0].version() == 1);
}

TEST_CASE("core: a retry after a lost reply is answered from the record written with the products") {
  Fixture f;
  // The first call's compare-and-set is applied, but its caller never hears
  // back (the reply comes after its deadline).
  f.primary.lose_cas_reply = true;
  auto first = f.Upsert({MakeProduct("a")}, "r1");
  CHECK(absl::IsDeadlineExceeded(first.status()));
  f.primary.lose_cas_reply = false;
  auto retry = f.Upsert({MakeProduct("a")}, "r1");
  REQUIRE(retry.ok());
  CHECK((*retry)[0].version() == 1);  // The first call's write, not a second one.
  CHECK(f.primary.cas_calls == 1);
  CHECK(f.metrics.Get(storage::Counter::request_replays_total) == 1);
  SECTION("two calls with one id at once: one applies, the other replays its result") {
    f.primary.before_cas = [&] {
      // The rival's whole call runs inside ours, between our look and our
      // compare-and-set.
      auto rival = f.Upsert({MakeProduct("b")}, "r3");
      REQUIRE(rival.ok());
    };
    auto mine = f.Upsert({MakeProduct("b")}, "r3");
    REQUIRE(mine.ok());
    CHECK((*mine)[0].version() == 1);
    CHECK(f.metrics.Get(storage::Counter::request_replays_total) == 2);
    CHECK(f.primary.cas_calls == 3);  // Ours found the rival's record: no second write.
    Product stored;
    REQUIRE(stored.ParseFromString(f.primary.values.at("b")));
    CHECK(stored.version() == 1);
  }
}

TEST_CASE("core: a record's whole encoding is bounded, unknown fields included") {
  Fixture f;
  f.options.max_record_bytes = 1000;
  CatalogCore core{&f.store, storage::Clock::Real(), &f.metrics, f.options};
  Product p = MakeProduct("a");
  const int64_t base = static_cast<int64_t>(p.ByteSizeLong());
  // An unknown length-delimited field (number 1000) of the right size to
  // land exactly at the limit: tag (2 bytes) + length (2 bytes) + payload.
  auto with_unknown = [&](int64_t payload) {
    Product q = p;
    std::string bytes = q.SerializeAsString();
    bytes += std::string("\xC2\x3E", 2);  // Field 1000, wire type 2.
    bytes += static_cast<char>(0x80 | (payload & 0x7F));
    bytes += static_cast<char>(payload >> 7);
    bytes += std::string(static_cast<size_t>(payload), 'u');
    REQUIRE(q.ParseFromString(bytes));
    return q;
  };
  const int64_t room = 1000 - 32 - base - 4;  // Limit less stamp, known fields, tag and length.
  Product at = with_unknown(room);
  CHECK(static_cast<int64_t>(at.ByteSizeLong()) == 1000 - 32);
  std::vector<const Product*> one = {&at};
  CHECK(core.Upsert(one, f.deadline).ok());
  Product past = with_unknown(room + 1);
  one = {&past};
  const absl::Status status = core.Upsert(one, f.deadline).status();
  CHECK(absl::IsInvalidArgument(status));
  CHECK(status.message() ==
        "products[0]: encodes to 969 bytes (unknown fields included), over the limit of 968 (max_record_bytes 1000 "
        "less 32 for version and update_time)");
}

TEST_CASE("core: answers are bounded: writes refused before anything is stored, reads fail, pages end early") {
  Fixture f;
  f.options.max_response_bytes = 2000;
  CatalogCore core{&f.store, storage::Clock::Real(), &f.metrics, f.options};
  std::vector<Product> products;
  for (int i = 0; i < 30; ++i) {
    products.push_back(MakeProduct("p" + std::to_string(i)));
    products.back().set_description(std::string(100, 'd'));  // ~140 bytes each.
  }
  std::vector<const Product*> all;
  for (const Product& p : products) all.push_back(&p);
  const absl::Status refused = core.Upsert(all, f.deadline).status();
  CHECK(absl::IsInvalidArgument(refused));
  CHECK(absl::StrContains(refused.message(), "send fewer products per call"));
  CHECK(f.primary.values.empty());
  std::vector<const Product*> few(all.begin(), all.begin() + 10);
  REQUIRE(core.Upsert(few, f.deadline).ok());
  std::vector<const Product*> rest(all.begin() + 10, all.begin() + 20);
  REQUIRE(core.Upsert(rest, f.deadline).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back("p" + std::to_string(i));
  const absl::Status too_big = core.BatchGet(ids, f.deadline).status();
  CHECK(absl::IsResourceExhausted(too_big));
  CHECK(absl::StrContains(too_big.message(), "ask for fewer ids per call"));
  CHECK(core.BatchGet(std::vector<std::string>(ids.begin(), ids.begin() + 10), f.deadline).ok());
  // A listing of all 20 comes in several pages, each within the limit.
  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    auto page = core.List("shoes", 100, token, f.deadline);
    REQUIRE(page.ok());
    for (const Product& p : page->products) listed.push_back(p.id());
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 50);
  std::vector<std::string> expected = ids;
  std::sort(expected.begin(), expected.end());
  CHECK(listed == expected);  // In id order, none skipped or repeated across pages.
  CHECK(pages > 1);
}

catalog::v2::Offer MakeOffer(const std::string& product_id, const std::string& market, int64_t amount) {
  catalog::v2::Offer o;
  o.set_product_id(product_id);
  o.set_market(market);
  o.mutable_price()->set_currency_code("EUR");
  o.mutable_price()->set_amount_minor(amount);
  o.set_stock_quantity(3);
  o.set_availability(catalog::v2::AVAILABILITY_IN_STOCK);
  return o;
}

TEST_CASE("offers: stamped and versioned like products, read back by key, deleted, bad input named") {
  Fixture f;
  auto stored = f.PutOffers({MakeOffer("p1", "de", 100), MakeOffer("p1", "fr", 120)});
  INFO(stored.status().ToString());
  REQUIRE(stored.ok());
  CHECK((*stored)[0].version() == 1);
  CHECK((*stored)[0].has_update_time());
  CHECK(f.offer_primary.values.count("p1/de") == 1);  // Stored under its own record id...
  CHECK(f.primary.values.empty());                    // ...in the offers' tiers only.
  catalog::v2::Offer stale = MakeOffer("p1", "de", 90);
  stale.set_version(7);
  auto conflict = f.PutOffers({stale});
  CHECK(absl::IsAborted(conflict.status()));
  CHECK(conflict.status().message() ==
        "offers[0].version: 7 does not match the stored version 1 of product \"p1\" in market \"de\"; nothing was "
        "written");
  catalog::v2::OfferKey de, at;
  de.set_product_id("p1");
  de.set_market("de");
  at.set_product_id("p1");
  at.set_market("at");
  auto read = f.core.BatchGetOffers({&de, &at}, f.deadline);
  REQUIRE(read.ok());
  REQUIRE((*read)[0].has_value());
  CHECK((*read)[0]->price().amount_minor() == 100);
  CHECK_FALSE((*read)[1].has_value());
  auto deleted = f.core.DeleteOffers({&de, &at}, f.deadline);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);

  CHECK(f.PutOffers({MakeOffer("p1", "d/e", 1)}).status().message() ==
        "offers[0].market: \"d/e\" may only hold A-Z, a-z, 0-9, '_' and '-'");
  CHECK(f.PutOffers({MakeOffer("p1", std::string(17, 'm'), 1)}).status().message() ==
        "offers[0].market: \"mmmmmmmmmmmmmmmmm\" is longer than 16 characters");
  CHECK(f.PutOffers({MakeOffer("p1", std::string(16, 'm'), 1)}).ok());  // At the limit.
  CHECK(f.PutOffers({MakeOffer("p1", "de", -1)}).status().message() == "offers[0].price.amount_minor: -1 must be >= 0");
  catalog::v2::Offer unknown = MakeOffer("p1", "de", 1);
  unknown.set_availability(static_cast<catalog::v2::Availability>(9));
  CHECK(f.PutOffers({unknown}).status().message() == "offers[0].availability: 9 is not an Availability");
  CHECK(f.PutOffers({MakeOffer("p1", "de", 1), MakeOffer("p1", "de", 2)}).status().message() ==
        "offers[1]: same product_id and market as offers[0]");
}

TEST_CASE("views: assembled from the product and its offer, then served from the cache") {
  Fixture f;
  REQUIRE(f.Upsert({MakeProduct("p1"), MakeProduct("p2")}).ok());
  REQUIRE(f.PutOffers({MakeOffer("p1", "de", 100)}).ok());
  auto views = f.Views({"p1", "p2", "none"}, "de");
  CHECK(views[0].product().id() == "p1");
  CHECK(views[0].offer().price().amount_minor() == 100);
  CHECK(views[1].product().id() == "p2");
  CHECK_FALSE(views[1].has_offer());       // No offer in this market.
  CHECK_FALSE(views[2].has_product());     // No product: not found.
  CHECK(f.views.views.size() == 2);        // Found ones cached, per market.
  const int cold_reads = f.primary.multi_get_calls;
  views = f.Views({"p1", "p2"}, "de");
  CHECK(views[0].offer().price().amount_minor() == 100);
  CHECK(f.primary.multi_get_calls == cold_reads);  // From the cache: no record read.
  CHECK(f.metrics.Get(storage::Counter::view_hits_total) == 2);
}

TEST_CASE("views: a product or offer write invalidates before it returns, and a write during a miss refuses the fill") {
  Fixture f;
  REQUIRE(f.Upsert({MakeProduct("p1")}).ok());
  REQUIRE(f.PutOffers({MakeOffer("p1", "de", 100)}).ok());
  CHECK(f.Views({"p1"}, "de")[0].offer().price().amount_minor() == 100);
  REQUIRE(f.PutOffers({MakeOffer("p1", "de", 200)}).ok());
  CHECK(f.Views({"p1"}, "de")[0].offer().price().amount_minor() == 200);
  Product renamed = MakeProduct("p1");
  renamed.set_title("renamed");
  REQUIRE(f.Upsert({renamed}).ok());
  CHECK(f.Views({"p1"}, "de")[0].product().title() == "renamed");

  // A reader misses, and before it assembles, a write lands and invalidates:
  // the reader answers with what it read, but must not cache it.
  f.views.views.clear();
  f.views.after_lookup = [&] {
    REQUIRE(f.PutOffers({MakeOffer("p1", "de", 300)}).ok());
  };
  const int fills = f.views.fills;
  (void)f.Views({"p1"}, "de");
  CHECK(f.views.fills == fills);  // Refused: the fence moved.
  CHECK(f.Views({"p1"}, "de")[0].offer().price().amount_minor() == 300);

  // A write whose invalidation fails is not acknowledged.
  f.views.fail_invalidate = absl::UnavailableError("redis down");
  auto unconfirmed = f.PutOffers({MakeOffer("p1", "de", 400)});
  CHECK(absl::IsUnavailable(unconfirmed.status()));
  CHECK(absl::StrContains(unconfirmed.status().message(), "not acknowledged: retry the call"));
  CHECK(absl::IsUnavailable(f.Upsert({MakeProduct("p1")}).status()));
  // Bad input invalidates nothing and says which field.
  f.views.fail_invalidate = absl::OkStatus();
  const int invalidations = f.views.invalidations;
  CHECK(f.core.BatchGetProductViews({"p1"}, "", f.deadline).status().message() == "market: required");
  CHECK(absl::IsInvalidArgument(f.PutOffers({MakeOffer("", "de", 1)}).status()));
  CHECK(f.views.invalidations == invalidations);
  REQUIRE(f.PutOffers({MakeOffer("p1", "de", 1)}).ok());
  CHECK(f.views.invalidations == invalidations + 1);  // The check above can fail.
}

TEST_CASE("views: a replayed upsert (same request id) invalidates again before it answers") {
  Fixture f;
  REQUIRE(f.Upsert({MakeProduct("p1")}, "req-1").ok());
  const int invalidations = f.views.invalidations;
  f.views.views[{"p1", "de"}] = "stale";  // As if the first call's invalidation had been lost.
  REQUIRE(f.Upsert({MakeProduct("p1")}, "req-1").ok());
  CHECK(f.views.invalidations == invalidations + 1);
  CHECK(f.views.views.empty());
}

TEST_CASE("demotion runs only under the demotion lock, and frees it after") {
  Fixture f;
  f.primary.lock_holder = "other-host:42";
  auto refused = f.core.Demote(0, 0, f.deadline, [] { return false; });
  REQUIRE_FALSE(refused.ok());
  CHECK(absl::IsFailedPrecondition(refused.status()));
  CHECK(refused.status().message() ==
        "demotion is running on other-host:42 (it holds the demotion lock); try again when it has finished");
  f.primary.lock_holder.clear();
  auto ran = f.core.Demote(0, 0, f.deadline, [] { return false; });
  INFO(ran.status().ToString());
  REQUIRE(ran.ok());
  CHECK(f.primary.lock_holder.empty());  // Released.
  CHECK(f.primary.lock_token == 1);
  CHECK(f.metrics.Get(storage::Gauge::demotion_lock_token) == 1);
  CHECK(f.metrics.Get(storage::Gauge::demotion_lock_held) == 0);
  CHECK(absl::IsInvalidArgument(f.core.Demote(-1, 0, f.deadline, [] { return false; }).status()));
  CHECK(f.primary.lock_token == 1);  // Bad input takes no lock.
}

}  // namespace

}  // namespace catalog::service
