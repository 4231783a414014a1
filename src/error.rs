//! The error type of every fallible call.

use std::fmt;

use crate::Isa;

/// Why a call was refused. Nothing is written when a call returns an error.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// `(rows - 1) * stride + cols` overflows `usize`.
    ShapeOverflow,
    /// The CPU lacks the requested instruction set.
    UnsupportedIsa(Isa),
    /// `TWOPASS_ISA` names an unknown instruction set, or one this CPU lacks.
    InvalidIsaVariable(&'static str),
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
            Error::ShapeOverflow => write!(f, "(rows - 1) * stride + cols overflows usize"),
            Error::UnsupportedIsa(isa) => write!(f, "this CPU does not support {}", isa.name()),
            Error::InvalidIsaVariable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}
