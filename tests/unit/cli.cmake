# Unit tests of src/cli: the pure parts of `wgnet status` and `wgnet hub sync`.
wgnet_module_unit_tests(cli
  SOURCES cli_status_sync_test.cpp
  LIBRARIES wgnet_cli
  TIMEOUT 60)
