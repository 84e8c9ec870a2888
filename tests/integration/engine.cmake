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
if(WGNET_TSAN OR WGNET_SANITIZE)
  # A sanitized engine reads and answers slower, so a lower rate still puts it under load while the
  # socket keeps room for the real peer's initiations. Not too low: a sanitized engine keeps up with
  # 4000/s and is never under load (0 cookie replies under ASan and TSan on a quiet machine);
  # measured at 15000/s: ASan 441,085 and TSan 443,713 cookie replies of 450,000, no ping lost.
  set_tests_properties(engine.flood PROPERTIES ENVIRONMENT "FLOOD_RATE=15000")
endif()

# engine/linux/sandbox: a probe process enters the supervised engine's sandbox on the real kernel
# (root): its /proc status, and every forbidden call ending in SIGSYS. Also run under ASan and
# TSan (scripts/test's sanitizer stages; both pass).
add_executable(wgnet_engine_sandbox_probe engine_sandbox_probe.cpp)
target_link_libraries(wgnet_engine_sandbox_probe PRIVATE wgnet_engine_sandbox)
add_executable(wgnet_engine_sandbox_tests engine_sandbox_test.cpp)
target_link_libraries(wgnet_engine_sandbox_tests PRIVATE GTest::gtest_main)
target_compile_definitions(wgnet_engine_sandbox_tests
                           PRIVATE WGNET_SANDBOX_PROBE="$<TARGET_FILE:wgnet_engine_sandbox_probe>")
add_dependencies(wgnet_engine_sandbox_tests wgnet_engine_sandbox_probe)
gtest_discover_tests(wgnet_engine_sandbox_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 60)

# wgnet-engine --supervised: the real program, sandboxed, driven over its control socket by the
# test as wgnetd will drive it; traffic to an in-process engine in another namespace (root).
add_executable(wgnet_engine_supervised_tests engine_supervised_test.cpp)
target_link_libraries(wgnet_engine_supervised_tests PRIVATE wgnet_engine GTest::gtest_main)
target_compile_definitions(wgnet_engine_supervised_tests
                           PRIVATE WGNET_ENGINE_PROGRAM="$<TARGET_FILE:wgnet-engine>")
add_dependencies(wgnet_engine_supervised_tests wgnet-engine)
gtest_discover_tests(wgnet_engine_supervised_tests TEST_PREFIX engine. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS integration TIMEOUT 120)
