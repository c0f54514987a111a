// Connections on one I/O thread (Asio), requests parsed by Beast within
// limits and deadlines, handlers on a WorkPool. A connection costs a socket
// and a few kilobytes, never a thread, so slow or idle clients cannot starve
// the others; every wait has a deadline over the whole operation
// (beast::tcp_stream::expires_after), not per read.
#include "http_listener.hpp"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/log.hpp"
#include "tasker/errors.hpp"
#include "tasker/task.hpp"
#include "work_pool.hpp"

namespace tasker::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

namespace {

std::chrono::milliseconds ms(long long n) { return std::chrono::milliseconds{n}; }

/// After refusing a request whose body was not read, the connection is not
/// closed at once: unread bytes would make the kernel reset it, and the client
/// could lose the answer. Up to this much is read and dropped first.
constexpr std::size_t kDrainBytes = std::size_t{256} * 1024;
constexpr auto kDrainTime = std::chrono::seconds{2};

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  /// On stop(): close at once unless a request is being handled or answered.
  virtual void stop_if_waiting() = 0;
};

}  // namespace

struct Listener::Impl {
  Impl(const ServerSettings& s, Dispatcher& d, std::string w) : settings(s), dispatcher(d), what(std::move(w)) {}

  void accept();
  void open_connection(tcp::socket socket);
  void closed(ConnectionBase* connection, const std::string& address);
  void answered();

  const ServerSettings settings;
  Dispatcher& dispatcher;
  std::string what;
  std::optional<asio::ssl::context> tls;  // outlives the connections (declared before io)

  std::mutex mutex;  // guards the counts below
  std::condition_variable all_answered;
  int connections{0};
  std::unordered_map<std::string, int> per_client;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> open;
  int handling{0};  ///< requests admitted and not yet answered
  std::atomic<bool> stopping{false};

  std::unique_ptr<WorkPool> pool;
  asio::io_context io{1};  // destroyed first: it owns the handlers that own the connections
  std::optional<tcp::acceptor> acceptor;
  asio::steady_timer accept_retry{io};
  std::thread thread;
};

namespace {

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Connection(Listener::Impl& server, tcp::socket socket, std::string address)
      : server_(server), stream_(make_stream(server, std::move(socket))), address_(std::move(address)) {}
  ~Connection() override { server_.closed(this, address_); }

