# Netlink and kernel-backend unit tests: byte-exact messages, parsing, splitting; no kernel.
add_executable(wgnet_netlink_unit_tests netlink_message_test.cpp netlink_wireguard_test.cpp)
target_link_libraries(wgnet_netlink_unit_tests PRIVATE wgnet_netlink GTest::gtest_main)
gtest_discover_tests(wgnet_netlink_unit_tests TEST_PREFIX netlink. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS unit)
