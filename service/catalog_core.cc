#include "service/catalog_core.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "service/validation.h"
#include "service/wire.h"
#include "storage/record_types.h"
#include "storage/status_macros.h"

namespace catalog::service {

using catalog::v1::Product;

namespace {

constexpr int32_t kDefaultPageSize = 50;

// What stamping a product adds at most to its encoding: version (tag + 10
// byte varint) and update_time (tag, length, seconds and nanos fields).
constexpr int64_t kStampBytes = 32;
// What one item adds to an answer beyond its stored bytes and id: tags,
// lengths, v2's ProductResult wrapper.
constexpr int64_t kItemOverheadBytes = 16;

std::vector<std::string> ProductIds(absl::Span<const Product* const> products) {
  std::vector<std::string> ids;
  ids.reserve(products.size());
  for (const Product* product : products) ids.push_back(product->id());
  return ids;
}

std::string CategoryIndex(const std::string& category) { return absl::StrCat("category:", category); }

// Page tokens: base64url of "1\n<category>\n<last id>" (ids never hold '\n').
std::string EncodePageToken(const std::string& category, const std::string& last_id) {
  return absl::WebSafeBase64Escape(absl::StrCat("1\n", category, "\n", last_id));
}

absl::StatusOr<std::string> DecodePageToken(const std::string& token, const std::string& category) {
  std::string decoded;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &decoded)) parts = absl::StrSplit(decoded, '\n');
  if (parts.size() != 3 || parts[0] != "1") {
    return absl::InvalidArgumentError("page_token: not a token returned by ListProducts");
  }
  if (parts[1] != category) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: belongs to category \"", parts[1], "\", not \"", category, "\""));
  }
  return parts[2];
}

}  // namespace

namespace {

std::string RequestEntry(const std::string& fingerprint, const std::string& answer) {
  return absl::StrCat("D", fingerprint, "\n", answer);
}

// A stable digest of what a request asks for (deterministic serialization,
// FNV-1a 64): tells a retry from a different request reusing the id.
// Of the messages of a write (sizes cached: ByteSizeLong called first).
template <typename Message>
std::string Fingerprint(absl::Span<const Message* const> products) {
  uint64_t hash = 14695981039346656037ull;
  for (const Message* product : products) {
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream out(&stream);
      out.SetSerializationDeterministic(true);
      product->SerializeWithCachedSizes(&out);
    }
    bytes.push_back('\0');
    for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  }
  return absl::StrCat(absl::Hex(hash, absl::kZeroPad16));
}

}  // namespace

CatalogCore::CatalogCore(storage::TieredStore* store, const storage::Clock* clock, storage::Metrics* metrics,
                         CoreOptions options, storage::TieredStore* offers, storage::ViewTier* views)
    : store_(store), offers_(offers), views_(views), clock_(clock), metrics_(metrics), options_(options) {}

template <typename T>
absl::StatusOr<T> CatalogCore::InvalidatingViews(absl::Span<const std::string> product_ids, absl::Time deadline,
                                                 absl::FunctionRef<absl::StatusOr<T>()> write) {
  absl::StatusOr<T> result = write();
  if (views_ == nullptr) return result;
  // A little time of its own: a write that ran into its deadline may still
  // have been applied, and its views must go.
  const absl::Status invalidated =
      views_->InvalidateViews(product_ids, /*variant=*/"", std::max(deadline, absl::Now() + absl::Seconds(1)));
  if (!invalidated.ok() && result.ok()) {
    return absl::UnavailableError(absl::StrCat("written, but the cached views of these products could not be ",
                                               "invalidated (", invalidated.message(),
                                               "); not acknowledged: retry the call"));
  }
  return result;
}

absl::Status CatalogCore::RequireOffers() const {
  if (offers_ == nullptr || views_ == nullptr) return absl::FailedPreconditionError("offers are not configured");
  return absl::OkStatus();
}

absl::Status CatalogCore::CheckResponseSize(absl::Span<const absl::string_view> ids,
                                            absl::Span<const storage::ValueView> values) const {
  int64_t bytes = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    bytes += static_cast<int64_t>(ids[i].size()) + kItemOverheadBytes;
    if (values[i].has_value()) bytes += static_cast<int64_t>(values[i]->size());
  }
  if (bytes <= options_.max_response_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat("the answer for these ", ids.size(), " ids would be about ", bytes,
                                                   " bytes, over the limit of ", options_.max_response_bytes,
                                                   " (max_message_bytes); ask for fewer ids per call"));
}

