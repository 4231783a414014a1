//! Argument validation shared by the entry points, and the only conversions from C pointers
//! to Rust slices and references.
//!
//! The conversion helpers are `unsafe fn`s, called only by the `unsafe extern "C"` entry points
//! after [`check`] has accepted the same pointers and sizes: each relies on (a) the entry
//! point's C caller keeping the header's contract (a non-NULL pointer points to that many valid
//! elements) and (b) what `check` established. Where `T` is not the pointer's C type (the LSE
//! state), sizes and alignments match (asserted) and every bit pattern is a valid `T`.

use std::mem::{align_of, size_of};

use super::{
    Status, TWOPASS_ERROR_INVALID_ARGUMENT, TWOPASS_ERROR_NULL_POINTER, TWOPASS_ERROR_SHAPE,
};

/// One array argument of a call: where it starts, how many elements it spans, and whether the
/// call writes it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Array {
    addr: usize,
    /// Elements spanned, or `None` for an invalid shape (a stride below the columns, overflow).
    len: Option<usize>,
    /// Elements from one row to the next (the length for a vector): the in-place test.
    stride: usize,
    size: usize,
    align: usize,
    /// The array has no element, so NULL is allowed.
    empty: bool,
    writes: bool,
}

impl Array {
    /// `n` elements read at `p`.
    pub(super) fn input<T>(p: *const T, n: usize) -> Array {
        Array::vector(p, n, false)
    }

    /// `n` elements written at `p`.
    pub(super) fn output<T>(p: *mut T, n: usize) -> Array {
        Array::vector(p.cast_const(), n, true)
    }

    /// A `rows x cols` matrix read at `p`, rows `stride` elements apart.
    pub(super) fn input_rows<T>(p: *const T, stride: usize, rows: usize, cols: usize) -> Array {
        Array::matrix(p, stride, rows, cols, false)
    }

    /// A `rows x cols` matrix written at `p`, rows `stride` elements apart.
    pub(super) fn output_rows<T>(p: *mut T, stride: usize, rows: usize, cols: usize) -> Array {
        Array::matrix(p.cast_const(), stride, rows, cols, true)
    }

    fn vector<T>(p: *const T, n: usize, writes: bool) -> Array {
        Array {
            addr: p as usize,
            len: Some(n),
            stride: n,
            size: size_of::<T>(),
            align: align_of::<T>(),
            empty: n == 0,
            writes,
        }
    }

    /// Spans `(rows - 1) * stride + cols` elements (none when `rows == 0` or `cols == 0`:
    /// nothing is read or written there, so NULL is allowed).
    fn matrix<T>(p: *const T, stride: usize, rows: usize, cols: usize, writes: bool) -> Array {
        let len = if rows == 0 || cols == 0 {
            Some(0)
        } else if stride < cols {
            None
        } else {
            (rows - 1)
                .checked_mul(stride)
                .and_then(|l| l.checked_add(cols))
        };
        Array {
            len,
            stride,
            empty: rows == 0 || cols == 0,
            ..Array::vector(p, 0, writes)
        }
    }

    /// The `outer * len * inner` elements of an `(outer, len, inner)` tensor at `p` (read, or
    /// written with `writes`); an invalid shape when the product overflows.
    pub(super) fn tensor<T>(
        p: *const T,
        (outer, len, inner): (usize, usize, usize),
        writes: bool,
    ) -> Array {
        // A 0 dimension: no element, whatever the others (no overflow).
        let n = match outer == 0 || len == 0 || inner == 0 {
            true => Some(0),
            false => outer.checked_mul(len).and_then(|n| n.checked_mul(inner)),
        };
        Array {
            len: n,
            empty: n == Some(0),
            ..Array::vector(p, n.unwrap_or(0), writes)
        }
    }

    /// `n` elements written at `p` if it is not NULL; nothing otherwise (an optional output).
    pub(super) fn optional_output<T>(p: *mut T, n: usize) -> Array {
        Array::output(p, if p.is_null() { 0 } else { n })
    }

    /// `n` elements read at `p` if it is not NULL; nothing otherwise (an optional input).
    pub(super) fn optional_input<T>(p: *const T, n: usize) -> Array {
        Array::input(p, if p.is_null() { 0 } else { n })
    }

    /// This matrix, with `cols == 0` (and `rows > 0`) an invalid shape: rows need classes.
    pub(super) fn with_classes(self, rows: usize, cols: usize) -> Array {
        Array {
            len: self.len.filter(|_| rows == 0 || cols > 0),
            ..self
        }
    }

    /// The elements spanned, once [`check`] has accepted the array.
    pub(super) fn len(&self) -> usize {
        self.len.unwrap_or(0)
    }

    /// The bytes spanned, `start..end`, if they fit in the address space (and in `isize`).
    fn bytes(&self) -> Option<(usize, usize)> {
        let bytes = self
            .len?
            .checked_mul(self.size)
            .filter(|&b| b <= isize::MAX as usize)?;
        Some((self.addr, self.addr.checked_add(bytes)?))
    }

