//! A [`CrossEntropyStream`] as plain words, for the C ABI's `twopass_cross_entropy_state`.

use twopass_kernels::LogitSum;

use super::{Apart, CrossEntropyOptions, CrossEntropyStream, WeightStats};
use crate::{Kernels, LseState};

/// A [`CrossEntropyStream`] without its kernels and options, for the C ABI: `[cols, target
/// (u64::MAX: ignored), seen, flags, x_t and x_h, W, w_max, LseState (4 words), LogitSum (3
/// words), W without h, h (u64::MAX: none)]`, floats as f64 bits but `x_t` and `x_h` (f32 bits,
/// `x_h` in the high half); `flags` holds [`STREAM_TAG`] and the three booleans.
pub type StreamWords = [u64; 16];

/// The high half of a stream's flags word: "tpce".
const STREAM_TAG: u64 = 0x7470_6365 << 32;
const TARGET_SEEN: u64 = 1;
const IGNORED_LSE: u64 = 2;
const HEAVY_SEEN: u64 = 4;
const IGNORED: u64 = u64::MAX;

impl<'w> CrossEntropyStream<'w> {
    /// The stream without its kernels and options, as [`StreamWords`].
    pub(crate) fn to_words(&self) -> StreamWords {
        let flags = STREAM_TAG
            | if self.target_seen { TARGET_SEEN } else { 0 }
            | if self.ignored_lse { IGNORED_LSE } else { 0 }
            | match self.apart().and_then(|h| h.logit) {
                Some(_) => HEAVY_SEEN,
                None => 0,
            };
        let x_h = self.apart().and_then(|h| h.logit).unwrap_or(0.0);
        let o = self.others.to_words();
        let l = &self.logits;
        [
            self.cols as u64,
            self.target.map_or(IGNORED, |t| t as u64),
            self.seen as u64,
            flags,
            u64::from(self.target_logit.to_bits()) | u64::from(x_h.to_bits()) << 32,
            self.weights.sum.to_bits(),
            self.weights.max.to_bits(),
            o[0],
            o[1],
            o[2],
            o[3],
            l.sum.to_bits(),
            l.max.to_bits(),
            l.weight.to_bits(),
            self.heavy.map_or(0, |h| h.rest.to_bits()),
            self.heavy.map_or(IGNORED, |h| h.class as u64),
        ]
    }

    /// The stream of [`CrossEntropyStream::to_words`] with `kernels` and `options` (the
    /// options it was made with); `None` for words no stream gives.
    pub(crate) fn from_words(
        kernels: Kernels,
        options: CrossEntropyOptions<'w>,
        w: &StreamWords,
    ) -> Option<Self> {
        let f = |i: usize| f64::from_bits(w[i]);
        let cols = Self::cols(w).filter(|&c| c > 0)?;
        let target = match w[1] {
            IGNORED => None,
            t => Some(usize::try_from(t).ok().filter(|&t| t < cols)?),
        };
        let seen = usize::try_from(w[2]).ok().filter(|&s| s <= cols)?;
        let heavy = match w[15] {
            IGNORED => None,
            h => {
                let class = usize::try_from(h).ok().filter(|&h| h < cols)?;
                target?;
                let logit = (w[3] & HEAVY_SEEN != 0).then(|| f32::from_bits((w[4] >> 32) as u32));
                let rest = f(14);
                Some(Apart { class, rest, logit })
            }
        };
        Some(CrossEntropyStream {
            kernels,
            options,
            cols,
            target,
            weights: WeightStats {
                sum: f(5),
                max: f(6),
            },
            heavy,
            others: LseState::from_words([w[7], w[8], w[9], w[10]]),
            target_logit: f32::from_bits(w[4] as u32),
            target_seen: w[3] & TARGET_SEEN != 0,
            logits: LogitSum {
                sum: f(11),
                max: f(12),
                weight: f(13),
            },
            seen,
            ignored_lse: w[3] & IGNORED_LSE != 0,
        })
    }

    /// The number of classes of a stream's words (`None` for words no stream gives).
    pub(crate) fn cols(words: &StreamWords) -> Option<usize> {
        usize::try_from(words[0])
            .ok()
            .filter(|_| words[3] & !(TARGET_SEEN | IGNORED_LSE | HEAVY_SEEN) == STREAM_TAG)
    }
}