absl::StatusOr<std::vector<storage::MaybeValue>> CatalogCore::BatchGet(absl::Span<const std::string> ids,
                                                                       absl::Time deadline) {
  if (absl::Status s = ValidateIdBatch(ids, "ids", options_.max_batch_size); !s.ok()) return s;
  ASSIGN_OR_RETURN(std::vector<storage::MaybeValue> values, store_->Read(ids, deadline));
  const std::vector<absl::string_view> id_views(ids.begin(), ids.end());
  if (absl::Status s = CheckResponseSize(id_views, storage::Views(values)); !s.ok()) return s;
  return values;
}

void CatalogCore::BatchGetAsync(std::shared_ptr<const storage::IdBatch> ids, absl::Time deadline,
                                storage::TieredStore::ReadDone done, storage::TieredStore::ReadFrom from) {
  if (absl::Status s = ValidateIdBatch(ids->ids, "ids", options_.max_batch_size); !s.ok()) return done(ids->ids, s);
  store_->ReadAsync(std::move(ids), deadline,
                    [this, done = std::move(done)](absl::Span<const absl::string_view> ids,
                                                   absl::StatusOr<absl::Span<const storage::ValueView>> values) {
                      if (values.ok()) {
                        if (absl::Status s = CheckResponseSize(ids, *values); !s.ok()) return done(ids, s);
                      }
                      done(ids, values);
                    },
                    from);
}

void CatalogCore::GetAsync(std::string id, absl::Time deadline, GetDone done, storage::TieredStore::ReadFrom from) {
  if (absl::Status s = ValidateId(id, "id"); !s.ok()) return done(s);
  store_->ReadAsync(storage::IdBatch::Copy({id}), deadline,
                    [done = std::move(done)](absl::Span<const absl::string_view>,
                                             absl::StatusOr<absl::Span<const storage::ValueView>> values) {
                      if (!values.ok()) return done(values.status());
                      done(values->front());
                    },
                    from);
}

absl::StatusOr<std::optional<Product>> CatalogCore::Get(const std::string& id, absl::Time deadline) {
  if (absl::Status s = ValidateId(id, "id"); !s.ok()) return s;
  absl::StatusOr<std::vector<storage::MaybeValue>> values = store_->Read({id}, deadline);
  if (!values.ok()) return values.status();
  if (!values->front().has_value()) return std::nullopt;
  Product product;
  if (!product.ParseFromString(*values->front())) {
    return absl::DataLossError(absl::StrCat("stored product \"", id, "\" does not parse"));
  }
  return product;
}

