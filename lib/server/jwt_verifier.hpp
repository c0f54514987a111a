#pragma once
// JWT bearer tokens (internal; docs/api.md, "JWT"): RS256 signatures checked
// with a configured RSA public key or the keys of a JWKS file, the issuer,
// audience, expiry and not-before, and the permissions a configured claim grants.
// cpp-jwt (Debian's libcpp-jwt-dev) decodes tokens; only jwt_verifier.cpp
// includes it (its headers define a function that is not inline). OpenSSL
// checks signatures with keys parsed once, at start.
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tasker/config.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace tasker::server {

/// Longer bearer tokens are refused before anything decodes them.
inline constexpr std::size_t kMaxJwtBytes = 8192;
/// Larger JWKS files are refused at start.
inline constexpr std::size_t kMaxJwksBytes = std::size_t{1024} * 1024;
/// RSA keys shorter than this are refused at start.
inline constexpr int kMinRsaBits = 2048;

/// The keys tokens may be signed with: RSA public keys, parsed, by `kid`. A
/// key configured alone (not from a JWKS file) has the empty kid and verifies
/// tokens whatever their kid. Parsed once: OpenSSL 3 takes about 350 us to
/// read a PEM key, 20 times an RSA verification (docs/performance.md).
struct JwtKeys {
  std::map<std::string, std::shared_ptr<evp_pkey_st>> by_kid;
  bool from_jwks{false};
};

/// Reads the configured key or JWKS file. Throws ConfigurationError naming the
/// setting and the file: none or two sources, a file that cannot be read, a key
/// that is not an RSA public key of at least kMinRsaBits, a JWKS file that is
/// not JSON or holds no usable key.
JwtKeys load_jwt_keys(const JwtSettings& settings, const std::string& what);

/// The usable keys of a JWKS document (RSA, `kid` set, `use` sig and `alg`
/// RS256 when present); others are logged and left out. Throws
/// ConfigurationError (key server.jwt.jwks_path, `source`) for text that is not
/// a JWKS, or holds no usable key.
JwtKeys parse_jwks(std::string_view text, const std::string& source);

/// Who a verified token speaks for.
struct JwtIdentity {
  std::string subject;                   ///< `sub`, for messages and logs ("" when absent)
  std::vector<std::string> permissions;  ///< the configured claim's strings
};

/// A refused token: what() says why, in words for the 401's message.
class JwtRefused : public std::runtime_error {
 public:
  JwtRefused(bool malformed, const std::string& why) : std::runtime_error(why), malformed_(malformed) {}
  /// Not a JWT at all (the metric's `malformed`), rather than a JWT that is not valid (`invalid`).
  [[nodiscard]] bool malformed() const { return malformed_; }

 private:
  bool malformed_;
};

/// Verifies tokens against the settings it was made with. Immutable once
/// made, so verify() may run on any thread at once.
class JwtVerifier {
 public:
  /// Loads the keys (load_jwt_keys). Throws ConfigurationError, also for a
  /// missing issuer or audience.
  JwtVerifier(const JwtSettings& settings, const std::string& what);
  /// For tests and the fuzz target: keys given rather than loaded.
  JwtVerifier(JwtSettings settings, JwtKeys keys);

  /// The identity `token` proves. Throws JwtRefused saying why not: not a JWT
  /// or longer than kMaxJwtBytes, an algorithm other than RS256 (`none` and
  /// HS256 included), a `crit` header, an unknown `kid`, a signature that does
  /// not verify, a wrong issuer or audience, no `exp`, expired, not yet valid,
  /// a permissions claim that is not strings.
  [[nodiscard]] JwtIdentity verify(std::string_view token) const;

 private:
  JwtSettings settings_;
  JwtKeys keys_;
};

}  // namespace tasker::server
