# Unit tests of src/crypto: base64 and hex, and known answers for the engine's primitives (BLAKE2s,
# WireGuard's KDF, ChaCha20-Poly1305, XChaCha20-Poly1305, X25519).
wgnet_module_unit_tests(crypto
  SOURCES crypto_encoding_test.cpp crypto_primitives_test.cpp
  LIBRARIES wgnet_crypto)
