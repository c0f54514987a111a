#include "support.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "tasker/events.hpp"
#include "tasker/task.hpp"
#include "tasker/template_set.hpp"

namespace api_test {

std::filesystem::path source_dir() { return TASKER_SOURCE_DIR; }

tasker::ServerSettings test_settings() {
  tasker::ServerSettings s;
  s.listen = "127.0.0.1:0";
  s.header_timeout_ms = 2000;
  s.body_timeout_ms = 2000;
  s.write_timeout_ms = 2000;
  s.max_body_bytes = 64LL * 1024;
  return s;
}

std::string sha256_hex(const std::string& text) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(text.data(), text.size(), d, &n, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned char c : d) out += fmt::format("{:02x}", c);
  return out;
}

json linear_request(int even_number) {
  return {{"namespace", "linear_workflow"},
          {"name", "mathematical_sequence"},
          {"version", "1.0.0"},
          {"context", {{"even_number", even_number}}},
          {"initiator", "api test"},
          {"source_system", "tests/api"},
          {"reason", "checking the API"}};
}

tasker::TaskRequest linear_task(int even_number) {
  tasker::TaskRequest r;
  r.namespace_name = "linear_workflow";
  r.name = "mathematical_sequence";
  r.context = {{"even_number", even_number}};
  return r;
}

ServerFixture::ServerFixture(tasker::ServerSettings settings, std::string database_url,
                             std::filesystem::path templates_dir) {
  if (database_url.empty()) {
    file_ = std::filesystem::temp_directory_path() / fmt::format("tasker-api-{}.db", tasker::new_uuid());
    url_ = "sqlite://" + file_.string();
  } else {
    url_ = std::move(database_url);
  }
  store_ = tasker::open_store(url_);
  if (templates_dir.empty()) templates_dir = source_dir() / "templates";
  auto templates = std::make_shared<tasker::TemplateSet>(tasker::TemplateSet::load({templates_dir}));
  auto events = std::make_shared<tasker::EventBus>();
  client_ = std::make_shared<tasker::Client>(store_, templates,
                                             tasker::ClientOptions{&tasker::SystemClock::instance(), events});
  server_ = std::make_unique<tasker::ApiServer>(client_, std::move(settings), events);
  server_->start();
  Reply doc = call("GET", "/api-docs/openapi.json");
  REQUIRE(doc.status == 200);
  openapi_ = std::make_unique<OpenApi>(doc.body);
}

ServerFixture::~ServerFixture() {
  server_->stop();
  server_.reset();
  client_.reset();
  store_.reset();
  if (!file_.empty())
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file_.string() + suffix);
}

Reply ServerFixture::call(const std::string& method, const std::string& path, const std::string& body,
                          const std::string& token) {
  httplib::Client http(url());
  http.enable_server_certificate_verification(false);  // the TLS test's certificate is self-signed
  http.set_read_timeout(std::chrono::seconds{30});
  if (!token.empty()) http.set_bearer_token_auth(token);
  httplib::Result r = method == "GET"      ? http.Get(path)
                      : method == "DELETE" ? http.Delete(path)
                      : method == "POST"   ? http.Post(path, body, "application/json")
                                           : http.Patch(path, body, "application/json");
  REQUIRE_MESSAGE(r, fmt::format("{} {}: {}", method, path, httplib::to_string(r.error())));
  Reply out{r->status, nullptr, r->headers};
  if (r->get_header_value("Content-Type").find("json") != std::string::npos)
    out.body = json::parse(r->body);
  else
    out.body = r->body;
  return out;
}

Reply ServerFixture::raw(const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    auto header_end = answer.find("\r\n\r\n");
    auto length_at = answer.find("Content-Length: ");
    if (header_end != std::string::npos && length_at != std::string::npos &&
        answer.size() >= header_end + 4 + std::stoul(answer.substr(length_at + 16)))
      break;
  }
  ::close(fd);
  Reply out;
  if (answer.rfind("HTTP/1.1 ", 0) != 0) return out;  // status 0: the server closed without answering
  out.status = std::stoi(answer.substr(9, 3));
  auto header_end = answer.find("\r\n\r\n");
  std::string body = header_end == std::string::npos ? "" : answer.substr(header_end + 4);
  out.body = body.empty() ? json(nullptr) : json::parse(body, nullptr, false);
  return out;
}