  void begin() {
    waiting_ = true;
    if constexpr (kTls) {
      lowest().expires_after(ms(server_.settings.handshake_timeout_ms));
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (ec) return self->close();
        self->read_header();
      });
    } else {
      read_header();
    }
  }

  void stop_if_waiting() override {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->waiting_) self->close();
    });
  }

 private:
  static Stream make_stream(Listener::Impl& server, tcp::socket socket) {
    if constexpr (kTls)
      return Stream(std::move(socket), *server.tls);
    else
      return Stream(std::move(socket));
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerSettings& settings() const { return server_.settings; }

  /// Between requests: the idle deadline until a byte comes, then the header's.
  void next_request() {
    if (buffer_.size() > 0) return read_header();  // pipelined: the next request is here already
    waiting_ = true;
    lowest().expires_after(ms(settings().idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->buffer_.commit(n);
      if (ec) return self->close();
      self->read_header();
    });
  }

  void read_header() {
    waiting_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(settings().max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(settings().max_body_bytes));
    request_ = Request{};
    lowest().expires_after(ms(settings().header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  /// Whether `ec` is the parser's verdict on the bytes (rather than the network's).
  static bool is_parse_error(const error_code& ec) {
    return ec.category() == http::make_error_code(http::error::bad_method).category() &&
           ec != http::error::end_of_stream && ec != http::error::partial_message;
  }

  void on_header(error_code ec) {
    if (ec == http::error::header_limit)
      return refuse(431, "HEADERS_TOO_LARGE",
                    fmt::format("the request line and headers are larger than {} bytes (server.max_header_bytes)",
                                settings().max_header_bytes));
    if (ec == http::error::body_limit)
      return refuse(413, "PAYLOAD_TOO_LARGE",
                    fmt::format("the request declares a body of {} bytes, more than {} (server.max_body_bytes)",
                                parser_->content_length().value_or(0), settings().max_body_bytes));
    if (is_parse_error(ec))
      return refuse(400, "BAD_REQUEST", fmt::format("the request could not be read: {}", ec.message()));
    if (ec) return close();  // gone, reset, or too slow: beast::tcp_stream closed it at the deadline

    auto& message = parser_->get();
    request_.method = std::string(message.method_string());
    request_.target = std::string(message.target());
    request_.remote_address = address_;
    for (const auto& field : message)
      request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (request_.headers.size() > static_cast<std::size_t>(settings().max_header_count))
      return refuse(431, "HEADERS_TOO_LARGE",
                    fmt::format("the request has {} header fields, more than {} (server.max_header_count)",
                                request_.headers.size(), settings().max_header_count));
    if (auto problem = framing_problem(request_)) return refuse(400, "BAD_REQUEST", *problem);
    admission_ = server_.dispatcher.admit(request_);
    if (admission_.refusal) return write(std::move(*admission_.refusal), true);
    if (request_.has_header("Expect")) {
      if (!iequals(request_.get_header_value("Expect"), "100-continue"))
        return refuse(417, "EXPECTATION_FAILED",
                      fmt::format("the only expectation taken is 100-continue, not `{}`",
                                  clipped(request_.get_header_value("Expect"), 40)));
      if (!parser_->is_done()) return send_continue();
    }
    if (parser_->is_done()) return dispatch();
    read_body();
  }

  void send_continue() {
    auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    lowest().expires_after(ms(settings().write_timeout_ms));
    http::async_write(stream_, *interim, [self = this->shared_from_this(), interim](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->read_body();
    });
  }

  void read_body() {
    lowest().expires_after(ms(settings().body_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      if (ec == http::error::body_limit)
        return self->refuse(413, "PAYLOAD_TOO_LARGE",
                            fmt::format("the request body is larger than {} bytes (server.max_body_bytes)",
                                        self->settings().max_body_bytes));
      if (is_parse_error(ec))
        return self->refuse(400, "BAD_REQUEST", fmt::format("the request body could not be read: {}", ec.message()));
      if (ec) return self->close();
      self->request_.body = std::move(self->parser_->get().body());
      self->dispatch();
    });
  }

  void dispatch() {
    waiting_ = false;
    keep_alive_ = parser_->get().keep_alive();
    {
      std::lock_guard lock(server_.mutex);
      ++server_.handling;
    }
    counted_ = true;
    if (admission_.on_io_thread) return write(server_.dispatcher.handle(request_, admission_), false);
    auto self = this->shared_from_this();
    const bool queued = server_.pool->try_post([self] {
      Response answer = self->server_.dispatcher.handle(self->request_, self->admission_);
      asio::post(self->stream_.get_executor(),
                 [self, answer = std::move(answer)]() mutable { self->write(std::move(answer), false); });
    });
    if (!queued)
      write(server_.dispatcher.error(
                request_, 503, "SERVICE_UNAVAILABLE",
                fmt::format("the server is handling as many requests as it can ({} at once, {} waiting: "
                            "server.threads, server.queue_limit); retry in a moment",
                            settings().threads, settings().queue_limit)),
            false);
  }

  /// An answer to a request whose body (if any) was not read: the connection closes after it.
  void refuse(int status, const char* code, const std::string& message) {
    waiting_ = false;
    write(server_.dispatcher.error(request_, status, code, message), true);
  }

  void write(Response answer, bool then_close) {
    waiting_ = false;
    close_after_ = then_close || !keep_alive_ || server_.stopping.load();
    auto& out = answer_;
    out = {};
    out.version(11);
    out.result(static_cast<unsigned>(answer.status));
    for (auto& [name, value] : answer.headers) out.insert(name, value);
    if (answer.get_header_value("x-request-id").empty())
      out.set("x-request-id", request_.request_id.empty() ? new_uuid() : request_.request_id);
    out.set("X-Content-Type-Options", "nosniff");
    out.body() = std::move(answer.body);
    out.keep_alive(!close_after_);
    out.prepare_payload();
    lowest().expires_after(ms(settings().write_timeout_ms));
    http::async_write(stream_, out, [self = this->shared_from_this(), then_close](error_code ec, std::size_t) {
      self->answer_ = {};
      if (self->counted_) {
        self->counted_ = false;
        self->server_.answered();
      }
      if (ec) return self->close();
      if (then_close) return self->drain();
      if (self->close_after_) return self->close();
      self->next_request();
    });
  }

  void drain() {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(kDrainTime);
    read_and_drop();
  }

  void read_and_drop() {
    lowest().async_read_some(asio::buffer(scratch_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainBytes) return self->close();
      self->read_and_drop();
    });
  }

  void close() {
    waiting_ = false;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Listener::Impl& server_;
  Stream stream_;
  std::string address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  Admission admission_;
  http::response<http::string_body> answer_;
  std::array<char, 8192> scratch_{};
  std::size_t drained_{0};
  bool waiting_{false};     ///< reading a request (or between two): stop() closes it
  bool keep_alive_{false};  ///< what the client asked for
  bool close_after_{false};
  bool counted_{false};  ///< in server_.handling
};

}  // namespace

void Listener::Impl::accept() {
  acceptor->async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {  // out of descriptors, most likely: wait rather than spin
      accept_retry.expires_after(std::chrono::milliseconds{100});
      accept_retry.async_wait([this](error_code e) {
        if (!e) accept();
      });
      return;
    }
    open_connection(std::move(socket));
    accept();
  });
}

