// WireJson: one pass over a message's wire bytes collects each field's
// occurrences; a second writes them in field-number order. Why that order:
// protobuf 3.21's MessageToJsonString serializes the message and renders
// the bytes in wire order, which for a serialized message is field-number
// order; whatever order the stored bytes have, this prints what it prints.
// Likewise unknown fields are skipped and proto3 fields without presence
// are omitted at their default value (serializing drops them).
#include "service/connect/wire_json.h"

#include <algorithm>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/connect/utf8.h"
#include "service/wire.h"

namespace catalog::service {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

namespace {

enum class Kind {
  kInt32, kSInt32, kUInt32, kFixed32, kSFixed32,
  kInt64, kSInt64, kUInt64, kFixed64, kSFixed64,
  kBool, kEnum, kString, kBytes, kMessage, kMap, kUnsupported,
};

Kind KindOf(const FieldDescriptor* f) {
  if (f->is_map()) return Kind::kMap;  // A repeated entry message: key = 1, value = 2.
  switch (f->type()) {
    case FieldDescriptor::TYPE_INT32: return Kind::kInt32;
    case FieldDescriptor::TYPE_SINT32: return Kind::kSInt32;
    case FieldDescriptor::TYPE_UINT32: return Kind::kUInt32;
    case FieldDescriptor::TYPE_FIXED32: return Kind::kFixed32;
    case FieldDescriptor::TYPE_SFIXED32: return Kind::kSFixed32;
    case FieldDescriptor::TYPE_INT64: return Kind::kInt64;
    case FieldDescriptor::TYPE_SINT64: return Kind::kSInt64;
    case FieldDescriptor::TYPE_UINT64: return Kind::kUInt64;
    case FieldDescriptor::TYPE_FIXED64: return Kind::kFixed64;
    case FieldDescriptor::TYPE_SFIXED64: return Kind::kSFixed64;
    case FieldDescriptor::TYPE_BOOL: return Kind::kBool;
    case FieldDescriptor::TYPE_ENUM: return Kind::kEnum;
    case FieldDescriptor::TYPE_STRING: return Kind::kString;
    case FieldDescriptor::TYPE_BYTES: return Kind::kBytes;
    case FieldDescriptor::TYPE_MESSAGE: return Kind::kMessage;
    default: return Kind::kUnsupported;  // float, double, group.
  }
}

// The wire type a singular value of `kind` comes in (packed repeated
// numbers come as 2).
int WireTypeOf(Kind kind) {
  switch (kind) {
    case Kind::kFixed32:
    case Kind::kSFixed32: return 5;
    case Kind::kFixed64:
    case Kind::kSFixed64: return 1;
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kMessage:
    case Kind::kMap: return 2;
    default: return 0;
  }
}

using wire::ReadFixed;
using wire::ReadVarint;

// Code points protobuf's JSON printer writes as \u escapes (format and
// invisible characters), measured from its output for every code point.
bool EscapedCodePoint(uint32_t cp) {
  static constexpr uint32_t kRanges[][2] = {
      {0x80, 0x9f},     {0xad, 0xad},     {0x600, 0x603},   {0x6dd, 0x6dd},   {0x70f, 0x70f},
      {0x17b4, 0x17b5}, {0x200b, 0x200f}, {0x2028, 0x202e}, {0x2060, 0x2064}, {0x206a, 0x206f},
      {0xfeff, 0xfeff}, {0xfff9, 0xfffb}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f},
  };
  for (const auto& range : kRanges) {
    if (cp >= range[0] && cp <= range[1]) return true;
  }
  return false;
}

// Bytes written as they are: printable ASCII but for '"', '\\', '<', '>'.
struct PlainTable {
  bool bytes[256] = {};
  constexpr PlainTable() {
    for (int c = 0x20; c < 0x7f; ++c) bytes[c] = c != '"' && c != '\\' && c != '<' && c != '>';
  }
};
constexpr PlainTable kPlain;

// Whether all 8 bytes at `p` are plain, eight at a time (descriptions are
// long): no high bit, none below 0x20, none equal to DEL, '"', '\\', '<', '>'.
// Tests for a zero byte in v ^ (c repeated) find bytes equal to c.
inline bool PlainWord(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, 8);
  if (w & kHighs) return false;
  const auto has_zero = [](uint64_t v) { return ((v - kOnes) & ~v & kHighs) != 0; };
  if (((w - kOnes * 0x20) & ~w & kHighs) != 0) return false;  // A byte below 0x20 (no high bits set).
  return !(has_zero(w ^ (kOnes * 0x7f)) || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\')) ||
           has_zero(w ^ (kOnes * '<')) || has_zero(w ^ (kOnes * '>')));
}

