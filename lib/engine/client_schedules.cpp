// Client's schedule functions: everything a schedule needs is checked here,
// before the store keeps it, so a worker never meets a schedule it cannot fire.
#include <fmt/format.h>

#include "model/schedule_ticks.hpp"
#include "tasker/client.hpp"
#include "tasker/cron.hpp"
#include "tasker/dynamic.hpp"
#include "tasker/errors.hpp"

namespace tasker {

namespace {

void check_context(const json& context, const JsonLimits& limits) {
  if (!context.is_object())
    throw InvalidRequestError(fmt::format(
        "a schedule's context must be a JSON object, not {} (e.g. {{\"report\": \"daily\"}})", context.type_name()));
  check_json(context, limits, "the schedule's context");
  if (context.contains(kScheduleContextKey))
    throw InvalidRequestError(
        fmt::format("a schedule's context may not have the key `{}`: tasker puts the schedule's name and tick there",
                    kScheduleContextKey));
}

/// The first tick after `now`; checks the expression and the zone.
std::optional<TimePoint> first_tick(const std::string& cron, const std::string& time_zone, TimePoint now) {
  return CronExpression::parse(cron).next_after(now, time_zone);
}

}  // namespace

ScheduleView Client::create_schedule(const ScheduleRequest& request) {
  detail::check_schedule_name(request.name);
  if (!templates_)
    throw InvalidRequestError("this client has no templates: construct it with a TemplateSet to create schedules");
  const TaskTemplate& tmpl = templates_->get(request.namespace_name, request.task_name, request.version);
  check_context(request.context, options_.limits);
  const TimePoint now = options_.clock->now();
  ScheduleRecord record;
  ScheduleView& v = record.view;
  v.name = request.name;
  v.namespace_name = tmpl.namespace_name;
  v.task_name = tmpl.name;
  v.version = tmpl.version;
  v.cron = CronExpression::parse(request.cron).text();
  v.time_zone = request.time_zone;
  v.context = request.context;
  v.overlap = request.overlap;
  v.catch_up = request.catch_up;
  v.paused = request.paused;
  v.next_tick = first_tick(v.cron, v.time_zone, now);
  record.template_definition = template_definition(tmpl);
  return store_->create_schedule(record, now);
}

ScheduleView Client::get_schedule(const std::string& name) {
  auto found = store_->find_schedule(name);
  if (!found) throw NotFoundError("schedule", name);
  return std::move(found->view);
}

std::vector<ScheduleView> Client::list_schedules() { return store_->list_schedules(); }

ScheduleView Client::update_schedule(const std::string& name, const ScheduleUpdate& update) {
  auto found = store_->find_schedule(name);
  if (!found) throw NotFoundError("schedule", name);
  ScheduleView& v = found->view;
  const bool was_paused = v.paused;
  if (update.cron) v.cron = CronExpression::parse(*update.cron).text();
  if (update.time_zone) v.time_zone = *update.time_zone;
  if (update.context) {
    check_context(*update.context, options_.limits);
    v.context = *update.context;
  }
  if (update.overlap) v.overlap = *update.overlap;
  if (update.catch_up) v.catch_up = *update.catch_up;
  if (update.paused) v.paused = *update.paused;
  const TimePoint now = options_.clock->now();
  // A new expression or zone starts from now; so does a resume: ticks passed while paused are not made up.
  if (update.cron || update.time_zone || (was_paused && !v.paused)) v.next_tick = first_tick(v.cron, v.time_zone, now);
  return store_->update_schedule(*found, now);
}

ScheduleView Client::pause_schedule(const std::string& name) {
  return update_schedule(name, ScheduleUpdate{.paused = true});
}

ScheduleView Client::resume_schedule(const std::string& name) {
  return update_schedule(name, ScheduleUpdate{.paused = false});
}

void Client::delete_schedule(const std::string& name) {
  if (!store_->delete_schedule(name)) throw NotFoundError("schedule", name);
}

TaskView Client::trigger_schedule(const std::string& name) {
  CreateResult created = store_->trigger_schedule(name, options_.clock->now());
  publish(created.events);
  return std::move(created.task);
}

}  // namespace tasker
