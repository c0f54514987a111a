// What authenticating one request costs on the server's I/O thread: verifying
// an RS256 JWT (JwtVerifier::verify: cpp-jwt decoding, OpenSSL's signature
// check with the key parsed at start, the claims) against hashing an API key
// with SHA-256. Measured, never asserted (docs/performance.md, "Authenticating
// a request").
#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "../tests/api/jwt_signer.hpp"
#include "server/jwt_verifier.hpp"

namespace {

template <typename F>
double microseconds_each(int rounds, F&& f) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) f();
  const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
  return spent.count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 5000;
  for (const int bits : {2048, 4096}) {
    const jwt_test::RsaKey key(bits);
    tasker::JwtSettings settings;
    settings.public_key = key.public_pem();
    settings.issuer = "https://auth.example/";
    settings.audience = "tasker-api";
    const tasker::server::JwtVerifier verifier(settings, "bench");
    const long long now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string token = key.sign(tasker::json{{"alg", "RS256"}, {"typ", "JWT"}},
                                       tasker::json{{"iss", settings.issuer},
                                                    {"aud", settings.audience},
                                                    {"sub", "svc"},
                                                    {"exp", now + 3600},
                                                    {"permissions", {"tasks:create", "tasks:read"}}});
    std::size_t granted = 0;
    const double jwt = microseconds_each(rounds, [&] { granted += verifier.verify(token).permissions.size(); });
    fmt::print("RS256 JWT, {}-bit key: {:.1f} us per verification ({} rounds, {} bytes)\n", bits, jwt, rounds,
               token.size());
    if (granted != 2u * static_cast<std::size_t>(rounds)) return 1;
  }
  const std::string api_key(64, 'k');
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const double sha = microseconds_each(
      rounds * 100, [&] { EVP_Digest(api_key.data(), api_key.size(), digest, &size, EVP_sha256(), nullptr); });
  fmt::print("API key (SHA-256 of 64 bytes): {:.2f} us per check ({} rounds)\n", sha, rounds * 100);
  return 0;
}
