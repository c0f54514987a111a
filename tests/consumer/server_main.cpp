// Serves the API from a host process through the installed tasker::server
// package, and reads it back with HttpApi over loopback.
#include <tasker/http_api.hpp>
#include <tasker/server.hpp>
#include <tasker/tasker.hpp>

#include <iostream>

int main() {
  auto store = tasker::open_store("sqlite::memory:");
  auto client = std::make_shared<tasker::Client>(store, std::make_shared<tasker::TemplateSet>());
  tasker::ServerSettings settings;
  settings.listen = "127.0.0.1:0";
  tasker::ApiServer server(client, settings);
  server.start();
  tasker::testing::HttpApi api(server.url());
  auto page = api.list_tasks();
  server.stop();
  if (!page.tasks.empty()) return 1;
  std::cout << "server consumer ok: " << server.url() << "\n";
  return 0;
}
