// Loading templates: from text (limits first, then yaml-cpp, then the Parser of
// template_parser.hpp on each document) and from files and folders.
#include "tasker/loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>

#include "model/template_parser.hpp"
#include "model/yaml_limits.hpp"
#include "tasker/errors.hpp"

namespace tasker {

std::string default_environment() {
  const char* env = std::getenv("TASKER_ENV");
  return env && *env ? env : "development";
}

namespace {

bool is_template_file(const std::filesystem::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

}  // namespace

LoadResult load_templates_from_string(const std::string& yaml, const std::string& file, const LoadOptions& options) {
  LoadResult result;
  result.files = 1;
  detail::loader::Parser parser(file, result.diagnostics);
  // Before yaml-cpp builds nodes that the walk below would expand without end.
  result.diagnostics = detail::check_template_limits(yaml, file, options.limits);
  if (!result.diagnostics.empty()) return result;
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::ParserException& e) {
    parser.report(Severity::error, {file, e.mark.line + 1, e.mark.column + 1}, "",
                  fmt::format("invalid YAML: {}", valid_utf8(e.msg)),  // yaml-cpp may quote the byte at fault
                  "check indentation, quoting and `key: value` syntax here");
    return result;
  } catch (const YAML::Exception& e) {
    parser.report(Severity::error, {file, 1, 1}, "", fmt::format("invalid YAML: {}", valid_utf8(e.what())));
    return result;
  }
  std::vector<YAML::Node> templates;
  for (auto& doc : docs)
    if (!doc.IsNull()) templates.push_back(doc);
  if (templates.empty()) {
    parser.report(Severity::error, {file, 1, 1}, "", "the file holds no template (it is empty)",
                  "a template needs at least `name`, `namespace_name`, `version` and `steps`");
    return result;
  }
  std::vector<TaskTemplate> parsed;
  for (const auto& doc : templates)
    if (auto t = parser.parse_template(doc, options)) parsed.push_back(std::move(*t));
  if (parser.errors() == 0) result.templates = std::move(parsed);
  return result;
}

namespace {
/// A problem with a file as a whole (no line). Built member by member: GCC 12
/// at -O3 misreports a braced temporary here as "maybe uninitialized".
Diagnostic file_problem(const std::filesystem::path& path, std::string message, std::string hint) {
  Diagnostic d;
  d.location.file = path.string();
  d.message = std::move(message);
  d.hint = std::move(hint);
  return d;
}

void load_file(const std::filesystem::path& path, const LoadOptions& options, LoadResult& into) {
  std::ifstream in(path, std::ios::binary);
  std::string display = path.string();
  if (!in) {
    into.diagnostics.push_back(file_problem(path, "cannot read the file", "check its permissions"));
    ++into.files;
    return;
  }
  // A file larger than a template may be is refused unread; one whose size is
  // unknown (a pipe, /dev/zero) is read only until it passes the limit.
  const std::size_t max_bytes = options.limits.max_bytes;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::string text;
  if (!ec && size > max_bytes) {
    into.diagnostics.push_back(detail::template_too_large(display, size, false, max_bytes));
    ++into.files;
    return;
  }
  std::array<char, 65536> chunk{};
  while (in && text.size() <= max_bytes) {
    in.read(chunk.data(), chunk.size());
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (text.size() > max_bytes) {
    into.diagnostics.push_back(detail::template_too_large(display, text.size(), true, max_bytes));
    ++into.files;
    return;
  }
  LoadResult one = load_templates_from_string(text, display, options);
  into.files += one.files;
  std::move(one.templates.begin(), one.templates.end(), std::back_inserter(into.templates));
  std::move(one.diagnostics.begin(), one.diagnostics.end(), std::back_inserter(into.diagnostics));
}

/// A path whose status cannot be read (`ec` from following it), in the loader's words.
Diagnostic unreadable(const std::filesystem::path& path, const std::error_code& ec) {
  if (ec == std::errc::too_many_symbolic_link_levels)
    return file_problem(path, "symbolic link loop: following the link leads back to a link already followed",
                        "point the link at a template file or folder, or remove it");
  return file_problem(path, fmt::format("cannot read it: {}", ec.message()), "check its permissions");
}
}  // namespace

LoadResult load_templates(const std::filesystem::path& path, const LoadOptions& options) {
  LoadResult result;
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    result.diagnostics.push_back(unreadable(path, ec));
  } else if (std::filesystem::is_directory(status)) {
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!is_template_file(it->path())) continue;
      std::error_code entry_ec;
      const bool regular = it->is_regular_file(entry_ec);  // follows a symbolic link
      // A link to nothing is skipped, as editors leave them (Emacs's .#name.yaml locks).
      if (entry_ec && entry_ec != std::errc::no_such_file_or_directory)
        result.diagnostics.push_back(unreadable(it->path(), entry_ec));
      else if (regular)
        files.push_back(it->path());
    }
    if (ec)
      result.diagnostics.push_back(file_problem(path, fmt::format("cannot list the folder: {}", ec.message()), ""));
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_file(f, options, result);
  } else if (std::filesystem::exists(status)) {
    load_file(path, options, result);
  } else {
    result.diagnostics.push_back(
        file_problem(path, "no such file or folder",
                     "check the path (TASKER_TEMPLATE_PATH lists template folders separated by ':')"));
  }
  return result;
}

LoadResult load_templates(const std::vector<std::filesystem::path>& paths, const LoadOptions& options) {
  LoadResult result;
  for (const auto& p : paths) {
    LoadResult one = load_templates(p, options);
    result.files += one.files;
    std::move(one.templates.begin(), one.templates.end(), std::back_inserter(result.templates));
    std::move(one.diagnostics.begin(), one.diagnostics.end(), std::back_inserter(result.diagnostics));
  }
  return result;
}

TaskTemplate load_template_file(const std::filesystem::path& path, const LoadOptions& options) {
  LoadResult result = load_templates(path, options);
  if (!result.ok()) throw TemplateError(std::move(result.diagnostics));
  if (result.templates.size() != 1)
    throw TemplateError(
        fmt::format("{}: expected exactly one template, found {}", path.string(), result.templates.size()),
        std::move(result.diagnostics));
  return std::move(result.templates.front());
}

}  // namespace tasker
