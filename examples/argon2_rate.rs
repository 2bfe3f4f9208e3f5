//! The sign-in ceiling: raw argon2id verifies per second with roster's
//! parameters, on `--threads` threads for `--seconds` (bench/run.sh divides
//! measured sign-ins/s by this).

use std::time::{Duration, Instant};

fn main() {
    let mut threads = 2usize;
    let mut seconds = 5u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (flag.as_str(), value) {
            ("--threads", Some(v)) => threads = v as usize,
            ("--seconds", Some(v)) => seconds = v,
            _ => {
                eprintln!("usage: argon2_rate [--threads N] [--seconds S]");
                std::process::exit(2);
            }
        }
    }
    let hash = roster::auth::passwords::hash_now(
        "correct horse battery staple",
        roster::config::HashMemory::default(),
    )
    .expect("hash");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let verified: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        assert!(roster::auth::passwords::verify_now(
                            "correct horse battery staple",
                            &hash
                        ));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    println!("{:.1}", verified as f64 / started.elapsed().as_secs_f64());
}
