# Unit tests of `wgnet status`, metrics and `wgnet hub sync`: the metrics registry and text format,
# the status report and its views, wgnetd's admin socket and metrics on the in-memory driver, the
# peer diff, the incremental netlink messages byte for byte, the CLI's pure parts, HTTP on TCP and
# the unix socket client.
add_executable(wgnet_status_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/metrics_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/admin_status_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/daemon_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/peer_diff_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/netlink_set_ops_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cli_status_sync_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/http_tcp_client_test.cpp)
target_link_libraries(wgnet_status_unit_tests PRIVATE wgnet_daemon wgnet_cli GTest::gtest_main
                      nlohmann_json::nlohmann_json)
gtest_discover_tests(wgnet_status_unit_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit TIMEOUT 60)
