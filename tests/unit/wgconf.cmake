# Unit tests of src/wgconf: the UAPI text codec and endpoints, and the peer diff behind
# `wgnet hub sync`.
wgnet_module_unit_tests(wgconf
  SOURCES wgconf_uapi_codec_test.cpp wgconf_peer_diff_test.cpp
  LIBRARIES wgnet_wgconf)