    fn overlaps(&self, other: &Array) -> bool {
        match (self.bytes(), other.bytes()) {
            (Some((a, b)), Some((c, d))) => a < b && c < d && a < d && c < b,
            _ => false,
        }
    }

    /// The same buffer with the same layout: the in-place case.
    fn same(&self, other: &Array) -> bool {
        (self.addr, self.len, self.stride, self.size)
            == (other.addr, other.len, other.stride, other.size)
    }
}

/// Checks every argument of a call, reporting the first of: a NULL array with elements
/// (`TWOPASS_ERROR_NULL_POINTER`); an invalid or overflowing shape (`TWOPASS_ERROR_SHAPE`); a
/// misaligned pointer, or an array written that overlaps another array
/// (`TWOPASS_ERROR_INVALID_ARGUMENT`), except that the pair `in_place` (indices into `args`)
/// may be the same buffer with the same layout.
#[inline(always)]
pub(super) fn check(args: &[Array], in_place: Option<(usize, usize)>) -> Status {
    if args.iter().any(|a| a.addr == 0 && !a.empty) {
        return Err(TWOPASS_ERROR_NULL_POINTER);
    }
    if args.iter().any(|a| a.bytes().is_none()) {
        return Err(TWOPASS_ERROR_SHAPE);
    }
    // `align` is a power of two: a mask, not a division.
    if args.iter().any(|a| a.addr & (a.align - 1) != 0) {
        return Err(TWOPASS_ERROR_INVALID_ARGUMENT);
    }
    for (i, a) in args.iter().enumerate() {
        for (j, b) in args.iter().enumerate().skip(i + 1) {
            let allowed = in_place == Some((i, j)) && a.same(b);
            if (a.writes || b.writes) && a.overlaps(b) && !allowed {
                return Err(TWOPASS_ERROR_INVALID_ARGUMENT);
            }
        }
    }
    Ok(())
}

/// The `len` elements at `p`.
///
/// # Safety
/// [`check`] accepted `p` as an input of `len` elements, and the C caller provides them.
pub(super) unsafe fn slice<'a, T>(p: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    // SAFETY: `check` found `p` non-NULL, aligned, spanning at most isize::MAX bytes without
    // wrapping, and overlapping no output of the call; the C caller guarantees `len` readable
    // elements there for the duration of the call.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// The `len` elements at `p`, writable.
///
/// # Safety
/// [`check`] accepted `p` as an output of `len` elements, the C caller provides them, and no
/// other slice of the call covers them.
pub(super) unsafe fn slice_mut<'a, T>(p: *mut T, len: usize) -> &'a mut [T] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: `check` found `p` non-NULL, aligned, spanning at most isize::MAX bytes without
    // wrapping, and overlapping no other argument of the call (an in-place pair is converted
    // by `io` into this one slice only); the C caller guarantees `len` writable elements.
    unsafe { std::slice::from_raw_parts_mut(p, len) }
}

/// The input and output of an element-wise call.
pub(super) enum Buffers<'a, T> {
    /// Read the first, write the second.
    Split(&'a [T], &'a mut [T]),
    /// One buffer, read and overwritten.
    InPlace(&'a mut [T]),
}

