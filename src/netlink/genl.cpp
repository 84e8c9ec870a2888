// Generic netlink family resolution through the "nlctrl" controller family.
#include "netlink/genl.h"

#include <linux/genetlink.h>

#include <cerrno>
#include <string>

#include "netlink/message.h"

namespace wgnet::netlink::genl {

std::vector<uint8_t> encode_get_family(std::string_view name) {
  MessageBuilder b(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK);
  b.genl(CTRL_CMD_GETFAMILY, 1);
  b.put_string(CTRL_ATTR_FAMILY_NAME, name);
  return b.finish();
}

std::optional<uint16_t> family_id(Socket& sock, std::string_view name) {
  auto msg = encode_get_family(name);
  std::vector<uint8_t> reply;
  try {
    reply = sock.request(msg, "resolve generic netlink family '" + std::string(name) + "'");
  } catch (const NetlinkError& e) {
    if (e.error_number() == ENOENT) return std::nullopt;
    throw;
  }
  for (const Message& m : parse_messages(reply)) {
    if (m.header.nlmsg_type != GENL_ID_CTRL) continue;
    if (auto id = find_attribute(m.attributes(GENL_HDRLEN), CTRL_ATTR_FAMILY_ID)) return id->u16();
  }
  throw SystemError("resolve generic netlink family '" + std::string(name) +
                    "': the kernel's reply carries no family id");
}

}  // namespace wgnet::netlink::genl
