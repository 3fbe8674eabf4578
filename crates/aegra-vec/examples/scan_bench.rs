//! Quick timing of a search (first pass + exact ranking of the survivors) against a streaming read (a development aid, not a test):
//! `cargo run --release --example scan_bench [rows] [dims]` (COLD=1: out of cache). Linux only
//! (thread CPU time via libc).

use _vec::index::{Metric, VectorIndex};
use _vec::testdata::vectors;
use _vec::{codes, exact, kernels};

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
    let namespaces: Vec<Vec<String>> = (0..1000)
        .map(|i| {
            vec![
                "tenant".into(),
                (i % 10).to_string(),
                "user".into(),
                i.to_string(),
            ]
        })
        .collect();
    let namespace_ids: Vec<u32> = (0..rows as u32).map(|i| i % 1000).collect();
    let mut index = VectorIndex::new(dims).unwrap();
    let records = codes::encode(&data, dims).unwrap();
    index
        .upsert_many(&ids, &namespace_ids, &namespaces, &records)
        .unwrap();
    drop(records);
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
    println!("read_all (f32)    p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    // A search: the first pass, then the survivors' vectors ranked exactly (read from `data`
    // here, from the file in the store).
    let search = |query: &[f32], prefix: &[String], candidates: Option<&[i64]>| {
        let (rows, stats) = index
            .candidates(query, 10, prefix, candidates, Metric::Cosine)
            .unwrap();
        let owners: Vec<i64> = rows.clone();
        let vectors: Vec<f32> = rows
            .iter()
            .flat_map(|&r| {
                data[r as usize * dims..(r as usize + 1) * dims]
                    .iter()
                    .copied()
            })
            .collect();
        let found = exact::top_k(query, 10, &owners, &vectors, Metric::Cosine).unwrap();
        (found, stats)
    };
    println!("{:?}", search(q(0), &[], None).1);
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(search(q(i), &[], None));
    });
    println!("search            p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    let prefix = vec!["tenant".to_string(), "3".to_string()];
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(search(q(i), &prefix, None));
    });
    println!("prefix 10%        p50 {p50:7.2} ms  p99 {p99:7.2} ms");
    let candidates: Vec<i64> = (0..rows as i64).filter(|i| i % 10 == 7).collect();
    let (p50, p99) = time(runs, &mut |i| {
        std::hint::black_box(search(q(i), &[], Some(&candidates)));
    });
    println!("candidates 10%    p50 {p50:7.2} ms  p99 {p99:7.2} ms");
}
