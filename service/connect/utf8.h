// DecodeUtf8: one UTF-8 sequence of a string, checked as JSON and protobuf
// require (no overlong forms, no surrogates, nothing past U+10FFFF). Shared
// by WireJson (escaping answers) and JsonWire (checking requests).
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace catalog::service {

// The length (1 to 4) of the sequence starting at s[i], its code point in
// *cp; 0 if it is not valid UTF-8.
inline size_t DecodeUtf8(absl::string_view s, size_t i, uint32_t* cp) {
  const uint8_t c = static_cast<uint8_t>(s[i]);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    n = 2;
    v = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    v = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const uint8_t d = static_cast<uint8_t>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    v = (v << 6) | (d & 0x3f);
  }
  if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
      (v >= 0xd800 && v <= 0xdfff)) {
    return 0;
  }
  *cp = v;
  return n;
}

}  // namespace catalog::service
