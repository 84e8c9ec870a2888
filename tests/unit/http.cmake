# Unit tests of src/http: the server on a real unix socket in a temporary directory with raw
# hand-written requests (http_client.*), its worker pool, HTTP on TCP and the unix socket client.
wgnet_module_unit_tests(http
  SOURCES http_client.cpp http_server_test.cpp http_socket_file_test.cpp
          http_worker_pool_test.cpp http_tcp_client_test.cpp
  LIBRARIES wgnet_http Threads::Threads nlohmann_json::nlohmann_json
  TIMEOUT 60)
