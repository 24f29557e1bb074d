// Result<T, E>: a value or an error, without exceptions on the packet path. A small
// stand-in for std::expected, which clang 14 cannot compile from libstdc++ 12 (our fuzz
// builds use clang).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace synfin {

template <typename E>
struct Failure {
  E error;
};
template <typename E>
Failure(E) -> Failure<E>;

template <typename E>
constexpr Failure<E> fail(E e) { return Failure<E>{e}; }

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  constexpr Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  constexpr Result(Failure<E> f) : v_(std::in_place_index<1>, f.error) {}     // NOLINT

  constexpr bool ok() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return ok(); }
  constexpr bool has_value() const { return ok(); }

  constexpr T& value() & { assert(ok()); return std::get<0>(v_); }
  constexpr const T& value() const& { assert(ok()); return std::get<0>(v_); }
  constexpr T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  constexpr E error() const { assert(!ok()); return std::get<1>(v_); }
  constexpr T value_or(T other) const { return ok() ? std::get<0>(v_) : other; }

 private:
  std::variant<T, E> v_;
};

}  // namespace synfin
