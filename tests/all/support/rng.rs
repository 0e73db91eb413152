//! The random kill loops (`kill`, `rollout`): a seed from `KILL_SEED` or the clock, and a small
//! deterministic generator, so that the seed a failed run printed replays it.

/// `KILL_SEED` when it is set, else a seed from the clock; printed, for a replay.
pub fn kill_seed() -> u64 {
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("KILL_SEED={seed}");
    seed
}

/// A small deterministic generator (xorshift64*): one seed, one sequence of draws.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Any seed, 0 included: xorshift needs a state that is not zero.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}