#ifdef __SSE2__
// The same for 16 bytes with SSE2 (every x86-64): a signed compare below
// 0x20 also flags bytes >= 0x80, which are not plain either.
inline bool Plain16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i bad = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('<')));
  bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('>')));
  return _mm_movemask_epi8(bad) == 0;
}
#endif

void AppendU(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char esc[6] = {'\\', 'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
                       kHex[unit & 15]};
  out->append(esc, 6);
}

// A quoted JSON string of UTF-8 `s`; false if `s` is not valid UTF-8.
bool AppendString(absl::string_view s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      // The common case: a run of characters that need nothing.
      size_t j = i;
#ifdef __SSE2__
      while (j + 16 <= s.size() && Plain16(s.data() + j)) j += 16;
#endif
      while (j + 8 <= s.size() && PlainWord(s.data() + j)) j += 8;
      while (j < s.size() && kPlain.bytes[static_cast<uint8_t>(s[j])]) ++j;
      if (j > i) {
        out->append(s.data() + i, j - i);
        i = j;
        continue;
      }
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\b': out->append("\\b"); break;
        case '\t': out->append("\\t"); break;
        case '\n': out->append("\\n"); break;
        case '\f': out->append("\\f"); break;
        case '\r': out->append("\\r"); break;
        default: AppendU(c, out);  // Other controls, '<', '>', DEL.
      }
      ++i;
      continue;
    }
    // A multi-byte sequence.
    uint32_t cp;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) return false;
    if (EscapedCodePoint(cp)) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        AppendU(0xd800 + (v >> 10), out);
        AppendU(0xdc00 + (v & 0x3ff), out);
      } else {
        AppendU(cp, out);
      }
    } else {
      out->append(s.data() + i, n);
    }
    i += n;
  }
  out->push_back('"');
  return true;
}

// google.protobuf.Timestamp as RFC 3339 in UTC with 0, 3, 6 or 9 fraction
// digits, as protobuf's TimeUtil; false outside years 1000..9999 or for
// nanos out of range (protobuf's own path decides those).
bool AppendTimestamp(absl::string_view wire, std::string* out) {
  int64_t seconds = 0;
  int64_t nanos = 0;
  while (!wire.empty()) {
    uint64_t tag, v;
    if (!ReadVarint(wire, &tag)) return false;
    if ((tag & 7) != 0) return false;
    if (!ReadVarint(wire, &v)) return false;
    if ((tag >> 3) == 1) seconds = static_cast<int64_t>(v);
    else if ((tag >> 3) == 2) nanos = static_cast<int32_t>(static_cast<uint32_t>(v));
    else return false;
  }
  if (seconds < -30610224000LL || seconds > 253402300799LL || nanos < 0 || nanos > 999999999) return false;
  // Civil date from days since 1970-01-01 (proleptic Gregorian, in 400-year
  // eras of 146097 days), without a time zone library: this runs for every
  // product of an answer.
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  days += 719468;  // Days from 0000-03-01 to 1970-01-01.
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_index = (5 * day_of_year + 2) / 153;  // March = 0.
  const int day = static_cast<int>(day_of_year - (153 * month_index + 2) / 5 + 1);
  const int month = static_cast<int>(month_index < 10 ? month_index + 3 : month_index - 9);
  const int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
  // Digits by hand: snprintf costs more than the rest of a product.
  char text[40];
  char* q = text;
  const auto put = [&q](int64_t value, int width) {
    for (int k = width - 1; k >= 0; --k) {
      q[k] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    q += width;
  };
  *q++ = '"';
  put(year, 4);
  *q++ = '-';
  put(month, 2);
  *q++ = '-';
  put(day, 2);
  *q++ = 'T';
  put(rest / 3600, 2);
  *q++ = ':';
  put(rest / 60 % 60, 2);
  *q++ = ':';
  put(rest % 60, 2);
  if (nanos != 0) {
    *q++ = '.';
    if (nanos % 1000000 == 0) {
      put(nanos / 1000000, 3);
    } else if (nanos % 1000 == 0) {
      put(nanos / 1000, 6);
    } else {
      put(nanos, 9);
    }
  }
  *q++ = 'Z';
  *q++ = '"';
  out->append(text, static_cast<size_t>(q - text));
  return true;
}

}  // namespace

