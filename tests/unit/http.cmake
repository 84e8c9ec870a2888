# HTTP server tests: a real unix socket in a temporary directory, raw hand-written requests.
add_executable(wgnet_http_tests
  http_client.cpp http_server_test.cpp http_socket_file_test.cpp http_worker_pool_test.cpp)
target_link_libraries(wgnet_http_tests PRIVATE wgnet_http GTest::gtest_main Threads::Threads
                      nlohmann_json::nlohmann_json)
gtest_discover_tests(wgnet_http_tests TEST_PREFIX http. DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit TIMEOUT 60)
