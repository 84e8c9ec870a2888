# `wgnet hub sync` against a live hub (tests/integration/hub_sync_test.sh): over UAPI with Debian's
# wireguard-go here; over netlink with kernel WireGuard where the kernel has it (scripts/vm's guest
# runs every netlink.* test: vm.netlink), skipped elsewhere.
add_test(NAME wg.hub_sync_uapi
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hub_sync_test.sh $<TARGET_FILE:wgnet> wireguard-go)
add_test(NAME netlink.hub_sync_kernel
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hub_sync_test.sh $<TARGET_FILE:wgnet> kernel)
set_tests_properties(wg.hub_sync_uapi netlink.hub_sync_kernel
                     PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 180)