struct WireJson::PlanField {
  const FieldDescriptor* descriptor;
  std::string key;  // "\"jsonName\":"
  Kind kind;
  bool repeated;
  bool presence;  // Printed even at its default value.
  const Plan* message = nullptr;  // Messages, and map entries.
};

struct WireJson::Plan {
  using Field = PlanField;
  enum class Special { kNone, kTimestamp, kUnsupported } special = Special::kNone;
  std::vector<Field> fields;     // By field number.
  std::vector<int> by_number;    // Field number -> index in fields, -1.
};

WireJson::WireJson(const std::vector<const Descriptor*>& roots, JsonMemo* memo) : memo_(memo) {
  for (const Descriptor* root : roots) Add(root);
  for (auto& [type, plan] : plans_) {
    for (Plan::Field& field : plan->fields) {
      if (field.kind == Kind::kMessage || field.kind == Kind::kMap) {
        field.message = plans_.at(field.descriptor->message_type()).get();
      }
    }
  }
}

WireJson::~WireJson() = default;

void WireJson::Add(const Descriptor* type) {
  if (plans_.contains(type)) return;
  auto plan = std::make_unique<Plan>();
  Plan* p = plan.get();
  plans_.emplace(type, std::move(plan));
  if (type->full_name() == "google.protobuf.Timestamp") {
    p->special = Plan::Special::kTimestamp;
    return;
  }
  if (type->file()->package() == "google.protobuf") {
    p->special = Plan::Special::kUnsupported;  // Other well-known types: protobuf's path.
    return;
  }
  int max_number = 0;
  for (int i = 0; i < type->field_count(); ++i) max_number = std::max(max_number, type->field(i)->number());
  if (max_number > 4096) {
    p->special = Plan::Special::kUnsupported;
    return;
  }
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < type->field_count(); ++i) fields.push_back(type->field(i));
  std::sort(fields.begin(), fields.end(),
            [](const FieldDescriptor* a, const FieldDescriptor* b) { return a->number() < b->number(); });
  p->by_number.assign(static_cast<size_t>(max_number) + 1, -1);
  for (const FieldDescriptor* f : fields) {
    p->by_number[static_cast<size_t>(f->number())] = static_cast<int>(p->fields.size());
    p->fields.push_back({f, absl::StrCat("\"", f->json_name(), "\":"), KindOf(f), f->is_repeated(),
                         f->has_presence()});
  }
  for (const FieldDescriptor* f : fields) {
    if (f->type() == FieldDescriptor::TYPE_MESSAGE) Add(f->message_type());  // Map entries too.
  }
}

const WireJson::Plan* WireJson::PlanOf(const Descriptor* type) const {
  auto it = plans_.find(type);
  return it == plans_.end() ? nullptr : it->second.get();
}

struct WireJson::Occurrence {
  int field;           // Index in Plan::fields.
  uint64_t value;      // Numbers.
  absl::string_view bytes;  // Strings, bytes, messages.
};

