# The port relay against the real kernel: the test process's own network and mount namespaces
# stand for the host, a namespace mounted on a file for the container. Needs root.
include(GoogleTest)
add_executable(wgnet_portmap_integration_tests portmap_relay_test.cpp)
target_link_libraries(wgnet_portmap_integration_tests
  PRIVATE wgnet_portmap wgnet_netlink GTest::gtest_main)
gtest_discover_tests(wgnet_portmap_integration_tests TEST_PREFIX portmap. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)
