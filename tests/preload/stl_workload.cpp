// A C++17 workload for tests/preload/real_programs.sh (case gxx).
//
// It is used twice: g++ compiles it with -O2 -g (the compiler's own heap is
// the thing under test: the object file must be byte-identical with and
// without the preloaded allocator), and the linked program runs (operator
// new/delete from many threads through the preloaded malloc; its output must
// match the glibc run's). Everything it prints is deterministic.
#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <queue>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

namespace {

// ---- a deterministic PRNG ------------------------------------------------------
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t state_;
};

std::uint64_t fnv1a(const std::string &s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string random_word(SplitMix64 &rng, std::size_t min_len, std::size_t max_len) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";
  std::size_t len = min_len + rng.below(max_len - min_len + 1);
  std::string w;
  w.reserve(len);
  for (std::size_t i = 0; i < len; i++) w.push_back(alphabet[rng.below(26)]);
  return w;
}

// ---- an expression tree with variants and shared_ptr -----------------------------
struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;
struct Num {
  long long value;
};
struct Var {
  std::string name;
};
struct BinOp {
  char op;
  ExprPtr lhs, rhs;
};
struct Expr {
  std::variant<Num, Var, BinOp> node;
};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

ExprPtr make_tree(SplitMix64 &rng, int depth, const std::vector<std::string> &vars) {
  if (depth == 0 || rng.below(4) == 0) {
    if (rng.below(2) == 0) return std::make_shared<Expr>(Expr{Num{static_cast<long long>(rng.below(100))}});
    return std::make_shared<Expr>(Expr{Var{vars[rng.below(vars.size())]}});
  }
  static const char ops[] = "+-*";
  char op = ops[rng.below(3)];
  auto lhs = make_tree(rng, depth - 1, vars);
  auto rhs = make_tree(rng, depth - 1, vars);
  return std::make_shared<Expr>(Expr{BinOp{op, std::move(lhs), std::move(rhs)}});
}

long long evaluate(const ExprPtr &e, const std::map<std::string, long long> &env) {
  return std::visit(Overloaded{
                        [](const Num &n) { return n.value; },
                        [&](const Var &v) { return env.at(v.name); },
                        [&](const BinOp &b) {
                          long long l = evaluate(b.lhs, env), r = evaluate(b.rhs, env);
                          switch (b.op) {
                            case '+': return l + r;
                            case '-': return l - r;
                            default: return (l * r) % 1000000007LL;
                          }
                        },
                    },
                    e->node);
}

std::string print(const ExprPtr &e) {
  return std::visit(Overloaded{
                        [](const Num &n) { return std::to_string(n.value); },
                        [](const Var &v) { return v.name; },
                        [](const BinOp &b) { return "(" + print(b.lhs) + b.op + print(b.rhs) + ")"; },
                    },
                    e->node);
}

// ---- sections ----------------------------------------------------------------------
void section_containers(std::ostream &out) {
  SplitMix64 rng(1);
  std::map<std::string, int> counts;
  std::unordered_map<std::string, std::vector<int>> positions;
  std::vector<std::string> words;
  for (int i = 0; i < 60000; i++) {
    std::string w = random_word(rng, 1, 4);
    counts[w]++;
    positions[w].push_back(i);
    words.push_back(std::move(w));
  }
  std::vector<std::pair<std::string, int>> by_count(counts.begin(), counts.end());
  std::stable_sort(by_count.begin(), by_count.end(),
                   [](const auto &a, const auto &b) { return a.second > b.second; });
  out << "containers: distinct=" << counts.size() << " top=";
  for (std::size_t i = 0; i < 5; i++) out << by_count[i].first << ':' << by_count[i].second << ' ';
  std::size_t total_positions = 0;
  for (const auto &kv : positions) total_positions += kv.second.size();
  out << "positions=" << total_positions << '\n';

  std::set<std::string> ordered(words.begin(), words.end());
  std::unordered_set<std::string> hashed(words.begin(), words.end());
  std::list<std::string> lst(words.begin(), words.begin() + 5000);
  lst.sort();
  lst.unique();
  std::deque<int> dq;
  for (int i = 0; i < 100000; i++) {
    if (i % 3 == 0) dq.push_front(i);
    else dq.push_back(i);
    if (dq.size() > 1000) dq.pop_front();
  }
  out << "containers: set=" << ordered.size() << " hash=" << hashed.size() << " list=" << lst.size()
      << " deque_sum=" << std::accumulate(dq.begin(), dq.end(), 0LL) << '\n';
}

void section_strings(std::ostream &out) {
  SplitMix64 rng(2);
  std::ostringstream text;
  for (int i = 0; i < 20000; i++) {
    text << random_word(rng, 2, 9);
    if (rng.below(7) == 0) text << ' ' << rng.below(100000) << '@' << random_word(rng, 3, 6) << ".org";
    text << (rng.below(10) == 0 ? '\n' : ' ');
  }
  const std::string s = text.str();
  std::regex email(R"((\d+)@([a-z]+)\.org)");
  std::size_t matches = 0;
  unsigned long long digit_sum = 0;
  std::uint64_t h = 0;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), email); it != std::sregex_iterator(); ++it) {
    matches++;
    digit_sum += std::stoull((*it)[1].str());
    h = fnv1a((*it)[2].str(), h ? h : 1469598103934665603ULL);
  }
  std::string replaced = std::regex_replace(s.substr(0, 4000), std::regex("[aeiou]+"), "_");
  std::istringstream lines(s);
  std::string line;
  std::size_t nlines = 0, longest = 0;
  while (std::getline(lines, line)) {
    nlines++;
    longest = std::max(longest, line.size());
  }
  out << "strings: bytes=" << s.size() << " matches=" << matches << " digits=" << digit_sum << " hash=" << std::hex
      << h << std::dec << " replaced=" << fnv1a(replaced) % 1000003 << " lines=" << nlines << " longest=" << longest
      << '\n';
}

