// A pass over yaml-cpp's parser events before the node tree is built. yaml-cpp
// shares an aliased node instead of copying it, so a 700-byte file can stand
// for a billion nodes ("billion laughs"), and an alias inside the node it names
// makes a cycle; the loader's walk would never end, or overflow the stack. Here
// each anchored node's size and height are recorded when it closes, and an
// alias adds them without being followed: linear in the text, whatever the
// aliases expand to.
#include "model/yaml_limits.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace tasker::detail {

namespace {

constexpr std::size_t kMany = std::numeric_limits<std::size_t>::max();

std::size_t add_saturating(std::size_t a, std::size_t b) { return a > kMany - b ? kMany : a + b; }

/// yaml-cpp 0.7 does not advance past some tokens where a document should
/// start (a file holding just `,`): it reports empty documents at the same
/// place for ever. Thrown by the handler to stop it.
struct NoProgress {
  YAML::Mark mark;
};

class Budget final : public YAML::EventHandler {
 public:
  Budget(std::string file, const TemplateLimits& limits) : file_(std::move(file)), limits_(limits) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0 && mark.pos == last_document_) throw NoProgress{mark};
    last_document_ = mark.pos;
    anchors_.clear();  // anchors name nodes of their own document only
    open_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { node(mark, anchor, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    check_text(mark, value);
    node(mark, anchor, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    node(mark, anchor, true);
  }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    node(mark, anchor, true);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapEnd() override { close(); }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { anchor_name_ = name; }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return;  // yaml-cpp itself rejects an alias of an unknown anchor
    const Anchored& a = it->second;
    if (a.open) {
      self_reference(mark, a);
      return;
    }
    count(mark, a.nodes, open_.size() + a.height);
    if (!open_.empty()) open_.back().height = std::max(open_.back().height, a.height);
  }

  void stuck(const YAML::Mark& mark, char at) {
    add(mark, "invalid YAML: the parser cannot read past this point",
        at == ',' || at == ']' || at == '}'
            ? fmt::format("`{}` belongs inside [...] or {{...}}; quote the value if it is text", at)
            : "check indentation, quoting and `key: value` syntax here");
  }

  /// What was found; `complete`: the whole text was read (else counts are lower bounds).
  std::vector<Diagnostic> diagnostics(bool complete) {
    const char* at_least = complete ? "" : "at least ";
    if (depth_at_)
      add(*depth_at_,
          limit_exceeded(fmt::format("the template nests mappings and lists {}{} levels deep here", at_least, deepest_),
                         kTemplateMaxDepthKey, limits_.max_depth),
          raise_limit_hint(kTemplateMaxDepthKey));
    if (nodes_at_) {
      std::string nodes = nodes_ == kMany ? "more than 10^19" : fmt::format("{}{}", at_least, nodes_);
      add(*nodes_at_,
          limit_exceeded(
              fmt::format("the file has {} nodes once its aliases are expanded (the limit is passed here)", nodes),
              kTemplateMaxNodesKey, limits_.max_nodes),
          "an alias (*name) stands for a copy of the whole node it names, and aliases of aliases multiply; " +
              raise_limit_hint(kTemplateMaxNodesKey));
    }
    return std::move(found_);
  }

 private:
  struct Anchored {
    std::string name;
    YAML::Mark mark;
    std::size_t nodes{1};   ///< the node and everything in it, aliases expanded
    std::size_t height{0};  ///< mappings and lists nested in it, itself included (0: a scalar)
    bool open{false};       ///< its content is still being read
  };
  struct Open {
    YAML::anchor_t anchor;
    std::size_t nodes_before;
    std::size_t height{0};  ///< of its tallest child
  };

  void node(const YAML::Mark& mark, YAML::anchor_t anchor, bool collection) {
    const std::size_t before = nodes_;
    count(mark, 1, open_.size() + (collection ? 1 : 0));
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {std::exchange(anchor_name_, {}), mark, 1, 0, collection};
    if (collection) open_.push_back({anchor, before});
  }

  void close() {
    if (open_.empty()) return;
    const Open done = open_.back();
    open_.pop_back();
    const std::size_t height = done.height + 1;
    if (done.anchor != YAML::NullAnchor) {
      Anchored& a = anchors_[done.anchor];
      a.open = false;
      a.height = height;
      a.nodes = nodes_ == kMany ? kMany : nodes_ - done.nodes_before;
    }
    if (!open_.empty()) open_.back().height = std::max(open_.back().height, height);
  }

  void count(const YAML::Mark& mark, std::size_t nodes, std::size_t depth) {
    nodes_ = add_saturating(nodes_, nodes);
    if (nodes_ > limits_.max_nodes && !nodes_at_) nodes_at_ = mark;
    deepest_ = std::max(deepest_, depth);
    if (depth > limits_.max_depth && !depth_at_) depth_at_ = mark;
  }

  void self_reference(const YAML::Mark& mark, const Anchored& a) {
    add(mark,
        fmt::format("alias `*{}` is inside the node it names (anchor `&{}` at line {}, column {}): the node would "
                    "contain itself without end",
                    a.name, a.name, a.mark.line + 1, a.mark.column + 1),
        "an alias can only repeat a node that is complete; write the values out, or anchor a node outside this one");
  }

  void check_text(const YAML::Mark& mark, const std::string& value) {
    const std::size_t bad = invalid_utf8_offset(value);
    if (bad == std::string::npos || utf8_reported_) return;
    utf8_reported_ = true;  // one is enough: the cause (the file's encoding) is usually the same for all
    add(mark,
        fmt::format("this text is not valid UTF-8 (byte 0x{:02X} at offset {} of the value)",
                    static_cast<unsigned char>(value[bad]), bad),
        "save the file as UTF-8: templates are read as UTF-8, and their values must be storable as JSON text");
  }

  void add(const YAML::Mark& mark, std::string message, std::string hint) {
    Diagnostic d;
    d.location = {file_, mark.line + 1, mark.column + 1};
    d.message = std::move(message);
    d.hint = std::move(hint);
    found_.push_back(std::move(d));
  }

  std::string file_;
  const TemplateLimits& limits_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::vector<Open> open_;
  std::string anchor_name_;  ///< from OnAnchor, for the node event that follows it
  std::size_t nodes_{0};
  std::size_t deepest_{0};
  std::size_t documents_{0};
  int last_document_{0};  ///< where the last document started (a byte offset)
  std::optional<YAML::Mark> nodes_at_, depth_at_;
  bool utf8_reported_{false};
  std::vector<Diagnostic> found_;
};

}  // namespace

Diagnostic template_too_large(const std::string& file, std::size_t bytes, bool at_least, std::size_t max_bytes) {
  Diagnostic d;
  d.location.file = file;
  d.message = limit_exceeded(fmt::format("the file is {}{} bytes", at_least ? "at least " : "", bytes),
                             kTemplateMaxBytesKey, max_bytes);
  d.hint = "split it into several templates, or " + raise_limit_hint(kTemplateMaxBytesKey);
  return d;
}

std::vector<Diagnostic> check_template_limits(const std::string& yaml, const std::string& file,
                                              const TemplateLimits& limits) {
  if (yaml.size() > limits.max_bytes) return {template_too_large(file, yaml.size(), false, limits.max_bytes)};
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  Budget budget(file, limits);
  bool complete = true;
  try {
    while (parser.HandleNextDocument(budget)) {
    }
  } catch (const YAML::Exception&) {
    complete = false;  // a syntax error: the loader reports it when nothing else is wrong
  } catch (const NoProgress& e) {
    complete = false;
    const auto at = static_cast<std::size_t>(e.mark.pos);
    budget.stuck(e.mark, at < yaml.size() ? yaml[at] : '\0');
  }
  return budget.diagnostics(complete);
}

}  // namespace tasker::detail
