// tasker serve: tasker-core's HTTP API over the database (docs/api.md).
#include <fmt/format.h>

#include <iostream>

#include "commands.hpp"
#include "request.hpp"
#include "signals.hpp"
#include "tasker/client.hpp"
#include "tasker/server.hpp"

namespace tasker::cli {

namespace {

void add_serve(CLI::App& app, Invocation& inv) {
  struct Options {
    std::string db;
    TemplateOptions templates;
    std::string listen;
  };
  auto opts = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("serve", "Serve the HTTP API (tasker-core's routes) until SIGINT or SIGTERM");
  add_template_options(cmd, opts->templates);
  add_db_option(cmd, opts->db);
  add_listen_option(cmd, opts->listen);
  cmd->footer(
      "Example:\n  tasker serve --db postgresql://tasker@db/tasker --templates templates --listen 127.0.0.1:8080\n"
      "  curl -s localhost:8080/v1/tasks -H 'Content-Type: application/json' \\\n"
      "    -d '{\"namespace\": \"linear_workflow\", \"name\": \"mathematical_sequence\", \"context\": "
      "{\"even_number\": 6}}'\n"
      "Prints the URL it serves on stdout once listening (port 0 picks a free one). Steps are run by workers\n"
      "(`tasker worker`, or your application's). Listening beyond loopback needs API keys (server.api_keys)\n"
      "or JWT (server.jwt); TLS, limits, keys and JWT are configured in the configuration file (docs/api.md).");
  cmd->callback([opts, &inv] {
    SignalWaiter signals;  // before any thread starts, so only wait() receives SIGINT/SIGTERM
    ServerSettings settings = server_settings(inv, opts->listen);
    auto templates = std::make_shared<TemplateSet>(load_template_set(inv, opts->templates.paths, opts->templates.env));
    auto store = open_database(inv, opts->db, DbAccess::create);
    auto events = std::make_shared<EventBus>();
    ClientOptions client_opts = client_options(inv);
    client_opts.events = events;
    auto client = std::make_shared<Client>(store, templates, client_opts);
    ApiServer server(client, settings, events);
    server.start();
    std::cout << server.url() << std::endl;
    const std::string auth =
        settings.api_keys.empty() && !settings.jwt.enabled()
            ? "off (loopback only)"
            : fmt::format("{} API key(s){}", settings.api_keys.size(),
                          settings.jwt.enabled() ? fmt::format(", JWT from `{}`", settings.jwt.issuer) : "");
    fmt::print(stderr, "tasker serve: {} templates, {} on {}; authentication: {}; stop with Ctrl-C or SIGTERM\n",
               templates->size(), store->describe(), server.url(), auth);
    signals.wait(std::nullopt);
    fmt::print(stderr, "tasker serve: {} received, stopping\n", signal_name(signals.received()));
    server.stop();
  });
}

}  // namespace

void add_listen_option(CLI::App* cmd, std::string& listen) {
  cmd->add_option("--listen", listen,
                  "HOST:PORT to serve HTTP on (default: server.listen, TASKER_LISTEN, else 127.0.0.1:8080)");
}

ServerSettings server_settings(Invocation& inv, const std::string& listen) {
  ServerSettings s = inv.config().server;
  if (!listen.empty()) s.listen = listen;  // the server checks it, naming --listen
  return s;
}

void add_serve_command(CLI::App& app, Invocation& inv) { add_serve(app, inv); }

}  // namespace tasker::cli
