//! Hashing the other layers share: fast maps and sets for keys taken from the
//! project, and a hasher whose output is the same in every process, for what
//! strata keeps in files under `target/`.

/// A hash map for keys taken from the project (names, paths, indexes): foldhash
/// instead of std's SipHash, which showed in profiles of `compile`.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

/// A fast hasher with a fixed seed, the same in every process, for what the
/// caches under `target/` keep in files.
pub fn stable_hasher() -> foldhash::quality::FoldHasher<'static> {
    static SEED: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x5354_5241_5441);
    std::hash::BuildHasher::build_hasher(&SEED)
}
