// Each decoder reads its object through a Fields view, which refuses keys it was not asked for
// and names the field in every error.
#include "cni/api_v1.h"

#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "cni/invocation.h"
#include "util/error.h"
#include "util/ifname.h"

namespace wgnet::cni::api {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<ErrorKind, std::string_view>, 10> kKinds{{
    {ErrorKind::kInvalidRequest, "invalid-request"},
    {ErrorKind::kInvalidConfig, "invalid-config"},
    {ErrorKind::kUnknownOption, "unknown-option"},
    {ErrorKind::kForbidden, "forbidden"},
    {ErrorKind::kNotFound, "not-found"},
    {ErrorKind::kCheckFailed, "check-failed"},
    {ErrorKind::kConflict, "conflict"},
    {ErrorKind::kBusy, "busy"},
    {ErrorKind::kNotReady, "not-ready"},
    {ErrorKind::kInternal, "internal"},
}};

// A field or option name as an error may show it: one holding what could be a key (a run of 12
// or more base64 or hex characters with a digit, '+', '/' or '=') is not quoted.
std::string shown(std::string_view name) {
  size_t run = 0;
  bool marked = false;
  for (size_t i = 0; i <= name.size(); i++) {
    const char c = i < name.size() ? name[i] : ' ';
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '+' || c == '/' || c == '=') {
      run++;
      marked = marked || !(alnum && !(c >= '0' && c <= '9'));
      continue;
    }
    if (run >= 12 && marked) return "<a name not shown>";
    run = 0;
    marked = false;
  }
  if (name.size() > kMaxOptionKey) return "<a name not shown>";
  return std::string(name);
}

