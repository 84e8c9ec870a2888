# Engine integration tests: root, real TUN devices and UDP sockets in private namespaces.
include(GoogleTest)

# engine I/O (tun_linux, udp_linux): real TUN devices, veth pairs and sockets, in namespaces each
# test process makes and that vanish with it.
add_executable(wgnet_engine_tun_tests engine_tun_test.cpp)
target_link_libraries(wgnet_engine_tun_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_tun_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 120)

add_executable(wgnet_engine_udp_tests engine_udp_test.cpp)
target_link_libraries(wgnet_engine_udp_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_udp_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)

# engine/engine: the event loop with real TUN devices and sockets, engines in namespaces joined
# by a veth; many interfaces, re-attached devices, moves, MTU changes, deletions.
add_executable(wgnet_engine_runtime_tests engine_runtime_test.cpp)
target_link_libraries(wgnet_engine_runtime_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_runtime_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 120)

# engine/uapi_server: UAPI sockets in a private directory (no root needed).
add_executable(wgnet_engine_uapi_server_tests engine_uapi_server_test.cpp)
target_link_libraries(wgnet_engine_uapi_server_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_uapi_server_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)

# A handshake load generator on the engine's own Noise and cookie code: the handshake-flood test
# and bench/engine_handshakes.sh use it.
add_executable(wgnet_engine_handshake_load engine_handshake_load.cpp)
target_link_libraries(wgnet_engine_handshake_load PRIVATE wgnet_engine)

# wgnet-engine as a program, against Debian's wireguard-go and wg: shell tests in namespaces they
# create and remove themselves (root; skipped with status 77 when a tool is missing).
foreach(t interop wg_tools lifecycle flood)
  add_test(NAME engine.${t}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/engine_${t}_test.sh
                   $<TARGET_FILE:wgnet-engine> $<TARGET_FILE:wgnet_engine_handshake_load>)
  set_tests_properties(engine.${t} PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
if(WGNET_TSAN)
  # Under ThreadSanitizer the engine reads and answers several times slower: a flood it can still
  # read (the kernel drops what overflows the socket, the real peer's initiations included). Under
  # ASan the default rate is right: at 4000/s an ASan engine keeps up without ever being under
  # load, and the flooder gets no cookie reply (measured: 0 at 4000/s, 1.2 million at 40000/s).
  set_tests_properties(engine.flood PROPERTIES ENVIRONMENT "FLOOD_RATE=4000")
endif()
