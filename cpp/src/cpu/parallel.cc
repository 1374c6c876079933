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
  //
  // Blocks are claimed, not assigned: the caller and every worker that wakes while the call is
  // open take chunks of blocks from a shared counter until none is left. A worker that the OS
  // has descheduled (an oversubscribed machine: a DataLoader, another process) therefore holds
  // nothing up; its blocks are taken by whoever runs, and the caller waits only for workers that
  // joined the call and are still computing a chunk they claimed. Which thread computes a block
  // never changes its result: every caller reduces per-block partials in block order.
  bool run(int64_t n_blocks, const std::function<void(int64_t, int64_t)>& fn) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_blocks_ = n_blocks;
      // Several chunks per thread, so that a slow thread's share is small; not one block each,
      // so that a call's per-chunk set-up (scratch rows, a tile buffer) stays negligible.
      chunk_ = std::max<int64_t>(1, n_blocks / (int64_t(threads_) * kChunksPerThread));
      next_.store(0, std::memory_order_relaxed);
      open_ = true;
      active_ = 1;  // the caller
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    claim_chunks();
    std::unique_lock<std::mutex> lock(mutex_);
    open_ = false;  // every block is claimed: a worker that wakes from now on stays out
    if (--active_ > 0) done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  static constexpr int64_t kChunksPerThread = 4;

  // Runs chunks of blocks until none is left. An exception stops the call: the first one is
  // kept for the caller and the remaining blocks are given up.
  void claim_chunks() {
    for (;;) {
      const int64_t begin = next_.fetch_add(chunk_, std::memory_order_relaxed);
      if (begin >= n_blocks_) return;
      try {
        (*fn_)(begin, std::min(n_blocks_, begin + chunk_));
      } catch (...) {
        next_.store(n_blocks_, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        return;
      }
    }
  }

  // `seen` starts at the generation current when the worker was created, so a worker started by
  // resize() never runs a call that finished before it existed.
  void worker(uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
        if (!open_) continue;  // woke after the call had claimed all its blocks
        ++active_;
      }
      claim_chunks();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  // threads_ is set only once every worker runs: a call never waits for one that is missing.
  void start(int threads) {
    quit_ = false;
    threads_ = 1;
    for (int i = 1; i < std::max(1, threads); ++i)
      workers_.emplace_back([this, g = generation_] { worker(g); });
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
  int64_t chunk_ = 1;
  std::atomic<int64_t> next_{0};  // the first block not yet claimed
  bool open_ = false;             // the call still has blocks to claim
  int active_ = 0;                // threads inside the call (the caller included)
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