void section_expressions(std::ostream &out) {
  SplitMix64 rng(3);
  const std::vector<std::string> vars{"x", "y", "z", "w"};
  std::map<std::string, long long> env{{"x", 3}, {"y", -7}, {"z", 11}, {"w", 2}};
  long long acc = 0;
  std::size_t printed = 0;
  for (int i = 0; i < 400; i++) {
    ExprPtr tree = make_tree(rng, 10, vars);
    acc = (acc * 31 + evaluate(tree, env)) % 1000000007LL;
    printed += print(tree).size();
  }
  ExprPtr small = make_tree(rng, 3, vars);
  out << "expressions: acc=" << acc << " printed=" << printed << " sample=" << print(small) << '\n';
}

struct Task {
  int priority;
  int id;
  std::string payload;
  bool operator<(const Task &o) const { return priority != o.priority ? priority < o.priority : id > o.id; }
};

void section_queue(std::ostream &out) {
  SplitMix64 rng(4);
  std::priority_queue<Task> pq;
  std::uint64_t h = 1469598103934665603ULL;
  int id = 0;
  for (int round = 0; round < 200; round++) {
    for (int i = 0; i < 300; i++) pq.push(Task{static_cast<int>(rng.below(1000)), id++, random_word(rng, 0, 40)});
    for (int i = 0; i < 250 && !pq.empty(); i++) {
      h = fnv1a(pq.top().payload, h ^ static_cast<std::uint64_t>(pq.top().id));
      pq.pop();
    }
  }
  out << "queue: left=" << pq.size() << " hash=" << std::hex << h << std::dec << '\n';
}

// Workers fill per-thread maps, exchange strings through a mutex-protected
// mailbox (so blocks allocated in one thread are freed in another), and the
// results are merged in a fixed order.
void section_threads(std::ostream &out) {
  constexpr int kThreads = 4;
  std::mutex mu;
  std::vector<std::unique_ptr<std::string>> mailbox;
  auto worker = [&](int t) {
    SplitMix64 rng(100 + static_cast<std::uint64_t>(t));
    std::map<int, std::string> local;
    std::uint64_t received = 0;
    for (int i = 0; i < 20000; i++) {
      local[static_cast<int>(rng.below(5000))] = random_word(rng, 5, 60);
      auto item = std::make_unique<std::string>(random_word(rng, 1, 300));
      std::unique_ptr<std::string> taken;
      {
        std::lock_guard<std::mutex> lock(mu);
        mailbox.push_back(std::move(item));
        if (mailbox.size() > 64) {
          taken = std::move(mailbox.front());
          mailbox.erase(mailbox.begin());
        }
      }
      if (taken) received += taken->size() > 0 ? 1 : 0;
    }
    std::uint64_t h = 1469598103934665603ULL;
    for (const auto &kv : local) h = fnv1a(kv.second, h ^ static_cast<std::uint64_t>(kv.first));
    (void)received;
    return std::make_pair(local.size(), h);
  };
  std::vector<std::future<std::pair<std::size_t, std::uint64_t>>> futures;
  for (int t = 0; t < kThreads; t++) futures.push_back(std::async(std::launch::async, worker, t));
  std::size_t total = 0;
  std::uint64_t h = 0;
  for (auto &f : futures) {
    auto r = f.get();
    total += r.first;
    h ^= r.second;
  }
  out << "threads: keys=" << total << " hash=" << std::hex << h << std::dec << " mailbox=" << mailbox.size() << '\n';
}

void section_numeric(std::ostream &out) {
  std::vector<double> v(200000);
  std::iota(v.begin(), v.end(), 1.0);
  std::transform(v.begin(), v.end(), v.begin(), [](double x) { return 1.0 / (x * x); });
  double basel = std::accumulate(v.begin(), v.end(), 0.0);
  std::vector<int> primes;
  std::vector<bool> sieve(200000, true);
  for (std::size_t i = 2; i < sieve.size(); i++) {
    if (!sieve[i]) continue;
    primes.push_back(static_cast<int>(i));
    for (std::size_t j = i * i; j < sieve.size(); j += i) sieve[j] = false;
  }
  std::array<std::optional<int>, 10> firsts{};
  for (std::size_t i = 0; i < firsts.size(); i++) firsts[i] = primes[i * 1000];
  out << "numeric: basel=" << std::setprecision(12) << basel << " primes=" << primes.size() << " firsts=";
  for (const auto &p : firsts) out << p.value_or(-1) << ',';
  out << '\n';
}

}  // namespace

int main() {
  const std::vector<std::pair<const char *, std::function<void(std::ostream &)>>> sections{
      {"containers", section_containers}, {"strings", section_strings}, {"expressions", section_expressions},
      {"queue", section_queue},           {"threads", section_threads}, {"numeric", section_numeric},
  };
  for (const auto &s : sections) {
    std::ostringstream buf;
    s.second(buf);
    std::cout << buf.str();
  }
  std::cout << "done\n";
  return 0;
}
