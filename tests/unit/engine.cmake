# Unit tests of src/engine: the protocol core with an injected clock and in-memory TUN/UDP.
