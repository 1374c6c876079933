#include "cpu/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "fastloss/check.h"
#include "fastloss/config.h"

namespace fastloss::cpu {
namespace {

int default_threads() {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int(n) : 1;
}

class Pool {
 public:
  explicit Pool(int threads) { start(threads); }
  ~Pool() { stop(); }

  int threads() const { return threads_; }

  // A thread that cannot be started (a process or memory limit) leaves the pool as it was, and
  // the caller gets an error naming the function: never a pool that waits for missing workers.
  void resize(int threads) {
    std::lock_guard<std::mutex> busy(run_mutex_);
    const int previous = threads_;
    stop();
    try {
      start(threads);
    } catch (const std::system_error& e) {
      stop();  // the workers that did start
      try {
        start(previous);
      } catch (const std::system_error&) {
        stop();
        start(1);  // no worker threads: every call runs on its caller
      }
      throw ValueError(detail::concat("[fastloss.set_num_threads] cannot start ", threads,
                                      " threads (", e.what(), "); still using ", threads_));
    }
  }

  // Returns false (having done nothing) when another call holds the pool.
  bool run(int64_t n_blocks, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    int parts = int(std::min<int64_t>(threads_, n_blocks));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_blocks_ = n_blocks;
      parts_ = parts;
      pending_ = parts - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr mine;
    try {
      run_part(0);
    } catch (...) {
      mine = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void run_part(int part) {
    int64_t begin = n_blocks_ * part / parts_;
    int64_t end = n_blocks_ * (part + 1) / parts_;
    if (begin < end) (*fn_)(begin, end);
  }

  // `seen` starts at the generation current when the worker was created, so a worker started by
  // resize() never runs a call that finished before it existed.
  void worker(int part, uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        if (part >= parts_) continue;  // this call uses fewer threads
      }
      std::exception_ptr err;
      try {
        run_part(part);
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_.notify_one();
    }
  }

  // threads_ is set only once every worker runs: a call never waits for one that is missing.
  void start(int threads) {
    quit_ = false;
    threads_ = 1;
    for (int i = 1; i < std::max(1, threads); ++i)
      workers_.emplace_back([this, i, g = generation_] { worker(i, g); });
    threads_ = std::max(1, threads);
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one call at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool quit_ = false;
  uint64_t generation_ = 0;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_blocks_ = 0;
  int parts_ = 1;
  int pending_ = 0;
  std::exception_ptr error_;
};

// Leaked on purpose: joining threads from a static destructor at interpreter exit can deadlock.
std::atomic<Pool*> g_pool{nullptr};
std::atomic<int> g_threads{0};  // the requested thread count, kept across fork
std::mutex g_create;

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_create);
  if (!g_pool.load()) {
    if (g_threads.load() == 0) {
      g_threads = default_threads();
      // A forked child (multiprocessing, DataLoader workers) inherits the pool object but none
      // of its threads: it gets a fresh pool on first use instead of waiting on dead workers.
      pthread_atfork(nullptr, nullptr, [] {
        g_pool.store(nullptr);
        new (&g_create) std::mutex();  // the parent may have held it while forking
      });
    }
    g_pool.store(new Pool(g_threads.load()), std::memory_order_release);
  }
  return *g_pool.load();
}

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int n) {
  pool().resize(n);
  g_threads = n;
}

void parallel_for(int64_t n_blocks, int64_t work,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (n_blocks <= 0) return;
  if (n_blocks == 1 || work < kParallelMinElements || pool().threads() == 1 ||
      !pool().run(n_blocks, fn)) {
    fn(0, n_blocks);
  }
}

double pairwise_sum(const double* v, int64_t n) {
  if (n <= 0) return 0.0;
  if (n <= 8) {
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += v[i];
    return s;
  }
  int64_t half = n / 2;
  return pairwise_sum(v, half) + pairwise_sum(v + half, n - half);
}

}  // namespace fastloss::cpu
