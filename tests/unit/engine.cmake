# Unit tests of src/engine, the protocol core: the handshake, the core's tables, two devices joined
# by an in-memory network with a fake clock (engine_fakes.h: no sockets, no sleeps), the UAPI
# requests a device answers. Linked with the core alone: a core that called the OS would not link.
wgnet_module_unit_tests(engine
  SOURCES engine_noise_test.cpp engine_tables_test.cpp engine_device_test.cpp
          engine_uapi_test.cpp
  LIBRARIES wgnet_engine_core)

# Unit tests of src/engine/linux that need no root: offload's virtio-net header, checksums, GSO
# split and coalescing (table-driven); the runtime's event loop, workers and deadlines driving
# engine_fakes.h's in-memory TUNs and binds through their eventfds (no link watch); HandedBinds
# under a Device; the control channel on a socketpair; the sandbox's seccomp allow-list as a table.
wgnet_module_unit_tests(engine_linux
  SOURCES engine_linux_offload_test.cpp engine_event_loop_test.cpp engine_handed_binds_test.cpp
          engine_linux_control_channel_test.cpp engine_linux_seccomp_policy_test.cpp
  LIBRARIES wgnet_engine wgnet_engine_sandbox)

# engine/linux/test_hooks as a release build has it: a second copy of test_hooks.cpp compiled
# without WGNET_TEST_HOOKS (the build's own copy has them when scripts/test builds), so an
# executable of its own.
add_executable(wgnet_engine_test_hooks_off_tests engine_linux_test_hooks_off_test.cpp
                                                 ${PROJECT_SOURCE_DIR}/src/engine/linux/test_hooks.cpp)
target_link_libraries(wgnet_engine_test_hooks_off_tests PRIVATE wgnet_engine GTest::gtest_main)
gtest_discover_tests(wgnet_engine_test_hooks_off_tests TEST_PREFIX engine_linux. DISCOVERY_TIMEOUT 30
                     PROPERTIES LABELS unit)
