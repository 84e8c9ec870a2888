// A "set" request's operations applied to a configuration, with the semantics a device applies
// them with (wireguard-go's): what wgnetd keeps of a `wg set` it relayed to the engine process,
// so that a replacement engine gets the device as the user left it, computed from the user's own
// request rather than taken from the engine's word. Pure.
#pragma once
#include <vector>

#include "wgconf/config.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::wg {

// Applies `ops` (a parsed set request, in order) to `config`: `public_key` selects or creates a
// peer; `update_only` undoes a creation; `remove` removes the selected peer; an allowed IP given
// to one peer is taken from any other that had the same prefix; a zero private or preshared key
// removes it; a new private key removes the peer that has its public key. Peer operations with no peer selected (or after `remove`) change nothing.
// `config.replace_peers` is left as it was (it concerns how the whole is applied, not what it is).
void apply_ops(DeviceConfig& config, const std::vector<uapi::SetOp>& ops);

}  // namespace wgnet::wg
