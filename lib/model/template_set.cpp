#include "tasker/template_set.hpp"

#include <fmt/format.h>

#include <charconv>

#include "tasker/errors.hpp"

namespace tasker {

namespace {
/// Dot-separated parts compared numerically when both are numbers, else as text.
int compare_dotted(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto take = [](std::string_view& s) {
      auto dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
      return part;
    };
    std::string_view pa = take(a), pb = take(b);
    unsigned long long na = 0, nb = 0;
    auto ra = std::from_chars(pa.data(), pa.data() + pa.size(), na);
    auto rb = std::from_chars(pb.data(), pb.data() + pb.size(), nb);
    bool numeric = ra.ec == std::errc{} && ra.ptr == pa.data() + pa.size() && rb.ec == std::errc{} &&
                   rb.ptr == pb.data() + pb.size();
    if (numeric) {
      if (na != nb) return na < nb ? -1 : 1;
    } else if (int c = pa.compare(pb); c != 0) {
      return c < 0 ? -1 : 1;
    }
  }
  return 0;
}
}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  // Semantic-versioning precedence: build metadata (+...) is ignored, and a
  // pre-release (1.0.0-rc1) ranks below its release (1.0.0).
  auto strip_build = [](std::string_view v) { return v.substr(0, v.find('+')); };
  a = strip_build(a);
  b = strip_build(b);
  auto dash_a = a.find('-'), dash_b = b.find('-');
  if (int c = compare_dotted(a.substr(0, dash_a), b.substr(0, dash_b)); c != 0) return c;
  bool pre_a = dash_a != std::string_view::npos, pre_b = dash_b != std::string_view::npos;
  if (pre_a != pre_b) return pre_a ? -1 : 1;
  return pre_a ? compare_dotted(a.substr(dash_a + 1), b.substr(dash_b + 1)) : 0;
}

TemplateRef TemplateRef::parse(std::string_view text) {
  TemplateRef ref;
  auto slash = text.find('/');
  auto at = text.find('@');
  std::string_view name_part = text.substr(0, at);
  if (at != std::string_view::npos) ref.version = std::string(text.substr(at + 1));
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= name_part.size() ||
      name_part.find('/', slash + 1) != std::string_view::npos || (at != std::string_view::npos && ref.version.empty()))
    throw InvalidRequestError(
        fmt::format("`{}` is not a template reference; write NAMESPACE/NAME or NAMESPACE/NAME@VERSION "
                    "(e.g. ecommerce/order_processing@1.0.0)",
                    text));
  ref.namespace_name = std::string(name_part.substr(0, slash));
  ref.name = std::string(name_part.substr(slash + 1));
  return ref;
}

std::string TemplateRef::to_string() const {
  return version.empty() ? fmt::format("{}/{}", namespace_name, name)
                         : fmt::format("{}/{}@{}", namespace_name, name, version);
}

std::optional<Diagnostic> TemplateSet::add(TaskTemplate tmpl) {
  auto& versions = templates_by_ns_[tmpl.namespace_name][tmpl.name];
  if (auto it = versions.find(tmpl.version); it != versions.end()) {
    const SourceLocation& first = it->second.location;
    return Diagnostic{
        Severity::error, tmpl.location, tmpl.qualified_name(),
        fmt::format("template {} is defined twice", tmpl.qualified_name()),
        fmt::format("it is also defined at {}:{}; change the version of one of them", first.file, first.line)};
  }
  std::string version = tmpl.version;
  versions.emplace(std::move(version), std::move(tmpl));
  ++count_;
  return std::nullopt;
}

void TemplateSet::add_all(LoadResult& result) {
  for (auto& tmpl : result.templates)
    if (auto duplicate = add(std::move(tmpl))) result.diagnostics.push_back(std::move(*duplicate));
  result.templates.clear();
}

TemplateSet TemplateSet::load(const std::vector<std::filesystem::path>& paths, const LoadOptions& options) {
  LoadResult result = load_templates(paths, options);
  TemplateSet set;
  set.add_all(result);
  if (!result.ok()) throw TemplateError(std::move(result.diagnostics));
  return set;
}

const TaskTemplate* TemplateSet::find(std::string_view namespace_name, std::string_view name,
                                      std::string_view version) const {
  auto ns = templates_by_ns_.find(namespace_name);
  if (ns == templates_by_ns_.end()) return nullptr;
  auto named = ns->second.find(std::string(name));
  if (named == ns->second.end() || named->second.empty()) return nullptr;
  if (version.empty()) return &named->second.rbegin()->second;
  auto it = named->second.find(std::string(version));
  return it == named->second.end() ? nullptr : &it->second;
}

const TaskTemplate& TemplateSet::get(std::string_view namespace_name, std::string_view name,
                                     std::string_view version) const {
  if (const TaskTemplate* t = find(namespace_name, name, version)) return *t;
  std::string id = TemplateRef{std::string(namespace_name), std::string(name), std::string(version)}.to_string();
  std::vector<std::string> known;
  for (const auto* t : all()) known.push_back(fmt::format("{}/{}", t->namespace_name, t->name));
  std::string suggestion = closest_match(fmt::format("{}/{}", namespace_name, name), known);
  std::string hint;
  if (!suggestion.empty())
    hint = fmt::format("did you mean {}?", suggestion);
  else if (find(namespace_name, name))
    hint = fmt::format("loaded versions of {}/{}: latest is {}", namespace_name, name,
                       find(namespace_name, name)->version);
  else
    hint = fmt::format("{} templates are loaded (TemplateSet::all lists them)", count_);
  throw NotFoundError("template", id, hint);
}

std::vector<const TaskTemplate*> TemplateSet::all() const {
  std::vector<const TaskTemplate*> out;
  out.reserve(count_);
  for (const auto& [ns, names] : templates_by_ns_)
    for (const auto& [name, versions] : names)
      for (const auto& [version, tmpl] : versions) out.push_back(&tmpl);
  return out;
}

}  // namespace tasker
