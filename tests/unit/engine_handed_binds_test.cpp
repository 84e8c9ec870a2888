// HandedBinds, the BindFactory of a supervised engine's interface: a Device under it gets exactly
// the binds handed over (engine_fakes.h's in-memory ones here), never one it opened itself.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "engine/device.h"
#include "engine/linux/handed_binds.h"
#include "engine_fakes.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::testing;

namespace {

const IpAddress kHost = ip("198.18.0.1");

std::unique_ptr<Bind> bind_at(MemoryNetwork& net, uint16_t port) {
  return std::make_unique<MemoryBind>(net, wg::Endpoint{kHost, port});
}

bool in_use(MemoryNetwork& net, uint16_t port) { return net.in_use({kHost, port}); }

TEST(HandedBinds, GivesTheOfferedBindOnceForItsPortOrAnyPort) {
  MemoryNetwork net;
  HandedBinds binds;
  EXPECT_THROW(binds.open(0), SystemError) << "nothing was offered";

  binds.offer(bind_at(net, 51820));
  EXPECT_THROW(binds.open(51821), SystemError) << "offered for another port";
  EXPECT_TRUE(binds.offered()) << "a refused open() keeps the offer";
  auto b = binds.open(51820);
  EXPECT_EQ(b->port(), 51820);
  EXPECT_FALSE(binds.offered());
  EXPECT_THROW(binds.open(51820), SystemError) << "an offer is taken once";

  // A newer offer closes the one never taken; port 0 takes whatever was offered.
  binds.offer(bind_at(net, 51830));
  binds.offer(bind_at(net, 51831));
  EXPECT_FALSE(in_use(net, 51830));
  EXPECT_EQ(binds.open(0)->port(), 51831);
}

TEST(HandedBinds, ADeviceBindsOnlyWhatWasHandedOver) {
  MemoryNetwork net;
  FakeClock clock;
  MemoryTun tun;
  HandedBinds binds;
  Device dev(tun, binds, clock, {});
  ASSERT_EQ(dev.uapi_set("private_key=" + crypto::key_to_hex(crypto::generate_private_key()) +
                         "\nlisten_port=51820\n\n"),
            0);
  EXPECT_THROW(dev.up(), SystemError) << "went up without a socket";

  binds.offer(bind_at(net, 51820));
  dev.up();
  ASSERT_TRUE(dev.bind());
  EXPECT_EQ(dev.bind()->port(), 51820);

  // A new listen port with nothing handed over for it: no socket, as when a port is taken.
  EXPECT_EQ(dev.uapi_set("listen_port=51821\n\n"), -EADDRINUSE);
  EXPECT_FALSE(dev.bind());
  EXPECT_FALSE(in_use(net, 51820));

  binds.offer(bind_at(net, 51822));
  EXPECT_EQ(dev.uapi_set("listen_port=51822\n\n"), 0);
  ASSERT_TRUE(dev.bind());
  EXPECT_EQ(dev.bind()->port(), 51822);
  EXPECT_EQ(dev.status().listen_port, 51822);
}

}  // namespace
