#pragma once
// YAML scalars -> JSON, with YAML 1.2 core-schema resolution (so `yes` stays a
// string, unlike yaml-cpp's YAML 1.1 bool decoding): how the template loader
// reads a value, apart from what the value means in a template.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>

#include "tasker/json.hpp"

namespace tasker::detail::loader {

/// Quoted, or tagged `!!str`: the text is a string whatever it looks like.
[[nodiscard]] bool is_quoted_or_str(const YAML::Node& node);

/// A YAML 1.2 integer: one optional sign, then decimal, `0x` hex or `0o` octal digits.
[[nodiscard]] std::optional<std::int64_t> parse_integer(const std::string& s);

/// A YAML 1.2 float, `.inf` and `.nan` included.
[[nodiscard]] std::optional<double> parse_float(const std::string& s);

/// A scalar as JSON: null, a boolean, an integer, a float, or else its text.
[[nodiscard]] json scalar_to_json(const YAML::Node& node);

/// Absent, `~`, `null` or an empty value.
[[nodiscard]] bool is_null(const YAML::Node& node);

/// A node and everything below it as JSON.
[[nodiscard]] json to_json(const YAML::Node& node);

}  // namespace tasker::detail::loader
