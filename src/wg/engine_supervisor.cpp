// One thread watches the engine: its pidfd (death), its control socket (events) and an eventfd
// (stop, or a call that found the engine broken). Calls run on the callers' threads under mu_,
// which the replacement takes too while the `started` hook hands the devices over.
#include "wg/engine_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <variant>

#include "util/log.h"
#include "util/restart_backoff.h"
#include "util/unix_address.h"

namespace wgnet::wg {

namespace control = engine::control;

namespace {

// The program must be what root installed: a regular file owned by root, writable by nobody else
// (wgnetd runs it as root before it drops everything), as sshd checks its privsep path.
Fd open_program(const std::string& path) {
  Fd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) throw SystemError("engine program " + path + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw SystemError("engine program " + path + ": fstat failed");
  if (!S_ISREG(st.st_mode)) throw SystemError("engine program " + path + " is not a regular file");
  if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
    throw SystemError("engine program " + path +
                      " must belong to root and be writable by nobody else");
  return fd;
}

// Hello, and its answer checked: this protocol, and process `pid` (the one wgnetd knows the engine
// to be). Throws EngineBroken saying what did not fit.
control::HelloReply hello(EngineClient& client, pid_t pid) {
  control::Hello hello;
  hello.build = WGNET_VERSION;
  const control::FromEngine m = client.call(hello);
  const auto* reply = std::get_if<control::HelloReply>(&m);
  if (!reply) throw EngineBroken("answered Hello with another message");
  if (reply->status.error != 0) throw EngineBroken("refused Hello: " + reply->status.message);
  if (reply->protocol != control::kProtocol)
    throw EngineBroken("it speaks protocol " + std::to_string(reply->protocol) + ", not " +
                       std::to_string(control::kProtocol));
  if (reply->pid != static_cast<uint32_t>(pid))
    throw EngineBroken("its Hello names pid " + std::to_string(reply->pid) + ", not " +
                       std::to_string(pid));
  return *reply;
}

}  // namespace

EngineSupervisor::EngineSupervisor(EngineProcessOptions options, Hooks hooks)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      program_(open_program(options_.program)) {
  if (options_.uid == 0 || options_.gid == 0)
    throw InputError("the engine process must not run as root (uid and gid other than 0)");
  wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_) throw SystemError("eventfd: " + errno_text(errno));
  if (!options_.listen_path.empty()) running_ = take_over();
  took_over_ = running_ != nullptr;
  if (!running_) running_ = std::make_unique<Running>(spawn());
  pid_ = running_->process.id().pid;
}