absl::Status CatalogCore::ValidateWrite(absl::Span<const Product* const> products) const {
  if (absl::Status s = ValidateProductBatch(products, "products", options_.max_batch_size); !s.ok()) return s;
  int64_t answer = 0;
  for (size_t i = 0; i < products.size(); ++i) {
    const int64_t bytes = static_cast<int64_t>(products[i]->ByteSizeLong());
    if (bytes + kStampBytes > options_.max_record_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("products[", i, "]: encodes to ", bytes, " bytes (unknown fields included), over the limit of ",
                       options_.max_record_bytes - kStampBytes, " (max_record_bytes ", options_.max_record_bytes,
                       " less ", kStampBytes, " for version and update_time)"));
    }
    answer += bytes + kStampBytes + kItemOverheadBytes;
  }
  if (answer > options_.max_response_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("products: the answer echoing these ", products.size(),
                                                   " products would be about ", answer, " bytes, over the limit of ",
                                                   options_.max_response_bytes,
                                                   " (max_message_bytes); send fewer products per call"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Product>> CatalogCore::Upsert(absl::Span<const Product* const> products,
                                                         absl::Time deadline) {
  if (absl::Status s = ValidateWrite(products); !s.ok()) return s;
  return InvalidatingViews<std::vector<Product>>(ProductIds(products), deadline,
                                                 [&]() -> absl::StatusOr<std::vector<Product>> {
                                                   ASSIGN_OR_RETURN(UpsertOutcome outcome,
                                                                    Apply(products, nullptr, deadline));
                                                   return std::move(outcome.stored);
                                                 });
}

absl::StatusOr<CatalogCore::UpsertOutcome> CatalogCore::Apply(absl::Span<const Product* const> products,
                                                              const RequestIdentity* request, absl::Time deadline) {
  std::vector<storage::WriteIntent> intents;
  intents.reserve(products.size());
  for (const Product* product : products) intents.push_back({product->id(), product->version()});

  // Category index first, record second: the index is then always a
  // superset of the truth (a failed write leaves an extra entry, which List
  // skips), never missing a product that was written.
  std::vector<storage::IndexEntry> index_entries;
  for (const Product* product : products) {
    for (const std::string& category : product->category_ids()) {
      index_entries.push_back({CategoryIndex(category), product->id()});
    }
  }
  if (absl::Status s = store_->IndexAdd(index_entries, deadline); !s.ok()) return s;

  const google::protobuf::Timestamp now =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  std::vector<Product> stored(products.size());
  auto encode = [&](size_t index, int64_t version) {
    stored[index] = *products[index];
    stored[index].set_version(version);
    *stored[index].mutable_update_time() = now;
    return stored[index].SerializeAsString();
  };
  std::optional<storage::WriteOnce> once;
  if (request != nullptr) {
    // Built after every product was encoded: the record is the answer.
    once = storage::WriteOnce{request->id, [&] {
                                catalog::v1::UpsertProductsResponse answer;
                                for (const Product& product : stored) *answer.add_products() = product;
                                return RequestEntry(request->fingerprint, answer.SerializeAsString());
                              }};
  }
  absl::StatusOr<storage::WriteResult> result = store_->Write(intents, encode, deadline, once ? &*once : nullptr);
  if (!result.ok()) return result.status();
  if (result->recorded.has_value()) return UpsertOutcome{{}, std::move(result->recorded)};
  if (result->conflict.has_value()) {
    const storage::VersionConflict& c = *result->conflict;
    return absl::AbortedError(
        absl::StrCat("products[", c.index, "].version: ", c.expected, " does not match ",
                     c.stored == 0 ? std::string("any stored product") : absl::StrCat("the stored version ", c.stored),
                     " of id \"", products[c.index]->id(), "\"; nothing was written"));
  }
  return UpsertOutcome{std::move(stored), std::nullopt};
}

absl::StatusOr<std::vector<Product>> CatalogCore::UpsertOnce(const std::string& request_id,
                                                             absl::Span<const Product* const> products,
                                                             absl::Time deadline) {
  if (absl::Status s = ValidateId(request_id, "request_id"); !s.ok()) return s;
  if (absl::Status s = ValidateWrite(products); !s.ok()) return s;
  for (const Product* product : products) product->ByteSizeLong();  // Caches sizes for Fingerprint.
  const RequestIdentity request{request_id, Fingerprint(products)};
  // Views are invalidated on a replay too: the first call may have been
  // applied without its invalidation (it failed after the write).
  return InvalidatingViews<std::vector<Product>>(
      ProductIds(products), deadline, [&]() -> absl::StatusOr<std::vector<Product>> {
        // A retry of a call that completed is answered without writing
        // anything, index entries included.
        ASSIGN_OR_RETURN(storage::MaybeValue recorded, store_->LookupRequest(request_id, deadline));
        if (!recorded.has_value()) {
          ASSIGN_OR_RETURN(UpsertOutcome outcome, Apply(products, &request, deadline));
          if (!outcome.recorded.has_value()) return std::move(outcome.stored);
          recorded = std::move(outcome.recorded);  // Another call with this id won the race.
        }
        return Replay(request, *recorded);
      });
}

absl::StatusOr<std::vector<Product>> CatalogCore::Replay(const RequestIdentity& request, const std::string& entry) {
  ASSIGN_OR_RETURN(catalog::v1::UpsertProductsResponse answer,
                   Recorded<catalog::v1::UpsertProductsResponse>(request, entry));
  return std::vector<Product>(answer.products().begin(), answer.products().end());
}

template <typename Response>
absl::StatusOr<Response> CatalogCore::Recorded(const RequestIdentity& request, const std::string& entry) {
  // Entries: 'D' + fingerprint + '\n' + the response.
  // ('P' entries, claims with a TTL, were written by earlier versions.)
  const size_t newline = entry.find('\n');
  if (entry.empty() || newline == std::string::npos || (entry[0] != 'D' && entry[0] != 'P')) {
    return absl::DataLossError(absl::StrCat("request_id \"", request.id, "\": recorded entry is malformed"));
  }
  if (entry.substr(1, newline - 1) != request.fingerprint) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: \"", request.id, "\" was already used for a different request"));
  }
  if (entry[0] == 'P') {
    return absl::AbortedError(
        absl::StrCat("request_id \"", request.id, "\": the first call is still in progress; retry later"));
  }
  Response answer;
  if (!answer.ParseFromArray(entry.data() + newline + 1, static_cast<int>(entry.size() - newline - 1))) {
    return absl::DataLossError(absl::StrCat("request_id \"", request.id, "\": recorded result does not parse"));
  }
  metrics_->Add(storage::Counter::request_replays_total);
  return answer;
}

