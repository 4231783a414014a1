//! The envelope of a temperature-only draw: each block's share of it, in a sum tree so that a
//! share can change and a uniform find its block in `log2(blocks)` steps.

use super::MASS_BLOCKS;

/// Shares in `f64` at the leaves of a complete binary tree, each inner node the sum of its two
/// children (node `i`'s are `2i` and `2i + 1`; the root is node 1).
pub(super) struct Envelope {
    nodes: [f64; 2 * MASS_BLOCKS],
    /// Leaves: a power of two at least the shares' count.
    leaves: usize,
}

impl Envelope {
    /// The tree over `shares` (at most [`MASS_BLOCKS`], finite, not negative).
    pub(super) fn new(shares: impl ExactSizeIterator<Item = f64>) -> Self {
        let leaves = shares.len().next_power_of_two();
        let mut e = Envelope {
            nodes: [0.0; 2 * MASS_BLOCKS],
            leaves,
        };
        for (node, share) in e.nodes[leaves..].iter_mut().zip(shares) {
            *node = share;
        }
        for i in (1..leaves).rev() {
            e.nodes[i] = e.nodes[2 * i] + e.nodes[2 * i + 1];
        }
        e
    }

    /// The sum of the shares (as the tree adds them).
    pub(super) fn total(&self) -> f64 {
        self.nodes[1]
    }

    /// Sets share `b`, and the sums above it.
    pub(super) fn set(&mut self, b: usize, share: f64) {
        let mut i = self.leaves + b;
        self.nodes[i] = share;
        while i > 1 {
            i /= 2;
            self.nodes[i] = self.nodes[2 * i] + self.nodes[2 * i + 1];
        }
    }

    /// The share whose span of the running sum holds `target` (`0 <= target <` the total), and
    /// what is left of `target` before it. Never a zero share, whatever the rounding: a subtree
    /// of sum 0 is never entered.
    pub(super) fn find(&self, mut target: f64) -> (usize, f64) {
        let mut i = 1;
        while i < self.leaves {
            let left = self.nodes[2 * i];
            if target < left || self.nodes[2 * i + 1] == 0.0 {
                i *= 2;
            } else {
                target -= left;
                i = 2 * i + 1;
            }
        }
        (i - self.leaves, target)
    }
}

#[cfg(test)]
mod tests {
    use super::Envelope;

    #[test]
    fn finds_the_share_holding_the_target() {
        let mut e = Envelope::new([1.0, 0.0, 2.0, 0.5, 0.0].into_iter());
        assert_eq!(e.total(), 3.5);
        assert_eq!(e.find(0.0), (0, 0.0));
        assert_eq!(e.find(0.999), (0, 0.999));
        assert_eq!(e.find(1.0), (2, 0.0));
        assert_eq!(e.find(3.25), (3, 0.25));
        // Past the total by rounding: the last nonzero share.
        assert_eq!(e.find(3.5).0, 3);
        e.set(2, 0.0);
        assert_eq!(e.total(), 1.5);
        assert_eq!(e.find(1.2), (3, 1.2 - 1.0));
        e.set(0, 0.0);
        assert_eq!(e.find(0.0), (3, 0.0));
    }
}
