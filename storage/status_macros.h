// ASSIGN_OR_RETURN, shared by every layer: evaluates an expression that
// returns absl::StatusOr<T>; on error returns its status from the enclosing
// function, otherwise declares `lhs` from the value.
//
//   ASSIGN_OR_RETURN(std::vector<MaybeValue> values, tier->MultiGet(ids, d));
#pragma once

#include "absl/status/statusor.h"

#define CATALOG_STATUS_CONCAT_INNER(a, b) a##b
#define CATALOG_STATUS_CONCAT(a, b) CATALOG_STATUS_CONCAT_INNER(a, b)

#define ASSIGN_OR_RETURN(lhs, expr) \
  CATALOG_ASSIGN_OR_RETURN_IMPL(CATALOG_STATUS_CONCAT(status_or_value_, __LINE__), lhs, expr)

#define CATALOG_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()

#define RETURN_IF_ERROR(expr)                                \
  do {                                                       \
    const absl::Status status_macro_value = (expr);          \
    if (!status_macro_value.ok()) return status_macro_value; \
  } while (false)
