#include "tasker/server.hpp"

#include "http_core.hpp"
#include "metrics.hpp"
#include "routes.hpp"
#include "tasker/version.hpp"

namespace tasker {

using namespace tasker::server;

class ApiServer::Impl {
 public:
  Impl(const std::shared_ptr<Client>& client, ServerSettings settings, std::shared_ptr<EventBus> events)
      : http(std::move(settings), "tasker serve"), metrics(std::make_shared<Metrics>(std::move(events), client)) {
    add_task_routes(http, client);
    add_schedule_routes(http, client);
    add_dlq_routes(http, client);
    if (auto templates = client->templates())
      add_template_routes(http, std::shared_ptr<const TemplateSet>(client, templates));  // aliases the client's set
    else
      add_template_routes(http, std::make_shared<const TemplateSet>());
    auto readiness = [client] {
      Readiness r;
      r.checks["database"] = database_check(*client, r);
      r.info = {{"version", tasker::version()}, {"role", "orchestration"}};
      return r;
    };
    add_health_routes(http, json::object(), readiness);
    add_detailed_health_route(http, client, readiness, client->options().staleness.enqueued);
    add_web_routes(http);
    add_metrics_and_docs_routes(http, metrics);
  }
  HttpCore http;
  std::shared_ptr<Metrics> metrics;
};

ApiServer::ApiServer(const std::shared_ptr<Client>& client, ServerSettings settings, std::shared_ptr<EventBus> events)
    : impl_(std::make_unique<Impl>(client, std::move(settings), std::move(events))) {}
ApiServer::~ApiServer() = default;
void ApiServer::start() { impl_->http.start(); }
void ApiServer::stop() { impl_->http.stop(); }
int ApiServer::port() const { return impl_->http.port(); }
std::string ApiServer::url() const { return impl_->http.url(); }

}  // namespace tasker