namespace {

using Occurrence = WireJson::Occurrence;

// Occurrences go to one per-thread vector shared by nested messages (each
// uses the range after its caller's), so no message allocates; indexes,
// not references, into it: a nested message's occurrences may move it.
thread_local std::vector<Occurrence> scratch;

// Gives back the range a message took when it is done with it.
struct ScratchMark {
  size_t start = scratch.size();
  ~ScratchMark() { scratch.resize(start); }
};

bool IsDefault(Kind kind, const Occurrence& o) {
  switch (kind) {
    case Kind::kString:
    case Kind::kBytes: return o.bytes.empty();
    case Kind::kMessage:
    case Kind::kMap: return false;
    case Kind::kInt32:
    case Kind::kSInt32:
    case Kind::kUInt32:
    case Kind::kFixed32:
    case Kind::kSFixed32:
    case Kind::kEnum: return static_cast<uint32_t>(o.value) == 0;
    default: return o.value == 0;
  }
}

}  // namespace

bool WireJson::Write(const Descriptor* type, absl::string_view wire, std::string* out, MemoUse* use) const {
  const Plan* plan = PlanOf(type);
  MemoUse ignored;
  return plan != nullptr && WritePlan(*plan, wire, out, use != nullptr ? use : &ignored);
}

// Appends the occurrences of `wire`'s fields that `plan` knows to scratch,
// in field order (stable: repeated values keep theirs); false if not
// covered.
static bool Scan(const WireJson::Plan& plan, absl::string_view wire);

bool WireJson::WritePlan(const Plan& plan, absl::string_view wire, std::string* out, MemoUse* use) const {
  if (plan.special == Plan::Special::kUnsupported) return false;
  if (plan.special == Plan::Special::kTimestamp) return AppendTimestamp(wire, out);
  const ScratchMark mark;
  const size_t start = mark.start;
  if (!Scan(plan, wire)) return false;
  const size_t count = scratch.size() - start;
  const auto at = [start](size_t k) -> const Occurrence& { return scratch[start + k]; };

  out->push_back('{');
  bool first = true;
  const google::protobuf::OneofDescriptor* oneof_seen[8] = {};
  int oneofs = 0;
  for (size_t i = 0; i < count;) {
    size_t end = i + 1;
    while (end < count && at(end).field == at(i).field) ++end;
    const Plan::Field& field = plan.fields[static_cast<size_t>(at(i).field)];
    if (!field.repeated) {
      if (field.kind == Kind::kMessage && end - i > 1) return false;  // protobuf merges them.
      const Occurrence last = at(end - 1);
      if (const google::protobuf::OneofDescriptor* oneof = field.descriptor->real_containing_oneof()) {
        for (int k = 0; k < oneofs; ++k) {
          if (oneof_seen[k] == oneof) return false;  // Two members: the last one wins in protobuf.
        }
        if (oneofs == 8) return false;
        oneof_seen[oneofs++] = oneof;
      }
      if (!field.presence && IsDefault(field.kind, last)) {
        i = end;
        continue;
      }
      i = end - 1;  // Print only the last.
    }
    if (!first) out->push_back(',');
    first = false;
    out->append(field.key);
    if (field.kind == Kind::kMap) {
      if (!WriteMap(field, start + i, start + end, out, use)) return false;
    } else {
      if (field.repeated) out->push_back('[');
      for (size_t k = i; k < end; ++k) {
        if (k > i) out->push_back(',');
        if (!WriteValue(field, at(k), out, use)) return false;
      }
      if (field.repeated) out->push_back(']');
    }
    i = end;
  }
  out->push_back('}');
  return true;
}

