//! The error type of every fallible call.

use std::fmt;

use crate::Isa;

/// Why a call was refused. Nothing is written when a call returns an error.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// Input and output lengths differ.
    LengthMismatch {
        /// Elements in the input.
        input: usize,
        /// Elements in the output.
        output: usize,
    },
    /// A matrix's row stride is smaller than its number of columns.
    StrideTooSmall {
        /// Which buffer (`"x"`, `"y"`).
        buffer: &'static str,
        /// The stride given.
        stride: usize,
        /// The columns.
        cols: usize,
    },
    /// A buffer is shorter than its matrix spans (`(rows - 1) * stride + cols`).
    BufferTooShort {
        /// Which buffer (`"x"`, `"y"`, `"out"`).
        buffer: &'static str,
        /// Elements the shape needs.
        needed: usize,
        /// Elements the buffer has.
        len: usize,
    },
    /// `(rows - 1) * stride + cols` (or `outer * len * inner`) overflows `usize`.
    ShapeOverflow,
    /// A buffer's length is not the one the call's shape requires.
    WrongLength {
        /// Which buffer (`"targets"`, `"class_weights"`, `"row_losses"`, ...).
        buffer: &'static str,
        /// Its length.
        len: usize,
        /// The length required.
        expected: usize,
    },
    /// Cross-entropy over rows of no classes (`cols == 0` with `rows > 0`).
    NoClasses,
    /// A target that is neither a class index in `[0, classes)` nor the ignore index.
    TargetOutOfRange {
        /// The row.
        row: usize,
        /// Its target.
        target: i64,
        /// The number of classes.
        classes: usize,
    },
    /// An option outside its domain (`label_smoothing` outside `[0, 1]` or NaN, `z_loss`
    /// negative or not finite).
    InvalidOption {
        /// The option's name.
        name: &'static str,
        /// Its value.
        value: f32,
    },
    /// A class weight that is negative or not finite.
    InvalidWeight {
        /// The class.
        class: usize,
        /// Its weight.
        weight: f32,
    },
    /// A streamed chunk that does not fit the row (`offset + len > cols`), or a row finished
    /// before all its columns were given (its target column among them).
    ChunkOutOfRow {
        /// Where the chunk starts (for an unfinished row: the columns given so far).
        offset: usize,
        /// Its length (for an unfinished row: 0).
        len: usize,
        /// The row's columns.
        cols: usize,
    },
    /// Cross-entropy streams of different rows (columns, target or options) given to `merge`.
    DifferentRows,
    /// Sampling from a row of no logits.
    EmptyRow,
    /// Sampling from a row with a NaN or `+inf` logit.
    NonFiniteLogit,
    /// Sampling from a row whose every logit is `-inf`.
    AllMasked,
    /// The CPU lacks the requested instruction set.
    UnsupportedIsa(Isa),
    /// `TWOPASS_ISA` names no known instruction set (the message lists the accepted values).
    InvalidIsaVariable(&'static str),
    /// `TWOPASS_ISA` names an instruction set this CPU lacks (the message lists those it has).
    UnsupportedIsaVariable(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::LengthMismatch { input, output } => {
                write!(f, "input has {input} elements but output has {output}")
            }
            Error::StrideTooSmall {
                buffer,
                stride,
                cols,
            } => {
                write!(
                    f,
                    "row stride of {buffer} is {stride}, below its {cols} columns"
                )
            }
            Error::BufferTooShort {
                buffer,
                needed,
                len,
            } => {
                write!(
                    f,
                    "{buffer} has {len} elements but the shape spans {needed}"
                )
            }
            Error::ShapeOverflow => write!(f, "the shape's extent overflows usize"),
            Error::WrongLength {
                buffer,
                len,
                expected,
            } => {
                write!(f, "{buffer} has {len} elements, the call needs {expected}")
            }
            Error::NoClasses => write!(f, "cross-entropy needs at least one class (cols > 0)"),
            Error::TargetOutOfRange {
                row,
                target,
                classes,
            } => write!(
                f,
                "row {row}: target {target} is outside [0, {classes}) and not the ignore index"
            ),
            Error::InvalidOption { name, value } => write!(f, "{name} = {value} is out of range"),
            Error::InvalidWeight { class, weight } => {
                write!(
                    f,
                    "class {class} has weight {weight}; weights must be finite and >= 0"
                )
            }
            Error::DifferentRows => write!(
                f,
                "the cross-entropy streams merged are of different rows (columns, target or options)"
            ),
            Error::EmptyRow => write!(f, "sampling needs at least one logit"),
            Error::NonFiniteLogit => write!(f, "a logit is NaN or +inf"),
            Error::AllMasked => write!(f, "every logit is -inf: no token can be drawn"),
            Error::ChunkOutOfRow { offset, len, cols } if *len == 0 => {
                write!(
                    f,
                    "row finished before each of its {cols} columns was given once ({offset} given)"
                )
            }
            Error::ChunkOutOfRow { offset, len, cols } => {
                write!(
                    f,
                    "chunk at {offset} of {len} columns overruns a row of {cols}"
                )
            }
            Error::UnsupportedIsa(isa) => write!(f, "this CPU does not support {}", isa.name()),
            Error::InvalidIsaVariable(why) | Error::UnsupportedIsaVariable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// Checks that a `rows x cols` matrix with row `stride` fits in `len` elements (a matrix with
/// no element, `rows == 0` or `cols == 0`, fits in any buffer).
pub(crate) fn check_matrix(
    buffer: &'static str,
    len: usize,
    stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if stride < cols {
        return Err(Error::StrideTooSmall {
            buffer,
            stride,
            cols,
        });
    }
    let needed = (rows - 1)
        .checked_mul(stride)
        .and_then(|s| s.checked_add(cols))
        .ok_or(Error::ShapeOverflow)?;
    if len < needed {
        return Err(Error::BufferTooShort {
            buffer,
            needed,
            len,
        });
    }
    Ok(())
}

/// `WrongLength` for the first `(buffer, length, expected)` given whose length differs (`None`:
/// a buffer not given).
pub(crate) fn check_lengths(lengths: &[(&'static str, Option<usize>, usize)]) -> Result<(), Error> {
    for &(buffer, len, expected) in lengths {
        if let Some(len) = len.filter(|&l| l != expected) {
            return Err(Error::WrongLength {
                buffer,
                len,
                expected,
            });
        }
    }
    Ok(())
}

/// The elements of an `(outer, len, inner)` tensor, which `buffer` (of `len` elements) must hold
/// exactly.
pub(crate) fn check_axis(
    buffer: &'static str,
    len: usize,
    (outer, axis, inner): (usize, usize, usize),
) -> Result<usize, Error> {
    // A tensor with a 0 dimension has no element, whatever the others (no overflow).
    let expected = if outer == 0 || axis == 0 || inner == 0 {
        0
    } else {
        outer
            .checked_mul(axis)
            .and_then(|n| n.checked_mul(inner))
            .ok_or(Error::ShapeOverflow)?
    };
    if len != expected {
        return Err(Error::WrongLength {
            buffer,
            len,
            expected,
        });
    }
    Ok(expected)
}
