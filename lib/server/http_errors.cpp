// Answers' bodies: JSON, tasker-core's error body, the mapping of tasker's
// exceptions to statuses, request JSON within its limits, and gzip.
#include <fmt/format.h>
#include <zlib.h>

#include <arpa/inet.h>

#include <cstdlib>

#include "base/log.hpp"
#include "http_core.hpp"
#include "tasker/errors.hpp"

namespace tasker::server {

namespace {
/// What the log quotes of an exception's text: a request can make it huge.
constexpr std::size_t kLoggedDetail = 2000;
/// Smaller answers go uncompressed: gzip's header and a round trip cost more than they save.
constexpr std::size_t kCompressFrom = 1024;
}  // namespace

json ApiError::body() const {
  json error = extra_;
  error["code"] = code_;
  error["message"] = message_;
  return {{"error", error}};
}

void write_json(Response& res, int status, const json& body) {
  res.status = status;
  // Strings from the database were checked as UTF-8 when stored; `replace`
  // keeps a response from ever failing half-written.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void write_error(Response& res, const ApiError& error) {
  write_json(res, error.status(), error.body());
  if (error.status() == 503) res.set_header("Retry-After", "1");
  if (error.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
}

ApiError to_api_error(const std::exception_ptr& failure, const Request& req) {
  const std::string& request_id = req.request_id;
  auto internal = [&](const char* what, const std::string& detail) {
    detail::log().error("{} {} (request {}): {}: {}", req.method, clipped(req.path, 200), request_id, what,
                        clipped(detail, kLoggedDetail));
  };
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    return e;
  } catch (const DuplicateTaskError& e) {
    return ApiError(409, "CONFLICT", e.what(), {{"existing_task_uuid", e.existing_task_uuid()}});
  } catch (const ConflictError& e) {
    return ApiError(409, "CONFLICT", e.what());
  } catch (const NotFoundError& e) {
    return ApiError(404, "NOT_FOUND", e.what(), {{"resource", e.kind()}, {"id", e.id()}});
  } catch (const InvalidRequestError& e) {
    return ApiError(400, "BAD_REQUEST", e.what());
  } catch (const StorageInDoubtError& e) {
    internal("commit in doubt", e.what());
    return ApiError(503, "SERVICE_UNAVAILABLE",
                    "the database connection broke while committing: the change may or may not have been made; "
                    "read the resource back before repeating (submits with an idempotency_key repeat safely)");
  } catch (const TransientStorageError& e) {
    internal("database unavailable", e.what());
    return ApiError(
        503, "SERVICE_UNAVAILABLE",
        fmt::format("the database is unavailable; nothing was changed; retry later (request {})", request_id));
  } catch (const StorageError& e) {
    internal("database error", e.what());
    return ApiError(
        500, "DATABASE_ERROR",
        fmt::format("the database refused the operation; the server log has the details (request {})", request_id));
  } catch (const std::exception& e) {
    internal("internal error", e.what());
  } catch (...) {
    internal("internal error", "a non-standard exception");
  }
  return ApiError(500, "INTERNAL_ERROR",
                  fmt::format("internal error; the server log has the details (request {})", request_id));
}

json parse_body(const Request& req, int max_depth) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ApiError(400, "BAD_REQUEST",
                   "the request body is empty; send a JSON object (Content-Type: application/json)");
  struct TooDeep {};
  std::string field;  // the last key read: where a number out of range was
  try {
    return json::parse(req.body, [max_depth, &field](int depth, json::parse_event_t event, json& value) {
      if (depth > max_depth) throw TooDeep{};
      if (event == json::parse_event_t::key) field = value.get<std::string>();
      return true;
    });
  } catch (const TooDeep&) {
    throw ApiError(400, "JSON_ERROR",
                   fmt::format("the request body nests deeper than {} levels (server.max_json_depth)", max_depth));
  } catch (const json::out_of_range&) {
    throw ApiError(400, "BAD_REQUEST",
                   fmt::format("a number in {} is out of range: JSON numbers here must fit a double (about ±1.8e308)",
                               field.empty() ? std::string("the body") : fmt::format("`{}`", clipped(field, 80))),
                   {{"field", clipped(field, 80)}});
  } catch (const json::exception& e) {
    throw ApiError(400, "JSON_ERROR", fmt::format("the request body is not valid JSON: {}", clipped(e.what(), 300)));
  }
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

namespace {

bool accepts_gzip(const std::string& accept_encoding) {
  for (std::size_t start = 0; start < accept_encoding.size();) {
    auto end = accept_encoding.find(',', start);
    if (end == std::string::npos) end = accept_encoding.size();
    std::string_view token(accept_encoding.data() + start, end - start);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    const auto semicolon = token.find(';');
    std::string_view name = token.substr(0, semicolon);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (iequals(name, "gzip")) {
      const auto q = token.find("q=", semicolon == std::string_view::npos ? token.size() : semicolon);
      return q == std::string_view::npos || std::strtod(std::string(token.substr(q + 2)).c_str(), nullptr) > 0;
    }
    start = end + 1;
  }
  return false;
}

bool compressible(const std::string& type) {
  return type.rfind("text/", 0) == 0 || type.rfind("application/json", 0) == 0 || type.rfind("image/svg+xml", 0) == 0;
}

}  // namespace

void compress_if_accepted(const Request& req, Response& res) {
  if (res.body.size() < kCompressFrom || !compressible(res.get_header_value("Content-Type")) ||
      !accepts_gzip(req.get_header_value("Accept-Encoding")))
    return;
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper rather than zlib's.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return;
  std::string out(deflateBound(&z, static_cast<uLong>(res.body.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(res.body.data());
  z.avail_in = static_cast<uInt>(res.body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int done = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (done != Z_STREAM_END) return;
  res.body = std::move(out);
  res.set_header("Content-Encoding", "gzip");
  res.set_header("Vary", "Accept-Encoding");
}

}  // namespace tasker::server
