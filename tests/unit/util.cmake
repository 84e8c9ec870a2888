# Unit tests of src/util: addresses and prefixes, log lines that cannot be forged, the warning
# throttle, the restart backoff, interface names, the daemons' process settings, user specs, spawned
# processes (real children: sh).
wgnet_module_unit_tests(util
  SOURCES util_ip_test.cpp util_log_test.cpp util_throttle_test.cpp util_hardening_test.cpp
          util_user_test.cpp util_ifname_test.cpp util_process_test.cpp util_run_capture_test.cpp
          util_restart_backoff_test.cpp
  LIBRARIES wgnet_util)
