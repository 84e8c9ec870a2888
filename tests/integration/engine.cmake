# Engine integration tests: root, real TUN devices and UDP sockets in private namespaces.
include(GoogleTest)

# engine I/O (tun_linux, udp_linux): real TUN devices, veth pairs and sockets, in namespaces each
# test process makes and that vanish with it.
add_executable(wgnet_engine_tun_tests engine_tun_test.cpp)
target_link_libraries(wgnet_engine_tun_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_tun_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 120)

add_executable(wgnet_engine_udp_tests engine_udp_test.cpp)
target_link_libraries(wgnet_engine_udp_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_udp_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)
