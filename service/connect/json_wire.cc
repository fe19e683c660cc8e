#include "service/connect/json_wire.h"

#include <limits>

#include "absl/container/inlined_vector.h"
#include "service/connect/utf8.h"
#include "service/wire.h"

namespace catalog::service {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

struct JsonWire::Plan {
  bool supported = true;
  // Both the JSON name and the proto name of each field.
  absl::flat_hash_map<std::string, const FieldDescriptor*> by_key;
  absl::flat_hash_map<const FieldDescriptor*, const Plan*> messages;
};

JsonWire::JsonWire(const std::vector<const Descriptor*>& roots) {
  for (const Descriptor* root : roots) Add(root);
  for (auto& [type, plan] : plans_) {
    for (const auto& [key, field] : plan->by_key) {
      if (field->type() == FieldDescriptor::TYPE_MESSAGE && !field->is_map()) {
        plan->messages[field] = plans_.at(field->message_type()).get();
      }
    }
  }
}

JsonWire::~JsonWire() = default;

void JsonWire::Add(const Descriptor* type) {
  if (plans_.contains(type)) return;
  auto plan = std::make_unique<Plan>();
  Plan* p = plan.get();
  plans_.emplace(type, std::move(plan));
  if (type->file()->package() == "google.protobuf") {
    p->supported = false;  // Well-known types have JSON forms of their own.
    return;
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    p->by_key[f->json_name()] = f;
    p->by_key[f->name()] = f;
  }
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_map()) Add(f->message_type());
  }
}

namespace {

using wire::AppendVarint;

void PutTag(const FieldDescriptor* f, int wire_type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(f->number()) << 3) | static_cast<uint64_t>(wire_type), out);
}

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  void SkipSpace() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < in_.size() && in_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char Peek() {
    SkipSpace();
    return pos_ < in_.size() ? in_[pos_] : '\0';
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == in_.size();
  }

  // A string without escapes or control characters, valid UTF-8.
  bool String(absl::string_view* out) {
    if (!Consume('"')) return false;
    const size_t start = pos_;
    while (pos_ < in_.size()) {
      const uint8_t c = static_cast<uint8_t>(in_[pos_]);
      if (c == '"') {
        *out = in_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
      uint32_t cp;
      const size_t n = DecodeUtf8(in_, pos_, &cp);
      if (n == 0) return false;
      pos_ += n;
    }
    return false;
  }

  // A plain integer, bare or quoted: -?(0|[1-9][0-9]*), at most 20 digits.
  bool Integer(bool* negative, uint64_t* magnitude) {
    const bool quoted = Consume('"');
    if (!quoted) SkipSpace();
    *negative = pos_ < in_.size() && in_[pos_] == '-';
    if (*negative) ++pos_;
    const size_t start = pos_;
    uint64_t v = 0;
    while (pos_ < in_.size() && in_[pos_] >= '0' && in_[pos_] <= '9') {
      const uint64_t digit = static_cast<uint64_t>(in_[pos_] - '0');
      if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
      v = v * 10 + digit;
      ++pos_;
    }
    const size_t digits = pos_ - start;
    if (digits == 0 || (digits > 1 && in_[start] == '0')) return false;
    if (quoted && !(pos_ < in_.size() && in_[pos_++] == '"')) return false;
    if (!quoted && pos_ < in_.size() && (in_[pos_] == '.' || in_[pos_] == 'e' || in_[pos_] == 'E')) return false;
    *magnitude = v;
    return true;
  }

  bool Literal(absl::string_view word) {
    SkipSpace();
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
};

bool IsIntegerField(const FieldDescriptor* f) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64: return true;
    default: return false;
  }
}

// One integer value of `f` into `out` (tag included); false out of range.
bool PutInteger(const FieldDescriptor* f, bool negative, uint64_t magnitude, bool skip_default, std::string* out) {
  int64_t value;
  if (negative) {
    if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) return false;
    value = static_cast<int64_t>(0 - magnitude);
  } else {
    value = static_cast<int64_t>(magnitude);
  }
  const bool is_unsigned = f->type() == FieldDescriptor::TYPE_UINT32 || f->type() == FieldDescriptor::TYPE_FIXED32 ||
                           f->type() == FieldDescriptor::TYPE_UINT64 || f->type() == FieldDescriptor::TYPE_FIXED64;
  const bool is_32 = f->cpp_type() == FieldDescriptor::CPPTYPE_INT32 || f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32;
  if (is_unsigned) {
    if (negative && magnitude != 0) return false;
    if (is_32 && magnitude > std::numeric_limits<uint32_t>::max()) return false;
  } else if (is_32) {
    if (negative ? magnitude > 2147483648ULL : magnitude > 2147483647ULL) return false;
  } else if (!negative && magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  if (magnitude == 0 && skip_default) return true;
  const uint64_t bits = is_unsigned ? magnitude : static_cast<uint64_t>(value);
  switch (f->type()) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_UINT64:
      PutTag(f, 0, out);
      AppendVarint(bits, out);
      return true;
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SINT64:
      PutTag(f, 0, out);
      AppendVarint((static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63), out);
      return true;
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
      PutTag(f, 5, out);
      for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
      return true;
    default:  // fixed64, sfixed64.
      PutTag(f, 1, out);
      for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(bits >> (8 * i)));
      return true;
  }
}

}  // namespace

