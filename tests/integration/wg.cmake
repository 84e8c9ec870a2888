# The external backend (wireguard-go over UAPI) and the engine backend's devices on their own:
# root, inside a network namespace each test process creates; the first needs Debian's
# wireguard-go.
include(GoogleTest)
add_executable(wgnet_wg_integration_tests wg_external_integration_test.cpp
                                          wg_engine_backend_test.cpp)
target_link_libraries(wgnet_wg_integration_tests PRIVATE wgnet_wg GTest::gtest_main)
gtest_discover_tests(wgnet_wg_integration_tests TEST_PREFIX wg. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)

# The engine backend on a real engine process (wgnetd --engine-process): the sandboxed
# `wgnet-engine --supervised` serving a device made here, killed and replaced (root).
add_executable(wgnet_wg_engine_process_tests wg_engine_process_test.cpp)
target_link_libraries(wgnet_wg_engine_process_tests PRIVATE wgnet_wg wgnet_engine_test_hooks
                                                    GTest::gtest_main)
target_compile_definitions(wgnet_wg_engine_process_tests
                           PRIVATE WGNET_ENGINE_PROGRAM="$<TARGET_FILE:wgnet-engine>")
add_dependencies(wgnet_wg_engine_process_tests wgnet-engine)
gtest_discover_tests(wgnet_wg_engine_process_tests TEST_PREFIX wg. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 120)
