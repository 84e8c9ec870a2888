// wgnetd's admin API, version 1, for the CNI front-end (docs/CNI-PLAN.md §2): the requests
// wgnet-cni sends to /v1/cni/*, wgnetd's answers and its errors, as JSON. Pure, shared by both
// sides; every bound of §2.3 is checked when decoding, and unknown fields are refused so that a
// newer plugin's field is never silently ignored by an older wgnetd.
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/ip.h"

namespace wgnet::cni::api {

inline constexpr int kVersion = 1;

// Bounds (§2.3).
inline constexpr size_t kMaxBody = 2 << 20;  // GC's list; every other body far smaller
inline constexpr size_t kMaxValid = 16384;
inline constexpr size_t kMaxOptions = 32;
inline constexpr size_t kMaxOptionKey = 64;
inline constexpr size_t kMaxOptionValue = 8192;
inline constexpr size_t kMaxNetwork = 128;
inline constexpr size_t kMaxContainerId = 256;
inline constexpr size_t kMaxNetns = 4096;

using Options = std::map<std::string, std::string>;

struct Key {  // one attachment: (container ID, interface name) within a network
  std::string container_id;
  std::string ifname;
  bool operator==(const Key&) const = default;
};

struct Info {  // GET /v1
  std::vector<int> api{kVersion};
  std::string wgnetd;
  std::vector<std::string> backends;
  std::string default_backend;
  bool operator==(const Info&) const = default;
};

struct AddRequest {
  std::string network;
  Options options;
  Key key;
  std::string netns;
  std::vector<Cidr> addresses;  // from the IPAM: 1-2, at most one per family
  bool operator==(const AddRequest&) const = default;
};
struct AddResponse {
  std::string ifname;     // inside the container (CNI_IFNAME)
  std::string host_name;  // the device's name when created (wgnet-...), its alias inside
  std::string public_key;
  uint32_t mtu = 0;
  std::vector<Cidr> routes;
  std::string network_id;
  bool operator==(const AddResponse&) const = default;
};
struct DelRequest {
  std::string network;
  Key key;
  std::string netns;  // may be empty
  bool operator==(const DelRequest&) const = default;
};
struct DelResponse {
  bool removed = false;  // false: nothing was known (never an error)
  bool operator==(const DelResponse&) const = default;
};
struct CheckRequest {
  std::string network;
  Key key;
  std::string netns;
  std::vector<Cidr> addresses;  // from prevResult; may be empty
  bool operator==(const CheckRequest&) const = default;
};
struct GcRequest {
  std::string network;
  std::vector<Key> valid;
  bool operator==(const GcRequest&) const = default;
};
struct Removed {
  Key key;
  std::vector<Cidr> addresses;
  bool operator==(const Removed&) const = default;
};
struct GcResponse {
  std::vector<Removed> removed;
  bool operator==(const GcResponse&) const = default;
};
struct StatusRequest {
  std::string network;
  Options options;
  bool operator==(const StatusRequest&) const = default;
};

enum class ErrorKind {
  kInvalidRequest,  // 400: the body is not what this API takes
  kInvalidConfig,   // 400: an option's value (the message names it)
  kUnknownOption,   // 400
  kForbidden,       // 403: not root
  kNotFound,        // 404: CHECK of an attachment wgnetd does not know
  kCheckFailed,     // 409: `what` says which part (netns, interface, link, device, key, peer)
  kConflict,        // 409
  kBusy,            // 503: try again later
  kNotReady,        // 503: STATUS
  kInternal,        // 500
};
std::string_view kind_name(ErrorKind kind);
int http_status(ErrorKind kind);

struct ApiError {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  std::string details;
  std::string option;  // kInvalidConfig, kUnknownOption: the option's name
  std::string what;    // kCheckFailed
  bool operator==(const ApiError&) const = default;
};

// A body that is not what the API takes: the message names the field (never quotes a value).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode(const Info&);
std::string encode(const AddRequest&);
std::string encode(const AddResponse&);
std::string encode(const DelRequest&);
std::string encode(const DelResponse&);
std::string encode(const CheckRequest&);
std::string encode(const GcRequest&);
std::string encode(const GcResponse&);
std::string encode(const StatusRequest&);
std::string encode(const ApiError&);

Info decode_info(std::string_view body);
AddRequest decode_add_request(std::string_view body);
AddResponse decode_add_response(std::string_view body);
DelRequest decode_del_request(std::string_view body);
DelResponse decode_del_response(std::string_view body);
CheckRequest decode_check_request(std::string_view body);
GcRequest decode_gc_request(std::string_view body);
GcResponse decode_gc_response(std::string_view body);
StatusRequest decode_status_request(std::string_view body);
ApiError decode_error(std::string_view body);

}  // namespace wgnet::cni::api