absl::StatusOr<ProductPage> CatalogCore::List(const std::string& category_id, int32_t page_size,
                                              const std::string& page_token, absl::Time deadline) {
  if (absl::Status s = ValidateId(category_id, "category_id"); !s.ok()) return s;
  if (page_size < 0) return absl::InvalidArgumentError(absl::StrCat("page_size: ", page_size, " must be >= 0"));
  const int64_t size = page_size == 0 ? kDefaultPageSize : std::min<int64_t>(page_size, options_.max_batch_size);
  std::string after;
  if (!page_token.empty()) {
    absl::StatusOr<std::string> last = DecodePageToken(page_token, category_id);
    if (!last.ok()) return last.status();
    after = *std::move(last);
  }
  // Index entries may be stale (a product moved to another category, or
  // deleted): read the products and keep those still in the category,
  // fetching further until the page is full or the index ends.
  ProductPage page;
  const std::string index = CategoryIndex(category_id);
  // The answer also carries the next page's token (base64 of the category
  // and an id): room for it is kept from the start.
  int64_t page_bytes = static_cast<int64_t>((category_id.size() + kMaxIdBytes + 4) * 4 / 3) + kItemOverheadBytes;
  while (static_cast<int64_t>(page.products.size()) < size) {
    const int want = static_cast<int>(size - static_cast<int64_t>(page.products.size()));
    absl::StatusOr<std::vector<std::string>> ids = store_->IndexRange(index, after, want, deadline);
    if (!ids.ok()) return ids.status();
    if (ids->empty()) return page;
    absl::StatusOr<std::vector<storage::MaybeValue>> values = store_->Read(*ids, deadline);
    if (!values.ok()) return values.status();
    for (size_t i = 0; i < ids->size(); ++i) {
      const int64_t bytes =
          (*values)[i].has_value() ? static_cast<int64_t>((*values)[i]->size()) + kItemOverheadBytes : 0;
      // A page ends early rather than exceed the answer limit.
      if (!page.products.empty() && page_bytes + bytes > options_.max_response_bytes) {
        page.next_page_token = EncodePageToken(category_id, after);
        return page;
      }
      after = (*ids)[i];
      if (!(*values)[i].has_value()) continue;
      Product product;
      if (!product.ParseFromString(*(*values)[i])) {
        return absl::DataLossError(absl::StrCat("stored product \"", (*ids)[i], "\" does not parse"));
      }
      const auto& categories = product.category_ids();
      if (std::find(categories.begin(), categories.end(), category_id) == categories.end()) continue;
      page_bytes += bytes;
      page.products.push_back(std::move(product));
    }
    if (static_cast<int>(ids->size()) < want) return page;  // The index has no more.
  }
  page.next_page_token = EncodePageToken(category_id, after);
  return page;
}

absl::StatusOr<int64_t> CatalogCore::Delete(absl::Span<const std::string> ids, absl::Time deadline) {
  if (absl::Status s = ValidateIdBatch(ids, "ids", options_.max_batch_size); !s.ok()) return s;
  return InvalidatingViews<int64_t>(ids, deadline, [&] { return store_->Delete(ids, deadline); });
}

