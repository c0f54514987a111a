#pragma once
// A small checker of JSON values against the server's OpenAPI 3.0 document
// (the subset it uses: $ref, allOf, oneOf, type, nullable, required,
// properties, additionalProperties, items, enum). No Debian package checks
// OpenAPI; nlohmann::json walks it.
#include <string>
#include <vector>

#include "tasker/json.hpp"

namespace api_test {

class OpenApi {
 public:
  explicit OpenApi(tasker::json document) : doc_(std::move(document)) {}
  /// Problems of `body` against the response schema of `method path_template`
  /// for `status` (e.g. "/v1/tasks/{uuid}", "get", 200), or for its range (4XX)
  /// when the status has no entry of its own; empty when it conforms.
  [[nodiscard]] std::vector<std::string> check(const std::string& path_template, const std::string& method, int status,
                                               const tasker::json& body) const;

 private:
  void validate(const tasker::json& schema, const tasker::json& value, const std::string& at,
                std::vector<std::string>& problems) const;
  [[nodiscard]] const tasker::json& resolve(const tasker::json& schema) const;
  tasker::json doc_;
};

}  // namespace api_test
