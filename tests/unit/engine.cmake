# Unit tests of src/engine and its primitives in src/crypto: known-answer vectors, tables, and two
# devices joined by an in-memory network with a fake clock (no sockets, no sleeps).
add_executable(wgnet_engine_unit_tests crypto_primitives_test.cpp)
target_link_libraries(wgnet_engine_unit_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_unit_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS unit)
