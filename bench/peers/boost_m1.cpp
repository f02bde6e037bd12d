// M1 floor: Boost.Context fiber ping-pong (fcontext underneath). The main
// context and one fiber resume each other N times each: 2 * N switches, the
// same count as weft's two tasks each yielding N times.
// Usage: boost_m1 [yields_per_side]   (default 5,000,000)
#include <boost/context/fiber.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace ctx = boost::context;

int main(int argc, char **argv)
{
    long n = argc > 1 ? std::atol(argv[1]) : 5000000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: boost_m1 [yields_per_side]\n");
        return 2;
    }
    volatile long bounces = 0; // keeps the loop bodies from being folded away
    ctx::fiber f{[&bounces](ctx::fiber &&back) {
        for (;;) {
            bounces = bounces + 1;
            back = std::move(back).resume();
        }
        return std::move(back);
    }};
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; i++) f = std::move(f).resume();
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    std::printf("M1 boost ns_per_switch=%.1f\n", dt.count() * 1e9 / (2.0 * (double)n));
    // The fiber never ends: leaving main without unwinding it is fine here.
    std::fflush(stdout);
    std::_Exit(0);
}
