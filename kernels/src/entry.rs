//! Every entry of a [`Table`] by name, and one call of each on a row with arguments derived from
//! it: the one list the registry test and the kernel benchmarks both walk, so an entry added
//! here is tested and timed on every ISA and element type.

use crate::element::Element;
use crate::sample::{BlockMass, Masses};
use crate::{ColumnSum, Ext, GradCoefficients, Io, Store, SumOfLogits, Table, Tile};

/// An entry of [`Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// [`Table::rmax`].
    Rmax,
    /// [`Table::raddexpminusmax`].
    Raddexpminusmax,
    /// [`Table::raddstoreexpminusmax`].
    Raddstoreexpminusmax,
    /// [`Table::vscale`].
    Vscale,
    /// [`Table::softmax_short`].
    SoftmaxShort,
    /// [`Table::vscaleexpminusmax`].
    Vscaleexpminusmax,
    /// [`Table::raddextexp`].
    Raddextexp,
    /// [`Table::raddextexp_paired`].
    RaddextexpPaired,
    /// [`Table::vscaleextexp`].
    Vscaleextexp,
    /// [`Table::raddonline`].
    Raddonline,
    /// [`Table::vsubtract`].
    Vsubtract,
    /// [`Table::raddextexp_logits`], with the plain sum of the logits.
    RaddextexpLogits,
    /// [`Table::vgradce`], without weights.
    Vgradce,
    /// [`Table::raxisonline`], on the row seen as a tile ([`Args::tile`]).
    Raxisonline,
    /// [`Table::vaxisscaleexp`], on the row seen as a tile.
    Vaxisscaleexp,
    /// [`Table::vaxissubtract`], on the row seen as a tile.
    Vaxissubtract,
    /// [`Table::raxisblockexp`] on the row seen as a tile, in blocks of 3 rows, then
    /// [`Table::vaxisblockscale`] with what it found: the tile's softmax down the columns.
    Raxisblockexp,
    /// [`Table::vaxisblockscale`] on the row seen as two columns, in blocks of 3 rows, block
    /// `b`'s references `b` below the row's max.
    Vaxisblockscale,
    /// [`Table::rscan`]: where the max first occurs.
    Rscan,
    /// [`Table::rblockmax`] in blocks of 32: the maxima added up.
    Rblockmax,
    /// [`Table::rblockmass`] at temperature 1 in blocks of 32: each block's mass times
    /// `exp(its max - the row's)`, added up.
    Rblockmass,
    /// [`Table::rweights`] at temperature 1 against the row's max: the masses' total.
    Rweights,
}

impl Entry {
    /// Every entry, in the order of [`Table`]'s fields.
    pub const ALL: [Entry; 22] = [
        Entry::Rmax,
        Entry::Raddexpminusmax,
        Entry::Raddstoreexpminusmax,
        Entry::Vscale,
        Entry::SoftmaxShort,
        Entry::Vscaleexpminusmax,
        Entry::Raddextexp,
        Entry::RaddextexpPaired,
        Entry::Vscaleextexp,
        Entry::Raddonline,
        Entry::Vsubtract,
        Entry::RaddextexpLogits,
        Entry::Vgradce,
        Entry::Raxisonline,
        Entry::Vaxisscaleexp,
        Entry::Vaxissubtract,
        Entry::Raxisblockexp,
        Entry::Vaxisblockscale,
        Entry::Rscan,
        Entry::Rblockmax,
        Entry::Rblockmass,
        Entry::Rweights,
    ];

