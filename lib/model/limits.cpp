// Limits on JSON from outside, checked without recursion: nlohmann's parser
// is iterative, but dump(), copies and comparisons recurse once per level, so
// a value must be known to be shallow before anything else touches it.
#include "tasker/limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>

#include "tasker/errors.hpp"

namespace tasker {

std::string limit_environment_variable(std::string_view key) {
  std::string name = "TASKER_";
  for (char c : key) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string limit_exceeded(std::string_view found, std::string_view key, std::size_t allowed) {
  return fmt::format("{}, more than {} allows ({})", found, key, allowed);
}

std::string raise_limit_hint(std::string_view key) {
  return fmt::format("raise {} (environment variable {}) if such input is expected", key,
                     limit_environment_variable(key));
}

namespace {

[[noreturn]] void throw_limit(const std::string& found, std::string_view key, std::size_t actual, std::size_t allowed) {
  throw LimitError(limit_exceeded(found, key, allowed) + "; " + raise_limit_hint(key), std::string(key), actual,
                   allowed);
}

/// The length of the valid UTF-8 sequence at the start of `s`, 0 when it is not one
/// (overlong forms, surrogates and code points above U+10FFFF are not valid).
std::size_t utf8_sequence(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  auto continuation = [&](std::size_t i, unsigned char low = 0x80, unsigned char high = 0xBF) {
    return i < s.size() && byte(i) >= low && byte(i) <= high;
  };
  const unsigned char c = byte(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/// The length of `s` as dump() writes it: quoted, with JSON escapes (ensure_ascii off).
std::size_t quoted_size(std::string_view s) {
  std::size_t n = 2;
  for (unsigned char c : s) {
    switch (c) {
      case '"':
      case '\\':
      case '\b':
      case '\f':
      case '\n':
      case '\r':
      case '\t': n += 2; break;
      default: n += c < 0x20 ? 6 : 1;  // other control characters: \u00XX
    }
  }
  return n;
}

std::size_t decimal_digits(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 10; v /= 10) ++n;
  return n;
}

std::size_t scalar_size(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return 4;
    case json::value_t::boolean: return v.get<bool>() ? 4 : 5;
    case json::value_t::number_integer: {
      const auto i = v.get<std::int64_t>();
      return i < 0 ? 1 + decimal_digits(0 - static_cast<std::uint64_t>(i))
                   : decimal_digits(static_cast<std::uint64_t>(i));
    }
    case json::value_t::number_unsigned: return decimal_digits(v.get<std::uint64_t>());
    case json::value_t::string: return quoted_size(v.get_ref<const std::string&>());
    default: return v.dump().size();  // floats (nlohmann's shortest round-trip form), binary: never nested
  }
}

/// How deep the arrays and objects of JSON text nest, counting brackets outside
/// strings: what the parser would build, for the message once it was stopped.
std::size_t text_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

[[noreturn]] void throw_too_deep(std::string_view what, std::size_t depth, std::size_t allowed) {
  throw_limit(fmt::format("{} is nested {} levels deep", what, depth), kJsonMaxDepthKey, depth, allowed);
}

[[noreturn]] void throw_too_large(std::string_view what, std::size_t bytes, std::size_t allowed) {
  throw_limit(fmt::format("{} is {} bytes", what, bytes), kJsonMaxBytesKey, bytes, allowed);
}

}  // namespace

std::size_t invalid_utf8_offset(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    std::size_t n = utf8_sequence(bytes.substr(i));
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string valid_utf8(std::string_view bytes) {
  std::size_t first = invalid_utf8_offset(bytes);
  if (first == std::string_view::npos) return std::string(bytes);
  std::string out(bytes.substr(0, first));
  for (std::size_t i = first; i < bytes.size();) {
    std::size_t n = utf8_sequence(bytes.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string json_error_text(const json::exception& e) {
  std::string_view text = e.what();
  if (auto end = text.find("] "); text.rfind("[json.exception.", 0) == 0 && end != std::string_view::npos)
    text.remove_prefix(end + 2);
  return valid_utf8(text);
}

json parse_json(std::string_view text, const JsonLimits& limits, std::string_view what) {
  if (text.size() > limits.max_bytes) throw_too_large(what, text.size(), limits.max_bytes);
  // The callback sees each array and object as it opens, with the number of
  // levels around it: throwing there stops the parser before it builds deeper.
  json::parser_callback_t stop_deep = [&](int depth, json::parse_event_t event, json&) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (opens && static_cast<std::size_t>(depth) >= limits.max_depth)
      throw_too_deep(what, text_depth(text), limits.max_depth);
    return true;
  };
  return json::parse(text.begin(), text.end(), stop_deep);
}

JsonMeasure measure_json(const json& value) {
  JsonMeasure m;
  struct Frame {
    const json* node;
    json::const_iterator next;
    std::size_t visited{0};
    std::string_view key;  ///< of the child being visited, for objects
  };
  std::vector<Frame> stack;
  auto pointer = [&] {  // RFC 6901, from the frames' current children
    std::string out;
    for (const auto& f : stack) {
      out += '/';
      if (!f.node->is_object()) {
        out += std::to_string(f.visited - 1);
        continue;
      }
      for (char c : f.key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
    }
    return out;
  };
  auto check_text = [&](std::string_view s) {
    if (!m.invalid_utf8 && invalid_utf8_offset(s) != std::string_view::npos) m.invalid_utf8 = pointer();
  };
  auto visit = [&](const json& v) {
    if (v.is_array() || v.is_object()) {
      m.bytes += 2 + (v.empty() ? 0 : v.size() - 1);  // brackets and commas
      stack.push_back({&v, v.cbegin(), 0, {}});
      m.depth = std::max(m.depth, stack.size());
      return;
    }
    if (v.is_string()) check_text(v.get_ref<const std::string&>());
    m.bytes += scalar_size(v);
  };
  visit(value);
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.node->cend()) {
      stack.pop_back();
      continue;
    }
    const json& child = *f.next;
    ++f.visited;
    if (f.node->is_object()) {
      f.key = f.next.key();
      m.bytes += quoted_size(f.key) + 1;  // "key":
      check_text(f.key);
    }
    ++f.next;
    visit(child);  // may grow the stack: `f` is not used after this
  }
  return m;
}

void check_json(const json& value, const JsonLimits& limits, std::string_view what) {
  JsonMeasure m = measure_json(value);
  if (m.depth > limits.max_depth) throw_too_deep(what, m.depth, limits.max_depth);
  if (m.bytes > limits.max_bytes) throw_too_large(what, m.bytes, limits.max_bytes);
  if (m.invalid_utf8)
    throw InvalidRequestError(fmt::format(
        "{} holds text that is not valid UTF-8 ({}); send text as UTF-8, and binary data encoded (e.g. base64)", what,
        m.invalid_utf8->empty() ? "the value itself" : "at " + valid_utf8(*m.invalid_utf8)));
}

}  // namespace tasker
