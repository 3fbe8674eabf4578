//! Quick timing of the index scan against a streaming read (a development aid, not a test):
//! `cargo run --release --example scan_bench [rows] [dims]` (COLD=1: out of cache). Linux only
//! (thread CPU time via libc).

use _vec::index::{Metric, VectorIndex};
use _vec::kernels;
use _vec::testdata::vectors;

/// This thread's CPU time in ms: on a shared machine, leaves out time spent waiting for a core.
fn cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

fn median(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

fn time(runs: usize, evict: &[f32], f: &mut dyn FnMut(usize)) -> (f64, f64) {
    f(0);
    let times = (0..runs)
        .map(|i| {
            std::hint::black_box(kernels::read_all(evict));
            let start = cpu_ms();
            f(i);
            cpu_ms() - start
        })
        .collect();
    median(times)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let rows = args.first().copied().unwrap_or(100_000);
    let dims = args.get(1).copied().unwrap_or(384);
    let data = vectors(rows * dims, 1);
    let ids: Vec<i64> = (0..rows as i64).collect();
    let namespaces: Vec<Vec<String>> = (0..rows)
        .map(|i| {
            vec![
                "tenant".into(),
                (i % 10).to_string(),
                "user".into(),
                (i % 1000).to_string(),
            ]
        })
        .collect();
    let mut index = VectorIndex::new(dims).unwrap();
    index.upsert_many(&ids, &namespaces, &data).unwrap();
    let queries = vectors(16 * dims, 2);
    let q = |i: usize| &queries[(i % 16) * dims..(i % 16 + 1) * dims];
    let runs = 40;
    // COLD=1: 800 MB read between searches pushes the index out of even a very large L3.
    let evict = if std::env::var("COLD").is_ok() {
        vec![1f32; 200 << 20]
    } else {
        Vec::new()
    };
    let time = |runs: usize, f: &mut dyn FnMut(usize)| time(runs, &evict, f);
    let (p50, p99) = time(runs, &mut |_| {
        std::hint::black_box(kernels::read_all(&data));
    });
    println!("read_all          p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    let (_, stats) = index
        .search_with_stats(q(0), 10, &[], None, Metric::Cosine)
        .unwrap();
    println!("{stats:?}");
    for metric in [Metric::Cosine, Metric::L2] {
        let (p50, p99) = time(runs, &mut |i| {
            std::hint::black_box(index.search(q(i), 10, &[], None, metric).unwrap());
        });
        println!("search {metric:?}  p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    }
    index.set_first_pass_min_vectors(None);
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(index.search(q(i), 10, &[], None, Metric::Cosine).unwrap());
    });
    println!("exact cosine      p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    index.set_first_pass_min_vectors(Some(_vec::index::FIRST_PASS_MIN_VECTORS));
    let prefix = vec!["tenant".to_string(), "3".to_string()];
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(
            index
                .search(q(i), 10, &prefix, None, Metric::Cosine)
                .unwrap(),
        );
    });
    println!("prefix 10%        p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    let candidates: Vec<i64> = (0..rows as i64).filter(|i| i % 10 == 7).collect();
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(
            index
                .search(q(i), 10, &[], Some(&candidates), Metric::Cosine)
                .unwrap(),
        );
    });
    println!("candidates 10%    p50 {p50:7.2} ms  p99 {p99:7.2} ms");
}
