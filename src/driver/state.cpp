// Each write is one statement (atomic in SQLite); a crash between Docker's calls loses nothing
// that was acknowledged. Every step is checked: a read that fails throws rather than end early.
#include "driver/state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace wgnet::driver {

namespace {

struct Stmt {
  Stmt(sqlite3* db, const char* sql) : db(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw SystemError(std::string("state: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    if (sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) !=
        SQLITE_OK)
      throw SystemError(std::string("state: ") + sqlite3_errmsg(db));
    return *this;
  }
  void run() {
    if (sqlite3_step(s) != SQLITE_DONE)
      throw SystemError(std::string("state: ") + sqlite3_errmsg(db));
  }
  // True on a row, false at the end; anything else (I/O error, corruption, busy) throws.
  bool row() {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SystemError(std::string("state: reading ") + sqlite3_sql(s) + ": " + sqlite3_errmsg(db));
  }
  // The text as stored, by its length: an embedded NUL does not cut it short.
  std::string text(int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_blob(s, i));
    int n = sqlite3_column_bytes(s, i);
    return p && n > 0 ? std::string(p, static_cast<size_t>(n)) : std::string();
  }
  sqlite3* db;
  sqlite3_stmt* s = nullptr;
};

std::vector<std::string> json_list(const std::string& text) {
  return text.empty() ? std::vector<std::string>{}
                      : nlohmann::json::parse(text).get<std::vector<std::string>>();
}

// A row that cannot be used, described by its key alone.
void skip(std::vector<std::string>* skipped, const std::string& what, const std::string& id,
          const std::string& why) {
  if (skipped) skipped->push_back(what + " '" + id + "': " + why);
}

}  // namespace

StateStore::StateStore(const std::string& dir) : path_(dir + "/state.db") {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw SystemError("state: cannot create " + dir + ": " + std::strerror(errno));
  // Create the file 0600 ourselves before SQLite opens it with the umask's mode.
  int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw SystemError("state: cannot open " + path_ + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  ::close(fd);
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "?";
    sqlite3_close(db_);
    throw SystemError("state: cannot open " + path_ + ": " + why);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=DELETE");
    exec("PRAGMA synchronous=FULL");
    exec(
        "CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, options TEXT NOT NULL, "
        "pools4 TEXT NOT NULL, pools6 TEXT NOT NULL, backend TEXT NOT NULL, internal INTEGER NOT "
        "NULL DEFAULT 0)");
    exec(
        "CREATE TABLE IF NOT EXISTS endpoints (endpoint_id TEXT PRIMARY KEY, network_id TEXT NOT "
        "NULL, address4 TEXT NOT NULL, address6 TEXT NOT NULL, ifname TEXT NOT NULL UNIQUE, "
        "backend TEXT NOT NULL, sandbox TEXT NOT NULL DEFAULT '', handle TEXT NOT NULL DEFAULT "
        "'', ports TEXT NOT NULL DEFAULT '')");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

StateStore::~StateStore() { sqlite3_close(db_); }

void StateStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    throw SystemError("state: " + m);
  }
}

void StateStore::migrate() {
  // Databases written before devices had handles, and before endpoints published ports.
  auto has_column = [this](const char* table, const char* name) {
    Stmt st(db_, "SELECT name FROM pragma_table_info(?) WHERE name = ?");
    st.bind(1, table).bind(2, name);
    return st.row();
  };
  if (!has_column("endpoints", "handle"))
    exec("ALTER TABLE endpoints ADD COLUMN handle TEXT NOT NULL DEFAULT ''");
  if (!has_column("endpoints", "ports"))
    exec("ALTER TABLE endpoints ADD COLUMN ports TEXT NOT NULL DEFAULT ''");
  if (!has_column("networks", "internal"))
    exec("ALTER TABLE networks ADD COLUMN internal INTEGER NOT NULL DEFAULT 0");
}