static bool Scan(const WireJson::Plan& plan, absl::string_view wire) {
  const size_t start = scratch.size();
  const auto add = [](int field, uint64_t value, absl::string_view bytes) {
    Occurrence& o = scratch.emplace_back();
    o.field = field;
    o.value = value;
    o.bytes = bytes;
  };
  while (!wire.empty()) {
    uint64_t tag;
    if (!ReadVarint(wire, &tag)) return false;
    const uint64_t number = tag >> 3;
    const int wire_type = static_cast<int>(tag & 7);
    const int index = number < plan.by_number.size() ? plan.by_number[number] : -1;
    const Kind kind = index >= 0 ? plan.fields[static_cast<size_t>(index)].kind : Kind::kUnsupported;
    if (index >= 0 && kind == Kind::kUnsupported) return false;
    if (index >= 0 && wire_type == 2 && WireTypeOf(kind) != 2 && plan.fields[static_cast<size_t>(index)].repeated) {
      // Packed numbers.
      uint64_t length;
      if (!ReadVarint(wire, &length) || length > wire.size()) return false;
      absl::string_view packed = wire.substr(0, length);
      wire.remove_prefix(length);
      while (!packed.empty()) {
        uint64_t v;
        const int element = WireTypeOf(kind);
        if (!(element == 0 ? ReadVarint(packed, &v) : ReadFixed(packed, element == 5 ? 4 : 8, &v))) return false;
        add(index, v, {});
      }
      continue;
    }
    if (index >= 0 && wire_type != WireTypeOf(kind)) return false;
    uint64_t v = 0;
    absl::string_view bytes;
    switch (wire_type) {
      case 0:
        if (!ReadVarint(wire, &v)) return false;
        break;
      case 1:
        if (!ReadFixed(wire, 8, &v)) return false;
        break;
      case 5:
        if (!ReadFixed(wire, 4, &v)) return false;
        break;
      case 2: {
        uint64_t length;
        if (!ReadVarint(wire, &length) || length > wire.size()) return false;
        bytes = wire.substr(0, length);
        wire.remove_prefix(length);
        break;
      }
      default:
        return false;  // Groups.
    }
    if (index >= 0) add(index, v, bytes);  // Unknown fields are dropped, as protobuf's printer does.
  }
  const auto by_field = [](const Occurrence& a, const Occurrence& b) { return a.field < b.field; };
  if (!std::is_sorted(scratch.begin() + static_cast<ptrdiff_t>(start), scratch.end(), by_field)) {
    std::stable_sort(scratch.begin() + static_cast<ptrdiff_t>(start), scratch.end(), by_field);
  }
  return true;
}

bool WireJson::WriteValue(const PlanField& field, const Occurrence& o, std::string* out, MemoUse* use) const {
  switch (field.kind) {
    case Kind::kInt32: absl::StrAppend(out, static_cast<int32_t>(static_cast<uint32_t>(o.value))); return true;
    case Kind::kSFixed32: absl::StrAppend(out, static_cast<int32_t>(static_cast<uint32_t>(o.value))); return true;
    case Kind::kSInt32: {
      const uint32_t u = static_cast<uint32_t>(o.value);
      absl::StrAppend(out, static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1)));
      return true;
    }
    case Kind::kUInt32:
    case Kind::kFixed32: absl::StrAppend(out, static_cast<uint32_t>(o.value)); return true;
    case Kind::kInt64:
    case Kind::kSFixed64: absl::StrAppend(out, "\"", static_cast<int64_t>(o.value), "\""); return true;
    case Kind::kSInt64:
      absl::StrAppend(out, "\"", static_cast<int64_t>((o.value >> 1) ^ (~(o.value & 1) + 1)), "\"");
      return true;
    case Kind::kUInt64:
    case Kind::kFixed64: absl::StrAppend(out, "\"", o.value, "\""); return true;
    case Kind::kBool: out->append(o.value != 0 ? "true" : "false"); return true;
    case Kind::kEnum: {
      const int32_t number = static_cast<int32_t>(static_cast<uint32_t>(o.value));
      if (const auto* value = field.descriptor->enum_type()->FindValueByNumber(number)) {
        absl::StrAppend(out, "\"", value->name(), "\"");
      } else {
        absl::StrAppend(out, number);
      }
      return true;
    }
    case Kind::kString: return AppendString(o.bytes, out);
    case Kind::kBytes: absl::StrAppend(out, "\"", absl::Base64Escape(o.bytes), "\""); return true;
    case Kind::kMessage: {
      if (field.message == nullptr) return false;
      // The memo: only the outermost message large enough (what is in it
      // is copied with it), only a type the plan covers.
      if (memo_ == nullptr || use == nullptr || o.bytes.size() < memo_->options().min_message_bytes ||
          field.message->special != Plan::Special::kNone) {
        return WritePlan(*field.message, o.bytes, out, use);
      }
      // Keyed by the descriptor (what the JSON depends on, with the bytes),
      // not the plan: a memo may outlive one WireJson's plans.
      const JsonMemo::Key key = JsonMemo::KeyOf(field.descriptor->message_type(), o.bytes);
      if (memo_->Append(key, out)) {
        ++use->hits;
        return true;
      }
      ++use->misses;
      const size_t mark = out->size();
      if (!WritePlan(*field.message, o.bytes, out, nullptr)) return false;
      memo_->Insert(key, absl::string_view(*out).substr(mark));
      return true;
    }
    case Kind::kMap:
    case Kind::kUnsupported: return false;
  }
  return false;
}

