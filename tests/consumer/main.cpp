// Loads a template from a string through the installed headers and library.
#include <tasker/tasker.hpp>

#include <iostream>

int main() {
  auto result = tasker::load_templates_from_string(R"(
name: hello
namespace_name: consumer
version: 1.0.0
steps:
  - name: greet
    handler: {callable: consumer.greet}
)",
                                                   "inline.yaml");
  if (!result.ok() || result.templates.size() != 1) return 1;
  std::cout << "consumer ok: " << result.templates.front().qualified_name() << "\n";
  return 0;
}