RawSocket::RawSocket(int port, const char* source) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
  REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawSocket::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string RawSocket::read(const std::function<bool(const std::string&)>& enough, std::chrono::milliseconds limit) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buffer[16384];
  while (!closed_ && !enough(text) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed_ = true;
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

bool RawSocket::closed_by_server(std::chrono::milliseconds limit) {
  read([](const std::string&) { return false; }, limit);
  return closed_;
}

bool RawSocket::closed_now() {
  read([](const std::string&) { return false; }, std::chrono::milliseconds{0});
  pollfd p{fd_, POLLIN, 0};
  if (!closed_ && ::poll(&p, 1, 0) > 0) {
    char byte;
    closed_ = ::recv(fd_, &byte, 1, MSG_PEEK) <= 0;
  }
  return closed_;
}

std::vector<RawAnswer> parse_answers(const std::string& text) {
  std::vector<RawAnswer> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto header_end = text.find("\r\n\r\n", at);
    if (header_end == std::string::npos || text.compare(at, 9, "HTTP/1.1 ") != 0) break;
    RawAnswer a;
    a.status = std::stoi(text.substr(at + 9, 3));
    std::size_t line = text.find("\r\n", at) + 2;
    while (line < header_end) {
      const auto next = text.find("\r\n", line);
      const std::string field = text.substr(line, next - line);
      const auto colon = field.find(':');
      std::string name = field.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      a.headers[name] = field.substr(field.find_first_not_of(' ', colon + 1));
      line = next + 2;
    }
    const std::size_t length = a.headers.count("content-length") ? std::stoul(a.headers["content-length"]) : 0;
    if (header_end + 4 + length > text.size()) break;
    a.body = text.substr(header_end + 4, length);
    at = header_end + 4 + length;
    out.push_back(std::move(a));
  }
  return out;
}

bool has_answers(const std::string& text, std::size_t count) { return parse_answers(text).size() >= count; }

double metric(const std::string& scrape, const std::string& series) {
  for (std::size_t at = scrape.find(series); at != std::string::npos; at = scrape.find(series, at + 1))
    if ((at == 0 || scrape[at - 1] == '\n') && scrape[at + series.size()] == ' ')
      return std::stod(scrape.substr(at + series.size() + 1));
  return 0;
}

void ServerFixture::conforms(const Reply& reply, const std::string& path_template, const std::string& method) {
  auto problems = openapi_->check(path_template, method, reply.status, reply.body);
  INFO(reply.body.dump(2).substr(0, 2000));
  for (const auto& p : problems) CHECK_MESSAGE(false, p);
}

void ServerFixture::is_error(const Reply& reply, int status, const std::string& code) {
  INFO(reply.body.dump());
  CHECK(reply.status == status);
  REQUIRE(reply.body.is_object());
  REQUIRE(reply.body.contains("error"));
  CHECK(reply.body["error"].value("code", "") == code);
  CHECK_FALSE(reply.body["error"].value("message", "").empty());
  // No internal detail: no exception names or SQL in what the client sees.
  const std::string text = reply.body.dump();
  for (const char* leak : {"std::", "SQLite", "sqlite3", "pqxx", "SELECT ", "INSERT "})
    CHECK(text.find(leak) == std::string::npos);
  auto problems = openapi_->check("/v1/tasks", "post", 400, reply.body);  // the one Error schema
  for (const auto& p : problems) CHECK_MESSAGE(false, p);
}

void ServerFixture::nothing_written() {
  auto page = client_->list_tasks();
  CHECK_MESSAGE(page.tasks.empty(), "the request wrote a task");
}

}  // namespace api_test
