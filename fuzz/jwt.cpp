// JWT verification (lib/server/jwt_verifier.cpp, over cpp-jwt) on arbitrary
// bytes, three ways by the first byte: as a bearer token; as a header and
// claims (split at the first newline) that this target signs with the key the
// verifier trusts, so the checks after the signature are reached; and as a
// JWKS file. Each accepts or refuses with tasker's own error, never crashes,
// and what it accepts is sound.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../tests/api/jwt_signer.hpp"
#include "check.hpp"
#include "server/jwt_verifier.hpp"
#include "tasker/errors.hpp"

using namespace tasker::server;

namespace {

const jwt_test::RsaKey& key() {
  static const jwt_test::RsaKey k;
  return k;
}

const JwtVerifier& verifier() {
  static const JwtVerifier v = [] {
    tasker::JwtSettings settings;
    settings.public_key = key().public_pem();
    settings.issuer = "iss";
    settings.audience = "aud";
    return JwtVerifier(settings, "fuzz");
  }();
  return v;
}

void verify(const std::string& token, bool signed_here) {
  try {
    const JwtIdentity identity = verifier().verify(token);
    FUZZ_CHECK(token.size() <= kMaxJwtBytes);
    FUZZ_CHECK(signed_here);  // nothing else carries this key's signature
    for (const auto& p : identity.permissions) FUZZ_CHECK(!p.empty());
  } catch (const JwtRefused& e) {
    FUZZ_CHECK(*e.what() != '\0');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: verify(text, false); break;
    case 1: {
      const auto newline = text.find('\n');
      const std::string header = newline == std::string::npos ? text : text.substr(0, newline);
      const std::string claims = newline == std::string::npos ? "{}" : text.substr(newline + 1);
      verify(key().sign_text(header, claims), true);
      break;
    }
    default:
      try {
        const JwtKeys keys = parse_jwks(text, "fuzz.jwks");
        FUZZ_CHECK(keys.from_jwks && !keys.by_kid.empty());
        for (const auto& [kid, k] : keys.by_kid) FUZZ_CHECK(!kid.empty() && k != nullptr);
      } catch (const tasker::ConfigurationError&) {
      }
  }
  return 0;
}
