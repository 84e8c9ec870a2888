// Fuzzes the small text parsers on one input: IP addresses, CIDRs, host:port, numeric endpoints,
// hub endpoints and CIDR lists (util/ip.h, wgconf/config.h, driver/peers_file.h), base64 and hex
// (crypto/encoding.h). Checks: what parses prints back to the same value, encodings round-trip,
// and keys are refused only with InputError.
#include "crypto/encoding.h"
#include "driver/peers_file.h"
#include "fuzz_util.h"
#include "util/ip.h"
#include "wgconf/config.h"

using namespace wgnet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  if (auto a = IpAddress::parse(text)) {
    FUZZ_CHECK(a->is_v4() || a->is_v6());
    FUZZ_CHECK(IpAddress::parse(a->str()) == a);
    FUZZ_CHECK(IpAddress::from_bytes(a->bytes()) == *a);
  }
  if (auto c = Cidr::parse(text)) {
    FUZZ_CHECK(c->prefix() >= 0 && c->prefix() <= c->address().bits());
    FUZZ_CHECK(Cidr::parse(c->str()) == c);
    FUZZ_CHECK(c->contains(c->address()) && c->contains(c->network()));
    FUZZ_CHECK(Cidr(c->network(), c->prefix()).is_network());
  }
  if (auto hp = split_host_port(text)) {
    FUZZ_CHECK(hp->port >= 1 && !hp->host.empty());
    FUZZ_CHECK(hp->host.data() >= text.data() && hp->host.end() <= text.end());
  }
  if (auto e = wg::Endpoint::parse(text)) {
    FUZZ_CHECK(e->port >= 1);
    FUZZ_CHECK(wg::Endpoint::parse(e->str()) == e);
  }
  if (auto h = driver::parse_hub_endpoint(text)) {
    FUZZ_CHECK(h->port >= 1 && !h->host.empty());
    auto again = driver::parse_hub_endpoint(h->str());
    FUZZ_CHECK(again && again->host == h->host && again->port == h->port);
  }
  std::string bad;
  if (auto list = driver::parse_cidr_list(text, bad)) {
    std::string printed;
    for (const Cidr& c : *list) {
      FUZZ_CHECK(c.is_network());
      printed += (printed.empty() ? "" : ",") + c.str();
    }
    // An empty item is refused, so only an empty text is an empty list.
    FUZZ_CHECK(list->empty() == text.empty());
    auto again = driver::parse_cidr_list(printed, bad);
    FUZZ_CHECK(again && *again == *list);
  }

  // Text decodings: strict, so what decodes encodes back to exactly the text.
  if (auto b = crypto::base64_decode(text)) FUZZ_CHECK(crypto::base64_encode(*b) == text);
  if (auto h = crypto::hex_decode(text)) {
    FUZZ_CHECK(h->size() * 2 == text.size());
    FUZZ_CHECK(crypto::hex_decode(crypto::hex_encode(*h)) == h);
  }
  // Byte encodings of the raw input round-trip.
  const std::span<const uint8_t> raw(data, size);
  auto b = crypto::base64_decode(crypto::base64_encode(raw));
  FUZZ_CHECK(b && std::equal(b->begin(), b->end(), raw.begin(), raw.end()));
  auto h = crypto::hex_decode(crypto::hex_encode(raw));
  FUZZ_CHECK(h && std::equal(h->begin(), h->end(), raw.begin(), raw.end()));

  // Keys and secrets: a value or InputError (never quoting the text), nothing else.
  fuzz::accepted([&] {
    auto k = crypto::key_from_base64(text, "key");
    FUZZ_CHECK(crypto::key_to_base64(k) == text);
  });
  fuzz::accepted([&] {
    auto k = crypto::key_from_hex(text, "key");
    FUZZ_CHECK(crypto::key_from_hex(crypto::key_to_hex(k), "key") == k);
  });
  try {
    crypto::secret_from_base64(text, "wgnet.seed");
  } catch (const InputError& e) {
    FUZZ_CHECK(!fuzz::leaks(e.what(), text));
  }
  return 0;
}