absl::StatusOr<std::vector<catalog::v2::Offer>> CatalogCore::UpsertOffers(
    absl::Span<const catalog::v2::Offer* const> offers, absl::Time deadline, const std::string& request_id) {
  RETURN_IF_ERROR(RequireOffers());
  RETURN_IF_ERROR(ValidateOfferBatch(offers, "offers", options_.max_batch_size));
  for (size_t i = 0; i < offers.size(); ++i) {
    const int64_t bytes = static_cast<int64_t>(offers[i]->ByteSizeLong());
    if (bytes + kStampBytes > options_.max_record_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("offers[", i, "]: encodes to ", bytes,
                                                     " bytes (unknown fields included), over the limit of ",
                                                     options_.max_record_bytes - kStampBytes));
    }
  }
  std::vector<storage::WriteIntent> intents;
  std::vector<std::string> product_ids;
  for (const catalog::v2::Offer* offer : offers) {
    intents.push_back({storage::OfferRecordId(offer->product_id(), offer->market()), offer->version()});
    product_ids.push_back(offer->product_id());
  }
  std::optional<RequestIdentity> request;
  if (!request_id.empty()) {
    RETURN_IF_ERROR(ValidateId(request_id, "request_id"));
    request = RequestIdentity{request_id, Fingerprint(offers)};  // Sizes cached above.
  }
  const google::protobuf::Timestamp now =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  std::vector<catalog::v2::Offer> stored(offers.size());
  auto encode = [&](size_t index, int64_t version) {
    stored[index] = *offers[index];
    stored[index].set_version(version);
    *stored[index].mutable_update_time() = now;
    return stored[index].SerializeAsString();
  };
  auto replay = [&](const std::string& entry) -> absl::StatusOr<std::vector<catalog::v2::Offer>> {
    ASSIGN_OR_RETURN(catalog::v2::UpsertOffersResponse answer,
                     Recorded<catalog::v2::UpsertOffersResponse>(*request, entry));
    return std::vector<catalog::v2::Offer>(answer.offers().begin(), answer.offers().end());
  };
  // Views are invalidated on a replay too (as UpsertOnce: the first call may
  // have been applied without its invalidation).
  return InvalidatingViews<std::vector<catalog::v2::Offer>>(
      product_ids, deadline, [&]() -> absl::StatusOr<std::vector<catalog::v2::Offer>> {
        std::optional<storage::WriteOnce> once;
        if (request.has_value()) {
          // A retry of a call that completed is answered without writing.
          ASSIGN_OR_RETURN(storage::MaybeValue recorded, offers_->LookupRequest(request->id, deadline));
          if (recorded.has_value()) return replay(*recorded);
          once = storage::WriteOnce{request->id, [&] {
                                      catalog::v2::UpsertOffersResponse answer;
                                      for (const catalog::v2::Offer& offer : stored) *answer.add_offers() = offer;
                                      return RequestEntry(request->fingerprint, answer.SerializeAsString());
                                    }};
        }
        ASSIGN_OR_RETURN(storage::WriteResult result,
                         offers_->Write(intents, encode, deadline, once.has_value() ? &*once : nullptr));
        if (result.recorded.has_value()) return replay(*result.recorded);  // Another call with this id won.
        if (result.conflict.has_value()) {
          const storage::VersionConflict& c = *result.conflict;
          return absl::AbortedError(absl::StrCat(
              "offers[", c.index, "].version: ", c.expected, " does not match ",
              c.stored == 0 ? std::string("any stored offer") : absl::StrCat("the stored version ", c.stored),
              " of product \"", offers[c.index]->product_id(), "\" in market \"", offers[c.index]->market(),
              "\"; nothing was written"));
        }
        return std::move(stored);
      });
}

absl::StatusOr<int64_t> CatalogCore::DeleteOffers(absl::Span<const catalog::v2::OfferKey* const> keys,
                                                  absl::Time deadline) {
  RETURN_IF_ERROR(RequireOffers());
  RETURN_IF_ERROR(ValidateOfferKeys(keys, "keys", options_.max_batch_size));
  std::vector<std::string> ids, product_ids;
  for (const catalog::v2::OfferKey* key : keys) {
    ids.push_back(storage::OfferRecordId(key->product_id(), key->market()));
    product_ids.push_back(key->product_id());
  }
  return InvalidatingViews<int64_t>(product_ids, deadline, [&] { return offers_->Delete(ids, deadline); });
}

