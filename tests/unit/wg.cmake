# Unit tests of src/wg without root: the engine client against a scripted engine on a socketpair
# (what a hostile engine process can and cannot make wgnetd do); the supervisor's restart reasons.
wgnet_module_unit_tests(wg SOURCES wg_engine_client_test.cpp wg_engine_supervisor_test.cpp
                        LIBRARIES wgnet_wg)
