//! The keyed hash behind every deterministic choice of the generator and of the fault injector.
//!
//! Each choice hashes the seed, a tag naming what is being chosen, and the identifiers of the thing
//! chosen for. Nothing keeps state between choices, so any record or request decision is computed
//! on its own in constant time, in any order, on any thread, and comes out the same on every run.

/// Tags keep the draws for different purposes independent of each other.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Tag {
    BranchAddress = 1,
    BranchPhone,
    OtherCount,
    OtherPosition,
    OtherOccupation,
    FirstName,
    LastName,
    HiredOn,
    SaleTime,
    SaleCustomer,
    SaleProduct,
    SaleQuantity,
    SalePrice,
    Malformed,
    MalformedKind,
    Request,
    Revision,
}

/// The finaliser of SplitMix64: a bijection on `u64` that spreads every input bit over the output.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-bit draw for `(seed, tag, a, b)`.
pub(crate) fn mix(seed: u64, tag: Tag, a: u64, b: u64) -> u64 {
    let h = splitmix(seed ^ (tag as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let h = splitmix(h ^ a);
    splitmix(h ^ b.rotate_left(17))
}

/// A draw in `[0, 1)` for `(seed, tag, a, b)`, with 53 bits of precision.
pub(crate) fn unit(seed: u64, tag: Tag, a: u64, b: u64) -> f64 {
    (mix(seed, tag, a, b) >> 11) as f64 / (1u64 << 53) as f64
}

/// A 64-bit hash of a byte string (FNV-1a, then mixed), for keys such as a request's canonical form.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &byte in bytes {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    splitmix(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_draws_spread_evenly() {
        let n = 100_000;
        let below_tenth = (0..n)
            .filter(|&i| unit(7, Tag::Request, i, 0) < 0.1)
            .count();
        // A fair draw puts 10,000 of 100,000 below 0.1; four standard deviations is about 380.
        assert!((9_620..=10_380).contains(&below_tenth), "{below_tenth}");
    }

    #[test]
    fn tags_and_seeds_change_the_draw() {
        assert_ne!(mix(1, Tag::SaleTime, 5, 0), mix(1, Tag::SalePrice, 5, 0));
        assert_ne!(mix(1, Tag::SaleTime, 5, 0), mix(2, Tag::SaleTime, 5, 0));
        assert_ne!(mix(1, Tag::SaleTime, 5, 0), mix(1, Tag::SaleTime, 0, 5));
    }
}
