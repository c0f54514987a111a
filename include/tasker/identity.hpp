#pragma once
// Task identity (docs/design.md, "Identity"): how duplicate submissions are detected.
#include <optional>
#include <string>
#include <string_view>

#include "tasker/json.hpp"

namespace tasker {

enum class IdentityStrategy {
  strict,           ///< namespace/name/version + canonical context (the default)
  caller_provided,  ///< the request must carry an idempotency_key
  always_unique,    ///< never deduplicated
};

[[nodiscard]] std::string_view to_string(IdentityStrategy s);
[[nodiscard]] std::optional<IdentityStrategy> parse_identity_strategy(std::string_view name);

/// The context serialised with keys sorted and no whitespace: equal JSON
/// values give equal strings whatever the order their keys were written in.
[[nodiscard]] std::string canonical_json(const json& value);

/// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// The identity hash stored with a task, or nullopt when the task is never
/// deduplicated (always_unique without a key). A supplied idempotency key
/// always wins. Throws InvalidRequestError for caller_provided without a key.
[[nodiscard]] std::optional<std::string> identity_hash(IdentityStrategy strategy, std::string_view namespace_name,
                                                       std::string_view name, std::string_view version,
                                                       const json& context,
                                                       const std::optional<std::string>& idempotency_key);

}  // namespace tasker