[[noreturn]] void bad(std::string_view field, std::string_view why) {
  throw DecodeError(std::string(field) + ": " + std::string(why));
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_object(std::string_view body) {
  if (body.size() > kMaxBody) bad("body", "larger than " + std::to_string(kMaxBody) + " bytes");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    bad("body", "not JSON (syntax error at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {
    bad("body", "not JSON (a number out of range)");  // out_of_range 406
  }
  if (!j.is_object()) bad("body", "expected a JSON object");
  return j;
}

// One object's fields: each taken at most once; done() refuses the ones nobody asked for.
class Fields {
 public:
  Fields(const json& j, std::string where) : j_(j), where_(std::move(where)) {
    if (!j_.is_object()) bad(where_, "expected an object");
  }
  std::string name(std::string_view key) const {
    return where_.empty() ? std::string(key) : where_ + "." + std::string(key);
  }
  const json* get(std::string_view key) {
    taken_.insert(std::string(key));
    auto it = j_.find(std::string(key));
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  std::string str(std::string_view key, size_t max, bool required = true) {
    const json* v = get(key);
    if (!v) {
      if (required) bad(name(key), "missing");
      return {};
    }
    if (!v->is_string()) bad(name(key), "expected a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) bad(name(key), "longer than " + std::to_string(max) + " bytes");
    if (s.find('\0') != std::string::npos) bad(name(key), "holds a NUL byte");
    return s;
  }
  uint32_t u32(std::string_view key) {
    const json* v = get(key);
    if (!v) bad(name(key), "missing");
    if (!v->is_number_unsigned() || v->get<uint64_t>() > UINT32_MAX)
      bad(name(key), "expected an unsigned 32-bit number");
    return v->get<uint32_t>();
  }
  bool boolean(std::string_view key) {
    const json* v = get(key);
    if (!v) bad(name(key), "missing");
    if (!v->is_boolean()) bad(name(key), "expected true or false");
    return v->get<bool>();
  }
  const json& array(std::string_view key, size_t max) {
    static const json empty = json::array();
    const json* v = get(key);
    if (!v) return empty;
    if (!v->is_array()) bad(name(key), "expected an array");
    if (v->size() > max) bad(name(key), "more than " + std::to_string(max) + " entries");
    return *v;
  }
  void done() const {
    for (const auto& [k, v] : j_.items())
      if (!taken_.count(k)) bad(name(shown(k)), "unknown field");
  }

 private:
  const json& j_;
  std::string where_;
  std::set<std::string> taken_;
};

std::string network_of(Fields& f) {
  std::string n = f.str("network", kMaxNetwork);
  if (!is_identifier(n))
    bad("network", "expected a letter or digit, then letters, digits, '_', '.' or '-'");
  return n;
}

Key key_of(Fields& f) {
  Key k{f.str("container_id", kMaxContainerId), f.str("ifname", 15)};
  if (!is_identifier(k.container_id))
    bad(f.name("container_id"),
        "expected a letter or digit, then letters, digits, '_', '.' or '-'");
  try {
    check_ifname(k.ifname);
  } catch (const InputError&) {
    bad(f.name("ifname"), "not a valid interface name");
  }
  return k;
}

std::string netns_of(Fields& f, bool required) {
  std::string path = f.str("netns", kMaxNetns, required);
  if (required && path.empty()) bad("netns", "missing");
  if (!path.empty() && path[0] != '/') bad("netns", "expected an absolute path");
  return path;
}

std::vector<Cidr> cidrs_of(Fields& f, std::string_view key, size_t max) {
  std::vector<Cidr> out;
  for (const auto& v : f.array(key, max)) {
    if (!v.is_string()) bad(f.name(key), "expected strings");
    auto c = Cidr::parse(v.get<std::string>());
    if (!c || v.get<std::string>().find('/') == std::string::npos)
      bad(f.name(key), "expected address/prefix entries");
    out.push_back(*c);
  }
  return out;
}

// IPAM addresses: at most one per family (keys derive from one address per family).
std::vector<Cidr> addresses_of(Fields& f, bool required) {
  std::vector<Cidr> a = cidrs_of(f, "addresses", 2);
  if (required && a.empty()) bad("addresses", "missing (at least one address from the IPAM)");
  if (a.size() == 2 && a[0].address().is_v4() == a[1].address().is_v4())
    bad("addresses", "two addresses of one family");
  return a;
}

Options options_of(Fields& f) {
  Options out;
  const json* v = f.get("options");
  if (!v) return out;
  if (!v->is_object()) bad("options", "expected an object of strings");
  if (v->size() > kMaxOptions) bad("options", "more than " + std::to_string(kMaxOptions));
  for (const auto& [k, val] : v->items()) {
    if (k.empty() || k.size() > kMaxOptionKey) bad("options", "a name is empty or too long");
    if (!val.is_string()) bad("options." + shown(k), "expected a string");
    if (val.get_ref<const std::string&>().size() > kMaxOptionValue)
      bad("options." + shown(k), "longer than " + std::to_string(kMaxOptionValue) + " bytes");
    out[k] = val.get<std::string>();
  }
  return out;
}

// Decodes a body that is one object whose every field `read` takes.
template <typename Read>
auto decode_object(std::string_view body, Read read) {
  const json j = parse_object(body);
  Fields f(j, "");
  auto out = read(f);
  f.done();
  return out;
}

json cidrs_json(const std::vector<Cidr>& cidrs) {
  json a = json::array();
  for (const auto& c : cidrs) a.push_back(c.str());
  return a;
}

json key_json(const Key& k) { return {{"container_id", k.container_id}, {"ifname", k.ifname}}; }

}  // namespace

std::string_view kind_name(ErrorKind kind) {
  for (const auto& [k, n] : kKinds)
    if (k == kind) return n;
  return "internal";
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidRequest:
    case ErrorKind::kInvalidConfig:
    case ErrorKind::kUnknownOption:
      return 400;
    case ErrorKind::kForbidden:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kCheckFailed:
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kBusy:
    case ErrorKind::kNotReady:
      return 503;
    case ErrorKind::kInternal:
      break;
  }
  return 500;
}

std::string encode(const Info& i) {
  return dump({{"api", i.api},
               {"wgnetd", i.wgnetd},
               {"backends", i.backends},
               {"default_backend", i.default_backend}});
}
std::string encode(const AddRequest& r) {
  json j = key_json(r.key);
  j["network"] = r.network;
  j["options"] = r.options;
  j["netns"] = r.netns;
  j["addresses"] = cidrs_json(r.addresses);
  return dump(j);
}
std::string encode(const AddResponse& r) {
  return dump({{"interface",
                {{"name", r.ifname},
                 {"host_name", r.host_name},
                 {"public_key", r.public_key},
                 {"mtu", r.mtu}}},
               {"routes", cidrs_json(r.routes)},
               {"network_id", r.network_id}});
}
std::string encode(const DelRequest& r) {
  json j = key_json(r.key);
  j["network"] = r.network;
  j["netns"] = r.netns;
  return dump(j);
}
std::string encode(const DelResponse& r) { return dump({{"removed", r.removed}}); }
std::string encode(const CheckRequest& r) {
  json j = key_json(r.key);
  j["network"] = r.network;
  j["netns"] = r.netns;
  j["addresses"] = cidrs_json(r.addresses);
  return dump(j);
}
std::string encode(const GcRequest& r) {
  json valid = json::array();
  for (const auto& k : r.valid) valid.push_back(key_json(k));
  return dump({{"network", r.network}, {"valid", valid}});
}
std::string encode(const GcResponse& r) {
  json removed = json::array();
  for (const auto& e : r.removed) {
    json k = key_json(e.key);
    k["addresses"] = cidrs_json(e.addresses);
    removed.push_back(std::move(k));
  }
  return dump({{"removed", removed}});
}
std::string encode(const StatusRequest& r) {
  return dump({{"network", r.network}, {"options", r.options}});
}
std::string encode(const ApiError& e) {
  json err{{"kind", kind_name(e.kind)}, {"message", e.message}};
  if (!e.details.empty()) err["details"] = e.details;
  if (!e.option.empty()) err["option"] = e.option;
  if (!e.what.empty()) err["what"] = e.what;
  return dump({{"error", err}});
}

Info decode_info(std::string_view body) {
  const json j = parse_object(body);
  Fields f(j, "");
  Info i;
  i.api.clear();
  for (const auto& v : f.array("api", 16)) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 1000) bad("api", "expected versions");
    i.api.push_back(v.get<int>());
  }
  i.wgnetd = f.str("wgnetd", 256);
  for (const auto& v : f.array("backends", 16)) {
    if (!v.is_string() || v.get_ref<const std::string&>().size() > 32)
      bad("backends", "expected names");
    i.backends.push_back(v.get<std::string>());
  }
  i.default_backend = f.str("default_backend", 32);
  // GET /v1 may grow: an older plugin reads what it knows (the only decoder that does not
  // refuse new fields).
  return i;
}

