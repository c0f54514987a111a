// Verifying a JWT: cpp-jwt decodes it (base64url, the header's and the
// payload's JSON), OpenSSL checks the RS256 signature with a key parsed at
// start, and the claims are checked here. cpp-jwt 1.4's own verification is
// not used: it reads the PEM key again for every token (about 350 us with
// OpenSSL 3, 20 times the signature check), takes an absent `exp` as never
// expiring, reads `exp`/`nbf` as unsigned (a negative `exp` would never
// expire), compares `aud` only as a string and algorithm names ignoring case.
// Its decoder lets a few malformed headers through as exceptions rather than
// error codes, and indexes a table with every byte of a token, so bytes beyond
// base64url never reach it.
#include "jwt_verifier.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <jwt/jwt.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <sstream>

#include "tasker/errors.hpp"
#include "tasker/json.hpp"

namespace tasker::server {

namespace {

constexpr const char* kAlgorithm = "RS256";
/// `exp` and `nbf` beyond this (year 285,000) are not times.
constexpr std::int64_t kMaxEpochSeconds = 1LL << 53;

/// Three non-empty base64url parts joined by two dots: the JWS compact form.
bool compact_form(std::string_view token) {
  int dots = 0;
  char previous = '.';
  for (const char c : token) {
    if (c == '.') {
      if (previous == '.') return false;
      ++dots;
    } else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
    previous = c;
  }
  return dots == 2 && previous != '.';
}

[[noreturn]] void refuse(const std::string& why) { throw JwtRefused(false, why); }

/// `claims[name]` as seconds since the epoch, if present; refuses another type.
std::optional<std::int64_t> epoch_claim(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number_integer() || *it < 0 || *it > kMaxEpochSeconds)
    refuse(fmt::format("the token's `{}` is not a time (whole seconds since 1970)", name));
  return it->get<std::int64_t>();
}

void check_claim_types(const json& claims) {
  if (!claims.is_object()) throw JwtRefused(true, "the token's payload is not a JSON object");
  if (!epoch_claim(claims, "exp")) refuse("the token has no expiry (`exp`); tasker accepts only tokens that expire");
  (void)epoch_claim(claims, "nbf");
  for (const char* name : {"iss", "sub"})
    if (claims.contains(name) && !claims[name].is_string())
      refuse(fmt::format("the token's `{}` is not a string", name));
}

bool audience_matches(const json& claims, const std::string& audience) {
  const auto aud = claims.find("aud");
  if (aud == claims.end()) return false;
  if (aud->is_string()) return *aud == audience;
  return aud->is_array() &&
         std::any_of(aud->begin(), aud->end(), [&](const json& a) { return a.is_string() && a == audience; });
}

std::vector<std::string> permissions_of(const json& claims, const std::string& claim) {
  std::vector<std::string> out;
  const auto it = claims.find(claim);
  if (it == claims.end()) return out;
  if (it->is_string()) {  // OAuth's `scope`: one string, space-separated
    std::istringstream words(it->get<std::string>());
    for (std::string word; words >> word;) out.push_back(word);
    return out;
  }
  if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const json& p) { return p.is_string(); }))
    refuse(fmt::format("the token's `{}` claim is not a list of permission strings", claim));
  for (const auto& p : *it) out.push_back(p.get<std::string>());
  return out;
}

/// Whether the token's signature (its third part) is RS256 over its first two with `key`.
bool signature_verifies(EVP_PKEY* key, std::string_view token) {
  const auto dot = token.rfind('.');
  const std::string_view input = token.substr(0, dot);
  const std::string_view encoded = token.substr(dot + 1);
  const std::string signature = jwt::base64_uri_decode(encoded.data(), encoded.size());
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const bool valid =
      context && EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  // A refusal leaves errors in this thread's OpenSSL queue, where the TLS code
  // of the same I/O thread would find them.
  ERR_clear_error();
  return valid;
}

}  // namespace

JwtVerifier::JwtVerifier(const JwtSettings& settings, const std::string& what)
    : JwtVerifier(settings, load_jwt_keys(settings, what)) {
  if (settings_.issuer.empty())
    throw ConfigurationError("server.jwt.issuer", what,
                             "JWT needs the issuer tokens must name in `iss` (server.jwt.issuer, TASKER_JWT_ISSUER)");
  if (settings_.audience.empty())
    throw ConfigurationError("server.jwt.audience", what,
                             "JWT needs the audience tokens must name in `aud` (server.jwt.audience, "
                             "TASKER_JWT_AUDIENCE)");
}

JwtVerifier::JwtVerifier(JwtSettings settings, JwtKeys keys) : settings_(std::move(settings)), keys_(std::move(keys)) {}

JwtIdentity JwtVerifier::verify(std::string_view token) const {
  if (token.size() > kMaxJwtBytes)
    throw JwtRefused(true, fmt::format("the bearer token is longer than {} bytes", kMaxJwtBytes));
  if (!compact_form(token))
    throw JwtRefused(true, "the bearer token is neither an API key nor a JWT (three base64url parts joined by `.`)");
  std::error_code ec;
  jwt::jwt_object unverified;
  try {
    unverified = jwt::decode(token, jwt::params::algorithms({kAlgorithm}), ec, jwt::params::verify(false));
  } catch (const std::exception&) {  // a header field of the wrong type, a payload that is not an object
    ec = jwt::DecodeErrc::JsonParseError;
  }
  if (ec) throw JwtRefused(true, fmt::format("the token's header or payload is not valid ({})", ec.message()));
  const json& header = unverified.header().create_json_obj();
  const json& claims = unverified.payload().create_json_obj();
  if (header.value("alg", json()) != kAlgorithm)
    refuse(fmt::format("the token's algorithm {} is not {}, the only one tasker accepts",
                       header.value("alg", json()).dump(), kAlgorithm));
  if (header.contains("crit")) refuse("the token has critical header parameters (`crit`), which tasker does not know");
  check_claim_types(claims);

  EVP_PKEY* key = nullptr;
  if (!keys_.from_jwks) {
    key = keys_.by_kid.begin()->second.get();
  } else {
    const auto kid = header.find("kid");
    if (kid == header.end() || !kid->is_string())
      refuse("the token names no key (`kid`); tokens checked against a JWKS file must");
    const auto found = keys_.by_kid.find(kid->get<std::string>());
    if (found == keys_.by_kid.end())
      refuse(fmt::format("the token's key {} is not in the JWKS file", kid->dump().substr(0, 100)));
    key = found->second.get();
  }
  if (!signature_verifies(key, token)) refuse("the token's signature does not verify with the configured key");

  if (claims.value("iss", std::string()) != settings_.issuer)
    refuse(fmt::format("the token's issuer (`iss`) is not `{}`", settings_.issuer));
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (now > *epoch_claim(claims, "exp") + settings_.leeway_seconds) refuse("the token has expired (`exp`)");
  if (const auto nbf = epoch_claim(claims, "nbf"); nbf && *nbf > now + settings_.leeway_seconds)
    refuse("the token is not valid yet (`nbf`)");
  if (!audience_matches(claims, settings_.audience))
    refuse(fmt::format("the token's audience (`aud`) does not include `{}`", settings_.audience));
  return {claims.value("sub", std::string()), permissions_of(claims, settings_.permissions_claim)};
}

}  // namespace tasker::server
