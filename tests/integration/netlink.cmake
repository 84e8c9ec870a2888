# Netlink integration tests: root, inside a network namespace each test process creates.
include(GoogleTest)
add_executable(wgnet_netlink_integration_tests netlink_integration_test.cpp)
target_link_libraries(wgnet_netlink_integration_tests PRIVATE wgnet_wg GTest::gtest_main)
gtest_discover_tests(wgnet_netlink_integration_tests TEST_PREFIX netlink. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration)

# The unshare example: after unshare(CLONE_NEWNET) it must list lo and nothing else.
add_test(NAME netlink.example_unshare
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/netlink_unshare_test.sh
                 $<TARGET_FILE:wgnet_example_unshare>)
set_tests_properties(netlink.example_unshare PROPERTIES LABELS integration SKIP_RETURN_CODE 77)
