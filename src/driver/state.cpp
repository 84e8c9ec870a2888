// Each write is one statement (atomic in SQLite); a crash between Docker's calls loses nothing
// that was acknowledged.
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
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
      throw SystemError(std::string("state: ") + sqlite3_errmsg(db));
  }
  ~Stmt() { sqlite3_finalize(s); }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  void run(sqlite3* db) {
    if (sqlite3_step(s) != SQLITE_DONE)
      throw SystemError(std::string("state: ") + sqlite3_errmsg(db));
  }
  bool row() { return sqlite3_step(s) == SQLITE_ROW; }
  std::string text(int i) {
    auto p = sqlite3_column_text(s, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  sqlite3_stmt* s = nullptr;
};

std::vector<std::string> json_list(const std::string& text) {
  return text.empty() ? std::vector<std::string>{}
                      : nlohmann::json::parse(text).get<std::vector<std::string>>();
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
                      nullptr) != SQLITE_OK)
    throw SystemError("state: cannot open " + path_ + ": " + (db_ ? sqlite3_errmsg(db_) : "?"));
  sqlite3_busy_timeout(db_, 5000);
  exec("PRAGMA journal_mode=DELETE");
  exec("PRAGMA synchronous=FULL");
  exec(
      "CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, options TEXT NOT NULL, "
      "pools4 TEXT NOT NULL, pools6 TEXT NOT NULL, backend TEXT NOT NULL)");
  exec(
      "CREATE TABLE IF NOT EXISTS endpoints (endpoint_id TEXT PRIMARY KEY, network_id TEXT NOT "
      "NULL, "
      "address4 TEXT NOT NULL, address6 TEXT NOT NULL, ifname TEXT NOT NULL UNIQUE, "
      "backend TEXT NOT NULL, sandbox TEXT NOT NULL DEFAULT '')");
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

void StateStore::put_network(const NetworkRecord& n) {
  std::lock_guard lock(mutex_);
  Stmt st(
      db_,
      "INSERT OR REPLACE INTO networks (id, options, pools4, pools6, backend) VALUES (?,?,?,?,?)");
  st.bind(1, n.id)
      .bind(2, nlohmann::json(n.options).dump())
      .bind(3, nlohmann::json(n.pools4).dump());
  st.bind(4, nlohmann::json(n.pools6).dump()).bind(5, n.backend).run(db_);
}

void StateStore::delete_network(const std::string& id) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "DELETE FROM networks WHERE id = ?").bind(1, id).run(db_);
}

std::vector<NetworkRecord> StateStore::networks() {
  std::lock_guard lock(mutex_);
  Stmt st(db_, "SELECT id, options, pools4, pools6, backend FROM networks");
  std::vector<NetworkRecord> out;
  while (st.row()) {
    NetworkRecord n;
    n.id = st.text(0);
    n.options = nlohmann::json::parse(st.text(1)).get<std::map<std::string, std::string>>();
    n.pools4 = json_list(st.text(2));
    n.pools6 = json_list(st.text(3));
    n.backend = st.text(4);
    out.push_back(std::move(n));
  }
  return out;
}

void StateStore::put_endpoint(const EndpointRecord& e) {
  std::lock_guard lock(mutex_);
  Stmt st(db_,
          "INSERT OR REPLACE INTO endpoints (endpoint_id, network_id, address4, address6, "
          "ifname, backend, sandbox) VALUES (?,?,?,?,?,?,?)");
  st.bind(1, e.endpoint_id).bind(2, e.network_id).bind(3, e.address4).bind(4, e.address6);
  st.bind(5, e.ifname).bind(6, e.backend).bind(7, e.sandbox).run(db_);
}

void StateStore::delete_endpoint(const std::string& endpoint_id) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "DELETE FROM endpoints WHERE endpoint_id = ?").bind(1, endpoint_id).run(db_);
}

void StateStore::set_sandbox(const std::string& endpoint_id, const std::string& sandbox) {
  std::lock_guard lock(mutex_);
  Stmt(db_, "UPDATE endpoints SET sandbox = ? WHERE endpoint_id = ?")
      .bind(1, sandbox)
      .bind(2, endpoint_id)
      .run(db_);
}

std::vector<EndpointRecord> StateStore::endpoints() {
  std::lock_guard lock(mutex_);
  Stmt st(db_,
          "SELECT endpoint_id, network_id, address4, address6, ifname, backend, sandbox FROM "
          "endpoints");
  std::vector<EndpointRecord> out;
  while (st.row())
    out.push_back(
        {st.text(1), st.text(0), st.text(2), st.text(3), st.text(4), st.text(5), st.text(6)});
  return out;
}

}  // namespace wgnet::driver
