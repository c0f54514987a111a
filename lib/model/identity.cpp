#include "tasker/identity.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "tasker/errors.hpp"

namespace tasker {

std::string_view to_string(IdentityStrategy s) {
  switch (s) {
    case IdentityStrategy::strict: return "strict";
    case IdentityStrategy::caller_provided: return "caller_provided";
    case IdentityStrategy::always_unique: return "always_unique";
  }
  return "unknown";
}

std::optional<IdentityStrategy> parse_identity_strategy(std::string_view name) {
  for (auto s : {IdentityStrategy::strict, IdentityStrategy::caller_provided, IdentityStrategy::always_unique})
    if (to_string(s) == name) return s;
  return std::nullopt;
}

std::string canonical_json(const json& value) {
  // nlohmann::json keeps object keys in a std::map, so dump() is already sorted
  // and whitespace-free; invalid UTF-8 is replaced rather than thrown on.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1)
    throw Error("SHA-256 failed in OpenSSL (EVP_Digest)");
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::optional<std::string> identity_hash(IdentityStrategy strategy, std::string_view namespace_name,
                                         std::string_view name, std::string_view version, const json& context,
                                         const std::optional<std::string>& idempotency_key) {
  // Each part is length-prefixed so that no two different inputs share a preimage.
  auto frame = [](std::string_view part) { return fmt::format("{}:{}|", part.size(), part); };
  std::string scope = frame(namespace_name) + frame(name);
  if (idempotency_key) return sha256_hex("key|" + scope + frame(*idempotency_key));
  switch (strategy) {
    case IdentityStrategy::strict:
      return sha256_hex("strict|" + scope + frame(version) + frame(canonical_json(context)));
    case IdentityStrategy::caller_provided:
      throw InvalidRequestError(
          fmt::format("template {}/{}@{} uses identity_strategy caller_provided: the request needs an idempotency_key",
                      namespace_name, name, version));
    case IdentityStrategy::always_unique: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace tasker
