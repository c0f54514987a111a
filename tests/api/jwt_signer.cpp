#include "jwt_signer.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <jwt/base64.hpp>

#include <stdexcept>
#include <vector>

namespace jwt_test {

namespace {

std::string base64url_of_bignum(const EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error("EVP_PKEY_get_bn_param failed");
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  BN_free(bn);
  return base64url(bytes);
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string text = jwt::base64_encode(bytes.data(), bytes.size());
  text.resize(jwt::base64_uri_encode(text.data(), text.size()));
  return text;
}

std::string compact(std::string_view header, std::string_view payload, std::string_view signature) {
  return base64url(header) + "." + base64url(payload) + "." + base64url(signature);
}

RsaKey::RsaKey(int bits) : key_(EVP_RSA_gen(static_cast<unsigned>(bits)), EVP_PKEY_free) {
  if (!key_) throw std::runtime_error("EVP_RSA_gen failed");
}

std::string RsaKey::public_pem() const {
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(out.get(), key_.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return {data, static_cast<std::size_t>(size)};
}

tasker::json RsaKey::jwk(const std::string& kid) const {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "RS256"},
          {"n", base64url_of_bignum(key_.get(), OSSL_PKEY_PARAM_RSA_N)},
          {"e", base64url_of_bignum(key_.get(), OSSL_PKEY_PARAM_RSA_E)}};
}

std::string RsaKey::sign_text(std::string_view header, std::string_view claims) const {
  const std::string input = base64url(header) + "." + base64url(claims);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t size = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size()) !=
          1)
    throw std::runtime_error("EVP_DigestSign failed");
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    throw std::runtime_error("EVP_DigestSign failed");
  signature.resize(size);
  return input + "." + base64url(signature);
}

std::string sign_hs256(const tasker::json& header, const tasker::json& claims, std::string_view secret) {
  const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), size));
}

}  // namespace jwt_test
