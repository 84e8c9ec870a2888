# The driver's Linux host (sandboxes, links, name resolution): root, in network and mount
# namespaces each test process makes for itself.
include(GoogleTest)
add_executable(wgnet_driver_integration_tests driver_host_test.cpp)
target_link_libraries(wgnet_driver_integration_tests PRIVATE wgnet_driver GTest::gtest_main)
gtest_discover_tests(wgnet_driver_integration_tests TEST_PREFIX driver. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)