absl::StatusOr<std::vector<std::optional<catalog::v2::Offer>>> CatalogCore::BatchGetOffers(
    absl::Span<const catalog::v2::OfferKey* const> keys, absl::Time deadline) {
  RETURN_IF_ERROR(RequireOffers());
  RETURN_IF_ERROR(ValidateOfferKeys(keys, "keys", options_.max_batch_size));
  std::vector<std::string> ids;
  for (const catalog::v2::OfferKey* key : keys) ids.push_back(storage::OfferRecordId(key->product_id(), key->market()));
  ASSIGN_OR_RETURN(std::vector<storage::MaybeValue> values, offers_->Read(ids, deadline));
  RETURN_IF_ERROR(CheckResponseSize(std::vector<absl::string_view>(ids.begin(), ids.end()), storage::Views(values)));
  std::vector<std::optional<catalog::v2::Offer>> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].has_value()) continue;
    if (!out[i].emplace().ParseFromString(*values[i])) {
      return absl::DataLossError(absl::StrCat("stored offer \"", ids[i], "\" does not parse"));
    }
  }
  return out;
}

absl::StatusOr<std::vector<storage::MaybeValue>> CatalogCore::BatchGetProductViews(
    absl::Span<const std::string> product_ids, const std::string& market, absl::Time deadline) {
  RETURN_IF_ERROR(RequireOffers());
  RETURN_IF_ERROR(ValidateIdBatch(product_ids, "product_ids", options_.max_batch_size));
  RETURN_IF_ERROR(ValidateMarket(market, "market"));
  // Cached views and the fences guarding them, read before the records:
  // a write that changes a record after this point also changes a fence,
  // and then the fill below is refused.
  ASSIGN_OR_RETURN(storage::ViewLookup cached, views_->LookupViews(product_ids, market, deadline));
  std::vector<size_t> missing;
  for (size_t i = 0; i < product_ids.size(); ++i) {
    if (!cached.views[i].has_value()) missing.push_back(i);
  }
  metrics_->Add(storage::Counter::view_hits_total, static_cast<int64_t>(product_ids.size() - missing.size()));
  metrics_->Add(storage::Counter::view_misses_total, static_cast<int64_t>(missing.size()));
  if (!missing.empty()) RETURN_IF_ERROR(AssembleViews(product_ids, market, missing, &cached, deadline));
  RETURN_IF_ERROR(CheckResponseSize(std::vector<absl::string_view>(product_ids.begin(), product_ids.end()),
                                    storage::Views(cached.views)));
  return std::move(cached.views);
}

