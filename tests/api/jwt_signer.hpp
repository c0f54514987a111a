#pragma once
// Tokens for the JWT tests and the fuzz target: RSA keys made by OpenSSL for
// the run, RS256 and HS256 signatures by OpenSSL, base64url by cpp-jwt's
// encoder. Nothing here checks a token: the server does.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "tasker/json.hpp"

namespace jwt_test {

/// base64url without padding, as a JWS part.
std::string base64url(std::string_view bytes);

/// `header.payload.signature` from the parts' texts (each base64url-encoded here) and raw signature bytes.
std::string compact(std::string_view header, std::string_view payload, std::string_view signature);

/// An RSA key pair, generated on construction. Not thread-safe.
class RsaKey {
 public:
  explicit RsaKey(int bits = 2048);
  /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`).
  [[nodiscard]] std::string public_pem() const;
  /// The public key as a JWK with `kid` (RS256, for signatures).
  [[nodiscard]] tasker::json jwk(const std::string& kid) const;
  /// A token of `header` and `claims` (as JSON texts, exactly as given) signed with RS256.
  [[nodiscard]] std::string sign_text(std::string_view header, std::string_view claims) const;
  [[nodiscard]] std::string sign(const tasker::json& header, const tasker::json& claims) const {
    return sign_text(header.dump(), claims.dump());
  }

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

/// A token of `header` and `claims` signed with HMAC-SHA256 under `secret`.
std::string sign_hs256(const tasker::json& header, const tasker::json& claims, std::string_view secret);

}  // namespace jwt_test
