# Unit tests of src/netlink: byte-exact messages, parsing, splitting, the incremental changes of
# `wgnet hub sync`; no kernel.
wgnet_module_unit_tests(netlink
  SOURCES netlink_message_test.cpp netlink_wireguard_test.cpp netlink_set_ops_test.cpp
  LIBRARIES wgnet_netlink)
