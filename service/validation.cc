#include "service/validation.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace catalog::service {
namespace {

// Echoes user input in an error message, escaped and cut to a readable size.
std::string Quote(absl::string_view value) {
  constexpr size_t kMaxShown = 64;
  std::string shown = absl::CHexEscape(value.substr(0, kMaxShown));
  return absl::StrCat("\"", shown, value.size() > kMaxShown ? "...\"" : "\"");
}

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

bool IsIdChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-'; }

absl::Status CheckLength(absl::string_view value, size_t max, absl::string_view field, bool required) {
  if (required && value.empty()) return Invalid(field, "required");
  if (value.size() > max) return Invalid(field, absl::StrCat(value.size(), " bytes exceed the limit of ", max));
  return absl::OkStatus();
}

// v1 and v2 Money share fields, not a type: checked by value.
absl::Status ValidatePrice(const std::string& currency, int64_t amount_minor, absl::string_view field) {
  if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(), absl::ascii_isupper)) {
    return Invalid(absl::StrCat(field, ".price.currency_code"),
                   absl::StrCat(Quote(currency), " is not a 3-letter upper-case ISO 4217 code"));
  }
  if (amount_minor < 0) {
    return Invalid(absl::StrCat(field, ".price.amount_minor"), absl::StrCat(amount_minor, " must be >= 0"));
  }
  return absl::OkStatus();
}

