# Unit tests of src/engine: the handshake, the core's tables, the UAPI server side, two devices
# joined by an in-memory network with a fake clock (engine_fakes.h: no sockets, no sleeps), and
# offload's virtio-net header, checksums, GSO split and coalescing (pure, table-driven).
wgnet_module_unit_tests(engine
  SOURCES engine_noise_test.cpp engine_tables_test.cpp engine_device_test.cpp
          engine_uapi_test.cpp engine_offload_test.cpp
  LIBRARIES wgnet_engine)