absl::Status CatalogCore::AssembleViews(absl::Span<const std::string> product_ids, const std::string& market,
                                        absl::Span<const size_t> missing, storage::ViewLookup* cached,
                                        absl::Time deadline) {
  std::vector<std::string> ids, offer_ids;
  for (size_t i : missing) {
    ids.push_back(product_ids[i]);
    offer_ids.push_back(storage::OfferRecordId(product_ids[i], market));
  }
  // Not from L1, which may trail another server's acknowledged write.
  ASSIGN_OR_RETURN(std::vector<storage::MaybeValue> products, store_->ReadFresh(ids, deadline));
  ASSIGN_OR_RETURN(std::vector<storage::MaybeValue> offers, offers_->ReadFresh(offer_ids, deadline));
  std::vector<storage::ViewFill> fills;
  for (size_t k = 0; k < missing.size(); ++k) {
    if (!products[k].has_value()) continue;  // No product: not found, not cached.
    // ProductView: field 1 the product, field 2 the offer (if any).
    std::string view(wire::FieldSize(wire::LengthTag(1), products[k]->size()) +
                         (offers[k] ? wire::FieldSize(wire::LengthTag(2), offers[k]->size()) : 0),
                     '\0');
    auto* out = reinterpret_cast<uint8_t*>(view.data());
    out = wire::WriteField(wire::LengthTag(1), *products[k], out);
    if (offers[k]) wire::WriteField(wire::LengthTag(2), *offers[k], out);
    fills.push_back(storage::ViewFill{ids[k], cached->fences[missing[k]], view});
    cached->views[missing[k]] = std::move(view);
  }
  // A cache fill: its failure costs the next reader a miss, not this one
  // its answer.
  if (absl::Status filled = views_->FillViews(fills, market, deadline); !filled.ok()) {
    metrics_->Add(storage::Counter::view_fill_errors_total);
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::DemoteResult> CatalogCore::Demote(int64_t idle_seconds, int64_t limit, absl::Time deadline,
                                                          storage::CancelCheck cancelled,
                                                          const std::string& record_type) {
  if (limit < 0) return absl::InvalidArgumentError(absl::StrCat("limit: ", limit, " must be >= 0"));
  storage::TieredStore* store = nullptr;
  if (record_type.empty() || record_type == "products") {
    store = store_;
  } else if (record_type == "offers") {
    RETURN_IF_ERROR(RequireOffers());
    store = offers_;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("record_type: \"", record_type, "\" is not one of products, offers"));
  }
  if (idle_seconds < 0) return absl::InvalidArgumentError(absl::StrCat("idle_seconds: must be >= 0, got ", idle_seconds));
  // One holder name per run, not per process: the background job and an
  // operator's call on the same instance must not share a holding.
  const std::string holder = absl::StrCat(options_.demotion_holder, "#", demotion_runs_.fetch_add(1) + 1);
  ASSIGN_OR_RETURN(const storage::LockGrant grant,
                   store->AcquireDemotionLock(holder, options_.demotion_lock_ttl, token_floor_.load(), deadline));
  if (!grant.held) {
    return absl::FailedPreconditionError(absl::StrCat("demotion is running on ", grant.holder,
                                                      " (it holds the demotion lock); try again when it has finished"));
  }
  metrics_->Set(storage::Gauge::demotion_lock_held, 1);
  metrics_->Set(storage::Gauge::demotion_lock_token, grant.token);
  absl::Cleanup release = [&] {
    metrics_->Set(storage::Gauge::demotion_lock_held, 0);
    // Best effort: if this fails the lock expires after its ttl.
    (void)store->ReleaseDemotionLock(holder, absl::Now() + absl::Seconds(1));
  };
  // Renewed before every page. Not the safety argument (a holder may be
  // paused between a renewal and its MySQL write): the fencing token that
  // MySQL checks is; renewal keeps a live run from being taken over.
  bool lost = false;
  absl::Status renewal = absl::OkStatus();
  auto still_ours = [&] {
    if (cancelled()) return false;
    absl::StatusOr<storage::LockGrant> renewed =
        store->AcquireDemotionLock(holder, options_.demotion_lock_ttl, 0, absl::Now() + absl::Seconds(1));
    if (!renewed.ok()) {
      renewal = renewed.status();
      return false;
    }
    lost = !renewed->held || renewed->token != grant.token;
    return !lost;
  };
  absl::StatusOr<storage::DemoteResult> result =
      store->Demote(absl::Seconds(idle_seconds), limit, deadline, [&] { return !still_ours(); }, grant.token);
  if (!result.ok() && absl::IsFailedPrecondition(result.status())) {
    // Fenced by MySQL: a newer holder wrote. If the lock's counter fell
    // behind MySQL's token (a failover lost increments), the next holding
    // starts above it.
    if (auto newest = result.status().GetPayload(storage::kFenceTokenPayload); newest.has_value()) {
      int64_t token = 0;
      if (absl::SimpleAtoi(std::string(*newest), &token)) {
        int64_t floor = token_floor_.load();
        while (token > floor && !token_floor_.compare_exchange_weak(floor, token)) {
        }
      }
    }
    lost = true;
  }
  if (!renewal.ok()) {
    return absl::Status(renewal.code(), absl::StrCat("demotion stopped: cannot renew the demotion lock: ",
                                                     renewal.message()));
  }
  if (lost) {
    metrics_->Add(storage::Counter::demotion_lock_lost_total);
    return absl::AbortedError(absl::StrCat(
        "demotion stopped: this instance no longer holds the demotion lock (paused or cut off for longer than its ",
        "ttl, ", absl::FormatDuration(options_.demotion_lock_ttl), ", or the lock was reset)",
        result.ok() ? "" : absl::StrCat(": ", result.status().message())));
  }
  return result;
}

}  // namespace catalog::service
