// The variant registry: variants register themselves at static-initialization time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/variant.hpp"

namespace ffnbench {

class Registry {
 public:
  static Registry& instance();
  void add(std::unique_ptr<Variant> variant);
  // Throws ConfigError("variant", name, <list of known variants>) when unknown.
  const Variant& get(const std::string& name) const;
  bool has(const std::string& name) const;
  std::vector<const Variant*> all() const;  // sorted by name
  std::string names() const;                // "bh4, gemm_ffn, ..."

 private:
  std::vector<std::unique_ptr<Variant>> variants_;
};

// Full validation of a variant configuration: specs, then the variant's own cross-checks.
Config resolve_variant_config(const Variant& variant,
                              const std::map<std::string, std::string>& given,
                              const std::string& key_prefix);

struct VariantRegistrar {
  explicit VariantRegistrar(std::unique_ptr<Variant> v) { Registry::instance().add(std::move(v)); }
};

}  // namespace ffnbench

// One line in a variant's .cpp registers it: FFNBENCH_REGISTER_VARIANT(GemmFfnVariant);
#define FFNBENCH_REGISTER_VARIANT(Type)                                        \
  static const ::ffnbench::VariantRegistrar ffnbench_registrar_##Type{       \
      std::make_unique<Type>()}