namespace {

bool ParseObject(const JsonWire::Plan& plan, Reader& in, std::string* out, int depth);

// One value of field `f` (an element, for repeated fields).
bool ParseValue(const JsonWire::Plan& plan, const FieldDescriptor* f, Reader& in, std::string* out, int depth) {
  // Singular proto3 fields without presence are left out at their default,
  // as protobuf's serialization leaves them out.
  const bool skip_default = !f->is_repeated() && !f->has_presence();
  if (IsIntegerField(f)) {
    bool negative;
    uint64_t magnitude;
    return in.Integer(&negative, &magnitude) && PutInteger(f, negative, magnitude, skip_default, out);
  }
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING: {
      absl::string_view s;
      if (!in.String(&s)) return false;
      if (s.empty() && skip_default) return true;
      PutTag(f, 2, out);
      AppendVarint(s.size(), out);
      out->append(s.data(), s.size());
      return true;
    }
    case FieldDescriptor::TYPE_BOOL: {
      bool value;
      if (in.Literal("true")) {
        value = true;
      } else if (in.Literal("false")) {
        value = false;
      } else {
        return false;
      }
      if (!value && skip_default) return true;
      PutTag(f, 0, out);
      AppendVarint(value ? 1 : 0, out);
      return true;
    }
    case FieldDescriptor::TYPE_ENUM: {
      int64_t number;
      if (in.Peek() == '"') {
        absl::string_view name;
        if (!in.String(&name)) return false;
        const auto* value = f->enum_type()->FindValueByName(std::string(name));
        if (value == nullptr) return false;
        number = value->number();
      } else {
        bool negative;
        uint64_t magnitude;
        if (!in.Integer(&negative, &magnitude) || magnitude > 2147483647ULL) return false;
        number = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
        if (f->enum_type()->FindValueByNumber(static_cast<int>(number)) == nullptr) return false;
      }
      if (number == 0 && skip_default) return true;
      PutTag(f, 0, out);
      AppendVarint(static_cast<uint64_t>(number), out);
      return true;
    }
    case FieldDescriptor::TYPE_MESSAGE: {
      auto it = plan.messages.find(f);
      if (it == plan.messages.end() || !it->second->supported) return false;
      std::string nested;
      if (!ParseObject(*it->second, in, &nested, depth + 1)) return false;
      PutTag(f, 2, out);
      AppendVarint(nested.size(), out);
      out->append(nested);
      return true;
    }
    default:
      return false;  // bytes, float, double, groups.
  }
}

// `depth`: objects around this one (deep nesting is left to protobuf).
bool ParseObject(const JsonWire::Plan& plan, Reader& in, std::string* out, int depth) {
  if (depth > 16 || !plan.supported || !in.Consume('{')) return false;
  absl::InlinedVector<const FieldDescriptor*, 8> seen;
  absl::InlinedVector<const google::protobuf::OneofDescriptor*, 4> oneofs;
  if (in.Consume('}')) return true;
  do {
    absl::string_view key;
    if (!in.String(&key) || !in.Consume(':')) return false;
    auto it = plan.by_key.find(key);
    if (it == plan.by_key.end()) return false;  // Unknown: protobuf's error.
    const FieldDescriptor* f = it->second;
    if (f->is_map()) return false;
    for (const FieldDescriptor* s : seen) {
      if (s == f) return false;
    }
    seen.push_back(f);
    if (const auto* oneof = f->real_containing_oneof()) {
      for (const auto* o : oneofs) {
        if (o == oneof) return false;
      }
      oneofs.push_back(oneof);
    }
    if (f->is_repeated()) {
      if (!in.Consume('[')) return false;
      if (!in.Consume(']')) {
        do {
          if (!ParseValue(plan, f, in, out, depth)) return false;
        } while (in.Consume(','));
        if (!in.Consume(']')) return false;
      }
    } else if (!ParseValue(plan, f, in, out, depth)) {
      return false;
    }
  } while (in.Consume(','));
  return in.Consume('}');
}

}  // namespace

bool JsonWire::Parse(const Descriptor* type, absl::string_view json, std::string* wire) const {
  auto it = plans_.find(type);
  if (it == plans_.end()) return false;
  Reader in(json);
  return ParseObject(*it->second, in, wire, 0) && in.AtEnd();
}

}  // namespace catalog::service
