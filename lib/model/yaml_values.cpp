// YAML scalars -> JSON for the template loader (yaml_values.hpp says how).
#include "model/yaml_values.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <set>
#include <string_view>

namespace tasker::detail::loader {

bool is_quoted_or_str(const YAML::Node& node) { return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str"; }

std::optional<std::int64_t> parse_integer(const std::string& s) {
  std::string_view v = s;
  bool negative = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) negative = v[0] == '-', v.remove_prefix(1);
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0]))) return std::nullopt;  // one sign, then digits
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'o')) base = v[1] == 'x' ? 16 : 8, v.remove_prefix(2);
  if (v.empty() || !std::isxdigit(static_cast<unsigned char>(v[0]))) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value, base);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return negative ? -value : value;
}

std::optional<double> parse_float(const std::string& s) {
  static const std::set<std::string> inf{".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string> ninf{"-.inf", "-.Inf", "-.INF"};
  static const std::set<std::string> nan{".nan", ".NaN", ".NAN"};
  if (inf.count(s)) return std::numeric_limits<double>::infinity();
  if (ninf.count(s)) return -std::numeric_limits<double>::infinity();
  if (nan.count(s)) return std::numeric_limits<double>::quiet_NaN();
  if (s.empty() || s.find_first_not_of("+-.0123456789eE") != std::string::npos) return std::nullopt;
  if (s.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  // from_chars takes a leading '-' but not '+'; YAML allows both, once.
  std::string_view v = s;
  if (v[0] == '+' || v[0] == '-') {
    if (v.size() < 2 || v[1] == '+' || v[1] == '-') return std::nullopt;
    if (v[0] == '+') v.remove_prefix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return value;
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (is_quoted_or_str(node)) return s;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = parse_integer(s)) return *i;
  if (auto f = parse_float(s)) return *f;
  return s;
}

bool is_null(const YAML::Node& node) {
  return !node || node.IsNull() || (node.IsScalar() && !is_quoted_or_str(node) && scalar_to_json(node).is_null());
}

json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) array.push_back(to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& kv : node) object[kv.first.Scalar()] = to_json(kv.second);
      return object;
    }
    default: return nullptr;
  }
}

}  // namespace tasker::detail::loader
