# Unit tests of src/driver: options, peers files, the API dispatcher, the state store, and the
# driver's logic against an in-memory backend (the real backends are tested in e2e).
add_executable(wgnet_driver_unit_tests
  ${CMAKE_CURRENT_LIST_DIR}/options_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/api_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/state_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/driver_test.cpp)
target_link_libraries(wgnet_driver_unit_tests PRIVATE wgnet_driver GTest::gtest_main)
gtest_discover_tests(wgnet_driver_unit_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
