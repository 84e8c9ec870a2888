# Unit tests of src/cni, the CNI protocol's codec: CNI_* parameters per command, network
# configurations (versions, names, ipam, prevResult, GC's attachments), results in 0.4.0, 1.0.0
# and 1.1.0 form, errors with the spec's codes; the admin API v1 wgnet-cni speaks to wgnetd.
wgnet_module_unit_tests(cni
  SOURCES cni_invocation_test.cpp cni_netconf_test.cpp cni_result_test.cpp cni_api_v1_test.cpp
  LIBRARIES wgnet_cni)
