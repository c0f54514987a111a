// Loading the keys JWTs are verified with: one PEM public key, or a JWKS
// file's RSA keys (RFC 7517/7518: modulus `n` and exponent `e` in base64url,
// decoded by cpp-jwt). OpenSSL reads, builds and checks the keys, once.
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <jwt/base64.hpp>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "base/log.hpp"
#include "jwt_verifier.hpp"
#include "tasker/errors.hpp"
#include "tasker/json.hpp"

namespace tasker::server {

namespace {

constexpr const char* kJwksKey = "server.jwt.jwks_path";

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBuild = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

using SharedKey = std::shared_ptr<EVP_PKEY>;

/// `key` when it can verify RS256, else null and why not.
SharedKey usable(Pkey key, std::string* problem) {
  if (!EVP_PKEY_is_a(key.get(), "RSA")) {
    *problem = "is not an RSA key (tasker verifies RS256 only)";
    return nullptr;
  }
  if (const int bits = EVP_PKEY_get_bits(key.get()); bits < kMinRsaBits) {
    *problem = fmt::format("is a {}-bit RSA key; at least {} bits are needed", bits, kMinRsaBits);
    return nullptr;
  }
  return {key.release(), EVP_PKEY_free};
}

std::string read_file(const std::string& key, const std::string& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigurationError(key, path, "cannot read the file; check the path and its permissions");
  std::string text;
  text.resize(limit + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > limit) throw ConfigurationError(key, path, fmt::format("the file is larger than {} bytes", limit));
  return text;
}

/// A PEM public key (`-----BEGIN PUBLIC KEY-----`), parsed and checked.
SharedKey public_key(const std::string& key, const std::string& source, const std::string& text) {
  Bio in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Pkey pkey(in ? PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pkey)
    throw ConfigurationError(key, source,
                             "the key is not a PEM public key (`-----BEGIN PUBLIC KEY-----`; from a private key: "
                             "openssl rsa -in private.pem -pubout)");
  std::string problem;
  SharedKey parsed = usable(std::move(pkey), &problem);
  if (!parsed) throw ConfigurationError(key, source, "the key " + problem);
  return parsed;
}

bool base64url(const std::string& text) {
  return !text.empty() && text.size() % 4 != 1 &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
}

Bignum bignum_of(const std::string& base64) {
  const std::string bytes = jwt::base64_uri_decode(base64.data(), base64.size());
  return Bignum(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr));
}

/// A JWK's RSA public key (`n`, `e`), or null and why it is not usable.
SharedKey rsa_key(const json& jwk, std::string* problem) {
  const auto n = jwk.find("n");
  const auto e = jwk.find("e");
  if (n == jwk.end() || e == jwk.end() || !n->is_string() || !e->is_string() || !base64url(n->get<std::string>()) ||
      !base64url(e->get<std::string>())) {
    *problem = "has no modulus `n` and exponent `e` in base64url";
    return nullptr;
  }
  Bignum modulus = bignum_of(n->get<std::string>());
  Bignum exponent = bignum_of(e->get<std::string>());
  ParamBuild build(OSSL_PARAM_BLD_new());
  if (!modulus || !exponent || !build ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1)
    throw Error("could not build an RSA key from a JWK");
  Params params(OSSL_PARAM_BLD_to_param(build.get()));
  PkeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* made = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &made, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    *problem = "has an `n` and `e` OpenSSL does not take as an RSA key";
    return nullptr;
  }
  return usable(Pkey(made), problem);
}

/// Why a JWK is not usable to verify RS256 tokens, or "" when it is.
std::string unusable(const json& jwk) {
  if (!jwk.is_object()) return "is not a JSON object";
  const auto text = [&](const char* name) {
    const auto it = jwk.find(name);
    return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text("kid").empty()) return "has no `kid` (tokens name their key by it)";
  if (text("kty") != "RSA")
    return fmt::format("has `kty` {} (tasker verifies RS256: RSA only)", jwk.value("kty", json()).dump());
  if (jwk.contains("use") && text("use") != "sig") return "is not for signatures (`use` is not `sig`)";
  if (jwk.contains("alg") && text("alg") != "RS256")
    return fmt::format("is for {} (tasker accepts RS256 only)", jwk["alg"].dump());
  return {};
}

}  // namespace

JwtKeys parse_jwks(std::string_view text, const std::string& source) {
  if (text.size() > kMaxJwksBytes)
    throw ConfigurationError(kJwksKey, source, fmt::format("the file is larger than {} bytes", kMaxJwksBytes));
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw ConfigurationError(
        kJwksKey, source,
        fmt::format("the JWKS file is not JSON ({}); a JWKS is {{\"keys\": [{{\"kty\": \"RSA\", \"kid\": ..., "
                    "\"n\": ..., \"e\": ...}}]}}",
                    e.what()));
  }
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    throw ConfigurationError(kJwksKey, source, "the file is not a JWKS: it needs a `keys` list ({\"keys\": [...]})");
  JwtKeys keys;
  keys.from_jwks = true;
  std::string skipped;
  std::size_t index = 0;
  for (const auto& jwk : doc["keys"]) {
    const std::string name = jwk.is_object() && jwk.contains("kid") ? fmt::format("key {}", jwk["kid"].dump())
                                                                    : fmt::format("key #{}", index);
    ++index;
    std::string problem = unusable(jwk);
    SharedKey key = problem.empty() ? rsa_key(jwk, &problem) : nullptr;
    if (!key) {
      detail::log().warn("{}: {} {}; it is left out", source, name, problem);
      skipped += fmt::format("{}{} {}", skipped.empty() ? "" : "; ", name, problem);
      continue;
    }
    const std::string kid = jwk["kid"].get<std::string>();
    if (!keys.by_kid.emplace(kid, std::move(key)).second)
      throw ConfigurationError(kJwksKey, source, fmt::format("the JWKS has two keys with the `kid` \"{}\"", kid));
  }
  if (keys.by_kid.empty())
    throw ConfigurationError(
        kJwksKey, source,
        fmt::format("the JWKS file holds no usable key (RSA, with a `kid`, for signatures, RS256){}",
                    skipped.empty() ? "" : ": " + skipped));
  return keys;
}

JwtKeys load_jwt_keys(const JwtSettings& settings, const std::string& what) {
  const int sources = static_cast<int>(!settings.public_key.empty()) +
                      static_cast<int>(!settings.public_key_path.empty()) +
                      static_cast<int>(!settings.jwks_path.empty());
  if (sources != 1)
    throw ConfigurationError("server.jwt", what,
                             "set exactly one of server.jwt.public_key, server.jwt.public_key_path and "
                             "server.jwt.jwks_path (TASKER_JWT_PUBLIC_KEY, TASKER_JWT_PUBLIC_KEY_PATH, "
                             "TASKER_JWT_JWKS_PATH)");
  if (!settings.jwks_path.empty())
    return parse_jwks(read_file(kJwksKey, settings.jwks_path, kMaxJwksBytes), settings.jwks_path);
  JwtKeys keys;
  if (!settings.public_key_path.empty()) {
    const std::string key = "server.jwt.public_key_path";
    keys.by_kid[""] =
        public_key(key, settings.public_key_path, read_file(key, settings.public_key_path, kMaxJwksBytes));
  } else {
    keys.by_kid[""] = public_key("server.jwt.public_key", what, settings.public_key);
  }
  return keys;
}

}  // namespace tasker::server
