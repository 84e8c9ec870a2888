# Unit tests of src/keys: every vector of spec/keys.md, seed files, hub address enumeration and
# configuration.
wgnet_module_unit_tests(keys
  SOURCES keys_derive_test.cpp keys_hub_test.cpp keys_seed_test.cpp
  LIBRARIES wgnet_keys)