void Listener::Impl::open_connection(tcp::socket socket) {
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // small JSON answers: no Nagle, no delayed-ACK stalls
  const auto peer = socket.remote_endpoint(ec);
  if (ec) return;
  std::string address = peer.address().to_string();
  const char* refused = nullptr;
  {
    std::lock_guard lock(mutex);
    if (connections >= settings.max_connections)
      refused = "connections";
    else if (per_client[address] >= settings.max_connections_per_client)
      refused = "per_client";
    else {
      ++connections;
      ++per_client[address];
    }
  }
  if (refused) {
    dispatcher.connection_refused(refused);
    socket.close(ec);
    return;
  }
  std::shared_ptr<ConnectionBase> connection;
  if (tls) {
    auto c = std::make_shared<Connection<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(socket), address);
    connection = c;
    c->begin();
  } else {
    auto c = std::make_shared<Connection<beast::tcp_stream>>(*this, std::move(socket), address);
    connection = c;
    c->begin();
  }
  std::lock_guard lock(mutex);
  open.emplace(connection.get(), connection);
}

void Listener::Impl::closed(ConnectionBase* connection, const std::string& address) {
  std::lock_guard lock(mutex);
  --connections;
  if (--per_client[address] <= 0) per_client.erase(address);
  open.erase(connection);
}

void Listener::Impl::answered() {
  std::lock_guard lock(mutex);
  if (--handling == 0) all_answered.notify_all();
}

Listener::Listener(const ServerSettings& settings, Dispatcher& dispatcher, std::string what)
    : impl_(std::make_unique<Impl>(settings, dispatcher, std::move(what))) {
  if (settings.tls_cert.empty()) return;
  auto& tls = impl_->tls.emplace(asio::ssl::context::tls_server);
  tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  error_code ec;
  tls.use_certificate_chain_file(settings.tls_cert, ec);
  if (!ec) tls.use_private_key_file(settings.tls_key, asio::ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(tls.native_handle()) != 1)
    throw ConfigurationError("server.tls.cert", settings.tls_cert,
                             fmt::format("cannot load the TLS certificate with key {}: check both are readable PEM "
                                         "files and that the key belongs to the certificate",
                                         settings.tls_key));
}

Listener::~Listener() { stop(); }

int Listener::start(const std::string& host, int port) {
  Impl& s = *impl_;
  error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (!ec) {
    s.acceptor.emplace(s.io);
    const tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
    s.acceptor->open(endpoint.protocol(), ec);
    if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor->bind(endpoint, ec);
    if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec)
    throw Error(fmt::format("{} cannot listen on {}:{}: {}; choose another with --listen HOST:PORT", s.what, host, port,
                            ec.message()));
  const int bound = s.acceptor->local_endpoint().port();
  s.pool = std::make_unique<WorkPool>(s.settings.threads, s.settings.queue_limit);
  s.accept();
  s.thread = std::thread([&s] {
    for (;;) {
      try {
        s.io.run();
        return;
      } catch (const std::exception& e) {  // a connection's bug must not end the server
        detail::log().error("{}: {}", s.what, clipped(e.what(), 1000));
      }
    }
  });
  return bound;
}

void Listener::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.stopping = true;
  asio::post(s.io, [&s] {
    error_code ignored;
    s.acceptor->close(ignored);
    s.accept_retry.cancel();
    std::vector<std::shared_ptr<ConnectionBase>> open;
    {
      std::lock_guard lock(s.mutex);
      for (auto& [raw, weak] : s.open)
        if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    for (auto& c : open) c->stop_if_waiting();
  });
  {
    std::unique_lock lock(s.mutex);
    s.all_answered.wait_for(lock, ms(s.settings.shutdown_grace_ms), [&s] { return s.handling == 0; });
  }
  s.io.stop();
  s.thread.join();
  s.pool->stop();  // waits for handlers still running past the grace; their answers are dropped
}

}  // namespace tasker::server
