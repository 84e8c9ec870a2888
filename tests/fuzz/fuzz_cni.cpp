// Fuzzes what wgnet-cni and wgnetd read from each other and from a container runtime (src/cni):
// the first byte picks the parser — the network configuration on stdin for each CNI command, a
// result in each CNI version, or one of the admin API v1's decoders — and the rest is its input.
// Checks: only the codec's own errors escape (cni::Error, api::DecodeError); their text never
// quotes a secret-looking run of the input; what an API decoder accepts encodes and decodes back to
// the same value, and what the result decoder accepts re-encodes to a result that decodes equal.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cni/api_v1.h"
#include "cni/error.h"
#include "cni/netconf.h"
#include "cni/result.h"
#include "fuzz_util.h"

using namespace wgnet;
using namespace wgnet::cni;

namespace {

template <typename F>
std::optional<std::string> refusal(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::string(e.what());
  } catch (const api::DecodeError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

template <typename Decode>
void round_trip(Decode decode, std::string_view text) {
  using T = decltype(decode(text));
  std::optional<T> value;
  const auto error = refusal([&] { value = decode(text); });
  if (error) {
    for (auto run : fuzz::secret_runs(text)) FUZZ_CHECK(!fuzz::leaks(*error, run));
    return;
  }
  FUZZ_CHECK(decode(api::encode(*value)) == *value);
}

constexpr Command kCommands[] = {Command::kAdd,    Command::kDel,     Command::kCheck,
                                 Command::kStatus, Command::kVersion, Command::kGc};
constexpr const char* kVersions[] = {"0.4.0", "1.0.0", "1.1.0"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t op = data[0];
  const std::string_view text = fuzz::as_text(data + 1, size - 1);
  switch (op % 12) {
    case 0: {
      const Command command = kCommands[(op / 12) % 6];
      const auto error = refusal([&] { parse_netconf(text, command); });
      if (error)
        for (auto run : fuzz::secret_runs(text)) FUZZ_CHECK(!fuzz::leaks(*error, run));
      break;
    }
    case 1: {
      const char* version = kVersions[(op / 12) % 3];
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const nlohmann::json::exception&) {
        break;
      }
      std::optional<Result> r;
      if (refusal([&] { r = decode_result(j, version); })) break;
      // Interface MTUs exist from 1.1.0 on: older versions drop them.
      if (std::string(version) != "1.1.0")
        for (auto& i : r->interfaces) i.mtu.reset();
      FUZZ_CHECK(decode_result(encode_result(*r, version), version) == *r);
      break;
    }
    case 2:
      round_trip(api::decode_add_request, text);
      break;
    case 3:
      round_trip(api::decode_add_response, text);
      break;
    case 4:
      round_trip(api::decode_del_request, text);
      break;
    case 5:
      round_trip(api::decode_del_response, text);
      break;
    case 6:
      round_trip(api::decode_check_request, text);
      break;
    case 7:
      round_trip(api::decode_gc_request, text);
      break;
    case 8:
      round_trip(api::decode_gc_response, text);
      break;
    case 9:
      round_trip(api::decode_status_request, text);
      break;
    case 10:
      round_trip(api::decode_error, text);
      break;
    case 11:
      refusal([&] { api::decode_info(text); });
      break;
  }
  return 0;
}