    /// The field's name, e.g. `raddextexp_paired`.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Rmax => "rmax",
            Entry::Raddexpminusmax => "raddexpminusmax",
            Entry::Raddstoreexpminusmax => "raddstoreexpminusmax",
            Entry::Vscale => "vscale",
            Entry::SoftmaxShort => "softmax_short",
            Entry::Vscaleexpminusmax => "vscaleexpminusmax",
            Entry::Raddextexp => "raddextexp",
            Entry::RaddextexpPaired => "raddextexp_paired",
            Entry::Vscaleextexp => "vscaleextexp",
            Entry::Raddonline => "raddonline",
            Entry::Vsubtract => "vsubtract",
            Entry::RaddextexpLogits => "raddextexp_logits",
            Entry::Vgradce => "vgradce",
            Entry::Raxisonline => "raxisonline",
            Entry::Vaxisscaleexp => "vaxisscaleexp",
            Entry::Vaxissubtract => "vaxissubtract",
            Entry::Raxisblockexp => "raxisblockexp",
            Entry::Vaxisblockscale => "vaxisblockscale",
            Entry::Rscan => "rscan",
            Entry::Rblockmax => "rblockmax",
            Entry::Rblockmass => "rblockmass",
            Entry::Rweights => "rweights",
        }
    }

    /// Whether the entry writes an output row (else it returns a value).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Entry::Raddstoreexpminusmax
                | Entry::Vscale
                | Entry::SoftmaxShort
                | Entry::Vscaleexpminusmax
                | Entry::Vscaleextexp
                | Entry::Vsubtract
                | Entry::Vgradce
                | Entry::Vaxisscaleexp
                | Entry::Vaxissubtract
                | Entry::Raxisblockexp
                | Entry::Vaxisblockscale
        )
    }
}

/// The arguments the entries take for one finite, non-empty row, derived from it once (by the
/// scalar table, so every ISA gets the same): its max, `sum exp(x - max)`, the paired extended
/// sum, and the log-sum-exp.
#[derive(Clone, Copy, Debug)]
pub struct Args {
    max: f32,
    sum: f64,
    paired: Ext,
    lse: f64,
}

impl Args {
    /// The arguments for `x` (finite, non-empty).
    pub fn of<T: Element>(x: &[T]) -> Args {
        let scalar = T::table(crate::Isa::Scalar).expect("every CPU runs scalar");
        let max = (scalar.rmax)(x);
        let sum = (scalar.raddexpminusmax)(x, max);
        Args {
            max,
            sum,
            paired: (scalar.raddextexp_paired)(x),
            lse: f64::from(max) + sum.ln(),
        }
    }

    /// The row of `n` elements seen as a tile for the axis entries: `n / width` rows of `width`
    /// columns (up to 37, so that AVX2 and AVX-512 see a tail), stride `width`.
    pub fn tile(n: usize) -> (Tile, usize) {
        let width = n.clamp(1, 37);
        (
            Tile {
                rows: n / width,
                stride: width,
            },
            width,
        )
    }
}

