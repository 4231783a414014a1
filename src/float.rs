//! [`Float`]: the element types of the API, and the bundle of one ISA's kernels for each.

use half::{bf16, f16};
use twopass_kernels::Table;

/// The element types of the API: `f32`, [`half::f16`] and [`half::bf16`]. Half-precision rows
/// are widened to f32 inside the kernels as they are loaded and rounded (to nearest even) as
/// they are stored, so they move half the bytes; all arithmetic is f32. Sealed; generic code
/// converts with `x.to_f32()` and `T::from_f32(v)` (exact, and to nearest even).
pub trait Float: Copy + Send + Sync + 'static + Sealed {}

pub(crate) use private::{Kind, Sealed, Tables};

/// Items public in name (they appear in the sealed supertrait) but unreachable outside the crate.
mod private {
    use half::{bf16, f16};
    use twopass_kernels::{table, table_bf16, table_f16, Element, Isa, Table};

    /// Which element type a [`super::Float`] is, for the choices that differ by type.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        F32,
        F16,
        Bf16,
    }

    /// One ISA's kernel tables, one per element type.
    #[derive(Clone, Copy)]
    pub struct Tables {
        pub f32: &'static Table<f32>,
        pub f16: &'static Table<f16>,
        pub bf16: &'static Table<bf16>,
    }

    impl Tables {
        /// The tables of `isa`, if this CPU runs it.
        pub fn of(isa: Isa) -> Option<Tables> {
            Some(Tables {
                f32: table(isa)?,
                f16: table_f16(isa)?,
                bf16: table_bf16(isa)?,
            })
        }
    }

    /// What the crate needs of an element type, out of the public API (so twopass-kernels
    /// stays a private dependency).
    pub trait Sealed: Element {
        /// Which type this is.
        const KIND: Kind;
        /// This type's table among one ISA's.
        fn among(t: &Tables) -> &'static Table<Self>;
        /// The slice itself when it is f32 (no copy), else `None`.
        fn as_f32(x: &[Self]) -> Option<&[f32]>;
    }
}

macro_rules! float {
    ($t:ty, $kind:ident, $field:ident, $as_f32:expr) => {
        impl Sealed for $t {
            const KIND: Kind = Kind::$kind;
            fn among(t: &Tables) -> &'static Table<$t> {
                t.$field
            }
            fn as_f32(x: &[$t]) -> Option<&[f32]> {
                $as_f32(x)
            }
        }
        impl Float for $t {}
    };
}

float!(f32, F32, f32, Some);
float!(f16, F16, f16, |_| None);
float!(bf16, Bf16, bf16, |_| None);
