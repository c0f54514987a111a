// Verifying a JWT with cpp-jwt. What cpp-jwt 1.4 leaves to its caller is done
// here: it takes an absent `exp` as never expiring and reads `exp`/`nbf` as
// unsigned (a negative `exp` would never expire; a huge float is undefined),
// compares `aud` only as a string, lets a few malformed headers through as
// exceptions rather than error codes, and indexes a table with every byte of
// a token (so bytes beyond ASCII must never reach it).
#include "jwt_verifier.hpp"

#include <fmt/format.h>
#include <jwt/jwt.hpp>

#include <algorithm>
#include <cctype>
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

/// Why cpp-jwt refused a token, in the API's words.
std::string refusal(const std::error_code& ec, const JwtSettings& settings) {
  if (ec == jwt::VerificationErrc::TokenExpired) return "the token has expired (`exp`)";
  if (ec == jwt::VerificationErrc::ImmatureSignature) return "the token is not valid yet (`nbf`)";
  if (ec == jwt::VerificationErrc::InvalidIssuer)
    return fmt::format("the token's issuer (`iss`) is not `{}`", settings.issuer);
  if (ec == jwt::VerificationErrc::InvalidSignature || ec == jwt::AlgorithmErrc::VerificationErr)
    return "the token's signature does not verify with the configured key";
  if (ec == jwt::VerificationErrc::InvalidAlgorithm || ec == jwt::AlgorithmErrc::NoneAlgorithmUsed)
    return fmt::format("the token is not signed with {}", kAlgorithm);
  return fmt::format("the token is not valid ({})", ec.message());
}

}  // namespace

JwtVerifier::JwtVerifier(JwtSettings settings, const std::string& what)
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
  const auto algorithms = jwt::params::algorithms({kAlgorithm});
  std::error_code ec;
  jwt::jwt_object unverified;
  try {
    unverified = jwt::decode(token, algorithms, ec, jwt::params::verify(false));
  } catch (const std::exception&) {  // a header field of the wrong type, a payload that is not an object
    ec = jwt::DecodeErrc::JsonParseError;
  }
  if (ec) throw JwtRefused(true, fmt::format("the token's header or payload is not valid ({})", ec.message()));
  const json& header = unverified.header().create_json_obj();
  const json& claims = unverified.payload().create_json_obj();
  // cpp-jwt compares algorithm names ignoring case; the specification does not.
  if (header.value("alg", json()) != kAlgorithm)
    refuse(fmt::format("the token's algorithm {} is not {}, the only one tasker accepts",
                       header.value("alg", json()).dump(), kAlgorithm));
  if (header.contains("crit")) refuse("the token has critical header parameters (`crit`), which tasker does not know");
  check_claim_types(claims);

  const std::string* pem = nullptr;
  if (!keys_.from_jwks) {
    pem = &keys_.pem_by_kid.begin()->second;
  } else {
    const auto kid = header.find("kid");
    if (kid == header.end() || !kid->is_string())
      refuse("the token names no key (`kid`); tokens checked against a JWKS file must");
    const auto found = keys_.pem_by_kid.find(kid->get<std::string>());
    if (found == keys_.pem_by_kid.end())
      refuse(fmt::format("the token's key {} is not in the JWKS file", kid->dump().substr(0, 100)));
    pem = &found->second;
  }
  try {
    (void)jwt::decode(token, algorithms, ec, jwt::params::secret(*pem), jwt::params::issuer(settings_.issuer),
                      jwt::params::leeway(static_cast<std::uint32_t>(settings_.leeway_seconds)),
                      jwt::params::verify(true));
  } catch (const std::exception&) {
    ec = jwt::VerificationErrc::TypeConversionError;
  }
  if (ec) refuse(refusal(ec, settings_));
  if (!audience_matches(claims, settings_.audience))
    refuse(fmt::format("the token's audience (`aud`) does not include `{}`", settings_.audience));
  return {claims.value("sub", std::string()), permissions_of(claims, settings_.permissions_claim)};
}

}  // namespace tasker::server