void StateStore::put_network(const NetworkRecord& n) {
  std::lock_guard lock(mutex_);
  Stmt st(db_,
          "INSERT OR REPLACE INTO networks (id, options, pools4, pools6, backend, internal) VALUES "
          "(?,?,?,?,?,?)");
  st.bind(1, n.id)
      .bind(2, nlohmann::json(n.options).dump())
      .bind(3, nlohmann::json(n.pools4).dump());
  st.bind(4, nlohmann::json(n.pools6).dump()).bind(5, n.backend).bind(6, n.internal ? "1" : "0");
  st.run();
}

void StateStore::delete_network(const std::string& id) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "DELETE FROM networks WHERE id = ?").bind(1, id).run();
}

std::vector<NetworkRecord> StateStore::networks(std::vector<std::string>* skipped) {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT id, options, pools4, pools6, backend, internal FROM networks");
  std::vector<NetworkRecord> out;
  while (st.row()) {
    NetworkRecord n;
    n.id = st.text(0);
    try {
      n.options = nlohmann::json::parse(st.text(1)).get<std::map<std::string, std::string>>();
      n.pools4 = json_list(st.text(2));
      n.pools6 = json_list(st.text(3));
    } catch (const nlohmann::json::exception&) {
      // The parser's message may quote the options, and they may hold a seed.
      skip(skipped, "network", n.id, "its options or pools are not the JSON wgnet writes");
      continue;
    }
    n.backend = st.text(4);
    n.internal = st.text(5) == "1";
    if (n.id.empty()) {
      skip(skipped, "network", n.id, "it has no ID");
      continue;
    }
    out.push_back(std::move(n));
  }
  return out;
}

void StateStore::put_endpoint(const EndpointRecord& e) {
  std::lock_guard lock(mutex_);
  Stmt st(db_,
          "INSERT OR REPLACE INTO endpoints (endpoint_id, network_id, address4, address6, "
          "ifname, backend, sandbox, handle, ports) VALUES (?,?,?,?,?,?,?,?,?)");
  st.bind(1, e.endpoint_id).bind(2, e.network_id).bind(3, e.address4).bind(4, e.address6);
  st.bind(5, e.ifname).bind(6, e.backend).bind(7, e.sandbox).bind(8, e.handle);
  st.bind(9, e.ports).run();
}

void StateStore::delete_endpoint(const std::string& endpoint_id) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "DELETE FROM endpoints WHERE endpoint_id = ?").bind(1, endpoint_id).run();
}

void StateStore::set_sandbox(const std::string& endpoint_id, const std::string& sandbox) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "UPDATE endpoints SET sandbox = ? WHERE endpoint_id = ?")
      .bind(1, sandbox)
      .bind(2, endpoint_id)
      .run();
}

void StateStore::set_handle(const std::string& endpoint_id, const std::string& handle) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "UPDATE endpoints SET handle = ? WHERE endpoint_id = ?")
      .bind(1, handle)
      .bind(2, endpoint_id)
      .run();
}

void StateStore::set_ports(const std::string& endpoint_id, const std::string& ports) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "UPDATE endpoints SET ports = ? WHERE endpoint_id = ?")
      .bind(1, ports)
      .bind(2, endpoint_id)
      .run();
}

std::vector<EndpointRecord> StateStore::endpoints(std::vector<std::string>* skipped) {
  std::lock_guard lock(mutex_);
  Stmt st(db_,
          "SELECT endpoint_id, network_id, address4, address6, ifname, backend, sandbox, handle, "
          "ports FROM endpoints");
  std::vector<EndpointRecord> out;
  while (st.row()) {
    EndpointRecord e{st.text(1), st.text(0), st.text(2), st.text(3), st.text(4),
                     st.text(5), st.text(6), st.text(7), st.text(8)};
    if (e.endpoint_id.empty() || e.network_id.empty() || e.ifname.empty()) {
      skip(skipped, "endpoint", e.endpoint_id, "its endpoint ID, network ID or device is empty");
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace wgnet::driver
