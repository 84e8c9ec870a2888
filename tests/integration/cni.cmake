# wgnet-cni's delegation to a real IPAM plugin: Debian's host-local (containernetworking-plugins)
# with its data in a temporary directory; no root needed, skipped when host-local is missing.
add_executable(wgnet_cni_ipam_tests cni_ipam_test.cpp)
target_link_libraries(wgnet_cni_ipam_tests PRIVATE wgnet_cni_plugin GTest::gtest_main)
gtest_discover_tests(wgnet_cni_ipam_tests TEST_PREFIX cni. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)
