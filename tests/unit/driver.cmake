# Unit tests of src/driver: options, peers files, the API dispatcher, the state store, and the
# driver's logic against an in-memory host and backend (the real backends are tested in e2e).
wgnet_module_unit_tests(driver
  SOURCES driver_options_test.cpp driver_api_test.cpp driver_state_test.cpp
          driver_lifecycle_test.cpp
  LIBRARIES wgnet_driver)
