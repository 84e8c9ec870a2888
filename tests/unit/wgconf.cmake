# Unit tests of src/wgconf: the UAPI text codec and endpoints, the peer diff behind
# `wgnet hub sync`, and a set request applied to a configuration.
wgnet_module_unit_tests(wgconf
  SOURCES wgconf_uapi_codec_test.cpp wgconf_peer_diff_test.cpp wgconf_apply_ops_test.cpp
  LIBRARIES wgnet_wgconf)