// A map is a repeated entry message (key = 1, value = 2), printed as a JSON
// object with the keys as strings. Entries are printed in wire order: what
// protobuf prints after serializing, which for a map is its iteration order
// (unspecified, and JSON objects have none). Declined, for protobuf's path:
// an entry without its key or value (protobuf's serializer writes both), a
// message value given twice (merged), a key given twice (the last wins).
bool WireJson::WriteMap(const PlanField& field, size_t begin, size_t end, std::string* out, MemoUse* use) const {
  const Plan* entry = field.message;
  if (entry == nullptr || entry->special != Plan::Special::kNone || entry->by_number.size() != 3 ||
      entry->by_number[1] < 0 || entry->by_number[2] < 0) {
    return false;
  }
  const Plan::Field& key_field = entry->fields[static_cast<size_t>(entry->by_number[1])];
  const Plan::Field& value_field = entry->fields[static_cast<size_t>(entry->by_number[2])];
  std::vector<std::string> keys;  // To refuse a key given twice; only with several entries.
  out->push_back('{');
  for (size_t k = begin; k < end; ++k) {
    const absl::string_view bytes = scratch[k].bytes;
    const ScratchMark mark;
    if (!Scan(*entry, bytes)) return false;
    const Occurrence* key = nullptr;
    const Occurrence* value = nullptr;
    int values = 0;
    for (size_t j = mark.start; j < scratch.size(); ++j) {
      const bool is_key = &entry->fields[static_cast<size_t>(scratch[j].field)] == &key_field;
      (is_key ? key : value) = &scratch[j];  // The last of each wins.
      values += is_key ? 0 : 1;
    }
    if (key == nullptr || value == nullptr || (value_field.kind == Kind::kMessage && values > 1)) return false;
    const Occurrence key_value = *key;
    const Occurrence value_value = *value;  // Copies: writing the value may move scratch.
    const size_t key_at = out->size() + (k > begin ? 1 : 0);
    if (k > begin) out->push_back(',');
    switch (key_field.kind) {
      case Kind::kString:
        if (!AppendString(key_value.bytes, out)) return false;
        break;
      case Kind::kInt64:
      case Kind::kSInt64:
      case Kind::kUInt64:
      case Kind::kFixed64:
      case Kind::kSFixed64:  // Quoted already.
        if (!WriteValue(key_field, key_value, out, nullptr)) return false;
        break;
      case Kind::kInt32:
      case Kind::kSInt32:
      case Kind::kUInt32:
      case Kind::kFixed32:
      case Kind::kSFixed32:
      case Kind::kBool:
        out->push_back('"');
        if (!WriteValue(key_field, key_value, out, nullptr)) return false;
        out->push_back('"');
        break;
      default:
        return false;  // Not a valid map key type.
    }
    if (end - begin > 1) keys.emplace_back(absl::string_view(*out).substr(key_at));
    out->push_back(':');
    if (!WriteValue(value_field, value_value, out, use)) return false;
  }
  out->push_back('}');
  if (keys.size() > 1) {
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) return false;
  }
  return true;
}

}  // namespace catalog::service
