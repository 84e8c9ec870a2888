# Unit tests of src/engine/control, the control protocol between wgnetd and its engine process:
# byte-exact frames, reassembly and its limits, every message's round trip and malformed bodies.
# Linked with the pure control library alone.
wgnet_module_unit_tests(engine_control
  SOURCES engine_control_frame_test.cpp engine_control_messages_test.cpp
  LIBRARIES wgnet_engine_control)
