// Fuzzes the libnetwork API dispatcher (driver::dispatch) with a fake driver: input is a path line
// then a JSON body. Checks: never throws, always one JSON object as the reply, no control
// character reaches the driver, parse errors never quote the body, the reply stays bounded,
// published ports that validate round-trip through their stored form.
#include <nlohmann/json.hpp>

#include "driver/api.h"
#include "fuzz_util.h"
#include "util/log.h"

using namespace wgnet;
using json = nlohmann::json;

namespace {

void check_printable(const std::string& s) {
  for (unsigned char c : s) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
}

// Checks what it is handed, answers like the real driver would, and refuses IDs starting with
// "x" so the error path is taken too.
struct FakeDriver : driver::Driver {
  static void check_id(const std::string& id) {
    check_printable(id);
    if (!id.empty() && id[0] == 'x') throw InputError("no such network or endpoint");
  }
  void create_network(const driver::CreateNetworkRequest& r) override {
    check_id(r.network_id);
    for (const auto& [k, v] : r.generic) check_printable(k), check_printable(v);
    for (const auto* pools : {&r.ipv4, &r.ipv6})
      for (const auto& d : *pools) check_printable(d.pool), check_printable(d.gateway);
  }
  void delete_network(const std::string& id) override { check_id(id); }
  void create_endpoint(const driver::CreateEndpointRequest& r) override {
    check_id(r.network_id);
    check_id(r.endpoint_id);
    check_printable(r.address);
    check_printable(r.address_ipv6);
    check_printable(r.mac_address);
  }
  std::map<std::string, std::string> endpoint_info(const driver::EndpointRef& r) override {
    check_id(r.network_id);
    check_id(r.endpoint_id);
    return {{"wgnet.interface", "wgnet-" + r.endpoint_id.substr(0, 8)}};
  }
  void delete_endpoint(const driver::EndpointRef& r) override { check_id(r.endpoint_id); }
  driver::JoinResponse join(const driver::JoinRequest& r) override {
    check_id(r.endpoint_id);
    check_printable(r.sandbox_key);
    driver::JoinResponse j;
    j.src_name = "wgnet-" + r.endpoint_id.substr(0, 8);
    j.dst_prefix = "wg";
    j.static_routes = {{"0.0.0.0/0", 1}};
    return j;
  }
  void leave(const driver::EndpointRef& r) override { check_id(r.endpoint_id); }
  // Bindings that validate survive the state's text form unchanged (driver/ports.cpp stores them).
  void program_external_connectivity(const driver::ExternalConnectivityRequest& r) override {
    check_id(r.endpoint_id);
    for (const auto& b : r.bindings) portmap::validate(b);  // InputError: an {"Err"} reply
    FUZZ_CHECK(portmap::decode(portmap::encode(r.bindings)) == r.bindings);
  }
  void revoke_external_connectivity(const driver::EndpointRef& r) override {
    check_id(r.endpoint_id);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);  // refused requests are logged as warnings
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  const std::string_view path = in.until('\n');
  const std::string_view body = fuzz::as_text(data + (size - in.left()), in.left());
  FakeDriver driver;
  const driver::Reply reply = driver::dispatch(driver, path, body);  // never throws

  FUZZ_CHECK(reply.status == 200 || reply.status == 400 || reply.status == 404);
  FUZZ_CHECK(!reply.body.empty() && reply.body.back() == '\n');
  // Escaping may grow a quoted byte to \u00XX; nothing else may grow with the input.
  FUZZ_CHECK(reply.body.size() <= 6 * size + 512);
  const json j = json::parse(reply.body);  // the reply is always valid JSON
  FUZZ_CHECK(j.is_object());
  if (reply.status != 200) FUZZ_CHECK(j.contains("Err"));
  if (j.contains("Err")) {
    FUZZ_CHECK(j["Err"].is_string());
    // A request that did not parse may hold a seed: the error gives a position, never input.
    if (reply.status == 400) {
      const std::string err = j["Err"].get<std::string>();
      for (std::string_view run : fuzz::secret_runs(body))
        if (path.find(run) == std::string_view::npos) FUZZ_CHECK(!fuzz::leaks(err, run));
    }
  }
  return 0;
}
