# Unit tests of src/wgconf: the UAPI text protocol, endpoints.
add_executable(wgnet_wg_unit_tests ${CMAKE_CURRENT_LIST_DIR}/uapi_test.cpp)
target_link_libraries(wgnet_wg_unit_tests PRIVATE wgnet_wgconf GTest::gtest_main)
gtest_discover_tests(wgnet_wg_unit_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
