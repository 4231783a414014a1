//! Hand-vectorised microkernels for softmax, log-softmax and log-sum-exp: one module per ISA
//! (`scalar`, `avx2`, `avx512`), the same operations in each, collected in one [`Table`] per
//! ISA and listed by [`tables`]. This is the only crate of twopass with `unsafe` SIMD code;
//! the `twopass` crate wraps it in a safe, validated API.
//!
//! Operation names follow XNNPACK's vocabulary: `rmax` (reduce max), `raddexpminusmax`
//! (reduce-add `exp(x - max)`), `raddstoreexpminusmax` (the same, storing the terms), `vscale`,
//! `vscaleexpminusmax`, `raddextexp` (sum of `exp(x)` with an extended exponent: no max pass),
//! `vscaleextexp`, plus `raddonline` (max and sum in one pass) and `vsubtract`; the `axis`
//! forms (`raxisonline`, `vaxisscaleexp`, `vaxissubtract`, `raxisblockexp`,
//! `vaxisblockscale`) run down the columns of a strided [`Tile`]; `rscan`, `rblockmax` and
//! `rblockmass` serve sampling ([`sample`]).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod axis;
pub mod cpu;
mod element;
mod entry;
pub mod exp;
mod ext;
#[cfg(target_arch = "x86_64")]
pub mod fpenv;
mod matmul;
mod ops;
pub mod sample;
mod scalar;
mod simd;
mod table;

pub use axis::{ColumnSum, Tile, AXIS_TILE, NARROW_TILE};
pub use element::Element;
pub use entry::{Args, Entry};
pub use ext::{exp_or_zero, Ext, GradCoefficients, LogitSum, LogitSums, MaxSum, SumOfLogits};
pub use half::{bf16, f16};
pub use matmul::{flushing, matmul, Mat};
pub use ops::{BLOCK_STEPS, ONLINE_JUMP, SHORT_VECTORS};
pub use table::{
    table, table_bf16, table_bf16_exact, table_f16, tables, AxisBlockExp, AxisBlockScale, AxisPass,
    Io, Isa, LogitPass, Store, Table,
};