AddRequest decode_add_request(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    AddRequest r;
    r.network = network_of(f);
    r.options = options_of(f);
    r.key = key_of(f);
    r.netns = netns_of(f, true);
    r.addresses = addresses_of(f, true);
    return r;
  });
}

AddResponse decode_add_response(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    AddResponse r;
    const json* iface = f.get("interface");
    if (!iface) bad("interface", "missing");
    Fields i(*iface, "interface");
    r.ifname = i.str("name", 15);
    r.host_name = i.str("host_name", 15);
    r.public_key = i.str("public_key", 64);
    r.mtu = i.u32("mtu");
    i.done();
    r.routes = cidrs_of(f, "routes", 256);
    r.network_id = f.str("network_id", 256);
    return r;
  });
}

DelRequest decode_del_request(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    DelRequest r;
    r.network = network_of(f);
    r.key = key_of(f);
    r.netns = netns_of(f, false);
    return r;
  });
}

DelResponse decode_del_response(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    DelResponse r{f.boolean("removed")};
    return r;
  });
}

CheckRequest decode_check_request(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    CheckRequest r;
    r.network = network_of(f);
    r.key = key_of(f);
    r.netns = netns_of(f, true);
    r.addresses = addresses_of(f, false);
    return r;
  });
}

GcRequest decode_gc_request(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    GcRequest r;
    r.network = network_of(f);
    size_t n = 0;
    for (const auto& v : f.array("valid", kMaxValid)) {
      Fields k(v, "valid[" + std::to_string(n++) + "]");
      r.valid.push_back(key_of(k));
      k.done();
    }
    return r;
  });
}

GcResponse decode_gc_response(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    GcResponse r;
    size_t n = 0;
    for (const auto& v : f.array("removed", kMaxValid)) {
      Fields k(v, "removed[" + std::to_string(n++) + "]");
      Removed e{key_of(k), cidrs_of(k, "addresses", 2)};
      k.done();
      r.removed.push_back(std::move(e));
    }
    return r;
  });
}

StatusRequest decode_status_request(std::string_view body) {
  return decode_object(body, [](Fields& f) {
    StatusRequest r{network_of(f), options_of(f)};
    return r;
  });
}

ApiError decode_error(std::string_view body) {
  json j = parse_object(body);
  Fields f(j, "");
  const json* err = f.get("error");
  if (!err) bad("error", "missing");
  f.done();
  Fields e(*err, "error");
  ApiError out;
  const std::string kind = e.str("kind", 32);
  bool known = false;
  for (const auto& [k, n] : kKinds)
    if (n == kind) {
      out.kind = k;
      known = true;
    }
  if (!known) out.kind = ErrorKind::kInternal;  // a newer wgnetd's kind: still an error
  out.message = e.str("message", 4096);
  out.details = e.str("details", 4096, false);
  out.option = e.str("option", kMaxOptionKey, false);
  out.what = e.str("what", 32, false);
  return out;  // an error may carry more than this version knows: not refused
}

}  // namespace wgnet::cni::api
