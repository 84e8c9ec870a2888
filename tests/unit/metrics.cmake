# Unit tests of src/metrics: the registry and the Prometheus text format (checked by promtool when
# it is installed).
wgnet_module_unit_tests(metrics
  SOURCES metrics_registry_test.cpp
  LIBRARIES wgnet_metrics
  TIMEOUT 60)