std::unique_ptr<EngineSupervisor::Running> EngineSupervisor::take_over() {
  const sockaddr_un addr = unix_address(options_.listen_path);
  Fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) throw SystemError("socket: " + errno_text(errno));
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != ENOENT && errno != ECONNREFUSED)
      log::warn("engine: cannot connect to " + options_.listen_path + ": " + errno_text(errno));
    return nullptr;  // no engine left by an earlier wgnetd
  }
  // Which process it is comes from engine.pid, which only wgnetd writes (SO_PEERCRED would name
  // the wgnetd that made the listening socket; the pid in its Hello is the engine's own word): a
  // live `wgnet-engine --supervised` with this wgnetd's --root and --uid, which its Hello must
  // name too. One that cannot be taken over is stopped, so that its devices are free to be
  // re-attached.
  std::optional<process::Process> process = recorded_engine();
  auto client = std::make_unique<EngineClient>(std::move(s));
  std::string why;
  if (!process) {
    why = "no live engine process of this wgnetd is recorded in " + options_.pid_file;
  } else {
    try {
      const control::HelloReply reply = hello(*client, process->id().pid);
      log::info("took over the engine process (pid " + std::to_string(reply.pid) + ", build " +
                reply.build + ", " + std::to_string(reply.devices) + " device(s))");
      return std::make_unique<Running>(
          Running{std::move(*process), std::move(client), std::chrono::steady_clock::now()});
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  client.reset();
  if (process) (void)process->kill_and_reap();
  log::warn("engine: the engine process left by an earlier wgnetd on " + options_.listen_path +
            " cannot be taken over (" + why + ")" +
            (process ? "; stopped it (pid " + std::to_string(process->id().pid) + ")"
                     : "; it ends once its devices are rebuilt") +
            "; starting a new one");
  return nullptr;
}

std::optional<process::Process> EngineSupervisor::recorded_engine() const {
  if (options_.pid_file.empty()) return std::nullopt;
  std::string text(64, '\0');
  Fd f(::open(options_.pid_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  const ssize_t n = f ? ::read(f.get(), text.data(), text.size()) : -1;
  if (n <= 0) return std::nullopt;
  text.resize(static_cast<size_t>(n));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const auto id = process::ProcessId::parse(text);
  if (!id) return std::nullopt;
  const std::string root_arg = "--root=" + options_.root;
  const std::string uid_arg = "--uid=" + std::to_string(options_.uid);
  return process::Process::adopt(*id, [&](const std::vector<std::string>& argv) {
    const auto has = [&](const std::string& a) {
      return std::find(argv.begin(), argv.end(), a) != argv.end();
    };
    return has("--supervised") && has(root_arg) && has(uid_arg);
  });
}

Fd EngineSupervisor::listen() {
  const sockaddr_un addr = unix_address(options_.listen_path);
  Fd s(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) throw SystemError("socket: " + errno_text(errno));
  (void)::unlink(options_.listen_path.c_str());  // an engine's that is gone
  const mode_t old = ::umask(077);               // 0600: only root may take the engine over
  const int rc = ::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::umask(old);
  if (rc != 0 || ::listen(s.get(), 4) != 0)
    throw SystemError("engine socket " + options_.listen_path + ": " +
                      errno_text(rc != 0 ? err : errno));
  return s;
}

void EngineSupervisor::write_pid_file(const process::ProcessId& id) const {
  if (options_.pid_file.empty()) return;
  const std::string tmp = options_.pid_file + ".tmp";
  Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  const std::string text = id.str() + "\n";
  if (!f || ::write(f.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::rename(tmp.c_str(), options_.pid_file.c_str()) != 0)
    log::warn("engine: cannot write " + options_.pid_file + ": " + errno_text(errno));
}

EngineSupervisor::~EngineSupervisor() { stop(); }

void EngineSupervisor::replace_unstarted(const std::string& why) {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) throw std::logic_error("replace_unstarted after start");
  bury(*running_, why, "unusable");
  running_ = std::make_unique<Running>(spawn());
  pid_ = running_->process.id().pid;
}

void EngineSupervisor::start() {
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { watch(); });
}

void EngineSupervisor::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  ready_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_ptr<Running> r;
  {
    std::lock_guard lock(mu_);
    r = std::move(running_);
    pid_ = 0;
  }
  if (!r) return;
  r->client.reset();  // end of file
  if (!options_.listen_path.empty()) {
    // It carries its devices on until the next wgnetd (or ends at once when it serves none).
    log::info("engine process (pid " + std::to_string(r->process.id().pid) +
              ") carries on without wgnetd; the next wgnetd takes it over");
    return;
  }
  if (!r->process.terminate(std::chrono::milliseconds(2000)))
    log::warn("engine process (pid " + std::to_string(r->process.id().pid) + ") did not exit");
}

void EngineSupervisor::wake() {
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

EngineSupervisor::Running EngineSupervisor::spawn() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throw SystemError("socketpair: " + errno_text(errno));
  Fd ours(sv[0]), theirs(sv[1]);
  std::vector<std::string> argv = {options_.program,
                                   "--supervised",
                                   "--control-fd=3",
                                   "--uid=" + std::to_string(options_.uid),
                                   "--gid=" + std::to_string(options_.gid),
                                   "--root=" + options_.root,
                                   "--log-level=" + options_.log_level};
  if (options_.workers) argv.push_back("--workers=" + std::to_string(options_.workers));
  Fd listener;
  if (!options_.listen_path.empty()) {
    listener = listen();
    argv.push_back("--listen-fd=4");
  }
  std::vector<std::string> env = {"LANG=C"};
  env.insert(env.end(), options_.env.begin(), options_.env.end());
  process::SpawnOptions so;
  so.pass_fds = {theirs.get()};
  if (listener) so.pass_fds.push_back(listener.get());
  so.inherit_stderr = true;
  so.exec_fd = program_.get();
  so.replace_env = true;
  Running r{process::Process::spawn(argv, env, "", so),
            std::make_unique<EngineClient>(std::move(ours)), std::chrono::steady_clock::now()};
  theirs.reset();    // only the engine holds its end: its death is our end of file
  listener.reset();  // the engine's alone: the path leads to it while it lives
  const pid_t pid = r.process.id().pid;
  try {
    (void)hello(*r.client, pid);
  } catch (const std::exception& e) {
    const int status = r.process.kill_and_reap();
    throw SystemError("the engine process (pid " + std::to_string(pid) +
                      ") did not start: " + e.what() + "; " +
                      (status == -1 ? std::string("gone") : process::describe_wait_status(status)) +
                      " (its own message is in wgnetd's log)");
  }
  write_pid_file(r.process.id());
  log::info("engine process started (pid " + std::to_string(pid) + ", uid " +
            std::to_string(options_.uid) + ", sandboxed)");
  return r;
}

std::string_view restart_reason(int wait_status, bool ended_by_itself) {
  // wgnetd only ever sends SIGKILL: any other status is the engine's own end, however late.
  const bool our_kill = WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL;
  if (!ended_by_itself && (wait_status == -1 || our_kill)) return "broken";
  if (wait_status == -1) return "ended";
  if (WIFSIGNALED(wait_status)) return WTERMSIG(wait_status) == SIGSYS ? "seccomp" : "signal";
  return "exit";
}

void EngineSupervisor::bury(Running& r, const std::string& why, std::string_view reason) {
  const pid_t pid = r.process.id().pid;
  r.client.reset();
  // Before wgnetd's SIGKILL. (Its control socket's end of file can come just before it has ended:
  // a moment's wait tells a dying engine from a broken live one.)
  pollfd ended{r.process.pidfd(), POLLIN, 0};
  int polled;
  while ((polled = ::poll(&ended, 1, 100)) < 0 && errno == EINTR) {
  }
  const bool by_itself = polled == 1;
  const int status = r.process.kill_and_reap();  // a broken engine is presumed compromised
  if (options_.on_replaced)
    options_.on_replaced(reason.empty() ? restart_reason(status, by_itself) : reason);
  std::string how = status == -1 ? "gone" : process::describe_wait_status(status);
  if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
    how += ": a call outside its seccomp allow-list (the audit log names it)";
  log::error("engine process (pid " + std::to_string(pid) + ") " + how +
             (why.empty() ? "" : " (" + why + ")") + "; starting another");
}

void EngineSupervisor::watch() {
  RestartBackoff backoff({options_.backoff_min, options_.backoff_max, options_.stable});
  // Waits `d` unless stopped; false when stopping.
  const auto pause = [&](std::chrono::milliseconds d) {
    pollfd p{wake_.get(), POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(d.count()));
    return !stopping_;
  };
  while (!stopping_) {
    Running* r = running_.get();  // only this thread replaces it
    pollfd fds[3] = {
        {wake_.get(), POLLIN, 0}, {r->process.pidfd(), POLLIN, 0}, {r->client->fd(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 && errno != EINTR) {
      log::error("engine supervisor: poll: " + errno_text(errno));
      pause(std::chrono::milliseconds(100));
      continue;
    }
    if (stopping_) return;
    if (fds[0].revents) {
      uint64_t n;
      (void)!::read(wake_.get(), &n, sizeof n);
    }
    std::string why;
    try {
      r->client->read_pending();
    } catch (const EngineBroken& e) {
      why = e.what();
    }
    // Reported after a replacement, if one is due: the lost devices' handler rebuilds them, which
    // needs an engine.
    std::deque<control::DeviceLost> events = r->client->take_events();
    const auto report = [&] {
      if (hooks_.lost)
        for (const auto& event : events) hooks_.lost(event);
    };
    if (!fds[1].revents && !r->client->broken()) {
      report();
      continue;
    }

    // Dead or broken: replace it. Calls wait (with_engine) until the new one has every device.
    std::unique_ptr<Running> old;
    {
      std::lock_guard lock(mu_);
      old = std::move(running_);
      pid_ = 0;
    }
    backoff.ran(std::chrono::steady_clock::now() - old->started);
    bury(*old, why);
    old.reset();
    while (!stopping_) {
      if (const auto wait = backoff.next(); wait.count() && !pause(wait)) return;
      try {
        auto next = std::make_unique<Running>(spawn());
        std::lock_guard lock(mu_);
        if (hooks_.started && !stopping_) {  // stopping: kept only for stop() to end it
          try {
            for (auto& e : hooks_.started(*next->client)) events.push_back(std::move(e));
          } catch (const std::exception& e) {
            log::error(std::string("engine process: handing the devices over: ") + e.what());
          }
        }
        pid_ = next->process.id().pid;
        running_ = std::move(next);
        restarts_++;
        break;
      } catch (const std::exception& e) {
        log::error(std::string("engine process: ") + e.what());
      }
    }
    ready_cv_.notify_all();
    if (!stopping_) report();
  }
}

void EngineSupervisor::with_engine(const std::function<void(EngineClient&)>& fn) {
  std::unique_lock lock(mu_);
  const bool ready = ready_cv_.wait_for(lock, options_.wait_for_engine, [&] {
    return stopping_ || (running_ && !running_->client->broken());
  });
  if (!ready || stopping_) throw SystemError("the engine process is restarting; try again");
  try {
    fn(*running_->client);
  } catch (const EngineBroken&) {
    wake();
    throw;
  }
  wake();  // events that came with the answers go to the `lost` hook
}

void EngineSupervisor::locked(const std::function<void()>& fn) {
  std::lock_guard lock(mu_);
  fn();
}

}  // namespace wgnet::wg