/// The input (`x_len` elements) and output (`y_len`) of an element-wise call: one mutable slice
/// when `y == x` (then the layouts are equal), never a shared and a mutable slice over the same
/// memory.
///
/// # Safety
/// [`check`] accepted them with `(x, y)` as the in-place pair, and the C caller provides them.
pub(super) unsafe fn buffers<'a, T>(
    x: *const T,
    x_len: usize,
    y: *mut T,
    y_len: usize,
) -> Buffers<'a, T> {
    // SAFETY: forwarded from the caller; `y` alone covers the memory when it equals `x`.
    unsafe {
        if x == y.cast_const() {
            Buffers::InPlace(slice_mut(y, y_len))
        } else {
            Buffers::Split(slice(x, x_len), slice_mut(y, y_len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NULL: i32 = TWOPASS_ERROR_NULL_POINTER;
    const SHAPE: i32 = TWOPASS_ERROR_SHAPE;
    const INVALID: i32 = TWOPASS_ERROR_INVALID_ARGUMENT;

    /// A float pointer at byte address `addr` (never dereferenced: `check` reads addresses only).
    fn at(addr: usize) -> *mut f32 {
        std::ptr::without_provenance_mut(addr)
    }

    #[test]
    fn null_only_for_empty_arrays() {
        assert_eq!(check(&[Array::input(at(0), 0)], None), Ok(()));
        assert_eq!(check(&[Array::input(at(0), 1)], None), Err(NULL));
        assert_eq!(check(&[Array::input_rows(at(0), 9, 0, 4)], None), Ok(()));
        // Rows of no column: nothing read, so NULL is fine (issue #13: runtimes hand NULL over
        // for empty tensors).
        assert_eq!(check(&[Array::input_rows(at(0), 9, 2, 0)], None), Ok(()));
        assert_eq!(check(&[Array::input_rows(at(0), 9, 2, 1)], None), Err(NULL));
        assert_eq!(check(&[Array::output(at(0), 1)], None), Err(NULL));
        assert_eq!(
            check(&[Array::tensor(at(0), (3, 0, 5), false)], None),
            Ok(())
        );
        assert_eq!(
            check(&[Array::tensor(at(0), (3, 1, 5), true)], None),
            Err(NULL)
        );
        // No element although the other dimensions' product overflows.
        assert_eq!(
            check(&[Array::tensor(at(0), (usize::MAX, 2, 0), true)], None),
            Ok(())
        );
    }

    #[test]
    fn shapes() {
        let ok = |stride, rows, cols| check(&[Array::input_rows(at(64), stride, rows, cols)], None);
        assert_eq!(ok(4, 3, 4), Ok(()));
        assert_eq!(ok(3, 3, 4), Err(SHAPE));
        assert_eq!(ok(3, 0, 4), Ok(()), "no rows: any stride");
        assert_eq!(ok(usize::MAX, 2, 1), Err(SHAPE), "span overflows usize");
        assert_eq!(
            ok(usize::MAX / 8, 2, 1),
            Err(SHAPE),
            "bytes exceed isize::MAX"
        );
        assert_eq!(ok(usize::MAX / 8 - 1, 2, 1), Ok(()), "the largest span");
        let top = usize::MAX - 3;
        assert_eq!(
            check(&[Array::input(at(top), 2)], None),
            Err(SHAPE),
            "wraps"
        );
        assert_eq!(
            check(&[Array::input(at(top), 1)], None),
            Err(SHAPE),
            "ends past the top"
        );
    }

    #[test]
    fn alignment() {
        assert_eq!(check(&[Array::input(at(66), 1)], None), Err(INVALID));
        assert_eq!(check(&[Array::input(at(66), 0)], None), Err(INVALID));
        assert_eq!(check(&[Array::output(at(68), 1)], None), Ok(()));
    }

    #[test]
    fn overlap_and_in_place() {
        let pair = |x: usize, y: usize, n| [Array::input(at(x), n), Array::output(at(y), n)];
        assert_eq!(check(&pair(64, 64, 4), Some((0, 1))), Ok(()), "in place");
        assert_eq!(
            check(&pair(64, 64, 4), None),
            Err(INVALID),
            "not allowed here"
        );
        assert_eq!(check(&pair(64, 68, 4), Some((0, 1))), Err(INVALID));
        assert_eq!(check(&pair(68, 64, 4), Some((0, 1))), Err(INVALID));
        assert_eq!(check(&pair(64, 80, 4), None), Ok(()), "adjacent");
        assert_eq!(check(&pair(80, 64, 4), None), Ok(()), "adjacent");
        assert_eq!(check(&pair(64, 64, 0), None), Ok(()), "empty");
        let inputs = [Array::input(at(64), 4), Array::input(at(68), 4)];
        assert_eq!(check(&inputs, None), Ok(()), "inputs may overlap");
        let rows = |xs, ys| {
            let x = Array::input_rows(at(64), xs, 2, 4);
            let y = Array::output_rows(at(64), ys, 2, 4);
            check(&[x, y], Some((0, 1)))
        };
        assert_eq!(rows(8, 8), Ok(()));
        assert_eq!(rows(8, 9), Err(INVALID), "same start, other stride");
        // Spans, not elements: rows of y between rows of x still overlap.
        let x = Array::input_rows(at(64), 8, 2, 4);
        let y = Array::output_rows(at(64 + 16), 8, 2, 4);
        assert_eq!(check(&[x, y], Some((0, 1))), Err(INVALID));
        // Same address and bytes but another element type is not in place.
        let state = Array::output(std::ptr::without_provenance_mut::<u64>(64), 4);
        assert_eq!(
            check(&[state, Array::input(at(64), 8)], Some((0, 1))),
            Err(INVALID)
        );
    }

    #[test]
    fn precedence() {
        // NULL x, stride below cols, misaligned overlapping y: NULL first, then SHAPE.
        let x = Array::input_rows(at(0), 3, 2, 4);
        let y = Array::output_rows(at(66), 3, 2, 4);
        assert_eq!(check(&[x, y], None), Err(NULL));
        let x = Array::input_rows(at(64), 3, 2, 4);
        assert_eq!(check(&[x, y], None), Err(SHAPE));
        let y = Array::output_rows(at(66), 4, 2, 4);
        let x = Array::input_rows(at(64), 4, 2, 4);
        assert_eq!(check(&[x, y], None), Err(INVALID));
    }
}