absl::Status CheckBatchSize(size_t size, absl::string_view field, int64_t max_batch, absl::string_view noun) {
  if (size == 0) return Invalid(field, "must not be empty");
  if (static_cast<int64_t>(size) > max_batch) {
    return Invalid(field, absl::StrCat(size, " ", noun, " exceed the limit of ", max_batch));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateId(absl::string_view id, absl::string_view field) {
  if (id.empty() || id.size() > kMaxIdBytes || !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return Invalid(field, absl::StrCat(Quote(id), " is not a valid id (^[A-Za-z0-9._:-]{1,128}$)"));
  }
  return absl::OkStatus();
}

// On the read path for every call: no allocation per id when all is well
// (the field path is built only for an error), one table for duplicates.
absl::Status ValidateIdBatch(absl::Span<const absl::string_view> ids, absl::string_view field, int64_t max_batch) {
  if (absl::Status s = CheckBatchSize(ids.size(), field, max_batch, "ids"); !s.ok()) return s;
  for (size_t i = 0; i < ids.size(); ++i) {
    const absl::string_view id = ids[i];
    if (id.empty() || id.size() > kMaxIdBytes || !std::all_of(id.begin(), id.end(), IsIdChar)) {
      return ValidateId(id, absl::StrCat(field, "[", i, "]"));
    }
  }
  absl::flat_hash_map<absl::string_view, size_t> first_index;
  first_index.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first_index.emplace(ids[i], i);
    if (!inserted) {
      return Invalid(absl::StrCat(field, "[", i, "]"),
                     absl::StrCat("duplicate of ", field, "[", it->second, "] ", Quote(ids[i])));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIdBatch(absl::Span<const std::string> ids, absl::string_view field, int64_t max_batch) {
  const std::vector<absl::string_view> views(ids.begin(), ids.end());
  return ValidateIdBatch(views, field, max_batch);
}

absl::Status ValidateProduct(const catalog::v1::Product& product, absl::string_view field) {
  absl::Status s = ValidateId(product.id(), absl::StrCat(field, ".id"));
  if (s.ok()) s = CheckLength(product.sku(), kMaxSkuBytes, absl::StrCat(field, ".sku"), true);
  if (s.ok()) s = CheckLength(product.title(), kMaxTitleBytes, absl::StrCat(field, ".title"), true);
  if (s.ok()) s = CheckLength(product.description(), kMaxDescriptionBytes, absl::StrCat(field, ".description"), false);
  if (!s.ok()) return s;
  if (!product.has_price()) return Invalid(absl::StrCat(field, ".price"), "required");
  if (absl::Status p = ValidatePrice(product.price().currency_code(), product.price().amount_minor(), field); !p.ok()) {
    return p;
  }
  if (product.stock_quantity() < 0) {
    return Invalid(absl::StrCat(field, ".stock_quantity"), absl::StrCat(product.stock_quantity(), " must be >= 0"));
  }
  if (product.version() < 0) {
    return Invalid(absl::StrCat(field, ".version"), absl::StrCat(product.version(), " must be >= 0"));
  }
  if (product.attributes_size() > kMaxAttributes) {
    return Invalid(absl::StrCat(field, ".attributes"),
                   absl::StrCat(product.attributes_size(), " entries exceed the limit of ", kMaxAttributes));
  }
  for (const auto& [key, value] : product.attributes()) {
    const std::string path = absl::StrCat(field, ".attributes[", Quote(key), "]");
    if (key.empty()) return Invalid(path, "key must not be empty");
    if (key.size() > kMaxAttributeKeyBytes) {
      return Invalid(path, absl::StrCat("key of ", key.size(), " bytes exceeds the limit of ", kMaxAttributeKeyBytes));
    }
    if (value.size() > kMaxAttributeValueBytes) {
      return Invalid(path,
                     absl::StrCat("value of ", value.size(), " bytes exceeds the limit of ", kMaxAttributeValueBytes));
    }
  }
  if (product.category_ids_size() > kMaxCategoryIds) {
    return Invalid(absl::StrCat(field, ".category_ids"),
                   absl::StrCat(product.category_ids_size(), " ids exceed the limit of ", kMaxCategoryIds));
  }
  for (int i = 0; i < product.category_ids_size(); ++i) {
    if (absl::Status c = ValidateId(product.category_ids(i), absl::StrCat(field, ".category_ids[", i, "]")); !c.ok()) {
      return c;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProductBatch(absl::Span<const catalog::v1::Product* const> products, absl::string_view field,
                                  int64_t max_batch) {
  if (absl::Status s = CheckBatchSize(products.size(), field, max_batch, "products"); !s.ok()) return s;
  absl::flat_hash_map<absl::string_view, size_t> first_index;
  for (size_t i = 0; i < products.size(); ++i) {
    const std::string path = absl::StrCat(field, "[", i, "]");
    if (absl::Status s = ValidateProduct(*products[i], path); !s.ok()) return s;
    auto [it, inserted] = first_index.emplace(products[i]->id(), i);
    if (!inserted) {
      return Invalid(absl::StrCat(path, ".id"),
                     absl::StrCat("duplicate of ", field, "[", it->second, "].id ", Quote(products[i]->id())));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateMarket(absl::string_view market, absl::string_view field) {
  if (market.empty()) return Invalid(field, "required");
  if (market.size() > kMaxMarketBytes) {
    return Invalid(field, absl::StrCat(Quote(market), " is longer than ", kMaxMarketBytes, " characters"));
  }
  for (char c : market) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') {
      return Invalid(field, absl::StrCat(Quote(market), " may only hold A-Z, a-z, 0-9, '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOffer(const catalog::v2::Offer& offer, absl::string_view field) {
  if (absl::Status s = ValidateId(offer.product_id(), absl::StrCat(field, ".product_id")); !s.ok()) return s;
  if (absl::Status s = ValidateMarket(offer.market(), absl::StrCat(field, ".market")); !s.ok()) return s;
  if (!offer.has_price()) return Invalid(absl::StrCat(field, ".price"), "required");
  if (absl::Status p = ValidatePrice(offer.price().currency_code(), offer.price().amount_minor(), field); !p.ok()) {
    return p;
  }
  if (offer.stock_quantity() < 0) {
    return Invalid(absl::StrCat(field, ".stock_quantity"), absl::StrCat(offer.stock_quantity(), " must be >= 0"));
  }
  if (!catalog::v2::Availability_IsValid(offer.availability())) {
    return Invalid(absl::StrCat(field, ".availability"), absl::StrCat(offer.availability(), " is not an Availability"));
  }
  if (offer.version() < 0) {
    return Invalid(absl::StrCat(field, ".version"), absl::StrCat(offer.version(), " must be >= 0"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOfferBatch(absl::Span<const catalog::v2::Offer* const> offers, absl::string_view field,
                                int64_t max_batch) {
  if (absl::Status s = CheckBatchSize(offers.size(), field, max_batch, "offers"); !s.ok()) return s;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, size_t> first_index;
  for (size_t i = 0; i < offers.size(); ++i) {
    const std::string path = absl::StrCat(field, "[", i, "]");
    if (absl::Status s = ValidateOffer(*offers[i], path); !s.ok()) return s;
    auto [it, inserted] = first_index.emplace(std::pair{absl::string_view(offers[i]->product_id()),
                                                        absl::string_view(offers[i]->market())},
                                              i);
    if (!inserted) return Invalid(path, absl::StrCat("same product_id and market as ", field, "[", it->second, "]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateOfferKeys(absl::Span<const catalog::v2::OfferKey* const> keys, absl::string_view field,
                               int64_t max_batch) {
  if (absl::Status s = CheckBatchSize(keys.size(), field, max_batch, "keys"); !s.ok()) return s;
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>, size_t> first_index;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string path = absl::StrCat(field, "[", i, "]");
    if (absl::Status s = ValidateId(keys[i]->product_id(), absl::StrCat(path, ".product_id")); !s.ok()) return s;
    if (absl::Status s = ValidateMarket(keys[i]->market(), absl::StrCat(path, ".market")); !s.ok()) return s;
    auto [it, inserted] = first_index.emplace(
        std::pair{absl::string_view(keys[i]->product_id()), absl::string_view(keys[i]->market())}, i);
    if (!inserted) return Invalid(path, absl::StrCat("duplicate of ", field, "[", it->second, "]"));
  }
  return absl::OkStatus();
}

}  // namespace catalog::service
