#include "openapi_check.hpp"

#include <fmt/format.h>

namespace api_test {

using tasker::json;

const json& OpenApi::resolve(const json& schema) const {
  if (!schema.contains("$ref")) return schema;
  std::string ref = schema["$ref"];  // #/components/schemas/Name
  return doc_.at(json::json_pointer(ref.substr(1)));
}

std::vector<std::string> OpenApi::check(const std::string& path_template, const std::string& method, int status,
                                        const json& body) const {
  std::vector<std::string> problems;
  auto paths = doc_.at("paths");
  if (!paths.contains(path_template)) return {fmt::format("the document has no path {}", path_template)};
  const json& op = paths[path_template];
  if (!op.contains(method)) return {fmt::format("{} has no {} operation", path_template, method)};
  const json& responses = op[method].at("responses");
  std::string code = std::to_string(status);
  if (!responses.contains(code)) code = code.substr(0, 1) + "XX";  // the range it falls in, e.g. 4XX
  if (!responses.contains(code))
    return {fmt::format("{} {} does not document status {}", method, path_template, status)};
  const json& content = responses[code].value("content", json::object());
  if (!content.contains("application/json")) return problems;
  validate(content["application/json"].at("schema"), body, "$", problems);
  return problems;
}

void OpenApi::validate(const json& raw, const json& value, const std::string& at,
                       std::vector<std::string>& problems) const {
  const json& schema = resolve(raw);
  if (value.is_null()) {
    if (!schema.value("nullable", false) && schema.contains("type"))
      problems.push_back(fmt::format("{}: null, but the schema is not nullable", at));
    return;
  }
  if (schema.contains("allOf"))
    for (const auto& part : schema["allOf"]) validate(part, value, at, problems);
  if (schema.contains("oneOf")) {
    int matches = 0;
    for (const auto& part : schema["oneOf"]) {
      std::vector<std::string> p;
      validate(part, value, at, p);
      matches += p.empty() ? 1 : 0;
    }
    if (matches != 1) problems.push_back(fmt::format("{}: matches {} of the oneOf schemas, not 1", at, matches));
  }
  if (schema.contains("type")) {
    const std::string type = schema["type"];
    bool ok = (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
              (type == "string" && value.is_string()) || (type == "integer" && value.is_number_integer()) ||
              (type == "number" && value.is_number()) || (type == "boolean" && value.is_boolean());
    if (!ok) {
      problems.push_back(fmt::format("{}: expected {}, got {}", at, type, value.type_name()));
      return;
    }
  }
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == value;
    if (!found) problems.push_back(fmt::format("{}: {} is not one of {}", at, value.dump(), schema["enum"].dump()));
  }
  if (value.is_object()) {
    for (const auto& name : schema.value("required", json::array()))
      if (!value.contains(name.get<std::string>()))
        problems.push_back(fmt::format("{}: required `{}` is missing", at, name.get<std::string>()));
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, v] : value.items()) {
      if (properties.contains(key))
        validate(properties[key], v, fmt::format("{}.{}", at, key), problems);
      else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object())
        validate(schema["additionalProperties"], v, fmt::format("{}.{}", at, key), problems);
    }
  }
  if (value.is_array() && schema.contains("items"))
    for (std::size_t i = 0; i < value.size(); ++i)
      validate(schema["items"], value[i], fmt::format("{}[{}]", at, i), problems);
}

}  // namespace api_test
