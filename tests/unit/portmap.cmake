# Unit tests of src/portmap: the bindings' text forms and validation (the relay needs namespaces:
# tests/integration/portmap_relay_test.cpp).
wgnet_module_unit_tests(portmap
  SOURCES portmap_binding_test.cpp
  LIBRARIES wgnet_portmap)
