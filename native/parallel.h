// A persistent worker pool and parallel_for for the native kernels. Threads are created once and reused:
// spawning threads per kernel call costs more than a small kernel itself.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace cm {

// Denormal floats (|x| < 1.2e-38) cost Intel cores a microcode assist of ~100 cycles per operation. They appear in
// training (tiny gradients times the GELU tail of large negative pre-activations) and made epochs of a trained deep
// ConvMixer 2-2.5x slower than its first epoch on an Intel Xeon. The kernels therefore run with flush-to-zero and
// denormals-are-zero (PyTorch: torch.set_flush_denormal(True)); JS code on the main thread keeps IEEE behaviour, because
// the mode is set only while a kernel runs and restored after. On by default; setFlushDenormals(false) turns it off.
inline std::atomic<bool> g_flush_denormals{true};

class DenormalGuard {
 public:
#if defined(__SSE__)
  DenormalGuard() : saved_(_mm_getcsr()) {
    if (g_flush_denormals.load(std::memory_order_relaxed)) _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
  }
  ~DenormalGuard() { _mm_setcsr(saved_); }
 private:
  unsigned saved_;
#endif
};

// An N-API entry point whose whole body (serial paths included) runs under the denormal mode; the pool's workers set
// it themselves (ThreadPool::Loop). Use: Napi::Function::New(env, Guarded<Fn>, "name").
template <auto F>
struct GuardedFn {
  template <typename Info>
  auto operator()(const Info& info) const {
    DenormalGuard fp_mode;
    return F(info);
  }
};
template <auto F>
inline constexpr GuardedFn<F> Guarded{};

class ThreadPool {
 public:
  explicit ThreadPool(int n) : n_(std::max(1, n)) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this, i] { Loop(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      ++gen_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }
  // Runs fn(task) for task in [0, tasks), spread over the pool; the caller's thread takes part.
  void Run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 0) return;
    if (n_ == 1 || tasks == 1) {
      for (int t = 0; t < tasks; ++t) fn(t);
      return;
    }
    std::unique_lock<std::mutex> run_lk(run_mu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0);
      pending_ = n_ - 1;
      ++gen_;
    }
    cv_.notify_all();
    Work();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void Work() {
    for (int t; (t = next_.fetch_add(1)) < tasks_;) (*fn_)(t);
  }
  void Loop(int) {
    long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
      }
      {
        DenormalGuard fp_mode;
        Work();
      }
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  std::atomic<int> next_{0};
  int tasks_ = 0;
  int pending_ = 0;
  long gen_ = 0;
  bool stop_ = false;
};

// The process-wide pool; size from CONVMIXER_THREADS or the number of hardware threads.
ThreadPool& Pool();

// parallel_for over [0, n) in contiguous chunks, at most one chunk per task.
inline void ParallelFor(long n, long grain, const std::function<void(long, long)>& fn) {
  if (n <= 0) return;
  ThreadPool& pool = Pool();
  long chunks = std::min<long>((n + grain - 1) / std::max<long>(grain, 1), pool.size() * 4L);
  chunks = std::max<long>(chunks, 1);
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  long step = (n + chunks - 1) / chunks;
  pool.Run(static_cast<int>(chunks), [&](int c) {
    long lo = c * step, hi = std::min(n, lo + step);
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace cm