impl<T: Element> Table<T> {
    /// Runs `entry` on `x` with `args` (from [`Args::of`] of the same row), writing `y` where
    /// the entry writes (`y.len() == x.len()`): `1 / sum` for `vscale`, `vscaleexpminusmax`,
    /// `vaxisscaleexp` and `vaxisblockscale`, `(max, ln sum)` for `vsubtract` and
    /// `vaxissubtract`, the softmax gradient's coefficients for `vgradce`. Returns the entry's
    /// value (the max, the sum, the log of an extended sum, `max + ln sum` for `raddonline`, the
    /// columns' `reference + ln sum` added up for `raxisonline`), or 0 where it only writes. The axis entries see the row as [`Args::tile`] and give every column the
    /// row's arguments.
    pub fn run(&self, entry: Entry, args: &Args, x: &[T], y: &mut [T], store: Store) -> f64 {
        let io = Io::Split(x, y);
        let c = (1.0 / args.sum) as f32;
        match entry {
            Entry::Rmax => return f64::from((self.rmax)(x)),
            Entry::Raddexpminusmax => return (self.raddexpminusmax)(x, args.max),
            Entry::Raddstoreexpminusmax => return (self.raddstoreexpminusmax)(io, args.max),
            Entry::Vscale => (self.vscale)(io, c, store),
            Entry::SoftmaxShort => {
                (self.softmax_short)(io, store);
            }
            Entry::Vscaleexpminusmax => (self.vscaleexpminusmax)(io, args.max, c, store),
            Entry::Raddextexp => return (self.raddextexp)(x).ln(),
            Entry::RaddextexpPaired => return (self.raddextexp_paired)(x).ln(),
            Entry::Vscaleextexp => (self.vscaleextexp)(io, args.paired, store),
            Entry::Raddonline => {
                let s = (self.raddonline)(x);
                return f64::from(s.max) + s.sum.ln();
            }
            Entry::Vsubtract => (self.vsubtract)(io, (args.max, args.sum.ln() as f32), store),
            Entry::RaddextexpLogits => {
                return (self.raddextexp_logits)(x, SumOfLogits::Plain).exp.ln();
            }
            Entry::Vgradce => {
                let a = args.lse as f32;
                let coefficients = GradCoefficients {
                    a,
                    scale: (f64::from(a) - args.lse).exp() as f32,
                    bias: 0.01,
                };
                (self.vgradce)(io, None, coefficients, store);
            }
            Entry::Raxisonline => {
                let (tile, width) = Args::tile(x.len());
                let mut out = [ColumnSum::default(); 37];
                (self.raxisonline)(x, tile, &mut out[..width]);
                return out[..width]
                    .iter()
                    .map(|c| f64::from(c.reference) + c.ln_sum)
                    .sum();
            }
            Entry::Vaxisscaleexp => {
                let (tile, width) = Args::tile(x.len());
                (self.vaxisscaleexp)(io, tile, &[(args.max, c); 37][..width], store);
            }
            Entry::Vaxissubtract => {
                let (tile, width) = Args::tile(x.len());
                let b = args.sum.ln() as f32;
                (self.vaxissubtract)(io, tile, &[(args.max, b); 37][..width], store);
            }
            Entry::Raxisblockexp => {
                // Both passes, whose blocks differ by ISA (a tile wider than a strip is one
                // block), for the tile's softmax down the columns, which does not (its sums,
                // of terms against different references, do in their last places: half
                // tables take the coarse exp).
                let (tile, width) = Args::tile(x.len());
                let mut refs = vec![0.0f32; tile.rows.div_ceil(3) * width];
                let mut out = [ColumnSum::default(); 37];
                (self.raxisblockexp)(io, tile, 3, &mut refs, &mut out[..width]);
                let params: Vec<(f32, f32)> = out[..width]
                    .iter()
                    .map(|c| (c.max, (1.0 / c.sum) as f32))
                    .collect();
                (self.vaxisblockscale)(y, tile, 3, &refs, &params);
            }
            Entry::Vaxisblockscale => {
                // Two columns: every ISA walks them in blocks.
                let tile = Tile {
                    rows: x.len() / 2,
                    stride: 2,
                };
                let refs: Vec<f32> = (0..tile.rows.div_ceil(3) * 2)
                    .map(|i| args.max - (i / 2) as f32)
                    .collect();
                (self.vaxisblockscale)(y, tile, 3, &refs, &[(args.max, c); 2]);
            }
            Entry::Rscan => return (self.rscan)(x).first as f64,
            Entry::Rblockmax => {
                let mut out = vec![0.0f32; x.len().div_ceil(32)];
                (self.rblockmax)(x, 32, &mut out);
                return out.iter().map(|&m| f64::from(m)).sum();
            }
            Entry::Rblockmass => {
                let mut out = vec![BlockMass::default(); x.len().div_ceil(32)];
                (self.rblockmass)(x, 1.0, f32::NEG_INFINITY, 32, &mut out);
                return out
                    .iter()
                    .map(|b| f64::from(b.mass) * (f64::from(b.max) - f64::from(args.max)).exp())
                    .sum();
            }
            Entry::Rweights => {
                let masses = Masses {
                    max: args.max,
                    inv_t: 1.0,
                    floor: f32::NEG_INFINITY,
                };
                let mut out = vec![0.0f32; x.len()];
                (self.rweights)(x, &masses, &mut out);
                return out.iter().map(|&w| f64::from(w)).sum();
            }
        }
        0.0
    }
}
