# Unit tests of src/portmap: the bindings' text forms and validation (the relay needs namespaces:
# tests/integration/portmap_relay_test.cpp).
add_executable(wgnet_portmap_unit_tests ${CMAKE_CURRENT_LIST_DIR}/portmap_binding_test.cpp)
target_link_libraries(wgnet_portmap_unit_tests PRIVATE wgnet_portmap GTest::gtest_main)
gtest_discover_tests(wgnet_portmap_unit_tests TEST_PREFIX portmap. DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
