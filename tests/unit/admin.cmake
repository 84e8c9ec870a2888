# Unit tests of src/admin: the status report both ways as JSON, and its table.
wgnet_module_unit_tests(admin
  SOURCES admin_status_test.cpp
  LIBRARIES wgnet_admin nlohmann_json::nlohmann_json
  TIMEOUT 60)
