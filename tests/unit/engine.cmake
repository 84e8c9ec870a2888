# Unit tests of src/engine and its primitives in src/crypto: known-answer vectors, tables, and two
# devices joined by an in-memory network with a fake clock (no sockets, no sleeps).
add_executable(wgnet_engine_unit_tests crypto_primitives_test.cpp engine_noise_test.cpp
  engine_tables_test.cpp engine_device_test.cpp engine_uapi_test.cpp)
target_link_libraries(wgnet_engine_unit_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_unit_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS unit)

# engine/offload: virtio-net header, checksums, GSO split and coalescing (pure, table-driven).
add_executable(wgnet_engine_offload_tests ${CMAKE_CURRENT_LIST_DIR}/engine_offload_test.cpp)
target_link_libraries(wgnet_engine_offload_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_offload_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS unit)
