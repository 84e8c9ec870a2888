# Unit tests of src/daemon: wgnetd's admin socket and metrics on the in-memory driver
# (fake_host.h), the admin socket's bounds with the raw HTTP client (http_client.*); the plugin's
# keeper on real children (sh).
wgnet_module_unit_tests(daemon
  SOURCES daemon_admin_metrics_test.cpp daemon_keeper_test.cpp http_client.cpp
  LIBRARIES wgnet_daemon nlohmann_json::nlohmann_json
  TIMEOUT 60)
